// Finds (or starts) a Stratus stack for the integration tests, and gives the
// tests small, race-free helpers around it.
//
// STRATUS_URL=http://127.0.0.1:8080 [STRATUS_STAGE=local] uses a running stack.
// Otherwise the binary at STRATUS_BIN (default build/release/src/app/stratus, or
// build/release/stratus if only that exists; relative to the repository root) is started as
//   stratus dev --host 127.0.0.1 --port 0 --data-dir <fresh temp dir> [extra args]
// and stopped (SIGTERM, then SIGKILL after 3 s) by stack.stop().
// STRATUS_LAMBDA=PATH adds `--lambda PATH` (the handler runs out of process as
// a Lambda custom runtime), and STRATUS_LAMBDA_ARGS (a JSON array) adds more
// arguments to every such stack, e.g. ["--lambda-env","STRATUS_AUTH=cognito"].
// Everything is loopback only; every wait has a timeout.
//
// Target mode (docs/parity.md): STRATUS_TARGET_URL=wss://<api>.execute-api.<region>.amazonaws.com/prod
// (or ws://127.0.0.1:PORT/local) runs the suite against that deployed stage. No gateway is
// started; stack.wsUrl(token) is `${STRATUS_TARGET_URL}?token=...`. Tokens come from
// STRATUS_TOKEN_COMMAND, a shell command run with the wanted user name appended as its last
// argument; it prints {"token","userId","name","expiresAt"} as JSON, or only the token (then
// userId and name are read from the JWT payload as the Cognito verifier does). stack.base
// (dev tokens, @connections, static files) exists only when STRATUS_TARGET_HTTP names the
// gateway's HTTP origin (the local production-like run, tests/integration/parity/); tests
// that need what only a local stack has (its SQLite file, dev tokens, gateway flags, its
// secret, restarts) skip with a reason starting "target mode:".

import { spawn, execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, readFile, writeFile } from 'node:fs/promises';
import { createHmac, randomBytes } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

export const REPO_ROOT = path.resolve(fileURLToPath(import.meta.url), '../../../../..');
export const LIB_DIR = path.dirname(fileURLToPath(import.meta.url));

const READY_RE = /Stratus local stack ready at (http:\/\/127\.0\.0\.1:(\d+))\//;
const START_TIMEOUT_MS = 20_000;
const DEFAULT_WAIT_MS = 5_000;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fresh suffix so that users and rooms never collide across tests or runs. */
export function uniq(prefix = 'x') {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** A port nobody listens on right now (loopback). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Keeps the tail of a growing text (child stderr/stdout), bounded. */
export function tailBuffer(limit = 64 * 1024) {
  let text = '';
  return {
    push(chunk) {
      text += chunk;
      if (text.length > limit) text = text.slice(text.length - limit);
    },
    get text() {
      return text;
    },
  };
}

function binaryPath() {
  const abs = (p) => (path.isAbsolute(p) ? p : path.join(REPO_ROOT, p));
  if (process.env.STRATUS_BIN) return abs(process.env.STRATUS_BIN);
  // The default; src/app/CMakeLists.txt may also put the binary at the build dir's top.
  const candidates = ['build/release/src/app/stratus', 'build/release/stratus'].map(abs);
  return candidates.find((p) => existsSync(p)) ?? candidates[0];
}

/** STRATUS_STACK_ARGS (a JSON array): more arguments for every local stack, e.g. ["--io-threads","2"]. */
export function stackArgs() {
  if (!process.env.STRATUS_STACK_ARGS) return [];
  const extra = JSON.parse(process.env.STRATUS_STACK_ARGS);
  if (!Array.isArray(extra) || extra.some((a) => typeof a !== 'string')) {
    throw new Error('STRATUS_STACK_ARGS must be a JSON array of strings');
  }
  return extra;
}

/** `--lambda PATH` and STRATUS_LAMBDA_ARGS when STRATUS_LAMBDA is set. */
export function lambdaArgs() {
  if (!process.env.STRATUS_LAMBDA) return [];
  const lambda = path.isAbsolute(process.env.STRATUS_LAMBDA)
    ? process.env.STRATUS_LAMBDA
    : path.join(REPO_ROOT, process.env.STRATUS_LAMBDA);
  const extra = process.env.STRATUS_LAMBDA_ARGS ? JSON.parse(process.env.STRATUS_LAMBDA_ARGS) : [];
  if (!Array.isArray(extra) || extra.some((a) => typeof a !== 'string')) {
    throw new Error('STRATUS_LAMBDA_ARGS must be a JSON array of strings');
  }
  return ['--lambda', lambda, ...extra];
}

/** True when the tests use an already running stack (STRATUS_URL). */
export function usingExternalStack() {
  return Boolean(process.env.STRATUS_URL);
}

/** True in target mode (STRATUS_TARGET_URL): the suite runs against a deployed stage. */
export function targetMode() {
  return Boolean(process.env.STRATUS_TARGET_URL);
}

/**
 * In target mode, skips `t` with "target mode: <why>" and returns true; otherwise
 * returns false (the caller goes on). Use: `if (skipInTarget(t, '...')) return;`
 */
export function skipInTarget(t, why) {
  if (!targetMode()) return false;
  t.skip(`target mode: ${why}`);
  return true;
}

/** The target's WebSocket URL (no query, no trailing slash) and its stage (the last path segment). */
function targetEndpoint() {
  const raw = process.env.STRATUS_TARGET_URL;
  let url;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`STRATUS_TARGET_URL is not a URL: ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new Error(`STRATUS_TARGET_URL must be a ws:// or wss:// URL, got ${JSON.stringify(raw)}`);
  }
  const segments = url.pathname.split('/').filter(Boolean);
  if (segments.length === 0) {
    throw new Error(`STRATUS_TARGET_URL must end with the stage, e.g. wss://<api>.execute-api.<region>.amazonaws.com/prod; got ${JSON.stringify(raw)}`);
  }
  url.search = '';
  url.hash = '';
  return { wsBase: url.toString().replace(/\/+$/, ''), stage: segments.at(-1), wsOrigin: url.origin };
}

