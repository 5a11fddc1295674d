#!/usr/bin/env node
// The parity suite in target mode against a local stack configured like production
// (docs/parity.md): the very run that proves a deployed stage, pointed at 127.0.0.1.
//
//   node tests/integration/parity/run-local.mjs [--keep] [--no-http] [-- <node --test arguments>]
//
// 1. moto_server behind the serialising proxy (tests/integration/dynamodb/moto-stack.mjs):
//    the DynamoDB store, as on AWS;
// 2. a Cognito stand-in (tests/integration/node/lib/cognito.mjs): RS256 keys, its JWKS over
//    HTTPS with a throwaway CA;
// 3. `stratus dev --lambda <bootstrap>` with the function environment the template gives
//    (STRATUS_AUTH=cognito, pool, client, token use, tables), plus what only a local run needs
//    (issuer and JWKS URL of the stand-in, its CA, the DynamoDB endpoint). The bootstrap is
//    STRATUS_LAMBDA_PATH, else the packaged dist/stratus-lambda-<arch>.zip (unpacked), else
//    build/release/stratus-bootstrap;
// 4. checks that this configuration refuses the gateway's own HS256 dev tokens (401) and
//    refuses RS256 tokens with a wrong audience, token use, issuer or expiry, and accepts a
//    good one;
// 5. runs `node --test --test-concurrency=1 tests/integration/node/` (or the arguments after
//    `--`) with STRATUS_TARGET_URL=ws://127.0.0.1:PORT/local, STRATUS_TARGET_HTTP and
//    STRATUS_TOKEN_COMMAND="node tests/integration/parity/mint-token.mjs";
// 6. checks that the gateway survived, stops everything and exits with the suite's status.
//
// Environment: STRATUS_BIN (default build/release/stratus), STRATUS_LAMBDA_PATH.
// --keep keeps the temporary directory (gateway log, data dir); it is printed.
// --no-http leaves STRATUS_TARGET_HTTP unset, as against AWS (no @connections, no static files).

import { spawn, execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startMotoStack } from '../dynamodb/moto-stack.mjs';
import { createCognitoFixture, makeTlsMaterial } from '../node/lib/cognito.mjs';
import { commandToken, expectRefused, identityFromJwt, openSocket } from '../node/lib/stack.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../../..');
const READY_RE = /Stratus local stack ready at (http:\/\/127\.0\.0\.1:(\d+))\//;
const START_TIMEOUT_MS = 30_000;
const STAGE = 'local';

const log = (msg) => process.stderr.write(`parity: ${msg}\n`);
const abs = (p) => (path.isAbsolute(p) ? p : path.join(ROOT, p));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const shellQuote = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
const own = dash >= 0 ? argv.slice(0, dash) : argv;
const testArgs = dash >= 0 ? argv.slice(dash + 1) : ['tests/integration/node/'];
const KEEP = own.includes('--keep');
const NO_HTTP = own.includes('--no-http');
for (const a of own) {
  if (a !== '--keep' && a !== '--no-http') {
    log(`unknown argument ${a}; usage: run-local.mjs [--keep] [--no-http] [-- <node --test arguments>]`);
    process.exit(2);
  }
}

// ------------------------------------------------------------------ cleanup

const cleanups = []; // run in reverse order
let cleaning = null;
function cleanup() {
  cleaning ??= (async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        log(`cleanup: ${err.message}`);
      }
    }
  })();
  return cleaning;
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    log(`${signal}: stopping`);
    cleanup().finally(() => process.exit(130));
  });
}

// ------------------------------------------------------------------ processes

