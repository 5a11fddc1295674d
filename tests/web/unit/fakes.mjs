// Test doubles for web/js/chat-client.js: a manual clock with timers, and an
// in-memory server that speaks docs/protocol.md through a fake WebSocket.

import { ChatClient } from '../../../web/js/chat-client.js';

/** setTimeout/setInterval on a manual clock; advance() runs what is due, in order. */
export class FakeTimers {
  constructor(start = 1_700_000_000_000) {
    this.now = start;
    this.seq = 0;
    this.timers = new Map(); // id -> {at, fn, every}
    this.setTimeout = (fn, ms = 0) => this._add(fn, ms, null);
    this.setInterval = (fn, ms = 0) => this._add(fn, ms, ms);
    this.clearTimeout = (id) => this.timers.delete(id);
    this.clearInterval = (id) => this.timers.delete(id);
  }

  _add(fn, ms, every) {
    const id = ++this.seq;
    this.timers.set(id, { at: this.now + Math.max(0, ms), fn, every, id });
    return id;
  }

  /** Pending timers due within `ms` from now, soonest first. */
  due(ms = Infinity) {
    return [...this.timers.values()].filter((t) => t.at <= this.now + ms).sort((a, b) => a.at - b.at || a.id - b.id);
  }

  /** Moves the clock forward by `ms`, running timers (and settling promises) as they come due. */
  async advance(ms) {
    const end = this.now + ms;
    for (;;) {
      await settle();
      const next = [...this.timers.values()].filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!next) break;
      this.now = Math.max(this.now, next.at);
      if (next.every) next.at += next.every;
      else this.timers.delete(next.id);
      next.fn();
    }
    this.now = end;
    await settle();
  }
}

/** Lets every queued promise callback and microtask run. */
export async function settle(rounds = 20) {
  for (let i = 0; i < rounds; i += 1) await new Promise((resolve) => setImmediate(resolve));
}

const OTHER = { userId: 'u-bob', name: 'bob' };

/**
 * An in-memory Stratus server. Replies are delivered asynchronously (as a real
 * socket would) in the order the frames were handled.
 */
export class FakeServer {
  constructor({ user = { userId: 'u-alice', name: 'alice' } } = {}) {
    this.user = user;
    this.rooms = new Map(); // name -> {messages: [], subs: Set<ws>}
    this.members = new Set(); // rooms the user is a member of
    this.sockets = [];
    this.frames = []; // every frame received, with the socket index
    this.dedupe = new Map(); // clientMsgId -> message
    this.accept = true; // false: handshakes fail (the socket closes before opening)
    this.autoOpen = true;
    this.hold = null; // (frame) => true to receive a frame and answer nothing
    this.dropPush = null; // (message, ws) => true to not push a message to ws
    this.lastReadSeq = new Map();
    const server = this;
    this.WebSocket = class FakeWebSocket {
      constructor(url) {
        this.url = url;
        this.readyState = 0;
        this.sent = [];
        this.closedBy = null;
        this.index = server.sockets.length;
        server.sockets.push(this);
        if (server.autoOpen) {
          queueMicrotask(() => (server.accept ? this.serverOpen() : this.serverRefuse()));
        }
      }

      send(data) {
        if (this.readyState !== 1) throw new Error('not open');
        const frame = JSON.parse(data);
        this.sent.push(frame);
        server.frames.push({ ws: this.index, frame });
        server._handle(this, frame);
      }

      close(code, reason) {
        if (this.readyState === 3) return;
        this.readyState = 3;
        this.closedBy = { side: 'client', code, reason };
        server._unsubscribe(this);
      }

      serverOpen() {
        if (this.readyState !== 0) return;
        this.readyState = 1;
        this.onopen?.({});
      }

      serverRefuse() {
        if (this.readyState !== 0) return;
        this.readyState = 3;
        this.onclose?.({ code: 1006, reason: '' });
      }

      /** The server (or the network) closes the connection. */
      serverClose(code = 1006) {
        if (this.readyState === 3) return;
        this.readyState = 3;
        this.closedBy = { side: 'server', code };
        server._unsubscribe(this);
        this.onclose?.({ code, reason: '' });
      }

      deliver(frame) {
        queueMicrotask(() => {
          if (this.readyState === 1) this.onmessage?.({ data: JSON.stringify(frame) });
        });
      }
    };
  }

  get current() {
    return this.sockets[this.sockets.length - 1];
  }

  room(name) {
    if (!this.rooms.has(name)) this.rooms.set(name, { messages: [], subs: new Set() });
    return this.rooms.get(name);
  }

  _unsubscribe(ws) {
    for (const r of this.rooms.values()) r.subs.delete(ws);
  }

  /** Frames of one action the server received, across sockets. */
  received(action) {
    return this.frames.filter((f) => f.frame.action === action).map((f) => f.frame);
  }