class Stack {
  constructor({ base, stage, dataDir = null, proc = null, stderr = null, stdout = null, target = null }) {
    // In target mode without STRATUS_TARGET_HTTP there is no HTTP side: base, host and port are null.
    this.base = base ? base.replace(/\/+$/, '') : null;
    const url = this.base ? new URL(this.base) : null;
    this.host = url ? url.hostname : null;
    this.port = url ? Number(url.port || 80) : null;
    this.stage = stage;
    this.target = target !== null;
    this.dataDir = dataDir;
    this.proc = proc;
    this._stderr = stderr;
    this._stdout = stdout;
    this.clients = new Set();
    this.children = new Set();
    this.local = proc !== null;
    this.wsBase = target ? target.wsBase : `${this.base.replace(/^http/, 'ws')}/${stage}`;
    // scheme://host[:port] of the WebSocket endpoint (for requests on other paths).
    this.wsOrigin = target ? target.wsOrigin : this.base.replace(/^http/, 'ws');
    this.exited = null;
    if (proc) {
      this.exitPromise = new Promise((resolve) => {
        proc.once('exit', (code, signal) => {
          this.exited = { code, signal };
          resolve(this.exited);
        });
      });
    }
  }

  get stderr() {
    return this._stderr ? this._stderr.text : '';
  }

  get dbPath() {
    return this.dataDir ? path.join(this.dataDir, 'stratus.db') : null;
  }

  wsUrl(token) {
    return token === undefined ? this.wsBase : `${this.wsBase}?token=${encodeURIComponent(token)}`;
  }

  async stop() {
    for (const client of this.clients) client.terminate();
    this.clients.clear();
    for (const child of this.children) {
      try {
        child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
    this.children.clear();
    if (this.proc && !this.exited) {
      this.proc.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (!this.exited) this.proc.kill('SIGKILL');
      }, 3_000);
      await this.exitPromise;
      clearTimeout(timer);
    }
    if (this.dataDir) {
      await rm(this.dataDir, { recursive: true, force: true });
    }
  }
}

/**
 * Starts a local stack with `extraArgs`, or returns the external one
 * (STRATUS_URL) when no extra args are needed. Returns null when extra args
 * are needed but only STRATUS_URL is available (the caller skips).
 */
