// Crash-durability harness (docs/reliability.md, "Crash durability").
//
// One trial:
//   1. starts `stratus dev --host 127.0.0.1 --port P --data-dir D --sync S` (a fixed free port,
//      reused across restarts so that clients reconnect to the same URL);
//   2. runs a load: U users, each one connection subscribed to R rooms, composing messages into
//      an outbox with unique clientMsgIds. Like the web client (web/js/chat-client.js), a client
//      sends what is in its outbox, records every ack, and on a lost connection reconnects with
//      backoff, re-joins its rooms, resumes with getHistory {after: lastSeq} (paged by hasMore)
//      and sends every un-acked message again with the SAME clientMsgId;
//   3. a killer sends SIGKILL to the gateway at random moments (seeded PRNG), checks a copy of the
//      files the crash left (integrity_check; every message acked so far is there; seqs
//      contiguous), and restarts the gateway on the same data directory and port;
//   4. when every outbox is acked: each client catches up once more, the gateway is killed one
//      last time, and the store is read with the sqlite3 CLI and checked (checkFinal below):
//        lost        acked (clientMsgId -> room, seq, id) missing or different in the store
//        dups        two stored rows with the same (user, clientMsgId); two seqs for one
//                    clientMsgId in a client's view; one seq with different content
//        order       per room, stored seqs are exactly 1..max and rooms.last_seq = max
//        unexpected  a stored message nobody attempted (or an attempted one never stored)
//        view        each client's de-duplicated view of a room = the store's messages of that
//                    room after the seq the client started from (0: they all start at the top)
//        integrity   PRAGMA integrity_check = ok
//
// Everything is loopback only, every wait has a timeout, and the gateway is always killed.

import { spawn, execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, rm, copyFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { freePort, tailBuffer } from '../../integration/node/lib/stack.mjs';

export const REPO_ROOT = path.resolve(fileURLToPath(import.meta.url), '../../../..');

const READY_RE = /Stratus local stack ready at http:\/\/127\.0\.0\.1:(\d+)\//;
const STAGE = 'local';

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The stratus binary: STRATUS_BIN, else build/release/src/app/stratus or build/release/stratus. */
export function binaryPath() {
  const abs = (p) => (path.isAbsolute(p) ? p : path.join(REPO_ROOT, p));
  if (process.env.STRATUS_BIN) return abs(process.env.STRATUS_BIN);
  const candidates = ['build/release/src/app/stratus', 'build/release/stratus'].map(abs);
  return candidates.find((p) => existsSync(p)) ?? candidates[0];
}

// ---------------------------------------------------------------- seeded PRNG

/** mulberry32: small, fast, good enough to make schedules reproducible from a 32-bit seed. */
export function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    /** Integer in [lo, hi]. */
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (items) => items[Math.floor(next() * items.length)],
    /** An independent generator (for one client, the killer, …). */
    fork: () => prng(Math.floor(next() * 4294967296)),
  };
}

// ---------------------------------------------------------------- helpers

/** Runs `query` on `dbPath` with the sqlite3 CLI in JSON mode; resolves with the rows. */
export function sqliteJson(dbPath, query) {
  return new Promise((resolve, reject) => {
    execFile('sqlite3', ['-json', '-cmd', '.timeout 5000', dbPath, query],
      { timeout: 60_000, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`sqlite3 ${dbPath} "${query}" failed: ${err.message} ${stderr}`));
          return;
        }
        const text = stdout.trim();
        try {
          resolve(text === '' ? [] : JSON.parse(text));
        } catch (e) {
          reject(new Error(`sqlite3 printed invalid JSON for "${query}": ${e.message}: ${text.slice(0, 200)}`));
        }
      });
  });
}

const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'écho', 'foxtrot', 'γάμμα', '漢字', 'emoji 🎈', 'quote "q"',
  "it's", 'back\\slash', 'tab\there', 'line\nbreak'];

// ---------------------------------------------------------------- the gateway process

class Gateway {
  constructor({ bin, port, dataDir, sync, extraArgs = [], log }) {
    this.bin = bin;
    this.port = port;
    this.dataDir = dataDir;
    this.args = ['dev', '--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir,
      '--sync', sync, ...extraArgs];
    this.log = log;
    this.proc = null;
    this.exit = null;
    this.stderr = tailBuffer();
    this.starts = 0;
    this.startMs = [];
    this._killOnExit = () => {
      try {
        this.proc?.kill('SIGKILL');
      } catch {
        /* gone */
      }
    };
    process.on('exit', this._killOnExit);
  }

  get base() {
    return `http://127.0.0.1:${this.port}`;
  }

  get running() {
    return this.proc !== null && this.exit === null;
  }

  /** Spawns the gateway and waits for its ready line; retries a few times (e.g. a port race). */
  async start() {
    let lastError;
    for (let attempt = 0; attempt < 5; attempt += 1) {
      try {
        await this._startOnce();
        return;
      } catch (err) {
        lastError = err;
        await sleep(200 * (attempt + 1));
      }
    }
    throw lastError;
  }

