// Unit tests of the protocol state machine (web/js/chat-client.js) against an
// in-memory server and a manual clock: reconnect with backoff and jitter,
// resume with getHistory {after} paging, gap backfill, dedupe by seq,
// pending -> acked, retry with the same clientMsgId, ack/push races.

import test from 'node:test';
import assert from 'node:assert/strict';

import { backoffDelay, checkText, DEFAULTS, isValidRoomName, STATE } from '../../../web/js/chat-client.js';
import { FakeServer, makeClient, seqs, settle } from './fakes.mjs';

const ME = { userId: 'u-alice', name: 'alice' };
const range = (a, b) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

/** Starts a client, lets it sync, and opens `room` (loads the newest page). */
async function connected({ server = new FakeServer(), options, room = 'general', random } = {}) {
  const env = makeClient({ server, options, random });
  env.client.start(ME);
  await env.timers.advance(0);
  assert.equal(env.client.state, STATE.CONNECTED, `state ${env.client.state}`);
  await env.client.openRoom(room);
  await settle();
  return env;
}

test('backoffDelay: equal jitter in [cap/2, cap], cap doubling up to the maximum', () => {
  const opts = { backoffBaseMs: 500, backoffMaxMs: 30_000 };
  for (let attempt = 0; attempt < 12; attempt += 1) {
    const cap = Math.min(30_000, 500 * 2 ** attempt);
    assert.equal(backoffDelay(attempt, opts, () => 0), cap / 2);
    assert.equal(backoffDelay(attempt, opts, () => 0.999999), Math.round(cap / 2 + 0.999999 * (cap / 2)));
    for (let i = 0; i < 50; i += 1) {
      const d = backoffDelay(attempt, opts, Math.random);
      assert.ok(d >= cap / 2 && d <= cap, `attempt ${attempt}: ${d} not in [${cap / 2}, ${cap}]`);
    }
  }
  assert.equal(backoffDelay(1000, opts, () => 1), 30_000, 'huge attempt numbers stay at the cap');
});

test('first connect: listRooms, joins the default room, state connected; openRoom loads the newest page', async () => {
  const server = new FakeServer();
  for (let i = 0; i < 70; i += 1) server.post('general', `old ${i + 1}`, { push: false });
  const { client, states } = await connected({ server });
  assert.deepEqual(states.slice(0, 3), [STATE.CONNECTING, STATE.SYNCING, STATE.CONNECTED]);
  assert.deepEqual(server.received('joinRoom').map((f) => f.room), ['general']);
  assert.deepEqual(seqs(client, 'general'), range(21, 70), 'newest 50, ascending');
  assert.equal(client.roomView('general').hasOlder, true);
  assert.match(server.current.url, /token=t1$/);
});

test('loadOlder prepends the previous page and keeps the window contiguous', async () => {
  const server = new FakeServer();
  for (let i = 0; i < 120; i += 1) server.post('general', `m${i + 1}`, { push: false });
  const { client } = await connected({ server });
  assert.equal(await client.loadOlder('general'), 50);
  assert.deepEqual(seqs(client, 'general'), range(21, 120));
  assert.equal(client.roomView('general').hasOlder, true);
  assert.equal(await client.loadOlder('general'), 20);
  assert.deepEqual(seqs(client, 'general'), range(1, 120));
  assert.equal(client.roomView('general').hasOlder, false);
  assert.equal(await client.loadOlder('general'), 0, 'nothing older');
  const befores = server.received('getHistory').filter((f) => f.before !== undefined).map((f) => f.before);
  assert.deepEqual(befores, [71, 21]);
});

