// Two users chatting: joins, messages, presence, typing, rooms, history, reads.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startStack, newUser, connect, join, uniq, sendBurst, sleep,
} from './lib/stack.mjs';

let stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

async function pair(room) {
  const aliceUser = await newUser(stack, 'alice');
  const bobUser = await newUser(stack, 'bob');
  const alice = await connect(stack, aliceUser);
  const bob = await connect(stack, bobUser);
  await join(alice, room);
  await join(bob, room);
  return { aliceUser, bobUser, alice, bob };
}

test('two users join a room, exchange messages with acks, consecutive seq and the right sender', async () => {
  const room = uniq('chat');
  const aliceUser = await newUser(stack, 'alice');
  const bobUser = await newUser(stack, 'bob');
  const alice = await connect(stack, aliceUser);
  const bob = await connect(stack, bobUser);

  const aj = await join(alice, room);
  assert.equal(aj.room, room);
  assert.equal(aj.lastSeq, 0);
  assert.deepEqual(aj.members, [{ userId: aliceUser.userId, name: aliceUser.name }]);

  const bj = await join(bob, room);
  assert.equal(bj.lastSeq, 0);
  assert.deepEqual(
    [...bj.members].sort((a, b) => a.name.localeCompare(b.name)),
    [{ userId: aliceUser.userId, name: aliceUser.name }, { userId: bobUser.userId, name: bobUser.name }]
      .sort((a, b) => a.name.localeCompare(b.name)),
  );

  const conversation = [
    [alice, aliceUser, 'hello bob'],
    [bob, bobUser, 'hi alice 👋'],
    [alice, aliceUser, 'multi\nline\ttext with "quotes" and <b>html</b>'],
    [bob, bobUser, 'bye'],
  ];
  let expectedSeq = 1;
  for (const [client, user, text] of conversation) {
    const clientMsgId = uniq('c');
    const ack = await client.ok({ action: 'sendMessage', room, text, clientMsgId });
    assert.equal(ack.type, 'ack');
    assert.equal(ack.room, room);
    assert.equal(ack.clientMsgId, clientMsgId);
    assert.equal(ack.seq, expectedSeq, 'seq is consecutive per room');
    assert.equal(typeof ack.id, 'string');
    assert.ok(ack.id.length > 0);
    assert.equal(typeof ack.ts, 'number');
    assert.ok(Math.abs(ack.ts - Date.now()) < 60_000, 'ts is epoch milliseconds');
    for (const receiver of [alice, bob]) {
      const m = await receiver.waitFor((f) => f.type === 'message' && f.clientMsgId === clientMsgId, 5000,
        `message ${clientMsgId}`);
      assert.deepEqual(m, {
        type: 'message', room, seq: expectedSeq, id: ack.id, from: { userId: user.userId, name: user.name },
        text, ts: ack.ts, clientMsgId,
      });
    }
    expectedSeq += 1;
  }
  // Nobody got a message twice.
  for (const receiver of [alice, bob]) {
    const seqs = receiver.received((f) => f.type === 'message').map((f) => f.seq);
    assert.deepEqual(seqs, [1, 2, 3, 4]);
  }
});

test('presence: online when another user joins, offline when they leave or disconnect', async () => {
  const room = uniq('presence');
  const aliceUser = await newUser(stack, 'alice');
  const bobUser = await newUser(stack, 'bob');
  const carolUser = await newUser(stack, 'carol');
  const alice = await connect(stack, aliceUser);
  await join(alice, room);

  const bob = await connect(stack, bobUser);
  await join(bob, room);
  const online = await alice.waitFor((f) => f.type === 'presence' && f.user?.userId === bobUser.userId);
  assert.deepEqual(online, { type: 'presence', room, user: { userId: bobUser.userId, name: bobUser.name }, state: 'online' });
  // The joiner is not told about itself.
  await sleep(100);
  assert.equal(bob.received((f) => f.type === 'presence' && f.user?.userId === bobUser.userId).length, 0);

  // A second device of bob joining does not announce him again.
  const bob2 = await connect(stack, bobUser);
  await join(bob2, room);

  // leaveRoom: both of bob's devices are unsubscribed, others see offline once.
  const left = await bob.ok({ action: 'leaveRoom', room });
  assert.deepEqual(left, { type: 'left', room });
  const offline = await alice.waitFor((f) => f.type === 'presence' && f.user?.userId === bobUser.userId && f.state === 'offline');
  assert.equal(offline.room, room);
  await bob2.waitFor((f) => f.type === 'left' && f.room === room, 5000, "bob's other device told 'left'");
  await sleep(150);
  assert.equal(alice.received((f) => f.type === 'presence' && f.user?.userId === bobUser.userId).length, 2,
    'exactly one online and one offline for bob');

  // Disconnect (clean close): carol joins, then closes; alice sees her offline.
  const carol = await connect(stack, carolUser);
  await join(carol, room);
  await alice.waitFor((f) => f.type === 'presence' && f.user?.userId === carolUser.userId && f.state === 'online');
  await carol.close(1000);
  const carolOff = await alice.waitFor((f) => f.type === 'presence' && f.user?.userId === carolUser.userId && f.state === 'offline');
  assert.deepEqual(carolOff.user, { userId: carolUser.userId, name: carolUser.name });
});

