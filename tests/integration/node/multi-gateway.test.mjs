// Several gateways, one store: two `stratus dev` processes on one
// DynamoDB-compatible server (moto behind the serialising proxy) deliver each
// other's messages through each other's @connections API, and a 410 from the
// gateway named by a stale connection cleans it up.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMotoStack } from '../dynamodb/moto-stack.mjs';
import {
  startStack, usingExternalStack, targetMode, skipInTarget, devToken, connect, join, uniq,
} from './lib/stack.mjs';

let moto = null;
const stacks = [];

before(async () => {
  if (!usingExternalStack() && !targetMode()) moto = await startMotoStack();
});
after(async () => {
  for (const s of stacks.reverse()) await s.stop();
  await moto?.stop();
});

async function gateway(prefix, extra = []) {
  const stack = await startStack(['--dynamodb-endpoint', moto.url, '--table-prefix', prefix, ...extra]);
  stacks.push(stack);
  return stack;
}

test('a message sent on gateway A reaches a client on gateway B and back; a 410 from B cleans up', { timeout: 90_000 }, async (t) => {
  if (skipInTarget(t, 'starts, kills and restarts its own gateways on one local DynamoDB')) return;
  if (usingExternalStack()) return t.skip('needs local binaries');
  if (!moto) return t.skip('moto_server is not installed on this machine (no DynamoDB-compatible server)');
  const prefix = `${uniq('mg')}-`;
  const a = await gateway(prefix);
  // B shares A's data directory only for the dev-token secret, so tokens work on both.
  const b = await gateway(prefix, ['--data-dir', a.dataDir]);
  assert.notEqual(a.port, b.port);

  const room = uniq('across');
  const alice = await connect(a, await devToken(a, 'alice'), { label: 'alice@A' });
  const bob = await connect(b, await devToken(a, 'bob'), { label: 'bob@B' });
  await join(alice, room);
  await join(bob, room);
  // Presence crosses gateways too.
  await alice.waitFor((f) => f.type === 'presence' && f.user?.name === 'bob' && f.state === 'online', 10_000,
    'presence of bob (on B) at alice (on A)');

  const ack = await alice.request({ action: 'sendMessage', room, text: 'from A', clientMsgId: 'a-1' }, 20_000);
  assert.equal(ack.type, 'ack');
  const atBob = await bob.waitFor((f) => f.type === 'message' && f.clientMsgId === 'a-1', 10_000, 'A→B message');
  assert.equal(atBob.seq, ack.seq);
  assert.equal(atBob.from.name, 'alice');

  const reply = await bob.request({ action: 'sendMessage', room, text: 'from B', clientMsgId: 'b-1' }, 20_000);
  assert.equal(reply.seq, ack.seq + 1, 'one gap-free order across gateways');
  const atAlice = await alice.waitFor((f) => f.type === 'message' && f.clientMsgId === 'b-1', 10_000, 'B→A message');
  assert.equal(atAlice.text, 'from B');

  // B dies without running $disconnect: bob's connection stays in the store,
  // naming B's endpoint. A new gateway on B's port does not know it, so its
  // @connections answers 410 and A's fan-out deletes the stale connection.
  b.proc.kill('SIGKILL');
  await b.exitPromise;
  const b2 = await gateway(prefix, ['--data-dir', a.dataDir, '--port', String(b.port)]);
  assert.equal(b2.port, b.port);
  const again = await alice.request({ action: 'sendMessage', room, text: 'anyone?', clientMsgId: 'a-2' }, 20_000);
  assert.equal(again.type, 'ack');
  await alice.waitFor((f) => f.type === 'presence' && f.user?.name === 'bob' && f.state === 'offline', 10_000,
    'presence offline for bob after B answered 410');
  const rooms = await alice.request({ action: 'listRooms' });
  assert.equal(rooms.rooms.find((r) => r.room === room)?.online, 1, 'only alice is online in the room');
});