test('reconnect: exponential backoff with jitter, fresh token after refused handshakes, state shown', async () => {
  const { client, server, timers, tokens, states } = await connected({ random: () => 0.5 });
  server.accept = false;
  server.current.serverClose(1006);
  await settle();
  assert.equal(client.state, STATE.RECONNECTING);
  // Attempt n waits 0.75 * min(30 s, 500 ms * 2^n) with random() = 0.5.
  const expected = [375, 750, 1500, 3000, 6000, 12000, 22500, 22500];
  const seen = [];
  for (const delay of expected) {
    const before = server.sockets.length;
    const wait = client.nextRetryAt - timers.now;
    seen.push(wait);
    await timers.advance(wait - 1);
    assert.equal(server.sockets.length, before, 'no attempt before the delay');
    await timers.advance(1);
    assert.equal(server.sockets.length, before + 1, `an attempt after ${delay} ms`);
  }
  assert.deepEqual(seen, expected);
  // Every attempt after a refused handshake asks for a fresh token.
  assert.ok(tokens.slice(2).every((t) => t.fresh), JSON.stringify(tokens));
  server.accept = true;
  await timers.advance(client.nextRetryAt - timers.now);
  assert.equal(client.state, STATE.CONNECTED);
  assert.ok(states.includes(STATE.RECONNECTING));
  // The backoff starts over once connected.
  server.current.serverClose(1006);
  await settle();
  assert.equal(client.nextRetryAt - timers.now, 375);
});

test('resume: after a drop, re-joins every room and pages getHistory {after: lastSeq} while hasMore', async () => {
  const server = new FakeServer();
  for (let i = 0; i < 5; i += 1) server.post('general', `m${i + 1}`, { push: false });
  const { client, timers } = await connected({ server });
  await client.joinRoom('random');
  await client.openRoom('random');
  server.post('random', 'r1');
  await settle();
  assert.deepEqual(seqs(client, 'general'), [1, 2, 3, 4, 5]);
  server.current.serverClose(1006);
  await settle();
  for (let i = 0; i < 250; i += 1) server.post('general', `missed ${i + 6}`);
  server.post('random', 'r2');
  await timers.advance(client.nextRetryAt - timers.now);
  assert.equal(client.state, STATE.CONNECTED);
  const second = server.frames.filter((f) => f.ws === 1).map((f) => f.frame);
  assert.deepEqual(second.filter((f) => f.action === 'joinRoom').map((f) => f.room).sort(), ['general', 'random']);
  const afters = second.filter((f) => f.action === 'getHistory' && f.room === 'general').map((f) => f.after);
  assert.deepEqual(afters, [5, 105, 205], 'three pages of 100');
  assert.deepEqual(seqs(client, 'general'), range(1, 255));
  assert.deepEqual(seqs(client, 'random'), [1, 2]);
});

test('resume far behind (more than maxResumeMessages): loads the newest page instead of replaying', async () => {
  const { client, server, timers } = await connected({ options: { maxResumeMessages: 100 } });
  server.post('general', 'one');
  await settle();
  server.current.serverClose(1006);
  await settle();
  for (let i = 0; i < 300; i += 1) server.post('general', `m${i}`);
  await timers.advance(client.nextRetryAt - timers.now);
  assert.deepEqual(seqs(client, 'general'), range(252, 301));
  assert.equal(client.roomView('general').hasOlder, true);
});

test('a live gap (seq > lastSeq + 1) is back-filled; nothing beyond the gap is shown until it is', async () => {
  const server = new FakeServer();
  const { client, timers } = await connected({ server });
  server.post('general', 'a');
  server.post('general', 'b', { push: false }); // a push lost on the way
  server.post('general', 'c');
  await settle();
  assert.deepEqual(seqs(client, 'general'), [1], 'seq 3 waits: no hole is shown');
  await timers.advance(DEFAULTS.gapGraceMs);
  assert.deepEqual(seqs(client, 'general'), [1, 2, 3]);
  const fills = server.received('getHistory').filter((f) => f.after !== undefined);
  assert.deepEqual(fills.map((f) => f.after), [1]);
});

test('a backfill page read just before a later push was committed: asked again, no false hole', async () => {
  const server = new FakeServer();
  const { client, timers } = await connected({ server });
  const errors = [];
  client.on('error', (e) => errors.push(e));
  server.post('general', 'a'); // 1, pushed
  server.post('general', 'b', { push: false }); // 2, push lost
  let stale = true;
  server.hold = (f) => {
    if (f.action === 'getHistory' && f.after === 1 && stale) {
      // This page was read before seq 2 was committed.
      stale = false;
      server.current.deliver({ type: 'history', room: 'general', messages: [], hasMore: false });
      return true;
    }
    return false;
  };
  server.post('general', 'c'); // 3, pushed: parked, gap 2
  await settle();
  await timers.advance(DEFAULTS.gapGraceMs);
  assert.deepEqual(seqs(client, 'general'), [1, 2, 3]);
  assert.deepEqual(errors, []);
});