test('typing reaches the other user but not the sender', async () => {
  const room = uniq('typing');
  const { alice, bob, aliceUser } = await pair(room);
  await alice.send({ action: 'typing', room });
  const typing = await bob.waitFor((f) => f.type === 'typing');
  assert.deepEqual(typing, { type: 'typing', room, user: { userId: aliceUser.userId, name: aliceUser.name } });
  // Round-trip something after typing so the server has certainly processed it.
  await alice.ok({ action: 'ping' });
  await sleep(100);
  assert.equal(alice.received((f) => f.type === 'typing').length, 0, 'the sender gets no typing event');
  assert.equal(alice.received((f) => f.type === 'error').length, 0, 'typing has no error reply');
});

test('listRooms shows lastSeq, online count and membership', async () => {
  const room = uniq('list');
  const other = uniq('list-other');
  const { alice, bob } = await pair(room);
  await join(alice, other);
  await sendBurst(alice, room, ['one', 'two', 'three']);
  const rooms = await alice.ok({ action: 'listRooms' });
  assert.equal(rooms.type, 'rooms');
  assert.ok(Array.isArray(rooms.rooms));
  const r = rooms.rooms.find((x) => x.room === room);
  assert.ok(r, `room ${room} is listed: ${JSON.stringify(rooms)}`);
  assert.equal(r.lastSeq, 3);
  assert.equal(r.online, 2);
  assert.equal(r.member, true);
  const o = rooms.rooms.find((x) => x.room === other);
  assert.ok(o, 'the other room is listed');
  assert.equal(o.lastSeq, 0);
  assert.equal(o.online, 1);
  // bob is not a member of `other`.
  const bobRooms = await bob.ok({ action: 'listRooms' });
  const bo = bobRooms.rooms.find((x) => x.room === other);
  assert.ok(!bo || bo.member === false, `bob is not a member of ${other}: ${JSON.stringify(bo)}`);
});

test('getHistory pages over 120 messages with after, before, limit and hasMore', async () => {
  const room = uniq('history');
  const { alice, bob } = await pair(room);
  const texts = Array.from({ length: 120 }, (_, i) => `message ${i + 1}`);
  const { acks } = await sendBurst(alice, room, texts);
  assert.deepEqual(acks.map((a) => a.seq), Array.from({ length: 120 }, (_, i) => i + 1));

  const seqs = (h) => h.messages.map((m) => m.seq);
  const range = (a, b) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
  const hist = async (q) => {
    const h = await bob.ok({ action: 'getHistory', room, ...q });
    assert.equal(h.type, 'history');
    assert.equal(h.room, room);
    return h;
  };

  let h = await hist({});
  assert.deepEqual(seqs(h), range(71, 120), 'default: the latest 50, ascending');
  assert.equal(h.hasMore, true);

  h = await hist({ limit: 100 });
  assert.deepEqual(seqs(h), range(21, 120));
  assert.equal(h.hasMore, true);

  h = await hist({ before: 21, limit: 100 });
  assert.deepEqual(seqs(h), range(1, 20));
  assert.equal(h.hasMore, false);

  h = await hist({ before: 61, limit: 10 });
  assert.deepEqual(seqs(h), range(51, 60));
  assert.equal(h.hasMore, true);

  h = await hist({ after: 0 });
  assert.deepEqual(seqs(h), range(1, 50));
  assert.equal(h.hasMore, true);

  h = await hist({ after: 20, limit: 100 });
  assert.deepEqual(seqs(h), range(21, 120), 'exactly 100 left: one full page');
  assert.equal(h.hasMore, false);

  h = await hist({ after: 100, limit: 50 });
  assert.deepEqual(seqs(h), range(101, 120));
  assert.equal(h.hasMore, false);

  h = await hist({ after: 120 });
  assert.deepEqual(h.messages, []);
  assert.equal(h.hasMore, false);

  h = await hist({ before: 1 });
  assert.deepEqual(h.messages, []);
  assert.equal(h.hasMore, false);

  h = await hist({ after: 119, limit: 1 });
  assert.equal(h.messages.length, 1);
  assert.equal(h.hasMore, false);

  // Forward paging with limit 7 covers everything exactly once.
  const all = [];
  let after = 0;
  for (let page = 0; page < 100; page += 1) {
    const p = await hist({ after, limit: 7 });
    all.push(...p.messages);
    if (!p.hasMore) break;
    after = p.messages.at(-1).seq;
  }
  assert.deepEqual(all.map((m) => m.seq), range(1, 120));
  // Backward paging with limit 13 too.
  const back = [];
  let beforeSeq;
  for (let page = 0; page < 100; page += 1) {
    const p = await hist(beforeSeq === undefined ? { limit: 13 } : { before: beforeSeq, limit: 13 });
    back.unshift(...p.messages);
    if (!p.hasMore) break;
    beforeSeq = p.messages[0].seq;
  }
  assert.deepEqual(back.map((m) => m.seq), range(1, 120));

  // Stored messages carry the same fields as the live ones.
  for (const m of all) {
    const ack = acks[m.seq - 1];
    assert.equal(m.type, 'message');
    assert.equal(m.id, ack.id);
    assert.equal(m.text, texts[m.seq - 1]);
    assert.equal(m.clientMsgId, ack.clientMsgId);
    assert.equal(m.ts, ack.ts);
    assert.equal(m.room, room);
  }
});