export async function startStack(extraArgs = []) {
  if (targetMode()) {
    if (extraArgs.length > 0) return null;
    const target = targetEndpoint();
    return new Stack({ base: process.env.STRATUS_TARGET_HTTP || null, stage: target.stage, target });
  }
  if (usingExternalStack()) {
    if (extraArgs.length > 0) return null;
    return new Stack({
      base: process.env.STRATUS_URL,
      stage: process.env.STRATUS_STAGE || 'local',
      dataDir: null,
    });
  }
  const bin = binaryPath();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'stratus-it-'));
  const args = ['dev', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, ...lambdaArgs(), ...stackArgs(),
    ...extraArgs];
  const proc = spawn(bin, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr = tailBuffer();
  const stdout = tailBuffer();
  proc.stderr.setEncoding('utf8');
  proc.stdout.setEncoding('utf8');
  proc.stderr.on('data', (chunk) => stderr.push(chunk));
  // Make sure no child outlives the test process.
  const killOnExit = () => {
    try {
      proc.kill('SIGKILL');
    } catch {
      /* gone */
    }
  };
  process.once('exit', killOnExit);
  proc.once('exit', () => process.removeListener('exit', killOnExit));

  const base = await new Promise((resolve, reject) => {
    let settled = false;
    const finish = (err, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      proc.stdout.removeListener('data', onData);
      proc.removeListener('exit', onExit);
      proc.removeListener('error', onError);
      if (err) reject(err);
      else resolve(value);
    };
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      finish(new Error(`stratus did not print its ready line within ${START_TIMEOUT_MS} ms ` +
        `(${bin} ${args.join(' ')})\nstdout:\n${stdout.text}\nstderr:\n${stderr.text}`));
    }, START_TIMEOUT_MS);
    const onData = (chunk) => {
      stdout.push(chunk);
      const m = READY_RE.exec(stdout.text);
      if (m) finish(null, m[1]);
    };
    const onExit = (code, signal) => {
      finish(new Error(`stratus exited (code ${code}, signal ${signal}) before it was ready ` +
        `(${bin} ${args.join(' ')})\nstdout:\n${stdout.text}\nstderr:\n${stderr.text}`));
    };
    const onError = (err) => {
      finish(new Error(`cannot start ${bin}: ${err.message}. Build it, or set STRATUS_BIN or STRATUS_URL.`));
    };
    proc.stdout.on('data', onData);
    proc.once('exit', onExit);
    proc.once('error', onError);
  }).catch(async (err) => {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  });
  // Keep draining stdout so the child never blocks on a full pipe.
  proc.stdout.on('data', (chunk) => stdout.push(chunk));
  return new Stack({ base, stage: 'local', dataDir, proc, stderr, stdout });
}

/**
 * For tests that need their own gateway settings: starts a local stack, or
 * skips the test (returns null) when only STRATUS_URL is given.
 */
export async function localStackOrSkip(t, extraArgs) {
  const stack = await startStack(extraArgs);
  if (!stack) {
    const shown = extraArgs.map((a, i) => (extraArgs[i - 1] === '--routes' ? '<route table>' : a)).join(' ');
    t.skip(targetMode() ? `target mode: needs its own gateway started with ${shown}` : 'needs a local binary');
    return null;
  }
  return stack;
}

