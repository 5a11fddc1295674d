// (userId, clientMsgId) is unique: a retry returns the same seq and is stored and delivered once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, newUser, connect, join, uniq, sleep, fullHistory } from './lib/stack.mjs';

let stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

async function setup() {
  const room = uniq('idem');
  const senderUser = await newUser(stack, 'sender');
  const sender = await connect(stack, senderUser);
  const observer = await connect(stack, await newUser(stack, 'observer'));
  await join(sender, room);
  await join(observer, room);
  return { room, senderUser, sender, observer };
}

test('a retried clientMsgId returns the same seq and id, is delivered once and stored once', async () => {
  const { room, sender, observer } = await setup();
  await sender.ok({ action: 'sendMessage', room, text: 'first', clientMsgId: uniq('c') });
  const clientMsgId = uniq('retry');
  const frame = { action: 'sendMessage', room, text: 'exactly once', clientMsgId };
  const a1 = await sender.ok(frame);
  const a2 = await sender.ok(frame);
  const a3 = await sender.ok(frame);
  assert.equal(a1.seq, 2);
  for (const a of [a2, a3]) {
    assert.equal(a.seq, a1.seq, 'same seq on retry');
    assert.equal(a.id, a1.id, 'same id on retry');
    assert.equal(a.clientMsgId, clientMsgId);
  }
  // A following new message gets the next seq: the retries consumed none.
  const next = await sender.ok({ action: 'sendMessage', room, text: 'after', clientMsgId: uniq('c') });
  assert.equal(next.seq, 3);
  await observer.waitFor((f) => f.type === 'message' && f.seq === 3);
  await sleep(150);
  assert.equal(observer.received((f) => f.type === 'message' && f.clientMsgId === clientMsgId).length, 1,
    'observer received the message once');
  assert.equal(sender.received((f) => f.type === 'message' && f.clientMsgId === clientMsgId).length, 1,
    "sender's own connection received the message once");
  const history = await fullHistory(observer, room);
  assert.deepEqual(history.map((m) => m.seq), [1, 2, 3]);
  assert.equal(history.filter((m) => m.clientMsgId === clientMsgId).length, 1, 'stored once');
});

test('concurrent retries of one clientMsgId (sent back to back) still store one message', async () => {
  const { room, sender, observer } = await setup();
  const clientMsgId = uniq('burst');
  const frame = JSON.stringify({ action: 'sendMessage', room, text: 'burst', clientMsgId });
  const acks = sender.waitForMany((f) => f.type === 'ack' && f.clientMsgId === clientMsgId, 5, 10_000, 'five acks');
  for (let i = 0; i < 5; i += 1) sender.send(frame);
  const replies = await acks;
  assert.deepEqual(replies.map((a) => a.seq), [1, 1, 1, 1, 1]);
  assert.equal(new Set(replies.map((a) => a.id)).size, 1);
  await observer.waitFor((f) => f.type === 'message' && f.clientMsgId === clientMsgId);
  await sleep(200);
  assert.equal(observer.received((f) => f.type === 'message').length, 1);
  assert.equal((await fullHistory(observer, room)).length, 1);
});

test('a retry from a different connection of the same user is deduplicated', async () => {
  const { room, senderUser, sender, observer } = await setup();
  const clientMsgId = uniq('dev');
  const a1 = await sender.ok({ action: 'sendMessage', room, text: 'from phone', clientMsgId });
  // The first device drops; the user retries from another device.
  await sender.close();
  const second = await connect(stack, senderUser);
  await join(second, room);
  const a2 = await second.ok({ action: 'sendMessage', room, text: 'from phone', clientMsgId });
  assert.equal(a2.seq, a1.seq);
  assert.equal(a2.id, a1.id);
  await sleep(150);
  assert.equal(observer.received((f) => f.type === 'message' && f.clientMsgId === clientMsgId).length, 1);
  assert.equal(second.received((f) => f.type === 'message' && f.clientMsgId === clientMsgId).length, 0,
    'a deduplicated retry is not broadcast again');
  const history = await fullHistory(observer, room);
  assert.equal(history.length, 1);
  assert.equal(history[0].text, 'from phone');
});

test('a retry from a second, simultaneously open device of the same user is deduplicated', async () => {
  const { room, senderUser, sender, observer } = await setup();
  const laptop = await connect(stack, senderUser);
  await join(laptop, room);
  const clientMsgId = uniq('dual');
  const a1 = await sender.ok({ action: 'sendMessage', room, text: 'dual', clientMsgId });
  const a2 = await laptop.ok({ action: 'sendMessage', room, text: 'dual', clientMsgId });
  assert.equal(a2.seq, a1.seq);
  assert.equal(a2.id, a1.id);
  await sleep(150);
  assert.equal(observer.received((f) => f.type === 'message').length, 1);
  // Both devices got the single broadcast.
  assert.equal(sender.received((f) => f.type === 'message').length, 1);
  assert.equal(laptop.received((f) => f.type === 'message').length, 1);
});

test('the same clientMsgId from a different user is a different message', async () => {
  const { room, senderUser, sender, observer } = await setup();
  const otherUser = await newUser(stack, 'other');
  const other = await connect(stack, otherUser);
  await join(other, room);
  const clientMsgId = uniq('shared');
  const a1 = await sender.ok({ action: 'sendMessage', room, text: 'mine', clientMsgId });
  const a2 = await other.ok({ action: 'sendMessage', room, text: 'yours', clientMsgId });
  assert.notEqual(a2.seq, a1.seq);
  assert.notEqual(a2.id, a1.id);
  assert.deepEqual([a1.seq, a2.seq], [1, 2]);
  const msgs = await observer.waitForMany((f) => f.type === 'message', 2);
  assert.deepEqual(msgs.map((m) => m.text), ['mine', 'yours']);
  assert.deepEqual(msgs.map((m) => m.from.userId), [senderUser.userId, otherUser.userId]);
  const history = await fullHistory(observer, room);
  assert.deepEqual(history.map((m) => [m.seq, m.text]), [[1, 'mine'], [2, 'yours']]);
});

test('the same clientMsgId in another room of the same user is invalid_request and stores nothing', async () => {
  // docs/protocol.md: "(userId, clientMsgId) is unique ... The same clientMsgId in another room is invalid_request."
  const { room, sender, observer } = await setup();
  const room2 = uniq('idem2');
  await join(sender, room2);
  await join(observer, room2);
  const clientMsgId = uniq('x');
  await sender.ok({ action: 'sendMessage', room, text: 'here', clientMsgId });
  const reply = await sender.request({ action: 'sendMessage', room: room2, text: 'there', clientMsgId });
  assert.equal(reply.type, 'error', JSON.stringify(reply));
  assert.equal(reply.code, 'invalid_request');
  await sleep(150);
  assert.equal(observer.received((f) => f.type === 'message' && f.room === room2).length, 0, 'nothing broadcast in room2');
  assert.equal((await fullHistory(observer, room2)).length, 0, 'nothing stored in room2');
  assert.equal((await fullHistory(observer, room)).length, 1, 'room1 unchanged');
});