test('markRead records the read position (never lowered, capped at lastSeq) and listRooms shows unread', async () => {
  const room = uniq('read');
  const { alice, bob } = await pair(room);
  await sendBurst(alice, room, Array.from({ length: 10 }, (_, i) => `m${i}`));
  let r = await bob.ok({ action: 'markRead', room, seq: 4 });
  assert.deepEqual(r, { type: 'read', room, seq: 4 });
  let rooms = await bob.ok({ action: 'listRooms' });
  let entry = rooms.rooms.find((x) => x.room === room);
  assert.equal(entry.lastReadSeq, 4);
  assert.equal(entry.unread, 6);

  r = await bob.ok({ action: 'markRead', room, seq: 2 });
  assert.equal(r.seq, 4, 'the read position is never lowered');

  r = await bob.ok({ action: 'markRead', room, seq: 1000 });
  assert.equal(r.seq, 10, 'the read position is capped at lastSeq');
  rooms = await bob.ok({ action: 'listRooms' });
  entry = rooms.rooms.find((x) => x.room === room);
  assert.equal(entry.lastReadSeq, 10);
  assert.equal(entry.unread, 0);
});

test('after leaving a room, sendMessage, getHistory, typing and markRead answer not_member', async () => {
  const room = uniq('leave');
  const { alice, bob } = await pair(room);
  await alice.ok({ action: 'sendMessage', room, text: 'before leaving', clientMsgId: uniq('c') });
  assert.deepEqual(await bob.ok({ action: 'leaveRoom', room }), { type: 'left', room });
  const send = await bob.request({ action: 'sendMessage', room, text: 'after leaving', clientMsgId: uniq('c') });
  assert.equal(send.type, 'error');
  assert.equal(send.code, 'not_member');
  assert.equal(send.action, 'sendMessage');
  assert.equal(typeof send.message, 'string');
  assert.equal(typeof send.requestId, 'string');
  for (const frame of [
    { action: 'getHistory', room },
    { action: 'typing', room },
    { action: 'markRead', room, seq: 1 },
    { action: 'leaveRoom', room },
  ]) {
    const e = await bob.request(frame);
    assert.equal(e.type, 'error', `${frame.action}: ${JSON.stringify(e)}`);
    assert.equal(e.code, 'not_member', `${frame.action}: ${JSON.stringify(e)}`);
  }
  // bob no longer receives the room's messages.
  await alice.ok({ action: 'sendMessage', room, text: 'bob is gone', clientMsgId: uniq('c') });
  await sleep(150);
  assert.equal(bob.received((f) => f.type === 'message' && f.text === 'bob is gone').length, 0);
  // Only one message was stored after leaving (bob's attempt was not).
  const h = await alice.ok({ action: 'getHistory', room });
  assert.deepEqual(h.messages.map((m) => m.text), ['before leaving', 'bob is gone']);
});

test('from cannot be spoofed: extra from/userId/name/seq/id fields change nothing', async () => {
  const room = uniq('spoof');
  const { alice, bob, aliceUser, bobUser } = await pair(room);
  const clientMsgId = uniq('c');
  const ack = await bob.ok({
    action: 'sendMessage', room, text: 'I am alice', clientMsgId,
    from: { userId: aliceUser.userId, name: aliceUser.name }, userId: aliceUser.userId, name: aliceUser.name,
    user: { userId: aliceUser.userId, name: aliceUser.name }, seq: 999, id: 'forged-id', ts: 1, type: 'message',
  });
  assert.equal(ack.seq, 1);
  assert.notEqual(ack.id, 'forged-id');
  const m = await alice.waitFor((f) => f.type === 'message' && f.clientMsgId === clientMsgId);
  assert.deepEqual(m.from, { userId: bobUser.userId, name: bobUser.name });
  assert.equal(m.seq, 1);
  assert.notEqual(m.ts, 1);
  const h = await alice.ok({ action: 'getHistory', room });
  assert.deepEqual(h.messages[0].from, { userId: bobUser.userId, name: bobUser.name });
  // A spoofed identity on joinRoom/typing does not change who joins or types either.
  await bob.send({ action: 'typing', room, user: { userId: aliceUser.userId, name: aliceUser.name }, userId: aliceUser.userId });
  const t = await alice.waitFor((f) => f.type === 'typing');
  assert.deepEqual(t.user, { userId: bobUser.userId, name: bobUser.name });
});