/** Writes a route table file into the stack-independent temp dir and returns its path. */
export async function writeRouteTable(table) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'stratus-routes-'));
  const file = path.join(dir, 'routes.json');
  await writeFile(file, typeof table === 'string' ? table : JSON.stringify(table));
  return { file, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

// ---------------------------------------------------------------- HTTP

/**
 * POST /auth/dev-token {"name"} -> {token,userId,name,expiresAt}.
 * In target mode: STRATUS_TOKEN_COMMAND with `name` as its last argument instead.
 */
export async function devToken(stack, name) {
  if (stack.target) return commandToken(name);
  const res = await fetch(`${stack.base}/auth/dev-token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
    signal: AbortSignal.timeout(DEFAULT_WAIT_MS),
  });
  const text = await res.text();
  if (res.status !== 200) {
    throw new Error(`POST /auth/dev-token {"name":${JSON.stringify(name)}} -> ${res.status} ${text}`);
  }
  const body = JSON.parse(text);
  for (const key of ['token', 'userId', 'name', 'expiresAt']) {
    if (!(key in body)) throw new Error(`dev-token reply lacks '${key}': ${text}`);
  }
  return body;
}

// ---------------------------------------------------------------- tokens in target mode

const TOKEN_COMMAND_TIMEOUT_MS = 30_000;

/** The JWT payload (unverified), or null. */
export function jwtPayload(token) {
  const parts = String(token).split('.');
  if (parts.length !== 3) return null;
  try {
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    return payload && typeof payload === 'object' && !Array.isArray(payload) ? payload : null;
  } catch {
    return null;
  }
}

/** src/core/validation.cpp validate_name: 1-32 code points, no control characters, no edge spaces. */
function validName(value) {
  if (typeof value !== 'string') return false;
  const length = [...value].length;
  // eslint-disable-next-line no-control-regex
  return length >= 1 && length <= 32 && !/[\u0000-\u001f\u007f-\u009f]/.test(value)
    && !value.startsWith(' ') && !value.endsWith(' ');
}

/**
 * The identity the stage derives from a Cognito token (src/adapters/jwt/cognito_token_verifier.hpp):
 * userId = sub; name = the first valid of preferred_username, name, cognito:username, username,
 * else "user-" + the first 8 characters of sub. A dev token's `name` claim gives the same.
 */
export function identityFromJwt(token) {
  const payload = jwtPayload(token);
  if (!payload || typeof payload.sub !== 'string') return null;
  const name = ['preferred_username', 'name', 'cognito:username', 'username'].map((c) => payload[c]).find(validName)
    ?? `user-${payload.sub.slice(0, 8)}`;
  return { userId: payload.sub, name, expiresAt: typeof payload.exp === 'number' ? payload.exp : undefined };
}

/** Runs STRATUS_TOKEN_COMMAND for `name`; resolves with {token, userId, name, expiresAt}. Caches nothing. */
export function commandToken(name) {
  const command = process.env.STRATUS_TOKEN_COMMAND;
  if (!command) {
    return Promise.reject(new Error('target mode (STRATUS_TARGET_URL) needs STRATUS_TOKEN_COMMAND: a command that '
      + 'prints a token for the user name given as its last argument (docs/parity.md)'));
  }
  const what = `STRATUS_TOKEN_COMMAND (${command}) for ${JSON.stringify(name)}`;
  return new Promise((resolve, reject) => {
    // The name is "$1" of the shell, never part of the command text. Own process group, so that
    // a timeout can end the command and whatever it started.
    const child = spawn('sh', ['-c', `${command} "$1"`, 'stratus-token-command', name],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const stdout = tailBuffer();
    const stderr = tailBuffer();
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d) => stdout.push(d));
    child.stderr.on('data', (d) => stderr.push(d));
    let timedOut = false;
    const killGroup = () => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, TOKEN_COMMAND_TIMEOUT_MS);
    process.once('exit', killGroup);
    child.once('error', (err) => {
      clearTimeout(timer);
      process.removeListener('exit', killGroup);
      reject(new Error(`${what}: cannot run sh: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      process.removeListener('exit', killGroup);
      const err = stderr.text.trim();
      if (timedOut) {
        reject(new Error(`${what}: no answer within ${TOKEN_COMMAND_TIMEOUT_MS} ms${err ? `; stderr: ${err}` : ''}`));
        return;
      }
      if (code !== 0) {
        reject(new Error(`${what}: exited with ${code ?? signal}${err ? `; stderr: ${err}` : ' and no stderr'}`));
        return;
      }
      try {
        resolve(parseTokenOutput(stdout.text));
      } catch (parseErr) {
        reject(new Error(`${what}: ${parseErr.message}${err ? `; stderr: ${err}` : ''}`));
      }
    });
  });
}

/** {"token",...} JSON, or the token alone on its (only non-empty) line. */
function parseTokenOutput(text) {
  const out = text.trim();
  if (!out) throw new Error('printed nothing (expected a token, or JSON {"token","userId","name","expiresAt"})');
  let body;
  if (out.startsWith('{')) {
    try {
      body = JSON.parse(out);
    } catch (e) {
      throw new Error(`printed invalid JSON (${e.message}): ${out.slice(0, 200)}`);
    }
    if (typeof body.token !== 'string') throw new Error(`JSON without a "token" string: ${out.slice(0, 200)}`);
  } else {
    const lines = out.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
    if (lines.length !== 1) throw new Error(`expected one line with the token, got ${lines.length} lines`);
    body = { token: lines[0] };
  }
  const derived = identityFromJwt(body.token);
  if (!derived && (body.userId === undefined || body.name === undefined)) {
    throw new Error(`the token is not a JWT with a "sub" claim, and the output names no userId/name: ${body.token.slice(0, 40)}…`);
  }
  const user = {
    token: body.token,
    userId: body.userId ?? derived.userId,
    name: body.name ?? derived.name,
    expiresAt: body.expiresAt ?? derived?.expiresAt ?? null,
  };
  return user;
}