/** Pids of the descendants of `pid` (Linux /proc; [] elsewhere). */
function descendants(pid) {
  let entries;
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return [];
  }
  const parent = new Map();
  for (const e of entries) {
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(e), Number(fields[1]));
    } catch {
      /* gone */
    }
  }
  const out = [];
  const walk = (p) => {
    for (const [child, pp] of parent) {
      if (pp === p) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return out;
}

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The bootstrap: STRATUS_LAMBDA_PATH, the packaged zip (unpacked into `dir`), or the build's. */
async function lambdaPath(dir) {
  if (process.env.STRATUS_LAMBDA_PATH) {
    const p = abs(process.env.STRATUS_LAMBDA_PATH);
    if (!existsSync(p)) throw new Error(`STRATUS_LAMBDA_PATH ${p} does not exist`);
    return { path: p, what: `STRATUS_LAMBDA_PATH ${p}` };
  }
  const arch = process.arch === 'arm64' ? 'arm64' : 'x86_64';
  const zip = path.join(ROOT, `dist/stratus-lambda-${arch}.zip`);
  if (existsSync(zip)) {
    await mkdir(dir, { recursive: true });
    await promisify(execFile)('unzip', ['-q', '-o', zip, '-d', dir], { timeout: 60_000 });
    const bootstrap = path.join(dir, 'bootstrap');
    if (!existsSync(bootstrap)) throw new Error(`${zip} has no bootstrap at its root`);
    return { path: dir, what: `the packaged ${path.relative(ROOT, zip)} (unpacked into ${dir})` };
  }
  const built = path.join(ROOT, 'build/release/stratus-bootstrap');
  if (!existsSync(built)) {
    throw new Error(`no bootstrap: set STRATUS_LAMBDA_PATH, run scripts/package-lambda, or build ${built}`);
  }
  return { path: built, what: `the build's ${path.relative(ROOT, built)} (no ${path.relative(ROOT, zip)})` };
}

/** Starts `stratus dev`; resolves with {base, proc, stop()} once it printed its ready line. */
async function startGateway(args, logFile) {
  const bin = abs(process.env.STRATUS_BIN || 'build/release/stratus');
  const out = createWriteStream(logFile);
  const proc = spawn(bin, ['dev', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  let exitInfo = null;
  exited.then((e) => {
    exitInfo = e;
  });
  proc.stderr.pipe(out, { end: false });
  let stdout = '';
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`stratus did not print its ready line within ${START_TIMEOUT_MS} ms`)),
      START_TIMEOUT_MS);
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk) => {
      out.write(chunk);
      stdout += chunk;
      const m = READY_RE.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${bin}: ${err.message}`));
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`stratus exited (code ${code}, signal ${signal}) before it was ready`));
    });
  }).catch(async (err) => {
    if (alive(proc.pid)) process.kill(-proc.pid, 'SIGKILL');
    await exited;
    throw new Error(`${err.message}\n${bin} dev ${args.join(' ')}\n--- log ---\n${await readFile(logFile, 'utf8').catch(() => '')}`);
  });
  return {
    base,
    proc,
    get exited() {
      return exitInfo;
    },
    /** SIGTERM to its process group, SIGKILL after 5 s; then its function instances (own groups). */
    async stop() {
      const instances = descendants(proc.pid);
      if (!exitInfo) {
        try {
          process.kill(-proc.pid, 'SIGTERM');
        } catch {
          /* gone */
        }
        const timer = setTimeout(() => {
          try {
            process.kill(-proc.pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }, 5_000);
        await exited;
        clearTimeout(timer);
      }
      // The instances run in their own process groups and leave when the Runtime API goes.
      const deadline = Date.now() + 5_000;
      while (instances.some(alive) && Date.now() < deadline) await sleep(100);
      const left = instances.filter(alive);
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      if (left.length) log(`warning: ${left.length} function instance(s) outlived the gateway by 5 s; killed`);
      out.end();
      return { instances: instances.length, orphans: left.length };
    },
  };
}

// ------------------------------------------------------------------ checks

async function mustRefuse(url, what) {
  const { status, body } = await expectRefused(url);
  if (status !== 401) throw new Error(`${what}: handshake refused with ${status} (expected 401): ${body}`);
  log(`ok: ${what} -> 401`);
}

/** Connects, checks ping and the identity the stage derives; returns the joined members. */
async function mustAccept(url, expected, what) {
  const client = await openSocket(url, { label: what });
  try {
    const pong = await client.ok({ action: 'ping' });
    if (pong.type !== 'pong') throw new Error(`${what}: ping -> ${JSON.stringify(pong)}`);
    const room = `parity-${randomBytes(4).toString('hex')}`;
    const joined = await client.ok({ action: 'joinRoom', room });
    const member = joined.members?.[0];
    if (!member || member.userId !== expected.userId || member.name !== expected.name) {
      throw new Error(`${what}: the stage's identity ${JSON.stringify(member)} is not the token's ${JSON.stringify(expected)}`);
    }
    log(`ok: ${what} accepted as ${JSON.stringify(member)}`);
  } finally {
    await client.close().catch(() => client.terminate());
  }
}

async function preflight({ base, wsBase, pool, minted }) {
  const ws = (token) => `${wsBase}?token=${encodeURIComponent(token)}`;
  // The gateway still mints HS256 dev tokens; the function must not accept them.
  const res = await fetch(`${base}/auth/dev-token`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'parity-dev' }),
    signal: AbortSignal.timeout(5000),
  });
  if (res.status !== 200) throw new Error(`POST /auth/dev-token -> ${res.status} ${await res.text()}`);
  const dev = await res.json();
  await mustRefuse(ws(dev.token), 'an HS256 dev token from /auth/dev-token');

  // A good RS256 id token through the token command (the suite's path), and one from the pool's own key.
  const user = await commandToken('parity-check');
  await mustAccept(ws(user.token), user, 'an RS256 id token from the token command');
  const direct = pool.sign({ username: 'ignored', name: 'parity-direct' });
  await mustAccept(ws(direct), identityFromJwt(direct), 'an RS256 id token signed with the pool\'s first key');

  // RS256 tokens that must be refused.
  const { sub } = identityFromJwt(user.token) ?? {};
  const now = Math.floor(Date.now() / 1000);
  await mustRefuse(ws(pool.sign({ sub, name: 'x', expiresIn: -120, now: now - 3600 })), 'an expired RS256 id token');
  await mustRefuse(ws(pool.sign({ sub, name: 'x', aud: 'another-client' })), 'an RS256 id token for another client');
  await mustRefuse(ws(pool.sign({ sub, name: 'x', iss: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other' })),
    'an RS256 id token from another issuer');
  await mustRefuse(ws(pool.sign({ sub, tokenUse: 'access' })), 'an RS256 access token (the stage takes id tokens)');
  const [h, p] = direct.split('.');
  await mustRefuse(ws(`${h}.${p}.${minted.split('.')[2]}`), 'an RS256 id token with another token\'s signature');
}

// ------------------------------------------------------------------ main

async function main() {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'stratus-parity-'));
  cleanups.push(async () => {
    if (KEEP) log(`kept ${tmp}`);
    else await rm(tmp, { recursive: true, force: true });
  });

  const moto = await startMotoStack();
  if (!moto) throw new Error('moto_server is not on PATH: the production-like run needs a DynamoDB store (pip install "moto[server]")');
  cleanups.push(() => moto.stop());
  log(`DynamoDB: moto_server behind the serialising proxy at ${moto.url}`);

  // The Cognito stand-in: a pool, its JWKS over HTTPS (throwaway CA), and a key for the token command.
  const pool = createCognitoFixture({
    region: 'us-east-1', userPoolId: 'us-east-1_StratusParity', clientId: `parity${randomBytes(8).toString('hex')}`,
  });
  const tlsDir = path.join(tmp, 'tls');
  await mkdir(tlsDir);
  const tls = await makeTlsMaterial(tlsDir);
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomBytes(32).toString('base64');
  const { n, e } = publicKey.export({ format: 'jwk' });
  pool.jwks.keys.push({ alg: 'RS256', e, kid, kty: 'RSA', n, use: 'sig' }); // the live JWKS: two keys, as Cognito publishes
  const jwks = await pool.serveJwks({ tls });
  cleanups.push(() => jwks.close());
  log(`Cognito stand-in: issuer ${pool.issuer}, JWKS ${jwks.url} (CA ${tls.caFile})`);

  const tokenConfig = path.join(tmp, 'token-config.json');
  await writeFile(tokenConfig, JSON.stringify({
    issuer: pool.issuer, userPoolId: pool.userPoolId, clientId: pool.clientId, kid, tokenUse: 'id', expiresIn: 3600,
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }),
  }), { mode: 0o600 });
  await chmod(tokenConfig, 0o600);
  const tokenCommand = `${shellQuote(process.execPath)} ${shellQuote(path.join(HERE, 'mint-token.mjs'))}`;
  process.env.STRATUS_PARITY_TOKEN_CONFIG = tokenConfig;
  process.env.STRATUS_TOKEN_COMMAND = tokenCommand;

  const lambda = await lambdaPath(path.join(tmp, 'lambda'));
  log(`function: ${lambda.what}`);

  const dataDir = path.join(tmp, 'data');
  await mkdir(dataDir);
  const tablePrefix = `parity${randomBytes(4).toString('hex')}_`;
  const functionEnv = {
    // What infra/template.yaml sets (tables come from --dynamodb-endpoint/--table-prefix) ...
    STRATUS_AUTH: 'cognito',
    STRATUS_COGNITO_USER_POOL_ID: pool.userPoolId,
    STRATUS_COGNITO_CLIENT_ID: pool.clientId,
    STRATUS_COGNITO_TOKEN_USE: 'id',
    // ... what only the local stand-in needs (unset on AWS: issuer and JWKS URL are derived from the pool) ...
    STRATUS_COGNITO_ISSUER: pool.issuer,
    STRATUS_JWKS_URL: jwks.url,
    STRATUS_CA_FILE: tls.caFile,
    // ... and no dev-token secret, as on AWS.
    STRATUS_DEV_SECRET_FILE: '',
  };
  const args = [
    '--host', '127.0.0.1', '--port', '0', '--stage', STAGE, '--data-dir', dataDir,
    '--dynamodb-endpoint', moto.url, '--table-prefix', tablePrefix,
    '--lambda', lambda.path,
    ...Object.entries(functionEnv).flatMap(([k, v]) => ['--lambda-env', `${k}=${v}`]),
  ];
  const logFile = path.join(tmp, 'stratus.log');
  const gateway = await startGateway(args, logFile);
  let stopped = null;
  const stopGateway = async () => {
    stopped ??= gateway.stop();
    return stopped;
  };
  cleanups.push(stopGateway);
  const wsBase = `${gateway.base.replace(/^http/, 'ws')}/${STAGE}`;
  log(`gateway: ${gateway.base}/ (WebSocket ${wsBase}, tables ${tablePrefix}*, log ${logFile})`);

  const minted = (await commandToken('parity-signature-donor')).token;
  await preflight({ base: gateway.base, wsBase, pool, minted });

  const env = { ...process.env };
  for (const k of ['STRATUS_URL', 'STRATUS_STAGE', 'STRATUS_LAMBDA', 'STRATUS_LAMBDA_ARGS', 'STRATUS_DYNAMODB_ENDPOINT']) delete env[k];
  Object.assign(env, {
    STRATUS_TARGET_URL: wsBase,
    STRATUS_TOKEN_COMMAND: tokenCommand,
    STRATUS_PARITY_TOKEN_CONFIG: tokenConfig,
  });
  delete env.STRATUS_TARGET_HTTP;
  if (!NO_HTTP) env.STRATUS_TARGET_HTTP = gateway.base;
  const nodeArgs = ['--test', '--test-concurrency=1', ...testArgs];
  log(`running: STRATUS_TARGET_URL=${wsBase} ${NO_HTTP ? '' : `STRATUS_TARGET_HTTP=${gateway.base} `}`
    + `STRATUS_TOKEN_COMMAND="node tests/integration/parity/mint-token.mjs" node ${nodeArgs.join(' ')}`);
  const suite = spawn(process.execPath, nodeArgs, { cwd: ROOT, env, stdio: 'inherit' });
  cleanups.push(() => {
    if (suite.exitCode === null && suite.signalCode === null) suite.kill('SIGTERM');
  });
  let status = await new Promise((resolve) => {
    suite.once('error', (err) => {
      log(`cannot run the suite: ${err.message}`);
      resolve(127);
    });
    suite.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });

  if (gateway.exited) {
    log(`the gateway exited during the suite: ${JSON.stringify(gateway.exited)}`);
    status ||= 1;
  }
  const { instances, orphans } = await stopGateway();
  log(`gateway stopped (${instances} function instance(s) at the end, ${orphans} orphan(s))`);
  if (orphans) status ||= 1;
  if (status !== 0) {
    const text = await readFile(logFile, 'utf8').catch(() => '');
    const tail = text.split('\n').slice(-60).join('\n');
    log(`suite status ${status}; the gateway log's last lines (${logFile}):\n${tail}`);
  }
  return status;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  log(`error: ${err.stack ?? err}`);
  code = 1;
} finally {
  await cleanup();
}
process.exit(code);
