// A client that stops reading must not delay anyone else: its bounded send
// queue overflows and the gateway drops that connection alone.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { localStackOrSkip, newUser, connect, join, uniq, waitUntil, storedConnectionIds } from './lib/stack.mjs';

let stack;
after(async () => {
  await stack?.stop();
});

test('a client that stops reading is dropped at its send-queue bound while the others get every message', { timeout: 60_000 }, async (t) => {
  stack = await localStackOrSkip(t, ['--max-send-queue-bytes', '1048576']);
  if (!stack) return;
  const room = uniq('slow');
  const [aliceUser, bobUser, slowUser] = await Promise.all([
    newUser(stack, 'alice'), newUser(stack, 'bob'), newUser(stack, 'slow'),
  ]);
  const alice = await connect(stack, aliceUser, { label: 'alice' });
  const bob = await connect(stack, bobUser, { label: 'bob' });
  const slow = await connect(stack, slowUser, { label: 'slow' });
  await join(alice, room);
  await join(bob, room);
  await join(slow, room);
  await alice.waitFor((f) => f.type === 'presence' && f.user?.userId === slowUser.userId);

  // The slow client stops reading: its kernel buffers fill, then the gateway's queue.
  slow.ws._socket.pause();

  // 16,000-byte messages (4,000 four-byte characters, the largest text allowed).
  const text = '\u{1F600}'.repeat(4000);
  // ~12.8 MB per recipient: beyond the socket buffers (a few MB on loopback) plus a 1 MiB queue.
  // Sent in small batches so that the well-behaved clients, which read as fast as
  // they can, never hold more than ~160 KB in flight.
  const total = 800;
  const batch = 10;
  for (let sent = 0; sent < total; sent += batch) {
    const acks = [];
    for (let i = sent; i < sent + batch; i += 1) {
      acks.push(alice.request({ action: 'sendMessage', room, text, clientMsgId: `s-${i}` }, 30_000));
    }
    for (const ack of await Promise.all(acks)) assert.equal(ack.type, 'ack');
  }

  // Bob received every message, in order, while the slow reader was stalled.
  const messages = await bob.waitForMany((f) => f.type === 'message' && f.room === room, total, 30_000);
  assert.deepEqual(messages.map((m) => m.seq), Array.from({ length: total }, (_, i) => i + 1));

  // The slow reader's connection was dropped by the server and cleaned up.
  await waitUntil(async () => (await storedConnectionIds(stack, slowUser.userId)).length === 0,
    { timeoutMs: 15_000, what: 'the slow connection to be removed from the store' });
  await bob.waitFor((f) => f.type === 'presence' && f.user?.userId === slowUser.userId && f.state === 'offline',
    15_000, 'presence offline for the dropped slow reader');
  slow.ws._socket.resume();
  const closed = await slow.waitClose(15_000);
  assert.notEqual(closed.code, 1000, 'the slow reader did not get a normal close');
  assert.equal(alice.isOpen && bob.isOpen, true);
});