test('a real hole in the store (a seq that does not exist) is reported and skipped, not waited on for ever', async () => {
  const server = new FakeServer();
  const { client, timers } = await connected({ server });
  const errors = [];
  client.on('error', (e) => errors.push(e));
  server.post('general', 'a');
  const lost = server.post('general', 'b', { push: false });
  server.room('general').messages.splice(server.room('general').messages.indexOf(lost), 1); // never stored
  server.room('general').messages.push({ ...lost, seq: 3, id: 'x3', text: 'c' });
  server.current.deliver(server.room('general').messages[1]);
  await settle();
  assert.deepEqual(seqs(client, 'general'), [1]);
  await timers.advance(DEFAULTS.gapGraceMs);
  assert.deepEqual(seqs(client, 'general'), [1, 3]);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].code, 'gap');
});

test('out-of-order pushes within the grace period need no backfill', async () => {
  const server = new FakeServer();
  const { client, timers } = await connected({ server });
  const m1 = server.post('general', 'a', { push: false });
  const m2 = server.post('general', 'b', { push: false });
  server.current.deliver(m2);
  await settle();
  assert.deepEqual(seqs(client, 'general'), []);
  server.current.deliver(m1);
  await settle();
  assert.deepEqual(seqs(client, 'general'), [1, 2]);
  await timers.advance(DEFAULTS.gapGraceMs * 2);
  assert.equal(server.received('getHistory').filter((f) => f.after !== undefined).length, 0);
});

test('dedupe by seq: repeated pushes and overlapping history show each message once', async () => {
  const server = new FakeServer();
  const { client, timers } = await connected({ server });
  const m1 = server.post('general', 'a');
  server.current.deliver(m1);
  server.current.deliver(m1);
  const m2 = server.post('general', 'b');
  server.current.deliver(m2);
  await settle();
  assert.deepEqual(seqs(client, 'general'), [1, 2]);
  // A reconnect replays from lastSeq; the server answers with an overlapping page.
  server.hold = (f) => {
    if (f.action === 'getHistory' && f.after === 2) {
      const ws = server.current;
      ws.deliver({ type: 'history', room: 'general', messages: server.room('general').messages.slice(0), hasMore: false });
      return true;
    }
    return false;
  };
  server.current.serverClose(1006);
  await settle();
  server.post('general', 'c', { push: false });
  await timers.advance(client.nextRetryAt - timers.now);
  assert.deepEqual(seqs(client, 'general'), [1, 2, 3]);
});

test('send: optimistic pending entry, reconciled by the ack into one message with its seq', async () => {
  const server = new FakeServer();
  let held = null;
  server.hold = (f) => {
    if (f.action === 'sendMessage' && !held) {
      held = f;
      return true;
    }
    return false;
  };
  const { client } = await connected({ server });
  const id = client.send('general', 'hello');
  let view = client.roomView('general');
  assert.equal(view.pending.length, 1);
  assert.equal(view.pending[0].state, 'pending');
  assert.equal(view.pending[0].clientMsgId, id);
  assert.equal(view.messages.length, 0);
  // Now the server answers.
  server.hold = null;
  server._handle(server.current, held);
  await settle();
  view = client.roomView('general');
  assert.equal(view.pending.length, 0);
  assert.deepEqual(view.messages.map((m) => [m.seq, m.text, m.clientMsgId]), [[1, 'hello', id]]);
});

test('ack and live push racing, in both orders: exactly one message, no pending left', async () => {
  for (const order of ['push-first', 'ack-first']) {
    const server = new FakeServer();
    const { client } = await connected({ server });
    server.hold = (f) => f.action === 'sendMessage';
    const id = client.send('general', `race ${order}`);
    const m = {
      type: 'message', room: 'general', seq: 1, id: 'x1', from: ME, text: `race ${order}`, ts: 1, clientMsgId: id,
    };
    server.room('general').messages.push(m);
    const ack = { type: 'ack', room: 'general', clientMsgId: id, seq: 1, id: 'x1', ts: 1 };
    const ws = server.current;
    if (order === 'push-first') {
      ws.deliver(m);
      ws.deliver(ack);
    } else {
      ws.deliver(ack);
      ws.deliver(m);
    }
    await settle();
    const view = client.roomView('general');
    assert.deepEqual(view.messages.map((x) => x.seq), [1], order);
    assert.equal(view.pending.length, 0, order);
  }
});

