// The Stratus client protocol state machine (docs/protocol.md), with no DOM.
//
// Everything that touches the outside world is injected: the WebSocket
// constructor, the timer functions, the clock, the random source, the id
// generator and the token provider. The browser app passes the real ones; the
// unit tests (tests/web/unit) pass fakes and drive time by hand.
//
// What it does:
// - connection lifecycle: connect, sync (listRooms, joinRoom per room, resume),
//   application-level ping, dead-socket detection, reconnect with exponential
//   backoff and jitter, a fresh token after a refused handshake;
// - per room: a contiguous window of messages [lo..hi] ordered by seq, deduped
//   by seq; pushes beyond hi+1 wait in `ahead` until the gap is back-filled, so
//   the window never has a hole; older pages load with getHistory {before};
// - sends: optimistic entries keyed by clientMsgId, reconciled by the ack or by
//   the message itself (whichever comes first), retried with the same
//   clientMsgId after a timeout or a reconnect, so never duplicated;
// - presence, typing (throttled out, expiring in), unread counts, markRead.

export const DEFAULTS = Object.freeze({
  pingIntervalMs: 5 * 60_000, // API Gateway closes after 10 idle minutes
  pongTimeoutMs: 15_000, // no pong (or any frame) within this: the socket is dead
  connectTimeoutMs: 10_000, // handshake must complete within this
  requestTimeoutMs: 15_000, // any request without a reply: the socket is dead
  ackTimeoutMs: 8_000, // a send without an ack is sent again (same clientMsgId)
  backoffBaseMs: 500,
  backoffMaxMs: 30_000,
  stableAfterMs: 10_000, // a connection open this long resets the backoff
  historyPageSize: 50, // initial page and each older page
  resumePageSize: 100, // pages of getHistory {after}
  maxResumeMessages: 1000, // further behind than this: reload the newest page instead
  gapGraceMs: 300, // out-of-order pushes get this long before a backfill
  typingThrottleMs: 3_000,
  typingTtlMs: 6_000,
  roomsRefreshMs: 30_000,
  markReadDelayMs: 500,
  defaultRoom: 'general',
});

export const LIMITS = Object.freeze({ textMaxCodePoints: 4000, textMaxBytes: 16384 });

const ROOM_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/;

/** Whether `room` is a valid room name (1–64 of A–Z a–z 0–9 . _ -, not starting with . or -). */
export function isValidRoomName(room) {
  return typeof room === 'string' && ROOM_RE.test(room);
}

/** Checks a message text against the protocol limits; returns null or {code, message}. */
export function checkText(text) {
  if (typeof text !== 'string' || text.trim() === '') {
    return { code: 'invalid_request', message: 'The message is empty.' };
  }
  // Control characters other than tab, CR and LF are refused by the server.
  if (/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/.test(text)) {
    return { code: 'invalid_request', message: 'The message contains control characters.' };
  }
  const codePoints = [...text].length;
  const bytes = new TextEncoder().encode(text).length;
  if (codePoints > LIMITS.textMaxCodePoints || bytes > LIMITS.textMaxBytes) {
    return {
      code: 'too_large',
      message: `The message is too long (${codePoints} of at most ${LIMITS.textMaxCodePoints} characters).`,
    };
  }
  return null;
}

/**
 * Delay before reconnect attempt number `attempt` (0-based): "equal jitter",
 * uniformly in [cap/2, cap] with cap = min(max, base * 2^attempt).
 */
export function backoffDelay(attempt, { backoffBaseMs, backoffMaxMs }, random) {
  const cap = Math.min(backoffMaxMs, backoffBaseMs * 2 ** Math.min(attempt, 30));
  return Math.round(cap / 2 + random() * (cap / 2));
}

/** Connection states, as shown to the user. */
export const STATE = Object.freeze({
  IDLE: 'idle', // not started
  CONNECTING: 'connecting', // handshake in progress
  SYNCING: 'syncing', // open, re-joining rooms and catching up
  CONNECTED: 'connected', // open and in step
  RECONNECTING: 'reconnecting', // waiting for the next attempt
  OFFLINE: 'offline', // the browser says there is no network; retrying slowly
  STOPPED: 'stopped', // signed out
});

const REPLY_ACTION = {
  joined: 'joinRoom',
  left: 'leaveRoom',
  history: 'getHistory',
  rooms: 'listRooms',
  read: 'markRead',
  pong: 'ping',
};

/** An error with a protocol `code` (invalid_request, not_member, …, or disconnected/timeout). */
export class ChatError extends Error {
  constructor(code, message, extra = {}) {
    super(message || code);
    this.name = 'ChatError';
    this.code = code;
    Object.assign(this, extra);
  }
}

class Room {
  constructor(name) {
    this.name = name;
    this.subscribed = false; // joined on the current connection
    this.messages = []; // contiguous, ascending by seq: seqs lo..hi
    this.loaded = false; // the window has been established (hi is meaningful)
    this.loading = false; // the newest page is on its way (pushes are kept)
    this.hi = 0; // highest seq such that every seq lo..hi is in `messages`
    this.ahead = new Map(); // seq -> message, received beyond hi + 1
    this.hasOlder = false;
    this.loadingOlder = false;
    this.catchingUp = false;
    this.catchUpAgain = false;
    this.gapTimer = null;
    this.latestSeq = 0; // the newest seq known to exist
    this.lastReadSeq = null; // null: unknown
    this.online = new Map(); // userId -> {userId, name}
    this.typing = new Map(); // userId -> {user, until}
    this.typingTimer = null;
    this.lastTypingSentAt = -Infinity;
    this.markReadTimer = null;
    this.lastReadSent = 0;
  }