  _startOnce() {
    const began = Date.now();
    const proc = spawn(this.bin, this.args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    this.exit = null;
    const stdout = tailBuffer(8 * 1024);
    proc.stdout.setEncoding('utf8');
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk) => this.stderr.push(chunk));
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        if (this.proc === proc) this.exit = { code, signal };
        resolve({ code, signal });
      });
    });
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (err) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) {
          try {
            proc.kill('SIGKILL');
          } catch {
            /* gone */
          }
          reject(err);
        } else {
          this.starts += 1;
          this.startMs.push(Date.now() - began);
          resolve();
        }
      };
      const timer = setTimeout(() => finish(new Error(`stratus not ready within 20 s: ${this.bin} ` +
        `${this.args.join(' ')}\nstdout:\n${stdout.text}\nstderr:\n${this.stderr.text}`)), 20_000);
      proc.stdout.on('data', (chunk) => {
        stdout.push(chunk);
        if (READY_RE.test(stdout.text)) finish(null);
      });
      proc.once('exit', (code, signal) => finish(new Error(`stratus exited (code ${code}, signal ${signal}) ` +
        `before it was ready: ${this.bin} ${this.args.join(' ')}\nstdout:\n${stdout.text}\nstderr:\n${this.stderr.text}`)));
      proc.once('error', (err) => finish(new Error(`cannot start ${this.bin}: ${err.message} (build it or set STRATUS_BIN)`)));
    });
  }

  /** SIGKILL, then waits until the process is gone. */
  async kill9() {
    if (!this.running) return;
    this.proc.kill('SIGKILL');
    await this.exited;
  }

  /** Stops the gateway (SIGKILL: nothing graceful is needed or wanted here). */
  async dispose() {
    await this.kill9();
    process.removeListener('exit', this._killOnExit);
  }
}

// ---------------------------------------------------------------- one client (one user, one connection)

class ChatClient {
  constructor({ index, name, rooms, quota, trial, rng }) {
    this.index = index;
    this.name = name;
    this.rooms = rooms;
    this.quota = quota;
    this.trial = trial;
    this.rng = rng;
    this.user = null; // {token, userId, name}
    // What this client saw, per room: seq -> {seq, id, clientMsgId, userId, text}.
    this.view = new Map(rooms.map((r) => [r, new Map()]));
    // (userId/clientMsgId) -> seq, per room: a second seq for one clientMsgId is a duplicate.
    this.byCid = new Map(rooms.map((r) => [r, new Map()]));
    // The resume point: every seq <= contig[room] is in the view.
    this.contig = new Map(rooms.map((r) => [r, 0]));
    // The seq this client started reading each room from (all start at the top: getHistory {after: 0}).
    this.startAfter = new Map(rooms.map((r) => [r, 0]));
    this.outbox = []; // composed, never sent: {clientMsgId, room, text}
    this.pending = new Map(); // sent at least once, not acked: clientMsgId -> {…, sends, inFlight, sentAt}
    this.acked = new Map(); // clientMsgId -> {room, seq, id, text, sends}
    this.composed = 0;
    this.inFlight = 0;
    this.ws = null;
    this.gen = 0;
    this.state = 'offline'; // offline | connecting | syncing | live | stopped
    this.attempt = 0;
    this.waiters = new Map(); // `${type}:${room}` -> [{resolve, reject, timer}]
    this.syncing = new Map(); // room -> promise of the running catch-up
    this.resync = new Set();
    this.liveWaiters = [];
    this.reconnectTimer = null;
    this.ackTimer = null;
  }

  get outstanding() {
    return this.outbox.length + this.pending.size;
  }

  get done() {
    return this.composed === this.quota && this.outstanding === 0;
  }

  url() {
    return `ws://127.0.0.1:${this.trial.gateway.port}/${STAGE}?token=${encodeURIComponent(this.user.token)}`;
  }

  start() {
    this.ackTimer = setInterval(() => this._checkAckTimeouts(), 500);
    this._connect();
  }

  stop() {
    this.state = 'stopped';
    this.gen += 1;
    clearInterval(this.ackTimer);
    clearTimeout(this.reconnectTimer);
    this._rejectWaiters(new Error('stopped'));
    if (this.ws) this.ws.terminate();
    this.ws = null;
  }

  // ------------------------------------------------ connection lifecycle

  _connect() {
    if (this.state === 'stopped') return;
    this.gen += 1;
    const gen = this.gen;
    this.state = 'connecting';
    this.trial.stats.connectAttempts += 1;
    const ws = new WebSocket(this.url(), { perMessageDeflate: false, handshakeTimeout: 3_000 });
    this.ws = ws;
    ws.on('open', () => {
      if (gen !== this.gen) return;
      this._onOpen(gen).catch((err) => this._lost(gen, `sync failed: ${err.message}`));
    });
    ws.on('message', (data) => {
      if (gen !== this.gen) return;
      this._onFrame(data.toString('utf8'), gen);
    });
    ws.on('unexpected-response', (req, res) => {
      // The handshake was refused. A token issued before a restart must stay valid: the dev
      // token secret lives in the data directory.
      if (res.statusCode === 401 || res.statusCode === 403) {
        this.trial.violation('token-refused', {
          client: this.name, status: res.statusCode,
          detail: 'a dev token issued before a restart was refused after it',
        });
      }
      this.trial.stats.refusedHandshakes += 1;
      req.destroy();
      this._lost(gen, `handshake refused with HTTP ${res.statusCode}`);
    });
    ws.on('error', () => this._lost(gen, 'socket error'));
    ws.on('close', () => this._lost(gen, 'closed'));
  }

  /** The connection `gen` is gone: forget what was in flight and reconnect with backoff. */
  _lost(gen, why) {
    if (gen !== this.gen || this.state === 'stopped') return;
    this.gen += 1;
    this.state = 'offline';
    this.lastLoss = why;
    try {
      this.ws?.terminate();
    } catch {
      /* already closed */
    }
    this.ws = null;
    this._rejectWaiters(new Error(`connection lost (${why})`));
    for (const p of this.pending.values()) p.inFlight = false;
    this.inFlight = 0;
    // Equal jitter: uniformly in [cap/2, cap], cap = min(500, 25 * 2^attempt) ms.
    const cap = Math.min(500, 25 * 2 ** Math.min(this.attempt, 10));
    this.attempt += 1;
    this.reconnectTimer = setTimeout(() => this._connect(), Math.round(cap / 2 + this.rng.next() * (cap / 2)));
  }