test('an ack beyond a gap keeps the message pending until the gap is filled, then shows it in order', async () => {
  const server = new FakeServer();
  const { client, timers } = await connected({ server });
  server.post('general', 'from bob', { push: false }); // seq 1, push lost
  client.send('general', 'mine'); // seq 2
  await settle();
  let view = client.roomView('general');
  assert.deepEqual(view.messages.map((m) => m.seq), []);
  assert.equal(view.pending.length, 1, 'still shown as pending');
  await timers.advance(DEFAULTS.gapGraceMs);
  view = client.roomView('general');
  assert.deepEqual(view.messages.map((m) => [m.seq, m.text]), [[1, 'from bob'], [2, 'mine']]);
  assert.equal(view.pending.length, 0);
});

test('no ack in time: sent again with the same clientMsgId on the same socket; the server stores it once', async () => {
  const server = new FakeServer();
  let drops = 1;
  server.hold = (f) => f.action === 'sendMessage' && drops-- > 0;
  const { client, timers } = await connected({ server });
  const id = client.send('general', 'are you there?');
  await timers.advance(DEFAULTS.ackTimeoutMs);
  const sends = server.received('sendMessage');
  assert.deepEqual(sends.map((f) => f.clientMsgId), [id, id]);
  assert.equal(server.sockets.length, 1, 'same socket');
  assert.deepEqual(seqs(client, 'general'), [1]);
  assert.equal(server.room('general').messages.length, 1);
  assert.equal(client.roomView('general').pending.length, 0);
});

test('socket dropped before the ack: resent after reconnect with the same clientMsgId, shown once', async () => {
  for (const storedBeforeDrop of [false, true]) {
    const server = new FakeServer();
    const { client, timers } = await connected({ server });
    server.hold = (f) => {
      if (f.action !== 'sendMessage') return false;
      if (storedBeforeDrop) {
        // The server commits, but the connection dies before the ack or the push arrive.
        server.hold = null;
        server.dropPush = () => true;
        server._handle({ deliver() {} }, f);
        server.dropPush = null;
      }
      return true;
    };
    const id = client.send('general', 'important');
    await settle();
    server.current.serverClose(1006);
    await settle();
    assert.equal(client.roomView('general').pending.length, 1, 'still pending while disconnected');
    server.hold = null;
    await timers.advance(client.nextRetryAt - timers.now);
    await settle();
    const view = client.roomView('general');
    assert.deepEqual(view.messages.map((m) => [m.seq, m.clientMsgId]), [[1, id]], `stored before drop: ${storedBeforeDrop}`);
    assert.equal(view.pending.length, 0);
    assert.equal(server.room('general').messages.length, 1, 'never stored twice');
    const resent = server.frames.filter((f) => f.ws === 1 && f.frame.action === 'sendMessage');
    // Resume already brought the message back when it was stored: no resend needed.
    assert.equal(resent.length, storedBeforeDrop ? 0 : 1);
    if (resent.length) assert.equal(resent[0].frame.clientMsgId, id);
  }
});

test('messages sent while disconnected queue up and go out after the room is re-joined', async () => {
  const { client, server, timers } = await connected();
  server.current.serverClose(1006);
  await settle();
  const a = client.send('general', 'offline 1');
  const b = client.send('general', 'offline 2');
  assert.equal(client.roomView('general').pending.length, 2);
  await timers.advance(client.nextRetryAt - timers.now);
  const second = server.frames.filter((f) => f.ws === 1).map((f) => f.frame.action);
  assert.ok(second.indexOf('sendMessage') > second.indexOf('joinRoom'), second.join(','));
  assert.deepEqual(client.roomView('general').messages.map((m) => m.clientMsgId), [a, b]);
});

test('send errors: too_large from the server marks that message failed; retry and discard', async () => {
  const server = new FakeServer();
  const { client } = await connected({ server });
  server.hold = (f) => {
    if (f.action === 'sendMessage' && f.text === 'bad') {
      server._error(server.current, f, 'too_large', 'text exceeds 4000 characters');
      return true;
    }
    return false;
  };
  const errors = [];
  client.on('error', (e) => errors.push(e));
  const bad = client.send('general', 'bad');
  client.send('general', 'good');
  await settle();
  const view = client.roomView('general');
  assert.deepEqual(view.pending.map((p) => [p.clientMsgId, p.state, p.error?.code]), [[bad, 'failed', 'too_large']]);
  assert.deepEqual(view.messages.map((m) => m.text), ['good']);
  assert.equal(errors[0].code, 'too_large');
  client.discard(bad);
  assert.equal(client.roomView('general').pending.length, 0);
});