  get lo() {
    return this.messages.length ? this.messages[0].seq : this.hi + 1;
  }
}

function isConnectionError(err) {
  return err?.code === 'disconnected' || err?.code === 'timeout';
}

export class ChatClient {
  /**
   * @param {object} deps
   * @param {(token: string) => string} deps.url WebSocket URL for a token
   * @param {(opts: {fresh: boolean}) => Promise<string>} deps.getToken
   * @param {Function} deps.WebSocket constructor (browser API shape)
   * @param {object} [deps.timers] {setTimeout, clearTimeout, setInterval, clearInterval}
   * @param {() => number} [deps.now] ms clock
   * @param {() => number} [deps.random] in [0, 1)
   * @param {() => string} [deps.newId] clientMsgId generator
   * @param {object} [deps.options] overrides of DEFAULTS
   */
  constructor({ url, getToken, WebSocket, timers, now, random, newId, options = {} }) {
    this.opts = { ...DEFAULTS, ...options };
    this._url = url;
    this._getToken = getToken;
    this._WebSocket = WebSocket;
    const t = timers ?? globalThis;
    this._setTimeout = t.setTimeout.bind(t);
    this._clearTimeout = t.clearTimeout.bind(t);
    this._setInterval = t.setInterval.bind(t);
    this._clearInterval = t.clearInterval.bind(t);
    this._now = now ?? (() => Date.now());
    this._random = random ?? Math.random;
    this._newId = newId ?? (() => globalThis.crypto.randomUUID());

    this.me = null; // {userId, name}
    this.state = STATE.IDLE;
    this.attempt = 0; // consecutive failed attempts
    this.nextRetryAt = null;
    this.lastError = null;
    this.connectCount = 0; // successful opens
    this.networkOffline = false;

    this.rooms = new Map(); // my rooms (member), name -> Room
    this.directory = new Map(); // every room from listRooms: name -> summary
    this.pending = new Map(); // clientMsgId -> pending send (insertion order)
    this._sendFifo = []; // clientMsgIds in flight, oldest first (attributes errors)

    this._ws = null;
    this._gen = 0; // bumps on every (re)connect; stale callbacks compare it
    this._waiters = [];
    this._historyChain = Promise.resolve();
    this._retryTimer = null;
    this._connectTimer = null;
    this._pingTimer = null;
    this._roomsTimer = null;
    this._stableTimer = null;
    this._needFreshToken = false;
    this._listeners = new Map();
  }

  // ------------------------------------------------------------ events

  /** Subscribes to an event; returns an unsubscribe function. */
  on(event, fn) {
    if (!this._listeners.has(event)) this._listeners.set(event, new Set());
    this._listeners.get(event).add(fn);
    return () => this._listeners.get(event)?.delete(fn);
  }

  _emit(event, detail) {
    for (const fn of [...(this._listeners.get(event) ?? [])]) {
      try {
        fn(detail);
      } catch (err) {
        // A listener bug must not break the protocol state.
        globalThis.console?.error?.('stratus listener failed', event, err);
      }
    }
  }

  _changed(room, kind, extra = {}) {
    this._emit('room', { room, kind, ...extra });
  }

  // ------------------------------------------------------------ lifecycle

  /** Starts connecting as `me` ({userId, name}). */
  start(me) {
    this.me = me;
    if (this.state !== STATE.IDLE && this.state !== STATE.STOPPED) return;
    this._connect();
  }

  /** Stops for good (sign out): closes the socket and cancels every timer. */
  stop() {
    this._clearRetry();
    this.state = STATE.STOPPED;
    this._gen += 1; // a connect still waiting for its token gives up
    if (this._ws) this._teardownSocket(1000, 'bye');
    this._onSocketGone();
    this._setState(STATE.STOPPED);
  }

  /** The network came back, or the page became visible: reconnect now if waiting. */
  wake() {
    if (this.state === STATE.STOPPED || this.state === STATE.IDLE) return;
    this.networkOffline = false;
    if (this._retryTimer !== null || this.state === STATE.OFFLINE || this.state === STATE.RECONNECTING) {
      this._clearRetry();
      this.attempt = 0;
      this._connect();
    } else if (this.state === STATE.CONNECTED) {
      this.ping(); // proves the socket is alive, or finds out it is not
    }
  }

  /** The browser lost its network: drop the socket (it cannot work) and wait. */
  networkLost() {
    if (this.state === STATE.STOPPED || this.state === STATE.IDLE) return;
    this.networkOffline = true;
    if (this._ws) this._dropConnection('offline');
    else this._setState(this.state);
  }

  /** Reconnects now, whatever the state (a "Retry now" button). */
  reconnectNow() {
    if (this.state === STATE.STOPPED || this.state === STATE.IDLE) return;
    this._clearRetry();
    this.attempt = 0;
    if (this._ws) this._dropConnection('manual', { immediate: true });
    else this._connect();
  }

  get isOpen() {
    return this._ws !== null && this._ws.readyState === 1 && (this.state === STATE.SYNCING || this.state === STATE.CONNECTED);
  }