  _terminate(why) {
    this._lost(this.gen, why);
  }

  async _onOpen(gen) {
    this.state = 'syncing';
    this.trial.stats.connections += 1;
    for (const room of this.rooms) {
      const joined = await this._request({ action: 'joinRoom', room }, `joined:${room}`, gen);
      if (joined.type !== 'joined') throw new Error(`joinRoom ${room}: ${JSON.stringify(joined)}`);
    }
    for (const room of this.rooms) await this._catchUp(room, gen);
    if (gen !== this.gen) return;
    this.attempt = 0;
    this.state = 'live';
    // Every un-acked send again, with the same clientMsgId: the store answers a message it
    // committed before the crash with its original seq.
    for (const p of this.pending.values()) this._send(p, gen);
    this._pump();
    for (const resolve of this.liveWaiters.splice(0)) resolve();
  }

  _rejectWaiters(err) {
    for (const list of this.waiters.values()) {
      for (const w of list) {
        clearTimeout(w.timer);
        w.reject(err);
      }
    }
    this.waiters.clear();
  }

  /** Sends `frame` and resolves with the reply keyed `key` (or the error frame for it). */
  _request(frame, key, gen) {
    if (gen !== this.gen || !this.ws) return Promise.reject(new Error('connection lost'));
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject, timer: null };
      waiter.timer = setTimeout(() => {
        const list = this.waiters.get(key) ?? [];
        const i = list.indexOf(waiter);
        if (i >= 0) list.splice(i, 1);
        reject(new Error(`no reply to ${frame.action} ${frame.room ?? ''} within 10 s`));
        this._lost(gen, `request timeout (${frame.action})`);
      }, 10_000);
      if (!this.waiters.has(key)) this.waiters.set(key, []);
      this.waiters.get(key).push(waiter);
      this.ws.send(JSON.stringify(frame), (err) => {
        if (err) this._lost(gen, `send failed: ${err.message}`);
      });
    });
  }

  _resolveWaiter(key, frame) {
    const list = this.waiters.get(key);
    if (!list || list.length === 0) return false;
    const w = list.shift();
    clearTimeout(w.timer);
    w.resolve(frame);
    return true;
  }

  /** Resolves once the client is connected and synced (or rejects after `timeoutMs`). */
  whenLive(timeoutMs) {
    if (this.state === 'live') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name} not live within ${timeoutMs} ms ` +
        `(state ${this.state}, last loss: ${this.lastLoss ?? 'none'})`)), timeoutMs);
      this.liveWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  // ------------------------------------------------ resume: getHistory {after: contig} while hasMore

  /** Catches `room` up from the resume point; concurrent calls share one run, then run once more. */
  _catchUp(room, gen) {
    const running = this.syncing.get(room);
    if (running) {
      this.resync.add(room);
      return running;
    }
    const run = (async () => {
      try {
        do {
          this.resync.delete(room);
          let after = this.contig.get(room);
          for (let page = 0; ; page += 1) {
            const h = await this._request({ action: 'getHistory', room, after, limit: 100 }, `history:${room}`, gen);
            if (h.type !== 'history') throw new Error(`getHistory ${room}: ${JSON.stringify(h)}`);
            this.trial.stats.historyItems += h.messages.length;
            let prev = after;
            for (const m of h.messages) {
              if (!(m.seq > prev)) {
                this.trial.violation('history-order', {
                  client: this.name, room, seq: m.seq,
                  detail: `getHistory {after: ${after}} returned seq ${m.seq} after ${prev}`,
                });
              }
              prev = m.seq;
              this._addToView(m, 'history');
            }
            if (!h.hasMore) break;
            if (h.messages.length === 0) throw new Error(`getHistory ${room} {after: ${after}}: hasMore with an empty page`);
            after = h.messages.at(-1).seq;
            if (page > 10_000) throw new Error('history paging does not end');
          }
        } while (this.resync.has(room) && gen === this.gen);
      } finally {
        this.syncing.delete(room);
      }
    })();
    this.syncing.set(room, run);
    return run;
  }

  /** A final catch-up of every room (no more sends): the view is then complete. */
  async finalCatchUp(timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.whenLive(Math.max(1, deadline - Date.now()));
      const gen = this.gen;
      try {
        for (const room of this.rooms) {
          await this.syncing.get(room)?.catch(() => {});
          await this._catchUp(room, gen);
        }
        return;
      } catch (err) {
        if (Date.now() >= deadline) throw err;
      }
    }
  }

  // ------------------------------------------------ frames

  _onFrame(raw, gen) {
    let f;
    try {
      f = JSON.parse(raw);
    } catch {
      this.trial.violation('bad-frame', { client: this.name, detail: `not JSON: ${raw.slice(0, 200)}` });
      return;
    }
    switch (f.type) {
      case 'ack':
        this._onAck(f);
        return;
      case 'message':
        this.trial.stats.liveFrames += 1;
        this._addToView(f, 'live');
        // A hole before a live push (one was lost): fetch the gap, as the UI does.
        if (f.seq > this.contig.get(f.room) + 1 && this.state === 'live') {
          this._catchUp(f.room, gen).catch(() => {});
        }
        return;
      case 'joined':
        this._resolveWaiter(`joined:${f.room}`, f);
        return;
      case 'history':
        this._resolveWaiter(`history:${f.room}`, f);
        return;
      case 'error':
        this._onError(f, gen);
        return;
      case 'presence':
      case 'typing':
      case 'pong':
        return;
      default:
        if (typeof f.message === 'string') {
          // API Gateway's own error frames ("Internal server error", "Forbidden"): start over.
          this.trial.stats.gatewayErrorFrames += 1;
          this._terminate(`gateway frame: ${f.message}`);
          return;
        }
        this.trial.violation('bad-frame', { client: this.name, detail: `unexpected frame ${raw.slice(0, 200)}` });
    }
  }

  _onError(f, gen) {
    if (f.action === 'sendMessage') {
      const p = this.pending.get(f.clientMsgId);
      if (p && (f.code === 'internal' || f.code === 'unavailable' || f.code === 'rate_limited')) {
        // Nothing was applied: retry later with the same clientMsgId (the pump resends it).
        this.trial.stats.sendErrors += 1;
        if (p.inFlight) {
          p.inFlight = false;
          this.inFlight -= 1;
        }
        setTimeout(() => this._pump(), f.code === 'rate_limited' ? 300 : 50);
        return;
      }
      this.trial.violation('send-refused', {
        client: this.name, room: f.room, clientMsgId: f.clientMsgId, detail: JSON.stringify(f),
      });
      return;
    }
    const key = f.action === 'joinRoom' ? `joined:${f.room}` : f.action === 'getHistory' ? `history:${f.room}` : null;
    if (key && this._resolveWaiter(key, f)) return;
    this.trial.violation('unexpected-error', { client: this.name, detail: JSON.stringify(f) });
    this._lost(gen, `error frame ${f.code}`);
  }

  _onAck(a) {
    this.trial.stats.ackFrames += 1;
    const prev = this.acked.get(a.clientMsgId);
    if (prev) {
      // A second ack for one clientMsgId (a retry whose first ack also arrived) must agree.
      if (prev.seq !== a.seq || prev.id !== a.id || prev.room !== a.room) {
        this.trial.violation('ack-changed', {
          client: this.name, room: a.room, seq: a.seq, clientMsgId: a.clientMsgId,
          expected: `seq ${prev.seq} id ${prev.id}`, actual: `seq ${a.seq} id ${a.id}`,
        });
      }
      return;
    }
    const p = this.pending.get(a.clientMsgId);
    if (!p) {
      this.trial.violation('ack-unknown', { client: this.name, room: a.room, seq: a.seq, clientMsgId: a.clientMsgId });
      return;
    }
    if (a.room !== p.room || !Number.isInteger(a.seq) || a.seq < 1 || typeof a.id !== 'string') {
      this.trial.violation('ack-malformed', {
        client: this.name, room: p.room, clientMsgId: a.clientMsgId, detail: JSON.stringify(a),
      });
    }
    this.pending.delete(a.clientMsgId);
    if (p.inFlight) this.inFlight -= 1;
    const rec = { room: p.room, seq: a.seq, id: a.id, text: p.text, sends: p.sends, userId: this.user.userId };
    this.acked.set(a.clientMsgId, rec);
    this.trial.onAck(this, a.clientMsgId, rec);
    this._pump();
  }

  /** Adds a pushed or paged message to the view, checking it against what was seen before. */
  _addToView(m, via) {
    const room = m.room;
    const view = this.view.get(room);
    if (!view || !Number.isInteger(m.seq) || !m.from || typeof m.id !== 'string') {
      this.trial.violation('bad-message', { client: this.name, room, detail: JSON.stringify(m).slice(0, 300) });
      return;
    }
    const entry = { seq: m.seq, id: m.id, clientMsgId: m.clientMsgId, userId: m.from.userId, text: m.text };
    const seen = view.get(m.seq);
    if (seen) {
      if (seen.id !== entry.id || seen.clientMsgId !== entry.clientMsgId || seen.userId !== entry.userId
        || seen.text !== entry.text) {
        this.trial.violation('seq-conflict', {
          client: this.name, room, seq: m.seq,
          expected: JSON.stringify(seen), actual: `${JSON.stringify(entry)} (via ${via})`,
        });
      } else {
        this.trial.stats.overlap += 1; // the same message by push and by history: fine, dropped by seq
      }
      return;
    }
    const cidKey = `${entry.userId}/${entry.clientMsgId}`;
    const other = this.byCid.get(room).get(cidKey);
    if (other !== undefined) {
      this.trial.violation('duplicate-clientMsgId', {
        client: this.name, room, seq: m.seq, clientMsgId: entry.clientMsgId,
        expected: `only seq ${other}`, actual: `also seq ${m.seq} (via ${via})`,
      });
    }
    this.byCid.get(room).set(cidKey, m.seq);
    view.set(m.seq, entry);
    let c = this.contig.get(room);
    while (view.has(c + 1)) c += 1;
    this.contig.set(room, c);
  }

  // ------------------------------------------------ sending

  compose(n) {
    for (let i = 0; i < n && this.composed < this.quota; i += 1) {
      const k = this.composed;
      this.composed += 1;
      const room = this.rng.pick(this.rooms);
      const clientMsgId = `${this.trial.tag}-u${this.index}-${k}`;
      const words = Array.from({ length: this.rng.int(1, 6) }, () => this.rng.pick(WORDS));
      const text = `${this.name} #${k} ${words.join(' ')} ${'x'.repeat(this.rng.int(0, 120))}`;
      this.outbox.push({ clientMsgId, room, text });
      this.trial.attempted.set(`${this.user.userId}/${clientMsgId}`, { room, text, client: this.name });
    }
    this._pump();
  }

  _pump() {
    if (this.state !== 'live') return;
    const gen = this.gen;
    for (const p of this.pending.values()) {
      if (this.inFlight >= this.trial.window) return;
      if (!p.inFlight) this._send(p, gen);
    }
    while (this.inFlight < this.trial.window && this.outbox.length > 0) {
      const item = this.outbox.shift();
      const p = { ...item, sends: 0, inFlight: false, sentAt: 0 };
      this.pending.set(p.clientMsgId, p);
      this._send(p, gen);
    }
  }

  _send(p, gen) {
    if (gen !== this.gen || !this.ws || p.inFlight) return;
    p.inFlight = true;
    p.sends += 1;
    p.sentAt = Date.now();
    this.inFlight += 1;
    this.trial.stats.sends += 1;
    if (p.sends > 1) this.trial.stats.resends += 1;
    this.ws.send(JSON.stringify({ action: 'sendMessage', room: p.room, text: p.text, clientMsgId: p.clientMsgId }),
      (err) => {
        if (err) this._lost(gen, `send failed: ${err.message}`);
      });
    this.trial.onSend();
  }

  /** A send without an ack for 5 s on a live connection is sent again (same clientMsgId). */
  _checkAckTimeouts() {
    if (this.state !== 'live') return;
    const now = Date.now();
    for (const p of this.pending.values()) {
      if (p.inFlight && now - p.sentAt > 5_000) {
        this.trial.stats.ackTimeouts += 1;
        p.inFlight = false;
        this.inFlight -= 1;
      }
    }
    this._pump();
  }
}