  /** Appends a message from `from` (default bob), pushing it to subscribers unless push is false. */
  post(roomName, text, { from = OTHER, push = true, clientMsgId } = {}) {
    const r = this.room(roomName);
    const seq = r.messages.length + 1;
    const m = {
      type: 'message',
      room: roomName,
      seq,
      id: `id-${roomName}-${seq}`,
      from,
      text,
      ts: 1_700_000_000_000 + seq * 1000,
      clientMsgId: clientMsgId ?? `c-${roomName}-${seq}`,
    };
    r.messages.push(m);
    if (push) for (const ws of r.subs) if (!this.dropPush?.(m, ws)) ws.deliver(m);
    return m;
  }

  _error(ws, frame, code, message = code) {
    ws.deliver({ type: 'error', code, message, action: frame.action, requestId: 'r' });
  }

  _handle(ws, frame) {
    if (this.hold?.(frame)) return;
    const { action, room: name } = frame;
    switch (action) {
      case 'ping':
        ws.deliver({ type: 'pong' });
        return;
      case 'listRooms':
        ws.deliver({
          type: 'rooms',
          rooms: [...this.rooms.entries()].map(([room, r]) => ({
            room,
            lastSeq: r.messages.length,
            online: r.subs.size,
            member: this.members.has(room),
            ...(this.members.has(room)
              ? { lastReadSeq: this.lastReadSeq.get(room) ?? 0, unread: r.messages.length - (this.lastReadSeq.get(room) ?? 0) }
              : {}),
          })),
        });
        return;
      case 'joinRoom': {
        const r = this.room(name);
        if (!this.members.has(name)) this.lastReadSeq.set(name, r.messages.length);
        this.members.add(name);
        r.subs.add(ws);
        ws.deliver({ type: 'joined', room: name, lastSeq: r.messages.length, members: [this.user] });
        return;
      }
      case 'leaveRoom':
        this.members.delete(name);
        this.room(name).subs.delete(ws);
        ws.deliver({ type: 'left', room: name });
        return;
      case 'getHistory': {
        if (!this.members.has(name)) return this._error(ws, frame, 'not_member');
        const all = this.room(name).messages;
        const limit = frame.limit ?? 50;
        let page;
        let hasMore;
        if (frame.after !== undefined) {
          const rest = all.filter((m) => m.seq > frame.after);
          page = rest.slice(0, limit);
          hasMore = rest.length > limit;
        } else {
          const below = frame.before !== undefined ? all.filter((m) => m.seq < frame.before) : all;
          page = below.slice(Math.max(0, below.length - limit));
          hasMore = below.length > limit;
        }
        ws.deliver({ type: 'history', room: name, messages: page, hasMore });
        return;
      }
      case 'sendMessage': {
        if (!this.members.has(name)) return this._error(ws, frame, 'not_member');
        if ([...frame.text].length > 4000) return this._error(ws, frame, 'too_large');
        const dup = this.dedupe.get(frame.clientMsgId);
        if (dup) {
          ws.deliver({ type: 'ack', room: name, clientMsgId: frame.clientMsgId, seq: dup.seq, id: dup.id, ts: dup.ts });
          return;
        }
        const r = this.room(name);
        const m = {
          type: 'message',
          room: name,
          seq: r.messages.length + 1,
          id: `id-${name}-${r.messages.length + 1}`,
          from: this.user,
          text: frame.text,
          ts: 1_700_000_000_000 + r.messages.length * 1000,
          clientMsgId: frame.clientMsgId,
        };
        r.messages.push(m);
        this.dedupe.set(frame.clientMsgId, m);
        ws.deliver({ type: 'ack', room: name, clientMsgId: m.clientMsgId, seq: m.seq, id: m.id, ts: m.ts });
        for (const sub of r.subs) if (!this.dropPush?.(m, sub)) sub.deliver(m);
        return;
      }
      case 'markRead': {
        const seq = Math.max(this.lastReadSeq.get(name) ?? 0, Math.min(frame.seq, this.room(name).messages.length));
        this.lastReadSeq.set(name, seq);
        ws.deliver({ type: 'read', room: name, seq });
        return;
      }
      case 'typing':
        return;
      default:
        this._error(ws, frame, 'invalid_request');
    }
  }
}

/** A client wired to a FakeServer and FakeTimers. */
export function makeClient({ server = new FakeServer(), timers = new FakeTimers(), options = {}, random = () => 0.5 } = {}) {
  const tokens = [];
  let ids = 0;
  const client = new ChatClient({
    url: (token) => `ws://test/local?token=${token}`,
    getToken: async ({ fresh }) => {
      tokens.push({ fresh });
      return `t${tokens.length}`;
    },
    WebSocket: server.WebSocket,
    timers,
    now: () => timers.now,
    random,
    newId: () => `m${++ids}`,
    options,
  });
  const states = [];
  client.on('state', (s) => states.push(s.state));
  return { client, server, timers, tokens, states };
}

/** Sequence numbers shown for a room (messages then pending), for assertions. */
export function seqs(client, room) {
  return client.roomView(room).messages.map((m) => m.seq);
}