  _setState(state, extra = {}) {
    if ((state === STATE.RECONNECTING || state === STATE.CONNECTING) && this.networkOffline) state = STATE.OFFLINE;
    this.state = state;
    this._emit('state', { state, attempt: this.attempt, nextRetryAt: this.nextRetryAt, error: this.lastError, ...extra });
  }

  async _connect() {
    const gen = ++this._gen;
    this._clearRetry();
    if (this._ws) this._teardownSocket(4000, 'reconnect'); // an attempt still in its handshake
    this._setState(STATE.CONNECTING);
    let token;
    try {
      token = await this._getToken({ fresh: this._needFreshToken });
    } catch (err) {
      if (gen !== this._gen) return;
      this.lastError = `cannot get a token: ${err?.message ?? err}`;
      this._scheduleReconnect();
      return;
    }
    if (gen !== this._gen) return;
    let ws;
    try {
      ws = new this._WebSocket(this._url(token));
    } catch (err) {
      this.lastError = `cannot open the WebSocket: ${err?.message ?? err}`;
      this._scheduleReconnect();
      return;
    }
    this._ws = ws;
    let opened = false;
    this._connectTimer = this._setTimeout(() => {
      if (gen !== this._gen || opened) return;
      this.lastError = 'the connection attempt timed out';
      this._dropConnection('connect timeout');
    }, this.opts.connectTimeoutMs);
    ws.onopen = () => {
      if (gen !== this._gen) return;
      opened = true;
      this._onOpen(gen);
    };
    ws.onmessage = (ev) => {
      if (gen !== this._gen) return;
      this._onFrame(ev.data);
    };
    ws.onerror = () => {};
    ws.onclose = (ev) => {
      if (gen !== this._gen) return;
      if (!opened) {
        // A refused handshake (401 for a stale token, a server that is down):
        // the browser cannot tell which, so the next attempt gets a fresh token.
        this._needFreshToken = true;
        this.lastError = 'the server refused the connection or cannot be reached';
      } else {
        this.lastError = `the connection closed (${ev?.code ?? 'unknown'}${ev?.reason ? `: ${ev.reason}` : ''})`;
      }
      this._onSocketGone();
    };
  }

  _onOpen(gen) {
    this._clearTimer('_connectTimer');
    this._needFreshToken = false;
    this.networkOffline = false;
    this.connectCount += 1;
    this.lastError = null;
    this._setState(STATE.SYNCING);
    this._pingTimer = this._setInterval(() => this.ping(), this.opts.pingIntervalMs);
    this._roomsTimer = this._setInterval(() => this._periodicRefresh(), this.opts.roomsRefreshMs);
    this._stableTimer = this._setTimeout(() => {
      this._stableTimer = null;
      this.attempt = 0;
    }, this.opts.stableAfterMs);
    this._sync(gen);
  }

  async _sync(gen) {
    try {
      await this.refreshRooms();
      if (gen !== this._gen) return;
      // The server's membership is the truth: a room left on another device
      // while this one was away is forgotten here, not joined again.
      const names = new Set();
      for (const [name, summary] of this.directory) if (summary.member) names.add(name);
      for (const name of [...this.rooms.keys()]) if (!names.has(name)) this._forgetRoom(name);
      if (names.size === 0 && this.opts.defaultRoom) names.add(this.opts.defaultRoom);
      // Join every room (pipelined), then catch up each one in turn.
      await Promise.all([...names].map((name) => this._roomStep(name, () => this._join(name))));
      if (gen !== this._gen) return;
      for (const name of names) {
        const room = this.rooms.get(name);
        if (!room || !room.subscribed) continue;
        if (room.loaded) {
          await this._roomStep(name, () => this._catchUp(room, { resume: true }));
        }
        if (gen !== this._gen) return;
        this._flushPending(name);
      }
      this.attempt = 0;
      this._setState(STATE.CONNECTED);
      this._emit('synced', { connectCount: this.connectCount });
    } catch (err) {
      if (gen !== this._gen) return;
      if (err?.code === 'disconnected') return; // the close handler reconnects
      this.lastError = `sync failed: ${err?.message ?? err}`;
      this._dropConnection('sync failed');
    }
  }

  /** Runs one room's part of a sync; a refusal for that room (not a dead socket) only affects the room. */
  async _roomStep(name, fn) {
    try {
      await fn();
    } catch (err) {
      if (isConnectionError(err)) throw err;
      this._forgetRoom(name);
      this._emit('error', { code: err?.code ?? 'internal', message: err?.message, room: name });
    }
  }

  async _periodicRefresh() {
    try {
      await this.refreshRooms();
      // Rooms joined on another device: subscribe here too.
      for (const [name, summary] of this.directory) {
        if (summary.member && !this.rooms.get(name)?.subscribed && this.isOpen) {
          await this._roomStep(name, () => this._join(name));
        }
      }
    } catch {
      /* a dead socket is handled by the request timeout */
    }
  }

  _clearTimer(name) {
    if (this[name] !== null) {
      this._clearTimeout(this[name]);
      this[name] = null;
    }
  }

  _clearRetry() {
    this._clearTimer('_retryTimer');
    this.nextRetryAt = null;
  }