/** A fresh user (unique name) with its token. */
export async function newUser(stack, prefix) {
  return devToken(stack, uniq(prefix));
}

/** Any well-formed SigV4 Authorization header (the gateway checks only its form). */
export const SIGV4_AUTH =
  'AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/execute-api/aws4_request, ' +
  'SignedHeaders=host;x-amz-date, Signature=' + '0'.repeat(64);

/** Raw @connections call: method on /{stage}/@connections/{id} (id percent-encoded). */
export async function connectionsApi(stack, method, id, { body, auth = true, encode = true, headers = {} } = {}) {
  const segment = encode ? encodeURIComponent(id) : id;
  const res = await fetch(`${stack.base}/${stack.stage}/@connections/${segment}`, {
    method,
    body,
    headers: {
      ...(auth ? { authorization: SIGV4_AUTH, 'x-amz-date': '20240101T000000Z' } : {}),
      ...headers,
    },
    signal: AbortSignal.timeout(DEFAULT_WAIT_MS),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text };
}

// ---------------------------------------------------------------- SQLite (local stacks only)

/** Runs a query on the stack's SQLite file with the sqlite3 CLI; rows as arrays of strings. */
export function sql(stack, query) {
  if (!stack.dbPath) throw new Error('sql() needs a local stack (data dir)');
  return new Promise((resolve, reject) => {
    execFile('sqlite3', ['-cmd', '.timeout 3000', '-separator', '\t', stack.dbPath, query],
      { timeout: DEFAULT_WAIT_MS }, (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`sqlite3 "${query}" failed: ${err.message} ${stderr}`));
          return;
        }
        resolve(stdout.split('\n').filter((line) => line !== '').map((line) => line.split('\t')));
      });
  });
}

const sqlString = (s) => `'${String(s).replace(/'/g, "''")}'`;

/** The connection ids stored for a user (local stacks only). */
export async function storedConnectionIds(stack, userId) {
  const rows = await sql(stack, `select id from connections where user_id = ${sqlString(userId)} order by id`);
  return rows.map((r) => r[0]);
}