// ---------------------------------------------------------------- the checker (pure: tested on its own)

/**
 * Checks the final store against what the clients were told and saw.
 * rows: [{room, seq, id, user_id, client_msg_id, text}], rooms: [{name, last_seq}],
 * dedupe: [{user_id, client_msg_id, room, seq}], acked: Map(`${userId}/${clientMsgId}` -> {room, seq, id, text}),
 * attempted: Map(same key -> {room, text}), views: [{client, room, startAfter, view: Map(seq -> entry)}].
 * Returns a list of violations {kind, room?, seq?, clientMsgId?, expected?, actual?, detail?}.
 */
export function checkFinal({ rows, rooms, dedupe, acked, attempted, views, integrity }) {
  const out = [];
  const add = (kind, fields) => out.push({ kind, ...fields });

  if (integrity !== undefined && !(integrity.length === 1 && integrity[0] === 'ok')) {
    add('integrity', { expected: 'ok', actual: integrity.join('; ').slice(0, 500) });
  }

  // dups: one stored row per (user, clientMsgId).
  const byKey = new Map();
  for (const r of rows) {
    const key = `${r.user_id}/${r.client_msg_id}`;
    if (byKey.has(key)) {
      const o = byKey.get(key);
      add('duplicate-stored', {
        room: r.room, seq: r.seq, clientMsgId: r.client_msg_id,
        expected: `one row (room ${o.room} seq ${o.seq})`, actual: `also room ${r.room} seq ${r.seq}`,
      });
    } else {
      byKey.set(key, r);
    }
  }

  // lost: every acked message is stored with the acked room, seq and id (and the sent text).
  for (const [key, a] of acked) {
    const r = byKey.get(key);
    const clientMsgId = key.slice(key.indexOf('/') + 1);
    if (!r) {
      add('lost', { room: a.room, seq: a.seq, clientMsgId, expected: `stored (acked seq ${a.seq} id ${a.id})`, actual: 'absent' });
    } else if (r.room !== a.room || r.seq !== a.seq || r.id !== a.id || (a.text !== undefined && r.text !== a.text)) {
      add('lost', {
        room: a.room, seq: a.seq, clientMsgId,
        expected: `room ${a.room} seq ${a.seq} id ${a.id}`, actual: `room ${r.room} seq ${r.seq} id ${r.id}` +
          (r.text !== a.text ? ' (text differs)' : ''),
      });
    }
  }

  // unexpected: nothing stored that nobody attempted; everything attempted ended stored (all acked).
  for (const [key, r] of byKey) {
    if (!attempted.has(key)) {
      add('unexpected', { room: r.room, seq: r.seq, clientMsgId: r.client_msg_id, expected: 'an attempted message', actual: 'a phantom row' });
    }
  }
  for (const [key, m] of attempted) {
    if (!byKey.has(key)) {
      add('never-stored', { room: m.room, clientMsgId: key.slice(key.indexOf('/') + 1), expected: 'stored', actual: 'absent' });
    }
  }

  // order: per room seqs exactly 1..max, and the room head equals max.
  const perRoom = new Map();
  for (const r of rows) {
    if (!perRoom.has(r.room)) perRoom.set(r.room, []);
    perRoom.get(r.room).push(r);
  }
  for (const list of perRoom.values()) list.sort((a, b) => a.seq - b.seq);
  for (const [room, list] of perRoom) {
    for (let i = 0; i < list.length; i += 1) {
      if (list[i].seq !== i + 1) {
        add('seq-gap', { room, seq: i + 1, expected: `seq ${i + 1}`, actual: `seq ${list[i].seq} at position ${i + 1}` });
        break;
      }
    }
  }
  const heads = new Map(rooms.map((r) => [r.name, r.last_seq]));
  for (const [room, list] of perRoom) {
    const max = list.at(-1).seq;
    if (heads.get(room) !== max) add('room-head', { room, expected: `last_seq ${max}`, actual: `last_seq ${heads.get(room)}` });
  }

  // dedupe records: one per message, pointing at it.
  if (dedupe) {
    const d = new Map(dedupe.map((x) => [`${x.user_id}/${x.client_msg_id}`, x]));
    for (const [key, r] of byKey) {
      const x = d.get(key);
      if (!x || x.room !== r.room || x.seq !== r.seq) {
        add('dedupe-record', {
          room: r.room, seq: r.seq, clientMsgId: r.client_msg_id,
          expected: `dedupe -> ${r.room}#${r.seq}`, actual: x ? `dedupe -> ${x.room}#${x.seq}` : 'no dedupe record',
        });
      }
    }
    for (const [key, x] of d) {
      if (!byKey.has(key)) add('dedupe-record', { room: x.room, seq: x.seq, expected: 'a message', actual: `dangling dedupe ${key}` });
    }
  }

  // view: each client's de-duplicated view = the store's room after the client's start point.
  for (const { client, room, startAfter, view } of views) {
    const stored = (perRoom.get(room) ?? []).filter((r) => r.seq > startAfter);
    const seen = [...view.values()].filter((e) => e.seq > startAfter).sort((a, b) => a.seq - b.seq);
    const n = Math.max(stored.length, seen.length);
    for (let i = 0; i < n; i += 1) {
      const s = stored[i];
      const v = seen[i];
      const same = s && v && s.seq === v.seq && s.id === v.id && s.client_msg_id === v.clientMsgId
        && s.user_id === v.userId && s.text === v.text;
      if (!same) {
        add('view', {
          client, room, seq: s?.seq ?? v?.seq,
          expected: s ? `seq ${s.seq} id ${s.id} cid ${s.client_msg_id}` : 'nothing more',
          actual: v ? `seq ${v.seq} id ${v.id} cid ${v.clientMsgId}${s && s.seq === v.seq && s.text !== v.text ? ' (text differs)' : ''}` : 'missing',
        });
        break;
      }
    }
  }
  return out;
}