test('client-side checks refuse blank, control characters and oversized text before sending', async () => {
  assert.equal(checkText('   \n ').code, 'invalid_request');
  assert.equal(checkText('a\u0007b').code, 'invalid_request');
  assert.equal(checkText('tab\tand\r\nnewline'), null);
  assert.equal(checkText('x'.repeat(4000)), null);
  assert.equal(checkText('x'.repeat(4001)).code, 'too_large');
  assert.equal(checkText('😀'.repeat(4000)), null, '4000 code points, 16000 bytes');
  assert.equal(checkText('€'.repeat(4000)), null);
  assert.equal(checkText('𝄞'.repeat(4001)).code, 'too_large');
  const { client } = await connected();
  assert.throws(() => client.send('general', ' '), (e) => e.code === 'invalid_request');
  assert.equal(client.pending.size, 0);
  assert.ok(isValidRoomName('general') && isValidRoomName('a.b_c-1') && isValidRoomName('x'.repeat(64)));
  assert.ok(!isValidRoomName('-x') && !isValidRoomName('.x') && !isValidRoomName('a b') && !isValidRoomName('') && !isValidRoomName('x'.repeat(65)));
});

test('typing: throttled when sending, expires when receiving, cleared by a message from that user', async () => {
  const server = new FakeServer();
  const { client, timers } = await connected({ server });
  assert.equal(client.typing('general'), true);
  assert.equal(client.typing('general'), false);
  await timers.advance(DEFAULTS.typingThrottleMs - 1);
  assert.equal(client.typing('general'), false);
  await timers.advance(1);
  assert.equal(client.typing('general'), true);
  assert.equal(server.received('typing').length, 2);

  const bob = { userId: 'u-bob', name: 'bob' };
  server.current.deliver({ type: 'typing', room: 'general', user: bob });
  await settle();
  assert.deepEqual(client.roomView('general').typing.map((u) => u.name), ['bob']);
  await timers.advance(DEFAULTS.typingTtlMs - 10);
  assert.equal(client.roomView('general').typing.length, 1);
  await timers.advance(10);
  assert.equal(client.roomView('general').typing.length, 0, 'expired');

  server.current.deliver({ type: 'typing', room: 'general', user: bob });
  await settle();
  server.post('general', 'done typing');
  await settle();
  assert.equal(client.roomView('general').typing.length, 0, 'cleared by the message');
  // Own typing frames (other devices) are never shown.
  server.current.deliver({ type: 'typing', room: 'general', user: ME });
  await settle();
  assert.equal(client.roomView('general').typing.length, 0);
});

test('presence: joined members, then online/offline pushes', async () => {
  const { client, server } = await connected();
  assert.deepEqual(client.roomView('general').online.map((u) => u.name), ['alice']);
  server.current.deliver({ type: 'presence', room: 'general', user: { userId: 'u-bob', name: 'bob' }, state: 'online' });
  await settle();
  assert.deepEqual(client.roomView('general').online.map((u) => u.name), ['alice', 'bob']);
  assert.equal(client.myRooms()[0].online, 2);
  server.current.deliver({ type: 'presence', room: 'general', user: { userId: 'u-bob', name: 'bob' }, state: 'offline' });
  await settle();
  assert.deepEqual(client.roomView('general').online.map((u) => u.name), ['alice']);
});

test('application ping every pingIntervalMs; a missing pong drops the socket and reconnects', async () => {
  const server = new FakeServer();
  const { client, timers } = await connected({ server, options: { pingIntervalMs: 60_000, pongTimeoutMs: 5_000 } });
  await timers.advance(60_000);
  assert.equal(server.received('ping').length, 1);
  await timers.advance(60_000);
  assert.equal(server.received('ping').length, 2);
  assert.equal(server.sockets.length, 1);
  server.hold = (f) => f.action === 'ping';
  await timers.advance(60_000 + 5_000);
  assert.equal(server.sockets[0].closedBy?.side, 'client', 'the silent socket was closed');
  server.hold = null;
  await timers.advance(1_000);
  assert.equal(server.sockets.length, 2);
  assert.equal(client.state, STATE.CONNECTED);
});