  /** Closes the current socket without waiting for its close event, then reconnects. */
  _dropConnection(reason, { immediate = false } = {}) {
    if (!this._ws) {
      if (this.state !== STATE.STOPPED && this._retryTimer === null && this.state !== STATE.CONNECTING) this._scheduleReconnect();
      return;
    }
    this._gen += 1; // the old socket's late events are ignored
    this._teardownSocket(4000, reason);
    this._onSocketGone({ immediate });
  }

  _teardownSocket(code, reason) {
    this._clearTimer('_connectTimer');
    this._clearTimer('_stableTimer');
    if (this._pingTimer !== null) this._clearInterval(this._pingTimer);
    if (this._roomsTimer !== null) this._clearInterval(this._roomsTimer);
    this._pingTimer = null;
    this._roomsTimer = null;
    const ws = this._ws;
    this._ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        if (ws.readyState === 0 || ws.readyState === 1) ws.close(code, String(reason).slice(0, 100));
      } catch {
        /* already closing */
      }
    }
  }

  /** Common path after a socket is gone: fail the waiters, park the sends, schedule a reconnect. */
  _onSocketGone({ immediate = false } = {}) {
    if (this._ws) {
      this._gen += 1;
      this._teardownSocket(4000, 'gone');
    }
    const waiters = this._waiters.splice(0);
    for (const w of waiters) {
      this._clearTimeout(w.timer);
      w.reject(new ChatError('disconnected', 'the connection closed'));
    }
    this._historyChain = Promise.resolve();
    this._sendFifo = [];
    for (const p of this.pending.values()) {
      if (p.timer !== null) this._clearTimeout(p.timer);
      p.timer = null;
      p.inflight = false;
    }
    for (const room of this.rooms.values()) {
      room.subscribed = false;
      room.loading = false;
      room.loadingOlder = false;
      room.catchingUp = false;
      if (room.gapTimer !== null) this._clearTimeout(room.gapTimer);
      room.gapTimer = null;
      if (room.markReadTimer !== null) this._clearTimeout(room.markReadTimer);
      room.markReadTimer = null;
      if (room.typing.size) {
        room.typing.clear();
        this._changed(room.name, 'typing');
      }
    }
    if (this.state === STATE.STOPPED) return;
    if (immediate) this._connect();
    else this._scheduleReconnect();
  }

  _scheduleReconnect() {
    this._clearRetry();
    const delay = backoffDelay(this.attempt, this.opts, this._random);
    this.attempt += 1;
    this.nextRetryAt = this._now() + delay;
    this._retryTimer = this._setTimeout(() => {
      this._retryTimer = null;
      this.nextRetryAt = null;
      this._connect();
    }, delay);
    this._setState(STATE.RECONNECTING, { delay });
  }

  // ------------------------------------------------------------ requests

  _send(frame) {
    if (!this._ws || this._ws.readyState !== 1) throw new ChatError('disconnected', 'not connected');
    this._ws.send(JSON.stringify(frame));
  }

  /** Sends a request and resolves with its reply frame (rejects with a ChatError). */
  _request(frame, timeoutMs = this.opts.requestTimeoutMs) {
    return new Promise((resolve, reject) => {
      const waiter = { action: frame.action, room: frame.room, resolve, reject, timer: null };
      this._waiters.push(waiter);
      try {
        this._send(frame);
      } catch (err) {
        this._waiters.splice(this._waiters.indexOf(waiter), 1);
        reject(err);
        return;
      }
      waiter.timer = this._setTimeout(() => {
        const i = this._waiters.indexOf(waiter);
        if (i >= 0) this._waiters.splice(i, 1);
        reject(new ChatError('timeout', `no reply to ${frame.action}`));
        // Replies come in milliseconds: a silent socket is a dead one.
        this.lastError = `no reply to ${frame.action} within ${timeoutMs} ms`;
        this._dropConnection('request timeout');
      }, timeoutMs);
    });
  }

  _settle(action, room, fn) {
    const i = this._waiters.findIndex((w) => w.action === action && (room === undefined || w.room === undefined || w.room === room));
    if (i < 0) return false;
    const [w] = this._waiters.splice(i, 1);
    this._clearTimeout(w.timer);
    fn(w);
    return true;
  }

  /** getHistory requests go one at a time, so each reply and error belongs to exactly one request. */
  _history(room, params) {
    const run = () => this._request({ action: 'getHistory', room, ...params });
    const p = this._historyChain.then(run, run);
    this._historyChain = p.catch(() => {});
    return p;
  }

  /** Sends an application-level ping; a missing pong drops the connection. */
  ping() {
    if (!this.isOpen) return Promise.resolve(false);
    return this._request({ action: 'ping' }, this.opts.pongTimeoutMs).then(
      () => true,
      () => false,
    );
  }

  async refreshRooms() {
    const reply = await this._request({ action: 'listRooms' });
    const seen = new Set();
    for (const r of reply.rooms ?? []) {
      seen.add(r.room);
      this.directory.set(r.room, r);
      const room = this.rooms.get(r.room);
      if (room) {
        room.latestSeq = Math.max(room.latestSeq, r.lastSeq ?? 0);
        if (typeof r.lastReadSeq === 'number') room.lastReadSeq = Math.max(room.lastReadSeq ?? 0, r.lastReadSeq);
        if (typeof r.lastReadSeq === 'number') room.lastReadSent = Math.max(room.lastReadSent, r.lastReadSeq);
      }
    }
    for (const name of [...this.directory.keys()]) if (!seen.has(name)) this.directory.delete(name);
    this._emit('rooms', {});
    return reply.rooms;
  }

  _room(name) {
    let room = this.rooms.get(name);
    if (!room) {
      room = new Room(name);
      this.rooms.set(name, room);
    }
    return room;
  }

  async _join(name) {
    const reply = await this._request({ action: 'joinRoom', room: name });
    const room = this._room(name);
    room.subscribed = true;
    room.latestSeq = Math.max(room.latestSeq, reply.lastSeq ?? 0);
    const summary = this.directory.get(name);
    if (room.lastReadSeq === null) {
      // A new member starts with nothing unread; otherwise the server's read position.
      room.lastReadSeq = typeof summary?.lastReadSeq === 'number' ? summary.lastReadSeq : (reply.lastSeq ?? 0);
      room.lastReadSent = room.lastReadSeq;
    }
    room.online = new Map((reply.members ?? []).map((u) => [u.userId, u]));
    if (summary) {
      summary.member = true;
      summary.online = room.online.size;
    }
    this._changed(name, 'presence');
    this._emit('rooms', {});
    return room;
  }

  // ------------------------------------------------------------ rooms (public)

  /** Joins (and creates, when new) a room. Resolves with its name. */
  async joinRoom(name) {
    if (!isValidRoomName(name)) {
      throw new ChatError('invalid_request', 'Room names are 1–64 letters, digits, ".", "_" or "-", not starting with "." or "-".');
    }
    if (!this.isOpen) throw new ChatError('disconnected', 'Not connected; try again when the connection is back.');
    await this._join(name);
    this.refreshRooms().catch(() => {});
    return name;
  }

  /** Leaves a room (membership ends; other devices of the user leave too). */
  async leaveRoom(name) {
    if (!this.isOpen) throw new ChatError('disconnected', 'Not connected; try again when the connection is back.');
    await this._request({ action: 'leaveRoom', room: name });
    this._forgetRoom(name);
    this.refreshRooms().catch(() => {});
  }

  _forgetRoom(name) {
    const room = this.rooms.get(name);
    if (!room) return;
    for (const t of ['gapTimer', 'typingTimer', 'markReadTimer']) if (room[t] !== null) this._clearTimeout(room[t]);
    for (const [id, p] of this.pending) {
      if (p.room === name) {
        if (p.timer !== null) this._clearTimeout(p.timer);
        this.pending.delete(id);
      }
    }
    this.rooms.delete(name);
    const summary = this.directory.get(name);
    if (summary) summary.member = false;
    this._emit('rooms', {});
    this._changed(name, 'left');
  }

  /** Makes sure the room's newest page is loaded (call when the user opens it). */
  async openRoom(name) {
    const room = this.rooms.get(name);
    if (!room || room.loaded || room.loading || !room.subscribed || !this.isOpen) return;
    await this._loadLatest(room);
  }

  async _loadLatest(room) {
    room.loading = true;
    try {
      const reply = await this._history(room.name, { limit: this.opts.historyPageSize });
      if (this.rooms.get(room.name) !== room) return;
      const msgs = reply.messages ?? [];
      room.messages = [];
      room.hi = msgs.length ? msgs[0].seq - 1 : 0;
      room.loaded = true;
      room.hasOlder = Boolean(reply.hasMore) && msgs.length > 0 && msgs[0].seq > 1;
      this._ingest(room, msgs, { live: false });
      this._changed(room.name, 'messages', { reset: true });
    } finally {
      room.loading = false;
    }
  }

  /** Loads the page before the oldest loaded message. Resolves with the number added. */
  async loadOlder(name) {
    const room = this.rooms.get(name);
    if (!room || !room.loaded || !room.hasOlder || room.loadingOlder || !this.isOpen) return 0;
    room.loadingOlder = true;
    this._changed(name, 'loading');
    try {
      const before = room.lo;
      const reply = await this._history(name, { before, limit: this.opts.historyPageSize });
      if (this.rooms.get(name) !== room || room.lo !== before) return 0;
      const older = (reply.messages ?? []).filter((m) => m.seq < before);
      // Keep the window contiguous: only the run that ends right below `before`.
      const run = [];
      for (let i = older.length - 1, want = before - 1; i >= 0 && older[i].seq === want; i -= 1, want -= 1) run.unshift(older[i]);
      room.messages = [...run, ...room.messages];
      room.hasOlder = Boolean(reply.hasMore) && run.length > 0 && run[0].seq > 1;
      if (run.length === 0) room.hasOlder = false;
      this._changed(name, 'messages', { prepended: run.length });
      return run.length;
    } finally {
      room.loadingOlder = false;
      this._changed(name, 'loading');
    }
  }

  // ------------------------------------------------------------ incoming frames

  _onFrame(data) {
    let frame;
    try {
      frame = JSON.parse(typeof data === 'string' ? data : String(data));
    } catch {
      return;
    }
    if (!frame || typeof frame !== 'object') return;
    // Any frame proves the socket alive.
    switch (frame.type) {
      case 'message':
        this._onMessage(frame);
        return;
      case 'ack':
        this._onAck(frame);
        return;
      case 'presence':
        this._onPresence(frame);
        return;
      case 'typing':
        this._onTyping(frame);
        return;
      case 'error':
        this._onError(frame);
        return;
      case 'left':
        if (!this._settle('leaveRoom', frame.room, (w) => w.resolve(frame))) this._forgetRoom(frame.room);
        return;
      case 'read':
        this._onRead(frame);
        this._settle('markRead', frame.room, (w) => w.resolve(frame));
        return;
      default:
        break;
    }
    const action = REPLY_ACTION[frame.type];
    if (action) {
      this._settle(action, frame.room, (w) => w.resolve(frame));
      return;
    }
    if (typeof frame.message === 'string' && frame.type === undefined) {
      // The gateway's own frames ({"message":"Forbidden"|"Internal server error"}).
      this._emit('error', { code: 'gateway', message: frame.message });
    }
  }

  _onMessage(m) {
    const room = this.rooms.get(m.room);
    if (!room || typeof m.seq !== 'number') return;
    const fromOther = m.from?.userId !== this.me?.userId;
    if (fromOther && room.typing.delete(m.from?.userId)) this._changed(room.name, 'typing');
    this._ingest(room, [m], { live: true });
  }

  /**
   * Adds messages to a room's window: drops seqs already present, appends the
   * next seq, parks later ones in `ahead` (and schedules a backfill), and
   * reconciles own pending sends by clientMsgId.
   */
  _ingest(room, msgs, { live }) {
    const added = [];
    let parked = false;
    for (const m of msgs) {
      if (typeof m?.seq !== 'number') continue;
      room.latestSeq = Math.max(room.latestSeq, m.seq);
      if (!room.loaded) {
        if (room.loading) room.ahead.set(m.seq, m);
        continue;
      }
      if (m.seq <= room.hi) continue; // duplicate (or older than the window: loadOlder's job)
      if (m.seq === room.hi + 1) {
        room.messages.push(m);
        room.hi = m.seq;
        added.push(m);
      } else if (!room.ahead.has(m.seq)) {
        room.ahead.set(m.seq, m);
        parked = true;
      }
    }
    if (room.loaded) {
      for (const seq of [...room.ahead.keys()]) if (seq <= room.hi) room.ahead.delete(seq);
      while (room.ahead.has(room.hi + 1)) {
        const m = room.ahead.get(room.hi + 1);
        room.ahead.delete(room.hi + 1);
        room.messages.push(m);
        room.hi = m.seq;
        added.push(m);
      }
    }
    let reconciled = false;
    for (const m of added) {
      if (m.clientMsgId && m.from?.userId === this.me?.userId && this.pending.has(m.clientMsgId)) {
        this._dropPending(m.clientMsgId);
        reconciled = true;
      }
    }
    if (added.length || reconciled) {
      this._changed(room.name, 'messages', { added, live });
      const fromOthers = added.filter((m) => m.from?.userId !== this.me?.userId);
      if (live && fromOthers.length) this._emit('incoming', { room: room.name, messages: fromOthers });
    }
    if (added.length || parked) this._emit('rooms', {});
    if (room.loaded && room.ahead.size > 0) this._scheduleGapFill(room);
    else if (room.gapTimer !== null) {
      this._clearTimeout(room.gapTimer);
      room.gapTimer = null;
    }
  }

  _scheduleGapFill(room) {
    if (room.gapTimer !== null || room.catchingUp) return;
    room.gapTimer = this._setTimeout(() => {
      room.gapTimer = null;
      if (room.ahead.size > 0 && this.rooms.get(room.name) === room && this.isOpen) {
        this._catchUp(room, { resume: false }).catch(() => {});
      }
    }, this.opts.gapGraceMs);
  }

  /**
   * getHistory {after: hi} until hasMore is false (resume after a reconnect,
   * or a live gap). Too far behind: reload the newest page instead.
   */
  async _catchUp(room, { resume }) {
    if (room.catchingUp) {
      room.catchUpAgain = true;
      return;
    }
    room.catchingUp = true;
    try {
      do {
        room.catchUpAgain = false;
        if (resume && room.latestSeq - room.hi > this.opts.maxResumeMessages) {
          room.loaded = false;
          room.messages = [];
          room.ahead.clear();
          await this._loadLatest(room);
          return;
        }
        let retries = 0;
        for (let page = 0; page < 10_000; page += 1) {
          if (this.rooms.get(room.name) !== room) return;
          const after = room.hi;
          const reply = await this._history(room.name, { after, limit: this.opts.resumePageSize });
          if (this.rooms.get(room.name) !== room) return;
          const msgs = (reply.messages ?? []).filter((m) => typeof m?.seq === 'number');
          if (msgs.length && room.hi === after && msgs[0].seq > after + 1) {
            // The oldest message after `after` is not after + 1: those seqs do
            // not exist in the store. Show what exists rather than hide it for ever.
            this._emit('error', { code: 'gap', room: room.name, message: `messages ${after + 1}–${msgs[0].seq - 1} are missing on the server` });
            room.hi = msgs[0].seq - 1;
          }
          this._ingest(room, msgs, { live: false });
          if (reply.hasMore && msgs.length) continue;
          if (room.ahead.size === 0) break;
          // Pushes beyond this page arrived while it was on its way (committed
          // after the page was read): ask again, a bounded number of times.
          retries += 1;
          if (retries >= 3) break;
        }
      } while (room.catchUpAgain);
    } finally {
      room.catchingUp = false;
      if (room.ahead.size > 0 && this.isOpen) this._scheduleGapFill(room);
    }
  }

  _onPresence({ room: name, user, state }) {
    const room = this.rooms.get(name);
    if (!room || !user?.userId) return;
    if (state === 'online') room.online.set(user.userId, user);
    else {
      room.online.delete(user.userId);
      room.typing.delete(user.userId);
    }
    const summary = this.directory.get(name);
    if (summary) summary.online = room.online.size;
    this._changed(name, 'presence');
    this._emit('rooms', {});
  }

  _onTyping({ room: name, user }) {
    const room = this.rooms.get(name);
    if (!room || !user?.userId || user.userId === this.me?.userId) return;
    room.typing.set(user.userId, { user, until: this._now() + this.opts.typingTtlMs });
    this._armTypingExpiry(room);
    this._changed(name, 'typing');
  }

  _armTypingExpiry(room) {
    if (room.typingTimer !== null) this._clearTimeout(room.typingTimer);
    room.typingTimer = null;
    if (room.typing.size === 0) return;
    const soonest = Math.min(...[...room.typing.values()].map((t) => t.until));
    room.typingTimer = this._setTimeout(() => {
      room.typingTimer = null;
      const now = this._now();
      let changed = false;
      for (const [id, t] of room.typing) {
        if (t.until <= now) {
          room.typing.delete(id);
          changed = true;
        }
      }
      if (changed) this._changed(room.name, 'typing');
      this._armTypingExpiry(room);
    }, Math.max(0, soonest - this._now()));
  }

  _onRead({ room: name, seq }) {
    const room = this.rooms.get(name);
    if (!room || typeof seq !== 'number') return;
    room.lastReadSeq = Math.max(room.lastReadSeq ?? 0, seq);
    room.lastReadSent = Math.max(room.lastReadSent, seq);
    this._emit('rooms', {});
  }

  _onError(frame) {
    const { action, code } = frame;
    if (code === 'unauthorized') {
      this.lastError = 'the server no longer knows this connection';
      this._needFreshToken = true;
      this._dropConnection('unauthorized');
      return;
    }
    if (action === 'sendMessage') {
      this._onSendError(frame);
      return;
    }
    if (action && this._settle(action, undefined, (w) => w.reject(new ChatError(code, frame.message, { frame })))) return;
    if (action === 'typing' || action === 'ping') return;
    this._emit('error', { code, message: frame.message, action });
  }

  // ------------------------------------------------------------ sending

  /**
   * Sends `text` to `room` optimistically. Returns the clientMsgId, or throws a
   * ChatError (invalid_request / too_large) when the text breaks the limits.
   */
  send(roomName, text) {
    const problem = checkText(text);
    if (problem) throw new ChatError(problem.code, problem.message);
    const room = this.rooms.get(roomName);
    if (!room) throw new ChatError('not_member', `You are not in #${roomName}.`);
    const clientMsgId = this._newId();
    const p = {
      clientMsgId,
      room: roomName,
      text,
      state: 'pending',
      error: null,
      createdAt: this._now(),
      attempts: 0,
      timeouts: 0,
      seq: null,
      inflight: false,
      timer: null,
    };
    this.pending.set(clientMsgId, p);
    room.lastTypingSentAt = -Infinity; // the next keystroke announces typing again
    this._changed(roomName, 'pending');
    this._trySend(p);
    return clientMsgId;
  }

  /** Sends a failed message again (same clientMsgId). */
  retry(clientMsgId) {
    const p = this.pending.get(clientMsgId);
    if (!p || p.state !== 'failed') return;
    p.state = 'pending';
    p.error = null;
    p.timeouts = 0;
    this._changed(p.room, 'pending');
    this._trySend(p);
  }

  /** Drops a failed (or still pending) message from the outbox. */
  discard(clientMsgId) {
    const p = this.pending.get(clientMsgId);
    if (!p) return;
    this._dropPending(clientMsgId);
    this._changed(p.room, 'pending');
  }

  _dropPending(clientMsgId) {
    const p = this.pending.get(clientMsgId);
    if (!p) return;
    if (p.timer !== null) this._clearTimeout(p.timer);
    this.pending.delete(clientMsgId);
    const i = this._sendFifo.indexOf(clientMsgId);
    if (i >= 0) this._sendFifo.splice(i, 1);
  }

  _trySend(p) {
    const room = this.rooms.get(p.room);
    if (p.state !== 'pending' || p.inflight || !this.isOpen || !room?.subscribed) return;
    p.attempts += 1;
    p.inflight = true;
    this._sendFifo.push(p.clientMsgId);
    p.timer = this._setTimeout(() => this._onAckTimeout(p), this.opts.ackTimeoutMs);
    try {
      this._send({ action: 'sendMessage', room: p.room, text: p.text, clientMsgId: p.clientMsgId });
    } catch {
      p.inflight = false;
      this._clearTimeout(p.timer);
      p.timer = null;
      this._sendFifo.splice(this._sendFifo.indexOf(p.clientMsgId), 1);
    }
  }

  _onAckTimeout(p) {
    p.timer = null;
    p.inflight = false;
    const i = this._sendFifo.indexOf(p.clientMsgId);
    if (i >= 0) this._sendFifo.splice(i, 1);
    if (!this.pending.has(p.clientMsgId)) return;
    p.timeouts += 1;
    if (p.timeouts >= 2) {
      // Twice without an ack on an open socket: the socket is probably dead.
      this.lastError = 'a message got no acknowledgement';
      p.timeouts = 0;
      this._dropConnection('ack timeout');
      return;
    }
    this._trySend(p); // same clientMsgId: the server stores it at most once
  }

  _flushPending(roomName) {
    for (const p of this.pending.values()) if (p.room === roomName) this._trySend(p);
  }

  _onAck({ room: name, clientMsgId, seq, id, ts }) {
    const p = this.pending.get(clientMsgId);
    if (!p) return; // already reconciled by the pushed message
    if (p.timer !== null) this._clearTimeout(p.timer);
    p.timer = null;
    p.inflight = false;
    const i = this._sendFifo.indexOf(clientMsgId);
    if (i >= 0) this._sendFifo.splice(i, 1);
    p.state = 'sent';
    p.seq = seq;
    const room = this.rooms.get(name);
    if (!room || !room.loaded) {
      this._dropPending(clientMsgId);
      this._changed(name, 'pending');
      return;
    }
    const message = { type: 'message', room: name, seq, id, ts, from: { ...this.me }, text: p.text, clientMsgId };
    this._changed(name, 'pending');
    if (seq <= room.hi) {
      this._dropPending(clientMsgId); // the push (or history) got here first
      this._changed(name, 'messages', { added: [], live: true });
    } else {
      this._ingest(room, [message], { live: true });
    }
  }

  _onSendError(frame) {
    const clientMsgId = this._sendFifo.shift();
    const p = clientMsgId ? this.pending.get(clientMsgId) : null;
    if (!p) {
      this._emit('error', { code: frame.code, message: frame.message, action: 'sendMessage' });
      return;
    }
    if (p.timer !== null) this._clearTimeout(p.timer);
    p.timer = null;
    p.inflight = false;
    if (frame.code === 'internal' || frame.code === 'rate_limited') {
      // Nothing was applied: try again shortly, with the same clientMsgId.
      p.timer = this._setTimeout(() => {
        p.timer = null;
        this._trySend(p);
      }, backoffDelay(Math.min(p.attempts, 5), this.opts, this._random));
      return;
    }
    p.state = 'failed';
    p.error = { code: frame.code, message: frame.message };
    this._changed(p.room, 'pending');
    this._emit('error', { code: frame.code, message: frame.message, action: 'sendMessage', room: p.room });
  }

  // ------------------------------------------------------------ typing, read

  /** Call on every keystroke in the composer: sends `typing` at most every typingThrottleMs. */
  typing(roomName) {
    const room = this.rooms.get(roomName);
    if (!room || !this.isOpen) return false;
    const now = this._now();
    if (now - room.lastTypingSentAt < this.opts.typingThrottleMs) return false;
    room.lastTypingSentAt = now;
    try {
      this._send({ action: 'typing', room: roomName });
    } catch {
      return false;
    }
    return true;
  }

  /** Marks everything loaded in the room as read (debounced). */
  markRead(roomName) {
    const room = this.rooms.get(roomName);
    if (!room || !room.loaded) return;
    if (room.hi > (room.lastReadSeq ?? 0)) {
      room.lastReadSeq = room.hi; // optimistic: the badge clears at once
      this._emit('rooms', {});
    }
    if (room.lastReadSeq <= room.lastReadSent || room.markReadTimer !== null || !this.isOpen) return;
    room.markReadTimer = this._setTimeout(() => {
      room.markReadTimer = null;
      if (!this.isOpen || this.rooms.get(roomName) !== room) return;
      this._request({ action: 'markRead', room: roomName, seq: room.lastReadSeq }).catch(() => {});
    }, this.opts.markReadDelayMs);
  }

  // ------------------------------------------------------------ views

  /** Unread count for one of my rooms. */
  unread(roomName) {
    const room = this.rooms.get(roomName);
    if (!room) return 0;
    return Math.max(0, room.latestSeq - (room.lastReadSeq ?? room.latestSeq));
  }

  /** My rooms, sorted by name: [{name, unread, online}]. */
  myRooms() {
    return [...this.rooms.values()]
      .map((r) => ({ name: r.name, unread: this.unread(r.name), online: r.subscribed ? r.online.size : (this.directory.get(r.name)?.online ?? 0) }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Rooms I am not in, from the last listRooms: [{name, online, lastSeq}]. */
  otherRooms() {
    return [...this.directory.values()]
      .filter((r) => !this.rooms.has(r.room))
      .map((r) => ({ name: r.room, online: r.online ?? 0, lastSeq: r.lastSeq ?? 0 }))
      .sort((a, b) => b.online - a.online || a.name.localeCompare(b.name));
  }

  /** Everything a view needs to draw one room. */
  roomView(roomName) {
    const room = this.rooms.get(roomName);
    if (!room) return null;
    return {
      name: room.name,
      loaded: room.loaded,
      messages: room.messages,
      pending: [...this.pending.values()].filter((p) => p.room === roomName && !(p.seq !== null && p.seq <= room.hi)),
      hasOlder: room.hasOlder,
      loadingOlder: room.loadingOlder,
      online: [...room.online.values()].sort((a, b) => a.name.localeCompare(b.name)),
      typing: [...room.typing.values()].map((t) => t.user),
      lastReadSeq: room.lastReadSeq,
      hi: room.hi,
    };
  }
}