/** One line per violation, for reports. */
export function formatViolation(v, seed) {
  const parts = [`[${v.kind}]`, `seed=${seed}`];
  for (const key of ['kill', 'client', 'room', 'seq', 'clientMsgId', 'status']) {
    if (v[key] !== undefined) parts.push(`${key}=${v[key]}`);
  }
  if (v.expected !== undefined) parts.push(`expected: ${v.expected}`);
  if (v.actual !== undefined) parts.push(`actual: ${v.actual}`);
  if (v.detail !== undefined) parts.push(`(${v.detail})`);
  return parts.join(' ');
}

// ---------------------------------------------------------------- a trial

export const DEFAULTS = Object.freeze({
  messages: 1500,
  users: 6,
  rooms: 3,
  kills: 6,
  sync: 'normal',
  killMinMs: 250, // gateway up this long at least before a kill…
  killMaxMs: 2000, // …and at most this long
  downMaxMs: 250, // the gateway stays dead 0..this long before the restart
  window: 16, // sends in flight per client
  burstMax: 10, // messages composed at once
  midWriteKills: 0.5, // this share of the kills waits for a send and strikes 0-3 ms after it
  tailFraction: 0.1, // this part of each outbox is composed only after the last kill
  timeoutMs: 120_000,
});

class Trial {
  constructor(opts) {
    this.opts = opts;
    this.seed = opts.seed >>> 0;
    this.tag = `t${this.seed.toString(36)}`;
    this.window = opts.window;
    this.rng = prng(this.seed);
    this.violations = [];
    this.attempted = new Map(); // `${userId}/${clientMsgId}` -> {room, text}
    this.ackedAll = new Map(); // same key -> {room, seq, id, text}
    this.inDoubt = new Map(); // same key -> {seq, id, kill}: committed, not yet acked, at a crash
    this.stats = {
      kills: 0, midWriteKills: 0, messages: 0, acked: 0, ackFrames: 0, sends: 0, resends: 0, ackTimeouts: 0, sendErrors: 0,
      inDoubt: 0, inDoubtResolved: 0, inFlightAtKills: 0, liveFrames: 0, historyItems: 0, overlap: 0,
      connections: 0, connectAttempts: 0, refusedHandshakes: 0, gatewayErrorFrames: 0, restartMsMax: 0,
      durationMs: 0,
    };
  }

