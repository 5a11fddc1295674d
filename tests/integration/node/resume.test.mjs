// Resume after a disconnect: getHistory {after: lastSeq} fills exactly the gap.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, newUser, connect, join, uniq, sendBurst, fullHistory } from './lib/stack.mjs';

let stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

async function resumeScenario({ vanish }) {
  const room = uniq('resume');
  const readerUser = await newUser(stack, 'reader');
  const writerUser = await newUser(stack, 'writer');
  const writer = await connect(stack, writerUser);
  await join(writer, room);
  let reader = await connect(stack, readerUser);
  await join(reader, room);

  await sendBurst(writer, room, Array.from({ length: 12 }, (_, i) => `before ${i}`));
  const seen = await reader.waitForMany((f) => f.type === 'message', 12);
  const messages = new Map(seen.map((m) => [m.seq, m]));
  const lastSeq = Math.max(...messages.keys());
  assert.equal(lastSeq, 12);

  if (vanish) reader.vanish();
  else await reader.close(1000);
  if (vanish) await reader.waitClose();

  // Others keep talking while the reader is away.
  await sendBurst(writer, room, Array.from({ length: 30 }, (_, i) => `while away ${i}`));

  reader = await connect(stack, readerUser);
  const rejoined = await join(reader, room);
  assert.equal(rejoined.lastSeq, 42, 'joined reports the room head');
  // One more live message after the re-join may also arrive live: the client must merge without duplicates.
  const live = writer.ok({ action: 'sendMessage', room, text: 'after rejoin', clientMsgId: uniq('c') });

  let after = lastSeq;
  let pages = 0;
  for (;;) {
    const h = await reader.ok({ action: 'getHistory', room, after, limit: 7 });
    pages += 1;
    for (const m of h.messages) {
      assert.ok(!messages.has(m.seq) || messages.get(m.seq).id === m.id, `seq ${m.seq} is consistent`);
      assert.ok(m.seq > after, 'history after lastSeq returns only later messages');
      messages.set(m.seq, m);
    }
    if (!h.hasMore) break;
    after = h.messages.at(-1).seq;
    assert.ok(pages < 50, 'paging terminates');
  }
  assert.ok(pages >= 5, `paged with limit 7 (${pages} pages)`);
  await live;
  for (const m of reader.received((f) => f.type === 'message')) {
    if (!messages.has(m.seq)) messages.set(m.seq, m);
    assert.equal(messages.get(m.seq).id, m.id, `live and stored seq ${m.seq} agree`);
  }
  // The head may have moved (the live message); fetch the tail once more, as a client does on seq > lastSeq + 1.
  const tail = await reader.ok({ action: 'getHistory', room, after: Math.max(...messages.keys()) });
  for (const m of tail.messages) messages.set(m.seq, m);

  const full = await fullHistory(writer, room);
  const mine = [...messages.values()].sort((a, b) => a.seq - b.seq);
  assert.deepEqual(mine.map((m) => m.seq), full.map((m) => m.seq), 'no holes, no duplicates');
  assert.deepEqual(mine.map((m) => [m.seq, m.id, m.text, m.clientMsgId, m.from.userId]),
    full.map((m) => [m.seq, m.id, m.text, m.clientMsgId, m.from.userId]), 'exactly the stored messages');
  assert.equal(full.length, 43);
}

test('resume after a clean close: re-join and getHistory {after: lastSeq} give exactly the stored messages', async () => {
  await resumeScenario({ vanish: false });
});

test('resume after vanishing without a close frame gives exactly the stored messages too', async () => {
  await resumeScenario({ vanish: true });
});

test('membership survives reconnects: history is readable after reconnecting before re-joining', async () => {
  const room = uniq('member');
  const user = await newUser(stack, 'member');
  let c = await connect(stack, user);
  await join(c, room);
  await c.ok({ action: 'sendMessage', room, text: 'persisted', clientMsgId: uniq('c') });
  await c.close();
  c = await connect(stack, user);
  const h = await c.ok({ action: 'getHistory', room, after: 0 });
  assert.deepEqual(h.messages.map((m) => m.text), ['persisted']);
  // Not subscribed until it re-joins: no live messages.
  const other = await connect(stack, await newUser(stack, 'other'));
  await join(other, room);
  await other.ok({ action: 'sendMessage', room, text: 'not live for c', clientMsgId: uniq('c') });
  await other.ok({ action: 'ping' });
  await c.ok({ action: 'ping' });
  assert.equal(c.received((f) => f.type === 'message').length, 0, 'no subscription before re-join');
});
