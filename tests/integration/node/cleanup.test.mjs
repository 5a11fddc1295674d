// Connections that go away without a goodbye are cleaned up: presence, store, @connections.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import {
  startStack, localStackOrSkip, newUser, connect, join, uniq, sleep, waitUntil,
  storedConnectionIds, connectionsApi, sql, LIB_DIR, skipInTarget,
} from './lib/stack.mjs';

const ID_RE = /^[A-Za-z0-9_-]{15}=$/;

let stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

test('a client that vanishes without a close frame: presence offline, removed from the store, @connections GET 410', async () => {
  const room = uniq('vanish');
  const aliceUser = await newUser(stack, 'alice');
  const ghostUser = await newUser(stack, 'ghost');
  const alice = await connect(stack, aliceUser);
  await join(alice, room);
  const ghost = await connect(stack, ghostUser);
  await join(ghost, room);
  await alice.waitFor((f) => f.type === 'presence' && f.user?.userId === ghostUser.userId && f.state === 'online');

  let ghostId;
  if (stack.local) {
    const ids = await storedConnectionIds(stack, ghostUser.userId);
    assert.equal(ids.length, 1, 'one stored connection for the ghost');
    [ghostId] = ids;
    assert.match(ghostId, ID_RE);
    assert.equal((await connectionsApi(stack, 'GET', ghostId)).status, 200, 'live before vanishing');
    const subs = await sql(stack, `select count(*) from subscriptions where connection_id = '${ghostId}'`);
    assert.equal(subs[0][0], '1');
  }

  ghost.vanish();
  const offline = await alice.waitFor(
    (f) => f.type === 'presence' && f.user?.userId === ghostUser.userId && f.state === 'offline', 10_000,
    'presence offline for the vanished client');
  assert.equal(offline.room, room);

  if (stack.local) {
    await waitUntil(async () => (await storedConnectionIds(stack, ghostUser.userId)).length === 0,
      { what: 'the connection row to be deleted' });
    const subs = await sql(stack, `select count(*) from subscriptions where connection_id = '${ghostId}'`);
    assert.equal(subs[0][0], '0', 'its subscriptions are deleted too');
    const gone = await connectionsApi(stack, 'GET', ghostId);
    assert.equal(gone.status, 410);
    assert.equal(gone.headers.get('x-amzn-errortype'), 'GoneException');
    assert.equal((await connectionsApi(stack, 'POST', ghostId, { body: 'hello?' })).status, 410);
  }
  // Messages after the vanish still flow to the others.
  const ack = await alice.ok({ action: 'sendMessage', room, text: 'still here', clientMsgId: uniq('c') });
  await alice.waitFor((f) => f.type === 'message' && f.seq === ack.seq);
  const rooms = await alice.ok({ action: 'listRooms' });
  assert.equal(rooms.rooms.find((r) => r.room === room).online, 1, 'only alice is online');
});

test('a connection silent at the TCP level (SIGSTOPped peer) is dropped by keepalive and presence offline is broadcast', { timeout: 30_000 }, async (t) => {
  const local = await localStackOrSkip(t, ['--keepalive', '1']);
  if (!local) return;
  try {
    const room = uniq('silent');
    const alice = await connect(local, await newUser(local, 'alice'));
    await join(alice, room);
    const silentUser = await newUser(local, 'silent');
    const child = spawn(process.execPath, [path.join(LIB_DIR, 'silent-peer.mjs'), local.wsUrl(silentUser.token), room],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    local.children.add(child);
    let childErr = '';
    child.stderr.on('data', (d) => {
      childErr += d;
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`silent peer not ready within 10 s: ${childErr}`)), 10_000);
      child.stdout.on('data', (d) => {
        if (String(d).includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`silent peer exited (${code}) before ready: ${childErr}`));
      });
    });
    await alice.waitFor((f) => f.type === 'presence' && f.user?.userId === silentUser.userId && f.state === 'online');
    const [silentId] = await storedConnectionIds(local, silentUser.userId);
    assert.match(silentId, ID_RE);

    const stoppedAt = Date.now();
    child.kill('SIGSTOP');
    try {
      const offline = await alice.waitFor(
        (f) => f.type === 'presence' && f.user?.userId === silentUser.userId && f.state === 'offline', 8_000,
        'presence offline for the SIGSTOPped peer');
      const elapsed = Date.now() - stoppedAt;
      assert.equal(offline.room, room);
      t.diagnostic(`dropped after ${elapsed} ms`);
      await waitUntil(async () => (await storedConnectionIds(local, silentUser.userId)).length === 0,
        { what: 'the silent connection row to be deleted' });
      assert.equal((await connectionsApi(local, 'GET', silentId)).status, 410);
      // alice, who answers pings, is still connected.
      assert.deepEqual(await alice.ok({ action: 'ping' }), { type: 'pong' });
    } finally {
      child.kill('SIGKILL');
      await exited;
      local.children.delete(child);
    }
  } finally {
    await local.stop();
  }
});