test('unread counts follow pushes in rooms not being read; markRead clears them', async () => {
  const server = new FakeServer();
  const { client, timers } = await connected({ server });
  await client.joinRoom('random');
  server.post('random', 'x');
  server.post('random', 'y');
  await settle();
  assert.equal(client.unread('random'), 2);
  await client.openRoom('random');
  client.markRead('random');
  assert.equal(client.unread('random'), 0);
  await timers.advance(DEFAULTS.markReadDelayMs);
  assert.deepEqual(server.received('markRead').map((f) => [f.room, f.seq]), [['random', 2]]);
});

test('network lost: closes the socket at once and shows offline; wake() reconnects without waiting', async () => {
  const { client, server, timers } = await connected();
  client.networkLost();
  assert.equal(client.state, STATE.OFFLINE);
  assert.equal(server.sockets[0].closedBy?.side, 'client');
  server.post('general', 'while away', { push: false });
  client.wake();
  await timers.advance(0);
  assert.equal(client.state, STATE.CONNECTED);
  assert.deepEqual(seqs(client, 'general'), [1]);
});

test('membership is the server\'s: a room left on another device is forgotten at resume, not re-joined', async () => {
  const { client, server, timers } = await connected();
  await client.joinRoom('random');
  server.current.serverClose(1006);
  await settle();
  server.members.delete('random');
  await timers.advance(client.nextRetryAt - timers.now);
  assert.deepEqual(client.myRooms().map((r) => r.name), ['general']);
  assert.ok(!server.frames.some((f) => f.ws === 1 && f.frame.action === 'joinRoom' && f.frame.room === 'random'));
});

test('unauthorized error frame: reconnects with a fresh token', async () => {
  const { client, server, timers, tokens } = await connected();
  server.current.deliver({ type: 'error', code: 'unauthorized', message: 'gone', action: 'sendMessage', requestId: 'r' });
  await settle();
  assert.notEqual(client.state, STATE.CONNECTED);
  await timers.advance(client.nextRetryAt - timers.now);
  assert.equal(client.state, STATE.CONNECTED);
  assert.equal(tokens.at(-1).fresh, true);
});

test('stop(): closes the socket and never reconnects', async () => {
  const { client, server, timers } = await connected();
  client.stop();
  assert.equal(client.state, STATE.STOPPED);
  await timers.advance(120_000);
  assert.equal(server.sockets.length, 1);
});

test('a handshake that never completes times out; a newer attempt closes the older one (no orphan sockets)', async () => {
  const { client, server, timers } = makeClient();
  server.autoOpen = false;
  client.start(ME);
  await settle();
  assert.equal(server.sockets.length, 1);
  await timers.advance(DEFAULTS.connectTimeoutMs);
  assert.equal(server.sockets[0].closedBy?.side, 'client', 'timed out and closed');
  assert.equal(client.state, STATE.RECONNECTING);
  await timers.advance(client.nextRetryAt - timers.now);
  assert.equal(server.sockets.length, 2);
  client.networkLost();
  client.wake(); // e.g. the online event while the attempt is still in its handshake
  await settle();
  assert.equal(server.sockets[1].closedBy?.side, 'client');
  assert.equal(server.sockets.length, 3);
  server.sockets[2].serverOpen();
  await settle();
  assert.equal(client.state, STATE.CONNECTED);
  assert.equal(server.sockets.filter((s) => s.readyState !== 3).length, 1);
});

test('stop() while a token is being fetched: no socket is ever opened', async () => {
  const server = new FakeServer();
  let release;
  const { ChatClient } = await import('../../../web/js/chat-client.js');
  const client = new ChatClient({
    url: (t) => `ws://x/local?token=${t}`,
    getToken: () => new Promise((resolve) => {
      release = resolve;
    }),
    WebSocket: server.WebSocket,
  });
  client.start(ME);
  client.stop();
  release('t');
  await settle();
  assert.equal(server.sockets.length, 0);
  assert.equal(client.state, STATE.STOPPED);
});