  /** A send went out: wakes a killer that waits for writes in flight. */
  onSend() {
    const wake = this.sendWaiter;
    if (wake) {
      this.sendWaiter = null;
      wake();
    }
  }

  /** Resolves at the next send (or after `capMs`). */
  nextSend(capMs) {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.sendWaiter = null;
        resolve(false);
      }, capMs);
      this.sendWaiter = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }

  violation(kind, fields) {
    const v = { kind, ...fields };
    this.violations.push(v);
    if (this.violations.length <= 20) this.opts.log(`VIOLATION ${formatViolation(v, this.seed)}`);
  }

  onAck(client, clientMsgId, rec) {
    const key = `${rec.userId}/${clientMsgId}`;
    this.ackedAll.set(key, rec);
    this.stats.acked += 1;
    const doubt = this.inDoubt.get(key);
    if (doubt) {
      // Committed before a crash, acked only now (after a retry): the same seq and id.
      this.stats.inDoubtResolved += 1;
      if (doubt.seq !== rec.seq || doubt.id !== rec.id) {
        this.violation('retry-changed-seq', {
          kill: doubt.kill, client: client.name, room: rec.room, seq: rec.seq, clientMsgId,
          expected: `seq ${doubt.seq} id ${doubt.id} (committed before kill ${doubt.kill})`,
          actual: `seq ${rec.seq} id ${rec.id}`,
        });
      }
    }
  }

  /**
   * After kill number k: the files as the crash left them, copied (so the gateway's own recovery
   * is what the restart exercises), must pass integrity_check, hold every message acked so far
   * with its acked seq and id, and have contiguous seqs.
   */
  async checkCrashCopy(k) {
    const copyDir = path.join(this.workDir, `crash-${k}`);
    await mkdir(copyDir, { recursive: true });
    const src = path.join(this.dataDir, 'stratus.db');
    const dst = path.join(copyDir, 'stratus.db');
    await copyFile(src, dst);
    if (existsSync(`${src}-wal`)) await copyFile(`${src}-wal`, `${dst}-wal`);
    const acked = new Map(this.ackedAll); // every ack received so far was sent before the kill
    const integrity = (await sqliteJson(dst, 'PRAGMA integrity_check')).map((r) => r.integrity_check);
    const rows = await sqliteJson(dst, 'SELECT room, seq, id, user_id, client_msg_id FROM messages ORDER BY room, seq');
    await rm(copyDir, { recursive: true, force: true });
    if (!(integrity.length === 1 && integrity[0] === 'ok')) {
      this.violation('integrity', { kill: k, expected: 'ok', actual: integrity.join('; ').slice(0, 500) });
    }
    const byKey = new Map(rows.map((r) => [`${r.user_id}/${r.client_msg_id}`, r]));
    for (const [key, a] of acked) {
      const r = byKey.get(key);
      if (!r || r.seq !== a.seq || r.id !== a.id || r.room !== a.room) {
        this.violation('lost-at-crash', {
          kill: k, room: a.room, seq: a.seq, clientMsgId: key.slice(key.indexOf('/') + 1),
          expected: `acked seq ${a.seq} id ${a.id} stored`, actual: r ? `room ${r.room} seq ${r.seq} id ${r.id}` : 'absent',
        });
      }
    }
    const next = new Map();
    for (const r of rows) {
      const want = (next.get(r.room) ?? 0) + 1;
      if (r.seq !== want && next.get(r.room) !== -1) {
        this.violation('seq-gap-at-crash', { kill: k, room: r.room, seq: want, expected: `seq ${want}`, actual: `seq ${r.seq}` });
        next.set(r.room, -1);
      } else if (next.get(r.room) !== -1) {
        next.set(r.room, r.seq);
      }
      const key = `${r.user_id}/${r.client_msg_id}`;
      if (!this.attempted.has(key)) {
        this.violation('unexpected', { kill: k, room: r.room, seq: r.seq, clientMsgId: r.client_msg_id, actual: 'a phantom row' });
      } else if (!this.ackedAll.has(key) && !this.inDoubt.has(key)) {
        // I7: committed, but the client has no ack (the kill came between commit and ack).
        this.inDoubt.set(key, { seq: r.seq, id: r.id, kill: k });
        this.stats.inDoubt += 1;
      }
    }
  }

  async run() {
    const o = this.opts;
    const began = Date.now();
    this.workDir = await mkdtemp(path.join(os.tmpdir(), 'stratus-crash-'));
    this.dataDir = path.join(this.workDir, 'data');
    await mkdir(this.dataDir);
    const port = await freePort();
    this.gateway = new Gateway({ bin: o.bin, port, dataDir: this.dataDir, sync: o.sync, extraArgs: o.extraArgs, log: o.log });
    const rooms = Array.from({ length: o.rooms }, (_, i) => `room-${i}`);
    const names = Array.from({ length: o.users }, (_, i) => `crash-user-${i}`);
    const clients = names.map((name, i) => new ChatClient({
      index: i, name, rooms,
      quota: Math.floor(o.messages / o.users) + (i < o.messages % o.users ? 1 : 0),
      trial: this, rng: this.rng.fork(),
    }));
    const killRng = this.rng.fork();
    let timedOut = false;
    try {
      await this.gateway.start();
      for (const c of clients) c.user = await this.devToken(c.name);
      for (const c of clients) c.start();

      // The killer: kill -9 at random moments, check the crash copy, restart on the same dir and port.
      let killerDone;
      const killerFinished = new Promise((resolve) => {
        killerDone = resolve;
      });
      let stopKiller = false;
      let killerFailed = null;
      const killer = (async () => {
        try {
          for (let k = 1; k <= o.kills && !stopKiller; k += 1) {
            await sleep(killRng.int(o.killMinMs, o.killMaxMs));
            if (stopKiller) break;
            // Half the kills land while writes are in flight: at the next send, 0-3 ms after it,
            // when the gateway is likely between a commit and its ack.
            if (killRng.next() < o.midWriteKills) {
              if (await this.nextSend(2_000)) {
                this.stats.midWriteKills += 1;
                await sleep(killRng.int(0, 3));
              }
            }
            this.stats.inFlightAtKills += clients.reduce((n, c) => n + c.inFlight, 0);
            await this.gateway.kill9();
            this.stats.kills += 1;
            await this.checkCrashCopy(k);
            await sleep(killRng.int(0, o.downMaxMs));
            const t0 = Date.now();
            await this.gateway.start();
            this.stats.restartMsMax = Math.max(this.stats.restartMsMax, Date.now() - t0);
            // The token secret survived: the same name is still the same user.
            const who = killRng.pick(clients);
            const again = await this.devToken(who.name);
            if (again.userId !== who.user.userId) {
              this.violation('identity-changed', { kill: k, client: who.name, expected: who.user.userId, actual: again.userId });
            }
          }
        } catch (err) {
          killerFailed = err;
        } finally {
          killerDone();
        }
      })();

      // The load: bursts composed at a pace that spreads the outboxes over the kills; the tail of
      // each outbox is composed after the last restart (so load also runs after it).
      const meanCycle = (o.killMinMs + o.killMaxMs) / 2 + o.downMaxMs / 2 + 200;
      const loadMs = Math.max(1000, o.kills * meanCycle);
      const composers = clients.map(async (c) => {
        const crng = c.rng.fork();
        const head = Math.floor(c.quota * (1 - o.tailFraction));
        const msPerMessage = loadMs / Math.max(1, head);
        while (c.composed < c.quota) {
          if (c.composed >= head) await killerFinished;
          const burst = crng.int(1, o.burstMax);
          c.compose(burst);
          await sleep(burst * msPerMessage * (0.5 + crng.next()));
        }
      });

      const deadline = began + o.timeoutMs;
      const allDone = (async () => {
        await Promise.all(composers);
        while (!clients.every((c) => c.done) && !killerFailed) {
          if (Date.now() > deadline) {
            timedOut = true;
            return;
          }
          await sleep(50);
        }
      })();
      await allDone;
      stopKiller = true;
      await killer;
      if (killerFailed) throw killerFailed;
      if (timedOut) {
        const stuck = clients.filter((c) => !c.done).map((c) => `${c.name}: state ${c.state}, outbox ${c.outbox.length}, ` +
          `pending ${[...c.pending.keys()].slice(0, 5).join(',')}${c.pending.size > 5 ? '…' : ''} (${c.pending.size}), last loss: ${c.lastLoss}`);
        this.violation('timeout', { detail: `not every send was acked within ${o.timeoutMs} ms: ${stuck.join(' | ')}` });
      } else {
        if (!this.gateway.running) await this.gateway.start();
        for (const c of clients) {
          try {
            await c.finalCatchUp(20_000);
          } catch (err) {
            this.violation('final-catch-up', { client: c.name, detail: err.message });
          }
        }
      }
    } finally {
      for (const c of clients) c.stop();
      await this.gateway.dispose(); // a last kill -9: the store is read as that crash left it
    }

    const dbPath = path.join(this.dataDir, 'stratus.db');
    if (!timedOut) {
      if (o.beforeCheck) await o.beforeCheck(dbPath); // the checker's own tests damage the store here
      const integrity = (await sqliteJson(dbPath, 'PRAGMA integrity_check')).map((r) => r.integrity_check);
      const rows = await sqliteJson(dbPath, 'SELECT room, seq, id, user_id, client_msg_id, text FROM messages ORDER BY room, seq');
      const roomRows = await sqliteJson(dbPath, 'SELECT name, last_seq FROM rooms');
      const dedupe = await sqliteJson(dbPath, 'SELECT user_id, client_msg_id, room, seq FROM dedupe');
      const views = [];
      for (const c of clients) {
        for (const room of rooms) views.push({ client: c.name, room, startAfter: c.startAfter.get(room), view: c.view.get(room) });
      }
      const found = checkFinal({ rows, rooms: roomRows, dedupe, acked: this.ackedAll, attempted: this.attempted, views, integrity });
      for (const v of found) this.violation(v.kind, v);
      this.stats.stored = rows.length;
    }
    this.stats.messages = this.attempted.size;
    this.stats.durationMs = Date.now() - began;
    this.stats.restarts = this.gateway.starts - 1;
    const ok = this.violations.length === 0;
    if (ok && !o.keep) {
      await rm(this.workDir, { recursive: true, force: true });
    } else {
      await writeFile(path.join(this.workDir, 'gateway-stderr.log'), this.gateway.stderr.text);
      await writeFile(path.join(this.workDir, 'violations.json'), JSON.stringify(this.violations, null, 2));
    }
    return { seed: this.seed, ok, violations: this.violations, stats: this.stats, workDir: ok && !o.keep ? null : this.workDir };
  }

  async devToken(name) {
    const res = await fetch(`${this.gateway.base}/auth/dev-token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name }),
      signal: AbortSignal.timeout(5_000),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`POST /auth/dev-token ${name} -> ${res.status} ${text}`);
    return JSON.parse(text);
  }
}

/**
 * Runs one trial. Options: see DEFAULTS, plus seed (required), bin, extraArgs, keep (keep the work
 * directory even on success), log (a function for progress lines), beforeCheck (async (dbPath) => …,
 * run on the final store before it is checked: the harness's self-test damages it there).
 * Resolves with {seed, ok, violations, stats, workDir (kept on failure)}.
 */
export async function runTrial(options) {
  const opts = { ...DEFAULTS, bin: binaryPath(), extraArgs: [], keep: false, log: () => {}, ...options };
  if (!['normal', 'full'].includes(opts.sync)) throw new Error(`sync must be normal or full, not ${opts.sync}`);
  if (!Number.isInteger(opts.seed)) throw new Error('runTrial needs an integer seed');
  if (!existsSync(opts.bin)) throw new Error(`no stratus binary at ${opts.bin}: build it (cmake --preset release) or set STRATUS_BIN`);
  return new Trial(opts).run();
}

/** One summary line of a trial result. */
export function formatResult(r) {
  const s = r.stats;
  return `seed=${r.seed} ${r.ok ? 'ok' : `FAILED (${r.violations.length} violations; kept ${r.workDir})`} ` +
    `kills=${s.kills} (mid-write ${s.midWriteKills}) messages=${s.messages} acked=${s.acked} stored=${s.stored ?? '?'} resends=${s.resends} ` +
    `inFlightAtKills=${s.inFlightAtKills} committedUnacked=${s.inDoubt} (resolved ${s.inDoubtResolved}) ` +
    `connections=${s.connections} liveFrames=${s.liveFrames} historyItems=${s.historyItems} ` +
    `restartMsMax=${s.restartMsMax} ${(s.durationMs / 1000).toFixed(1)}s`;
}

/** The seed of trial i from a base seed (STRATUS_CRASH_SEED or a fixed default). */
export function trialSeed(base, i) {
  return (Number(base) + Math.imul(i, 0x9e3779b1)) >>> 0;
}

/** STRATUS_CRASH_SEED (decimal or 0x hex), else `fallback`. */
export function baseSeedFromEnv(fallback) {
  const raw = process.env.STRATUS_CRASH_SEED;
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`STRATUS_CRASH_SEED must be a 32-bit unsigned integer, got ${raw}`);
  return n;
}