/** Polls `fn` until it returns a truthy value, or fails with `what`. */
export async function waitUntil(fn, { timeoutMs = DEFAULT_WAIT_MS, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------- JWT (for refused-token tests)

const b64url = (buf) => Buffer.from(buf).toString('base64url');

/** Signs an HS256 JWT with `secret` (a string key, as the stack uses its hex secret). */
export function signJwt(payload, secret) {
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(payload));
  const mac = createHmac('sha256', secret).update(`${header}.${body}`).digest();
  return `${header}.${body}.${b64url(mac)}`;
}

/** The local stack's JWT secret (DATADIR/jwt-secret), or null. */
export async function stackSecret(stack) {
  if (!stack.dataDir) return null;
  return (await readFile(path.join(stack.dataDir, 'jwt-secret'), 'utf8')).trim();
}

// ---------------------------------------------------------------- WebSocket client

const REPLY_TYPE = {
  joinRoom: 'joined',
  leaveRoom: 'left',
  sendMessage: 'ack',
  getHistory: 'history',
  listRooms: 'rooms',
  markRead: 'read',
  ping: 'pong',
};

function describeFrames(frames, n = 5) {
  const tail = frames.slice(-n).map((f) => (f.raw.length > 200 ? `${f.raw.slice(0, 200)}…` : f.raw));
  return tail.length ? `last ${tail.length} of ${frames.length} frames: ${tail.join(' | ')}` : 'no frames received';
}

/**
 * A `ws` client that records every received frame. waitFor() consumes the
 * first matching frame that nobody consumed yet, whether it arrived before or
 * after the call, so there is no race between sending and waiting.
 */
export class Client {
  constructor(ws, label = 'client') {
    this.ws = ws;
    this.label = label;
    this.frames = []; // {raw, json, binary, consumed, at}
    this.waiters = [];
    this.closed = null; // {code, reason}
    this.closeWaiters = [];
    this.error = null;
    ws.on('message', (data, isBinary) => this._onFrame(data, isBinary));
    ws.on('close', (code, reason) => this._onClose(code, reason.toString('utf8')));
    ws.on('error', (err) => {
      this.error = err;
    });
  }

  _onFrame(data, isBinary) {
    const raw = Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data).toString('utf8');
    let json;
    try {
      json = JSON.parse(raw);
    } catch {
      json = undefined;
    }
    const entry = { raw, json, binary: isBinary, consumed: false, at: Date.now() };
    this.frames.push(entry);
    for (let i = 0; i < this.waiters.length; i += 1) {
      const w = this.waiters[i];
      if (w.match(entry)) {
        entry.consumed = true;
        this.waiters.splice(i, 1);
        w.resolve(entry);
        break;
      }
    }
  }

  _onClose(code, reason) {
    this.closed = { code, reason };
    const waiters = this.waiters.splice(0);
    for (const w of waiters) {
      w.reject(new Error(`${this.label}: connection closed (code ${code}${reason ? `, "${reason}"` : ''}) ` +
        `while waiting for ${w.what}; ${describeFrames(this.frames)}`));
    }
    for (const resolve of this.closeWaiters.splice(0)) resolve(this.closed);
  }

  get isOpen() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends an object as JSON, or a string/Buffer as given (options go to ws.send). */
  send(frame, options) {
    const data = typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame);
    return new Promise((resolve, reject) => {
      this.ws.send(data, options ?? {}, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Resolves with the first unconsumed entry whose entry matches `match(entry)`. */
  _waitEntry(match, timeoutMs, what) {
    for (const entry of this.frames) {
      if (!entry.consumed && match(entry)) {
        entry.consumed = true;
        return Promise.resolve(entry);
      }
    }
    if (this.closed) {
      return Promise.reject(new Error(`${this.label}: connection already closed (code ${this.closed.code}) ` +
        `while waiting for ${what}; ${describeFrames(this.frames)}`));
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        what,
        resolve: (entry) => {
          clearTimeout(timer);
          resolve(entry);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`${this.label}: timed out after ${timeoutMs} ms waiting for ${what}; ` +
          describeFrames(this.frames)));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** First unconsumed JSON frame with predicate(json) true; resolves with the parsed frame. */
  async waitFor(predicate, timeoutMs = DEFAULT_WAIT_MS, what = 'a matching frame') {
    const entry = await this._waitEntry((e) => e.json !== undefined && Boolean(predicate(e.json)), timeoutMs, what);
    return entry.json;
  }

  /** First unconsumed frame whose raw text satisfies predicate(raw); resolves with the raw text. */
  async waitForRaw(predicate, timeoutMs = DEFAULT_WAIT_MS, what = 'a matching raw frame') {
    const entry = await this._waitEntry((e) => Boolean(predicate(e.raw)), timeoutMs, what);
    return entry.raw;
  }

  /** `count` matching frames (in arrival order), all within one deadline. */
  async waitForMany(predicate, count, timeoutMs = DEFAULT_WAIT_MS, what = 'matching frames') {
    const deadline = Date.now() + timeoutMs;
    const out = [];
    while (out.length < count) {
      const left = Math.max(1, deadline - Date.now());
      out.push(await this.waitFor(predicate, left, `${what} (${out.length}/${count} so far)`));
    }
    return out;
  }

  /** Sends a request and resolves with its reply (of the action's type) or an error frame. */
  request(frame, timeoutMs = DEFAULT_WAIT_MS) {
    const expected = REPLY_TYPE[frame.action];
    const match = (f) => {
      if (f.type === 'error') return f.action === frame.action;
      if (!expected || f.type !== expected) return false;
      if (expected === 'ack') return f.clientMsgId === frame.clientMsgId;
      if (['joined', 'left', 'history', 'read'].includes(expected)) return f.room === frame.room;
      return true;
    };
    const waiting = this.waitFor(match, timeoutMs, `reply '${expected ?? 'error'}' to ${JSON.stringify(frame).slice(0, 200)}`);
    this.send(frame).catch(() => {});
    return waiting;
  }

  /** Like request(), but fails unless the reply is of the expected (non-error) type. */
  async ok(frame, timeoutMs = DEFAULT_WAIT_MS) {
    const reply = await this.request(frame, timeoutMs);
    if (reply.type === 'error') {
      throw new Error(`${this.label}: ${frame.action} failed: ${JSON.stringify(reply)}`);
    }
    return reply;
  }

  /** Frames (parsed) received so far, consumed or not, optionally filtered. */
  received(predicate = () => true) {
    return this.frames.filter((e) => e.json !== undefined && predicate(e.json)).map((e) => e.json);
  }

  /** Resolves with {code, reason} once the socket is closed. */
  waitClose(timeoutMs = DEFAULT_WAIT_MS) {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.label}: not closed within ${timeoutMs} ms; ` +
        describeFrames(this.frames))), timeoutMs);
      this.closeWaiters.push((closed) => {
        clearTimeout(timer);
        resolve(closed);
      });
    });
  }

  /** Clean close with a close frame; resolves with the close event. */
  close(code = 1000, reason) {
    if (!this.closed && this.ws.readyState !== WebSocket.CLOSED) this.ws.close(code, reason);
    return this.waitClose();
  }

  /** Vanishes without a close frame (the TCP socket is destroyed). */
  vanish() {
    this.ws._socket.destroy();
  }

  terminate() {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
  }
}

/**
 * Opens a WebSocket to `url` (a full ws:// URL). Resolves with a Client once
 * open; rejects with an error carrying `.status` when the handshake is refused.
 */
export function openSocket(url, { label = 'client', headers, stack } = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: DEFAULT_WAIT_MS, headers });
    const client = new Client(ws, label);
    let settled = false;
    ws.once('open', () => {
      settled = true;
      if (stack) stack.clients.add(client);
      resolve(client);
    });
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      const done = () => {
        if (settled) return;
        settled = true;
        const err = new Error(`${label}: handshake refused with HTTP ${res.statusCode} ${body}`);
        err.status = res.statusCode;
        err.body = body;
        req.destroy();
        reject(err);
      };
      res.on('end', done);
      res.on('error', done);
      res.on('close', done);
    });
    ws.once('error', (err) => {
      if (settled) return;
      settled = true;
      reject(new Error(`${label}: cannot connect to ${url}: ${err.message}`));
    });
  });
}

/** Connects with a token (string) or a devToken() reply. */
export function connect(stack, token, { label } = {}) {
  const t = typeof token === 'string' ? token : token.token;
  const name = label ?? (typeof token === 'object' ? token.name : 'client');
  return openSocket(stack.wsUrl(t), { label: name, stack });
}

/** Opens a socket that is expected to be refused; resolves with {status, body}. */
export async function expectRefused(url) {
  try {
    const client = await openSocket(url, { label: 'refused' });
    client.terminate();
  } catch (err) {
    if (err.status) return { status: err.status, body: err.body };
    throw err;
  }
  throw new Error(`handshake to ${url} was accepted; expected a refusal`);
}

/** Joins a room and returns the joined frame. */
export async function join(client, room) {
  const reply = await client.request({ action: 'joinRoom', room });
  if (reply.type !== 'joined') throw new Error(`${client.label}: joinRoom ${room} failed: ${JSON.stringify(reply)}`);
  return reply;
}

/** Sends messages without waiting in between, then awaits every ack (in order of sending). */
export async function sendBurst(client, room, texts, idPrefix = uniq('m')) {
  const frames = texts.map((text, i) => ({ action: 'sendMessage', room, text, clientMsgId: `${idPrefix}-${i}` }));
  const acks = frames.map((frame) => client.request(frame, 20_000));
  const replies = await Promise.all(acks);
  for (const [i, r] of replies.entries()) {
    if (r.type !== 'ack') throw new Error(`${client.label}: send #${i} failed: ${JSON.stringify(r)}`);
  }
  return { frames, acks: replies };
}

/** The whole history of a room, paged forward with `after` (limit 100). */
export async function fullHistory(client, room) {
  const out = [];
  let after = 0;
  for (let page = 0; page < 1000; page += 1) {
    const h = await client.request({ action: 'getHistory', room, after, limit: 100 });
    if (h.type !== 'history') throw new Error(`getHistory failed: ${JSON.stringify(h)}`);
    out.push(...h.messages);
    if (!h.hasMore) return out;
    if (h.messages.length === 0) throw new Error('hasMore with an empty page');
    after = h.messages[h.messages.length - 1].seq;
  }
  throw new Error('history did not end within 1000 pages');
}

export { WebSocket };