test('connection ids are unique per socket, and closing one removes exactly that id', async (t) => {
  if (skipInTarget(t, 'reads connection ids from the local stack\'s SQLite store')) return;
  if (!stack.local) {
    t.skip('needs a local binary (reads the SQLite store)');
    return;
  }
  const user = await newUser(stack, 'multi');
  const first = await connect(stack, user);
  const [firstId] = await storedConnectionIds(stack, user.userId);
  const second = await connect(stack, user);
  const ids = await storedConnectionIds(stack, user.userId);
  assert.equal(ids.length, 2);
  const secondId = ids.find((id) => id !== firstId);
  assert.ok(secondId && secondId !== firstId, 'two distinct ids');
  for (const id of ids) assert.match(id, ID_RE);

  // Prove which socket owns which id with @connections POST.
  const marker1 = uniq('to-first');
  const marker2 = uniq('to-second');
  assert.equal((await connectionsApi(stack, 'POST', firstId, { body: marker1 })).status, 200);
  assert.equal((await connectionsApi(stack, 'POST', secondId, { body: marker2 })).status, 200);
  assert.equal(await first.waitForRaw((raw) => raw === marker1), marker1);
  assert.equal(await second.waitForRaw((raw) => raw === marker2), marker2);
  await sleep(100);
  assert.equal(first.frames.filter((f) => f.raw === marker2).length, 0);
  assert.equal(second.frames.filter((f) => f.raw === marker1).length, 0);

  await first.close(1000);
  await waitUntil(async () => (await storedConnectionIds(stack, user.userId)).length === 1,
    { what: "the first socket's row to be deleted" });
  assert.deepEqual(await storedConnectionIds(stack, user.userId), [secondId], 'the right id was removed');
  assert.equal((await connectionsApi(stack, 'GET', firstId)).status, 410);
  assert.equal((await connectionsApi(stack, 'GET', secondId)).status, 200);
  assert.deepEqual(await second.ok({ action: 'ping' }), { type: 'pong' });

  // Many sockets: all ids distinct and well-formed.
  const many = [];
  for (let i = 0; i < 20; i += 1) many.push(await connect(stack, user));
  const all = await storedConnectionIds(stack, user.userId);
  assert.equal(all.length, 21);
  assert.equal(new Set(all).size, 21);
  for (const id of all) assert.match(id, ID_RE);
  await Promise.all(many.map((c) => c.close()));
  await waitUntil(async () => (await storedConnectionIds(stack, user.userId)).length === 1,
    { what: 'the 20 extra rows to be deleted' });
});

test('100 clients that go silent together (SIGSTOPped, no close, no FIN): each goes offline exactly once within the keepalive timeout, none is left in the store', { timeout: 60_000 }, async (t) => {
  const own = await localStackOrSkip(t, ['--keepalive', '1']);
  if (!own) return;
  try {
    const room = uniq('mass');
    const watcherUser = await newUser(own, 'watcher');
    const watcher = await connect(own, watcherUser);
    await join(watcher, room);
    const users = [];
    for (let i = 0; i < 100; i += 1) users.push(await newUser(own, `v${i}`));
    const child = spawn(process.execPath, [path.join(LIB_DIR, 'silent-peer.mjs'), own.wsUrl(users[0].token), room,
      ...users.slice(1).map((u) => own.wsUrl(u.token))], { stdio: ['ignore', 'pipe', 'pipe'] });
    own.children.add(child);
    let childErr = '';
    child.stderr.on('data', (d) => { childErr += d; });
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`silent peers not ready within 25 s: ${childErr}`)), 25_000);
      child.stdout.on('data', (d) => { if (String(d).includes('ready')) { clearTimeout(timer); resolve(); } });
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`silent peers exited (${code}): ${childErr}`)); });
    });
    await watcher.waitForMany((f) => f.type === 'presence' && f.state === 'online', 100, 20_000, 'online notices');
    const started = Date.now();
    child.kill('SIGSTOP');
    const offline = await watcher.waitForMany((f) => f.type === 'presence' && f.state === 'offline', 100, 20_000,
      'an offline notice per silent client');
    t.diagnostic(`100 offline notices ${Date.now() - started} ms after SIGSTOP (keepalive 1 s)`);
    assert.deepEqual(new Set(offline.map((f) => f.user.userId)), new Set(users.map((u) => u.userId)));
    await sleep(1500);
    assert.equal(watcher.received((f) => f.type === 'presence' && f.state === 'offline').length, 100,
      'no second offline notice for anyone');
    const left = await sql(own, `select count(*) from connections where user_id <> '${watcherUser.userId}'`);
    assert.equal(left[0][0], '0', 'no silent connection left in the store');
    const subs = await sql(own, 'select count(*) from subscriptions');
    assert.equal(subs[0][0], '1', 'only the watcher is subscribed');
    assert.equal((await watcher.ok({ action: 'ping' })).type, 'pong');
    child.kill('SIGKILL');
  } finally {
    await own.stop();
  }
});
