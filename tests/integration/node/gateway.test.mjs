// The gateway's API Gateway rules: handshake auth, frame/message limits, timeouts,
// error frames, @connections (raw and through the AWS SDK), $default, static files, dev tokens.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import {
  ApiGatewayManagementApiClient, PostToConnectionCommand, GetConnectionCommand, DeleteConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import {
  startStack, localStackOrSkip, newUser, devToken, connect, openSocket, expectRefused, join, uniq, sleep,
  waitUntil, storedConnectionIds, connectionsApi, sql, signJwt, stackSecret, writeRouteTable, skipInTarget,
} from './lib/stack.mjs';

const ID_RE = /^[A-Za-z0-9_-]{15}=$/;
const FORBIDDEN_RE = /^\{"message": "Forbidden", "connectionId":"[A-Za-z0-9_-]{15}=", "requestId":"[A-Za-z0-9_-]{15}="\}$/;
const INTERNAL_RE = /^\{"message": "Internal server error", "connectionId":"[A-Za-z0-9_-]{15}=", "requestId":"[A-Za-z0-9_-]{15}="\}$/;
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const ACTIONS = ['joinRoom', 'leaveRoom', 'sendMessage', 'getHistory', 'typing', 'listRooms', 'markRead', 'ping'];
const UNKNOWN_ID = 'AAAAAAAAAAAAAAA=';

let stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

/** A connected client and, on a local stack, its connection id (from the store). */
async function liveConnection(s, prefix = 'conn', { userAgent } = {}) {
  const user = await newUser(s, prefix);
  const client = userAgent
    ? await openSocket(s.wsUrl(user.token), { label: prefix, stack: s, headers: { 'User-Agent': userAgent } })
    : await connect(s, user);
  let id = null;
  if (s.local) {
    const ids = await storedConnectionIds(s, user.userId);
    assert.equal(ids.length, 1, `one stored connection for ${user.name}`);
    [id] = ids;
  }
  return { user, client, id };
}

function rawGet(s, target) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: s.host, port: s.port, path: target, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${target} timed out`)));
    req.on('error', reject);
  });
}

const sdk = (s) => new ApiGatewayManagementApiClient({
  endpoint: `${s.base}/${s.stage}`,
  region: 'us-east-1',
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
  maxAttempts: 1,
  requestHandler: { connectionTimeout: 2000, requestTimeout: 5000 },
});

async function sdkError(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('the SDK call succeeded; an error was expected');
}

function skipNoId(t) {
  if (skipInTarget(t, NO_ID)) return;
  t.skip('needs a local binary (the connection id comes from the SQLite store)');
}

// Target mode (STRATUS_TARGET_URL): why some tests do not run there.
const NO_ID = 'needs a connection id, which only the local stack\'s SQLite store gives';
const NO_HTTP = 'needs the gateway\'s HTTP side (STRATUS_TARGET_HTTP); on AWS, @connections takes real SigV4 '
  + 'credentials and static files are served by CloudFront';

/** In target mode without STRATUS_TARGET_HTTP, skips `t` (returns true). */
function skipWithoutHttp(t) {
  return !stack.base && skipInTarget(t, NO_HTTP);
}

async function assertStillOpen(client) {
  assert.deepEqual(await client.ok({ action: 'ping' }), { type: 'pong' }, 'the connection still answers ping');
}

// ------------------------------------------------------------------ handshake

test('handshake without a token is refused with HTTP 401 and nothing is stored', async () => {
  const since = Date.now() - 1;
  assert.equal((await expectRefused(stack.wsUrl())).status, 401);
  assert.equal((await expectRefused(`${stack.wsBase}?token=`)).status, 401);
  assert.equal((await expectRefused(`${stack.wsBase}?other=1`)).status, 401);
  if (stack.local) {
    const rows = await sql(stack, `select count(*) from connections where connected_at_ms >= ${since}`);
    assert.equal(rows[0][0], '0', 'no connection row was written');
  }
});

test('handshake with a garbage token is refused with HTTP 401 and nothing is stored', async () => {
  const since = Date.now() - 1;
  const valid = (await newUser(stack, 'valid')).token;
  const [h, p] = valid.split('.');
  const garbage = [
    'garbage', 'a.b.c', '...', 'x'.repeat(9000), `${h}.${p}.AAAA`, `${h}.${p}`, `${h}.${p}.${valid.split('.')[2]}x`,
    signJwt({ sub: 'u', name: 'n', iss: 'stratus-local', aud: 'stratus', iat: 0, nbf: 0, exp: 9e9 }, 'not-the-secret-not-the-secret-00'),
    `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${p}.`,
  ];
  for (const token of garbage) {
    const { status } = await expectRefused(stack.wsUrl(token));
    assert.equal(status, 401, `token ${token.slice(0, 40)}… is refused with 401`);
  }
  if (stack.local) {
    const rows = await sql(stack, `select count(*) from connections where connected_at_ms >= ${since}`);
    assert.equal(rows[0][0], '0', 'no connection row was written');
  }
});

test('handshake with an expired token is refused with HTTP 401 and nothing is stored', async (t) => {
  const since = Date.now() - 1;
  const now = Math.floor(Date.now() / 1000);
  const claims = (exp) => ({ iss: 'stratus-local', aud: 'stratus', sub: uniq('u').replace('-', '_'), name: 'expired', iat: now - 7200, nbf: now - 7200, exp });
  // Expired-looking with a foreign signature: refused whatever the stack.
  assert.equal((await expectRefused(stack.wsUrl(signJwt(claims(now - 3600), 'x'.repeat(64))))).status, 401);
  const secret = await stackSecret(stack);
  if (!secret && stack.target) {
    t.diagnostic('target mode: only the foreign-signature case ran (a correctly signed expired token needs the stack\'s key)');
  }
  if (secret) {
    // Control: the same claims, not expired, signed with the stack's secret, are accepted.
    const control = await openSocket(stack.wsUrl(signJwt(claims(now + 3600), secret)), { label: 'control', stack });
    await assertStillOpen(control);
    await control.close();
    await waitUntil(async () => (await sql(stack, "select count(*) from connections where name = 'expired'"))[0][0] === '0',
      { what: 'the control connection to be removed' });
    const expired = signJwt(claims(now - 3600), secret);
    assert.equal((await expectRefused(stack.wsUrl(expired))).status, 401, 'a correctly signed but expired token');
    const rows = await sql(stack, `select count(*) from connections where connected_at_ms >= ${since} and name = 'expired'`);
    assert.equal(rows[0][0], '0', 'the expired token left no connection row');
  }
});

test('an upgrade on a path other than /{stage} is refused (403)', async () => {
  const token = (await newUser(stack, 'path')).token;
  const { status } = await expectRefused(`${stack.wsOrigin}/not-${stack.stage}?token=${token}`);
  assert.equal(status, 403);
});

// ------------------------------------------------------------------ frame and message limits

test('a single 33 KB frame closes the connection with 1009', async () => {
  const { client } = await liveConnection(stack, 'big');
  await client.send(JSON.stringify({ action: 'ping', pad: 'x'.repeat(33 * 1024) }));
  const closed = await client.waitClose();
  assert.equal(closed.code, 1009);
});

test('a frame of exactly 32768 bytes is accepted (the text is then too large for the handler)', async () => {
  const { client } = await liveConnection(stack, 'edge');
  const head = JSON.stringify({ action: 'sendMessage', room: 'edge', clientMsgId: 'c1', text: '' }).slice(0, -2);
  const text = 'y'.repeat(32768 - head.length - 2);
  const frame = `${head}${text}"}`;
  assert.equal(Buffer.byteLength(frame), 32768);
  const reply = await client.request(JSON.parse(frame));
  assert.equal(reply.type, 'error');
  assert.equal(reply.code, 'too_large');
  await assertStillOpen(client);
});

test('a 100 KB message fragmented into frames of 32 KB or less is accepted (too_large reply, still open)', async () => {
  const { client } = await liveConnection(stack, 'frag');
  const room = uniq('frag');
  await join(client, room);
  const message = JSON.stringify({ action: 'sendMessage', room, clientMsgId: 'frag1', text: 'z'.repeat(100 * 1024) });
  const reply = client.waitFor((f) => f.type === 'error' && f.action === 'sendMessage', 5000, 'the too_large error');
  const chunk = 32 * 1024;
  for (let off = 0; off < message.length; off += chunk) {
    const last = off + chunk >= message.length;
    await client.send(message.slice(off, off + chunk), { fin: last, binary: false });
  }
  const err = await reply;
  assert.equal(err.code, 'too_large');
  assert.match(err.message, /16384|bytes|large/i);
  await assertStillOpen(client);
  assert.equal((await client.ok({ action: 'getHistory', room })).messages.length, 0, 'nothing stored');
});

test('a message over 128 KB (in 32 KB frames) closes the connection with 1009', async () => {
  const { client } = await liveConnection(stack, 'huge');
  const message = JSON.stringify({ action: 'ping', pad: 'q'.repeat(130 * 1024) });
  const chunk = 32 * 1024;
  for (let off = 0; off < message.length && client.isOpen; off += chunk) {
    const last = off + chunk >= message.length;
    await client.send(message.slice(off, off + chunk), { fin: last, binary: false }).catch(() => {});
  }
  const closed = await client.waitClose();
  assert.equal(closed.code, 1009);
});

test('a message of exactly 128 KB (131072 bytes, in 32 KB frames) is accepted', async () => {
  const { client } = await liveConnection(stack, 'max');
  const head = '{"action":"ping","pad":"';
  const message = `${head}${'p'.repeat(131072 - head.length - 2)}"}`;
  assert.equal(message.length, 131072);
  const pong = client.waitFor((f) => f.type === 'pong', 5000, 'pong');
  for (let off = 0; off < message.length; off += 32768) {
    await client.send(message.slice(off, off + 32768), { fin: off + 32768 >= message.length, binary: false });
  }
  assert.deepEqual(await pong, { type: 'pong' });
  await assertStillOpen(client);
});

test('a binary frame closes the connection with 1003', async () => {
  const { client } = await liveConnection(stack, 'binary');
  await client.send(Buffer.from(JSON.stringify({ action: 'ping' })), { binary: true });
  const closed = await client.waitClose();
  assert.equal(closed.code, 1003);
});

// ------------------------------------------------------------------ timeouts

test('--idle-timeout 1: a silent client is closed with 1001, one that sends ping frames survives, WebSocket pings do not count', { timeout: 30_000 }, async (t) => {
  const local = await localStackOrSkip(t, ['--idle-timeout', '1']);
  if (!local) return;
  try {
    const silent = (await liveConnection(local, 'silent')).client;
    const active = (await liveConnection(local, 'active')).client;
    const pinger = (await liveConnection(local, 'pinger')).client;
    const opened = Date.now();
    const keepAlive = setInterval(() => {
      if (active.isOpen) active.send({ action: 'ping' }).catch(() => {});
      if (pinger.isOpen) pinger.ws.ping();
    }, 250);
    try {
      const closed = await silent.waitClose(5000);
      const elapsed = Date.now() - opened;
      assert.equal(closed.code, 1001, 'idle close code');
      assert.ok(elapsed >= 800 && elapsed < 3500, `closed after ${elapsed} ms (idle timeout 1 s)`);
      const pingerClosed = await pinger.waitClose(5000);
      assert.equal(pingerClosed.code, 1001, 'protocol pings are not activity');
      await sleep(Math.max(0, opened + 2500 - Date.now()));
      assert.ok(active.isOpen, 'the client sending {"action":"ping"} is still open after 2.5 s');
      await assertStillOpen(active);
      const pongs = active.received((f) => f.type === 'pong').length;
      assert.ok(pongs >= 5, `it got pongs all along (${pongs})`);
    } finally {
      clearInterval(keepAlive);
    }
    // Once it stops sending, it is closed too.
    const closed = await active.waitClose(5000);
    assert.equal(closed.code, 1001);
  } finally {
    await local.stop();
  }
});

test('--max-connection-duration 2: even an active client is closed with 1001 after 2 s', { timeout: 30_000 }, async (t) => {
  const local = await localStackOrSkip(t, ['--max-connection-duration', '2']);
  if (!local) return;
  try {
    // Measured from before the connection attempt: the cap runs from the gateway's accept,
    // and a slow (sanitized) gateway can take a while to finish the handshake and $connect.
    const opened = Date.now();
    const { client } = await liveConnection(local, 'capped');
    const keepAlive = setInterval(() => {
      if (client.isOpen) client.send({ action: 'ping' }).catch(() => {});
    }, 200);
    try {
      const closed = await client.waitClose(8000);
      const elapsed = Date.now() - opened;
      assert.equal(closed.code, 1001);
      assert.ok(elapsed >= 1950 && elapsed < 4500, `closed ${elapsed} ms after the connection attempt (cap 2 s)`);
      assert.ok(client.received((f) => f.type === 'pong').length >= 5, 'it was active until the cap');
    } finally {
      clearInterval(keepAlive);
    }
  } finally {
    await local.stop();
  }
});

// ------------------------------------------------------------------ route table and error frames

const ROUTES_WITHOUT_DEFAULT = {
  routeSelectionExpression: '$request.body.action',
  routes: [
    { routeKey: '$connect' },
    { routeKey: '$disconnect' },
    { routeKey: 'joinRoom' },
    { routeKey: 'sendMessage' },
    { routeKey: 'ping' },
    { routeKey: 'listRooms', routeResponse: false },
    { routeKey: 'broken', integration: 'unavailable' },
  ],
};

test('a route table without $default: unmatched actions get the exact Forbidden frame; an unavailable integration gets Internal server error; the socket stays open', { timeout: 30_000 }, async (t) => {
  const routes = await writeRouteTable(ROUTES_WITHOUT_DEFAULT);
  const local = await localStackOrSkip(t, ['--routes', routes.file]);
  if (!local) {
    await routes.cleanup();
    return;
  }
  try {
    const { client, id } = await liveConnection(local, 'routes');
    const forbidden = [];
    for (const frame of ['{"action":"getHistory","room":"r"}', '{"action":"nope"}', 'not json at all', '{"noaction":true}',
      '{"action":"$default"}', '[]']) {
      const waiting = client.waitForRaw((raw) => raw.startsWith('{"message": "Forbidden"'), 5000, `Forbidden for ${frame}`);
      await client.send(frame);
      const raw = await waiting;
      assert.match(raw, FORBIDDEN_RE, `exact Forbidden bytes for ${frame}`);
      forbidden.push(JSON.parse(raw));
    }
    for (const f of forbidden) assert.equal(f.connectionId, id, 'the frame carries this connection\'s id');
    assert.equal(new Set(forbidden.map((f) => f.requestId)).size, forbidden.length, 'a fresh requestId each time');

    const internal = client.waitForRaw((raw) => raw.includes('Internal server error'), 5000, 'Internal server error');
    await client.send({ action: 'broken', anything: 1 });
    const raw = await internal;
    assert.match(raw, INTERNAL_RE);
    assert.equal(JSON.parse(raw).connectionId, id);

    // The socket is still open and the configured routes still work.
    await assertStillOpen(client);
    const room = uniq('rt');
    await join(client, room);
    const ack = await client.ok({ action: 'sendMessage', room, text: 'routed', clientMsgId: 'r1' });
    assert.equal(ack.seq, 1);
    // A route without a route response: the handler runs, its reply is discarded.
    await client.send({ action: 'listRooms' });
    await assertStillOpen(client);
    assert.equal(client.received((f) => f.type === 'rooms').length, 0, 'no reply without a route response');
    // The id from the Forbidden frame is usable with @connections.
    const got = await connectionsApi(local, 'GET', forbidden[0].connectionId);
    assert.equal(got.status, 200);
  } finally {
    await local.stop();
    await routes.cleanup();
  }
});

test('a $connect route whose integration is unavailable refuses the handshake with 500; nothing is stored', { timeout: 30_000 }, async (t) => {
  // aws-semantics §1.2: if the $connect integration fails, the handshake fails with a 5xx;
  // docs/gateway.md: "a failing integration refuses it with 500".
  const routes = await writeRouteTable({
    routeSelectionExpression: '$request.body.action',
    routes: [{ routeKey: '$connect', integration: 'unavailable' }, { routeKey: '$disconnect' }, { routeKey: 'ping' }],
  });
  const local = await localStackOrSkip(t, ['--routes', routes.file]);
  if (!local) {
    await routes.cleanup();
    return;
  }
  try {
    const user = await newUser(local, 'noconnect');
    let status;
    try {
      const client = await openSocket(local.wsUrl(user.token), { label: 'noconnect', stack: local });
      status = 101;
      client.terminate();
    } catch (err) {
      status = err.status ?? err.message;
    }
    assert.equal(status, 500, 'the handshake is refused with 500');
    assert.equal((await storedConnectionIds(local, user.userId)).length, 0, 'no connection stored');
  } finally {
    await local.stop();
    await routes.cleanup();
  }
});

test('$default answers an unknown action with invalid_request and validActions', async () => {
  const { client } = await liveConnection(stack, 'default');
  for (const frame of ['{"action":"dance"}', '{"action":"SENDMESSAGE"}', '{"room":"x"}', 'hello', '{"action":""}']) {
    const reply = client.waitFor((f) => f.type === 'error', 5000, `error for ${frame}`);
    await client.send(frame);
    const err = await reply;
    assert.equal(err.code, 'invalid_request', frame);
    assert.deepEqual(err.validActions, ACTIONS, frame);
    assert.equal(typeof err.message, 'string');
    assert.match(err.requestId, ID_RE);
  }
  const dance = client.waitFor((f) => f.type === 'error', 5000);
  await client.send('{"action":"dance"}');
  assert.equal((await dance).action, 'dance', 'the error names the unknown action');
  await assertStillOpen(client);
});

// ------------------------------------------------------------------ @connections (raw HTTP)

test('@connections POST 200 delivers the raw body as one text frame (up to 131072 bytes)', async (t) => {
  if (skipInTarget(t, NO_ID)) return;
  const { client, id } = await liveConnection(stack, 'post');
  if (!id) return skipNoId(t);
  const body = 'not JSON: ünïcödé \u{1F680} {"a":1}';
  const res = await connectionsApi(stack, 'POST', id, { body, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(res.status, 200);
  assert.equal(await client.waitForRaw((raw) => raw === body), body);
  const bigHead = '{"type":"bulk","pad":"';
  const big = `${bigHead}${'b'.repeat(131072 - bigHead.length - 2)}"}`;
  assert.equal(Buffer.byteLength(big), 131072);
  const resBig = await connectionsApi(stack, 'POST', id, { body: big });
  assert.equal(resBig.status, 200, 'exactly 131072 bytes is allowed');
  assert.equal((await client.waitForRaw((raw) => raw.length > 100_000)).length, 131072);
  await assertStillOpen(client);
});

test('@connections GET returns connectedAt, lastActiveAt (ISO-8601) and identity', async (t) => {
  if (skipInTarget(t, NO_ID)) return;
  const before = Date.now();
  const { client, id } = await liveConnection(stack, 'get', { userAgent: 'stratus-integration/1.0' });
  if (!id) return skipNoId(t);
  const res = await connectionsApi(stack, 'GET', id);
  assert.equal(res.status, 200);
  const body = JSON.parse(res.text);
  assert.match(body.connectedAt, ISO_RE);
  assert.match(body.lastActiveAt, ISO_RE);
  const connectedAt = Date.parse(body.connectedAt);
  assert.ok(connectedAt >= before - 1000 && connectedAt <= Date.now() + 1000, 'connectedAt is now-ish');
  assert.ok(Date.parse(body.lastActiveAt) >= connectedAt);
  assert.deepEqual(body.identity, { sourceIp: '127.0.0.1', userAgent: 'stratus-integration/1.0' });
  // A data frame moves lastActiveAt.
  await sleep(20);
  await client.ok({ action: 'ping' });
  const later = JSON.parse((await connectionsApi(stack, 'GET', id)).text);
  assert.ok(Date.parse(later.lastActiveAt) > Date.parse(body.lastActiveAt), 'lastActiveAt advances with activity');
  assert.equal(later.connectedAt, body.connectedAt);
});

test('@connections DELETE 204 closes the socket with 1001; afterwards the id is 410', async (t) => {
  if (skipInTarget(t, NO_ID)) return;
  const room = uniq('del');
  const watcherUser = await newUser(stack, 'watcher');
  const watcher = await connect(stack, watcherUser);
  await join(watcher, room);
  const { client, id, user } = await liveConnection(stack, 'del');
  if (!id) return skipNoId(t);
  await join(client, room);
  const res = await connectionsApi(stack, 'DELETE', id);
  assert.equal(res.status, 204);
  assert.equal(res.text, '');
  assert.equal((await client.waitClose()).code, 1001);
  await watcher.waitFor((f) => f.type === 'presence' && f.state === 'offline' && f.user?.userId === user.userId, 5000,
    '$disconnect ran after DELETE');
  await waitUntil(async () => (await connectionsApi(stack, 'GET', id)).status === 410, { what: 'GET 410 after DELETE' });
  assert.equal((await connectionsApi(stack, 'DELETE', id)).status, 410);
  assert.equal((await storedConnectionIds(stack, user.userId)).length, 0);
});

test('@connections: unknown well-formed id -> 410 GoneException for POST, GET and DELETE', async (t) => {
  if (skipWithoutHttp(t)) return;
  for (const method of ['POST', 'GET', 'DELETE']) {
    const res = await connectionsApi(stack, method, UNKNOWN_ID, method === 'POST' ? { body: 'x' } : {});
    assert.equal(res.status, 410, method);
    assert.equal(res.headers.get('x-amzn-errortype'), 'GoneException', method);
  }
});

test('@connections: malformed ids -> 400', async (t) => {
  if (skipWithoutHttp(t)) return;
  for (const bad of ['abc', 'AAAAAAAAAAAAAAAA', 'AAAAAAAAAAAAAAAAA=', 'AAAAAAAAAAAAAA=', 'AAAAAAA AAAAAAA=', 'AAAAAAA.AAAAAAA=', 'é'.repeat(8)]) {
    const res = await connectionsApi(stack, 'GET', bad);
    assert.equal(res.status, 400, `id ${JSON.stringify(bad)} -> ${res.status} ${res.text}`);
  }
  const pct = await connectionsApi(stack, 'GET', 'AAAAAAAAAAAAAAA%ZZ', { encode: false });
  assert.equal(pct.status, 400, 'invalid percent-encoding');
});

test('@connections: ids are percent-decoded (%3D and a raw =; %40connections)', async (t) => {
  if (skipInTarget(t, NO_ID)) return;
  const { client, id } = await liveConnection(stack, 'pct');
  if (!id) return skipNoId(t);
  assert.equal((await connectionsApi(stack, 'GET', id)).status, 200, '%3D');
  assert.equal((await connectionsApi(stack, 'GET', id, { encode: false })).status, 200, 'raw =');
  const res = await fetch(`${stack.base}/${stack.stage}/%40connections/${encodeURIComponent(id)}`, {
    method: 'POST',
    body: 'via %40',
    headers: { authorization: 'AWS4-HMAC-SHA256 Credential=x/y, SignedHeaders=host, Signature=00' },
    signal: AbortSignal.timeout(5000),
  });
  assert.equal(res.status, 200);
  await client.waitForRaw((raw) => raw === 'via %40');
});

test('@connections: POST over 131072 bytes -> 413 PayloadTooLargeException and nothing delivered', async (t) => {
  if (skipWithoutHttp(t)) return;
  const { client, id } = await liveConnection(stack, 'toolarge');
  const target = id ?? UNKNOWN_ID;
  for (const size of [131073, 300 * 1024]) {
    const res = await connectionsApi(stack, 'POST', target, { body: 'L'.repeat(size) });
    assert.equal(res.status, 413, `${size} bytes`);
    assert.equal(res.headers.get('x-amzn-errortype'), 'PayloadTooLargeException');
  }
  await sleep(100);
  assert.equal(client.frames.filter((f) => f.raw.startsWith('LLLL')).length, 0);
  await assertStillOpen(client);
});

/** Writes `request` to a raw socket `pieceSize` bytes at a time; resolves with all it got back. */
function rawExchange(s, request, pieceSize) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: s.host, port: s.port });
    let got = '';
    let ended = false;
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => { got += chunk; });
    socket.on('end', () => { ended = true; });
    // The server answers before the rest of the request is sent and then closes, so a late
    // write may meet a closed socket: what counts is the response that arrived before.
    socket.on('error', (err) => (got ? resolve(got) : reject(err)));
    socket.on('close', () => resolve(got));
    socket.setTimeout(5000, () => { socket.destroy(); resolve(got); });
    socket.on('connect', async () => {
      for (let i = 0; i < request.length && !socket.destroyed && !ended; i += pieceSize) {
        socket.write(request.slice(i, i + pieceSize));
        if (pieceSize < request.length) await sleep(1);
      }
    });
  });
}

test('@connections: a chunked body, or any Transfer-Encoding, -> 411 and a close; nothing delivered, the gateway keeps serving', { timeout: 60_000 }, async (t) => {
  if (skipWithoutHttp(t)) return;
  if (skipInTarget(t, 'sends raw HTTP/1.1 to the gateway\'s own listener')) return;
  const { client, id } = await liveConnection(stack, 'chunked');
  const target = `/${stack.stage}/@connections/${encodeURIComponent(id ?? UNKNOWN_ID)}`;
  const head = (te, extra = '') => `POST ${target} HTTP/1.1\r\nHost: ${stack.host}:${stack.port}\r\n`
    + 'Authorization: AWS4-HMAC-SHA256 Credential=x/20240101/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=0\r\n'
    + `Transfer-Encoding: ${te}\r\n${extra}\r\n`;
  const cases = [
    // The fuzz finding: an empty chunked body, read one byte at a time (Beast's parse_chunk_header assertion).
    { label: 'empty chunked body, 1-byte writes', request: `${head('chunked')}0\r\n\r\n`, piece: 1 },
    { label: 'chunked body', request: `${head('chunked')}6\r\nsneaky\r\n0\r\n\r\n`, piece: 1 << 20 },
    { label: 'chunked body, 3-byte writes', request: `${head('chunked')}6\r\nsneaky\r\n0\r\n\r\n`, piece: 3 },
    { label: 'gzip, chunked', request: `${head('gzip, chunked')}6\r\nsneaky\r\n0\r\n\r\n`, piece: 1 << 20 },
    { label: 'identity', request: `${head('identity', 'Content-Length: 6\r\n')}sneaky`, piece: 1 << 20 },
    // Content-Length and Transfer-Encoding together, the request smuggling shape: Beast refuses
    // the header itself (400), before the gateway sees it.
    { label: 'Content-Length and chunked', request: `${head('chunked', 'Content-Length: 6\r\n')}0\r\n\r\nsneaky`, piece: 1 << 20, status: '400 Bad Request', message: /Bad request: bad Content-Length/ },
  ];
  for (const { label, request, piece, status = '411 Length Required', message = /Transfer-Encoding is not supported; send Content-Length/ } of cases) {
    const reply = await rawExchange(stack, request, piece);
    assert.ok(reply.startsWith(`HTTP/1.1 ${status}\r\n`), `${label}: ${JSON.stringify(reply.slice(0, 80))}`);
    assert.match(reply, message, label);
    assert.equal(reply.match(/HTTP\/1\.1 /g).length, 1, `${label}: one response, then the connection closes`);
  }
  // The same POST with Content-Length is delivered.
  const ok = await rawExchange(stack, `POST ${target} HTTP/1.1\r\nHost: ${stack.host}:${stack.port}\r\n`
    + 'Authorization: AWS4-HMAC-SHA256 Credential=x/20240101/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=0\r\n'
    + 'Content-Length: 7\r\nConnection: close\r\n\r\nallowed', 1 << 20);
  assert.match(ok, id ? /^HTTP\/1\.1 200 / : /^HTTP\/1\.1 410 /);
  await sleep(100);
  assert.equal(client.frames.filter((f) => f.raw === 'sneaky').length, 0, 'no chunked body was delivered');
  if (id) assert.equal(client.frames.filter((f) => f.raw === 'allowed').length, 1, 'the Content-Length body was');
  const health = await fetch(`${stack.base}/healthz`);
  assert.equal(health.status, 200, 'the gateway is still up');
  await assertStillOpen(client);
});

test('requestContext.domainName is the gateway\'s own address, not the client\'s Host header: a client naming another host still gets its messages', { timeout: 30_000 }, async (t) => {
  if (skipInTarget(t, 'sets the Host header of the handshake, which a real endpoint routes on')) return;
  const room = uniq('host');
  const spoofer = await newUser(stack, 'spoofer');
  // An address where nothing listens: were it the connection's endpoint, pushes from an
  // out-of-process handler (--lambda) or another gateway would go there and fail.
  const client = await openSocket(stack.wsUrl(spoofer.token), { label: 'spoofer', stack, headers: { Host: '127.0.0.1:1' } });
  await join(client, room);
  const sender = await connect(stack, await newUser(stack, 'sender'));
  await join(sender, room);
  const ack = await sender.request({ action: 'sendMessage', room, text: 'to the spoofer', clientMsgId: uniq('m') });
  assert.equal(ack.type, 'ack', JSON.stringify(ack));
  await client.waitFor((f) => f.type === 'message' && f.text === 'to the spoofer', 10_000,
    'the message at the client that sent Host: 127.0.0.1:1');
  if (stack.dbPath) {
    const [[endpoint]] = await sql(stack, `select endpoint from connections where user_id = '${spoofer.userId}'`);
    assert.equal(endpoint, `http://${stack.host}:${stack.port}/${stack.stage}`);
  }
});

test('@connections: a missing or non-SigV4 Authorization header -> 403', async (t) => {
  if (skipWithoutHttp(t)) return;
  const { client, id } = await liveConnection(stack, 'noauth');
  const target = id ?? UNKNOWN_ID;
  for (const method of ['POST', 'GET', 'DELETE']) {
    const res = await connectionsApi(stack, method, target, { auth: false, ...(method === 'POST' ? { body: 'sneaky' } : {}) });
    assert.equal(res.status, 403, `${method} without Authorization`);
  }
  const bearer = await connectionsApi(stack, 'GET', target, { auth: false, headers: { authorization: 'Bearer abc' } });
  assert.equal(bearer.status, 403);
  await sleep(100);
  assert.equal(client.frames.filter((f) => f.raw === 'sneaky').length, 0, 'nothing delivered');
  assert.ok(client.isOpen, 'DELETE without auth did not close it');
});

// ------------------------------------------------------------------ @connections through the real AWS SDK

test('AWS SDK ApiGatewayManagementApiClient: PostToConnection, GetConnection, DeleteConnection, GoneException, PayloadTooLargeException', async (t) => {
  if (skipWithoutHttp(t)) return;
  const api = sdk(stack);
  try {
    const gone = await sdkError(api.send(new PostToConnectionCommand({ ConnectionId: UNKNOWN_ID, Data: 'x' })));
    assert.equal(gone.name, 'GoneException', `unknown id: ${gone.name} ${gone.message}`);
    assert.equal(gone.$metadata?.httpStatusCode, 410);
    const gone2 = await sdkError(api.send(new GetConnectionCommand({ ConnectionId: UNKNOWN_ID })));
    assert.equal(gone2.name, 'GoneException');

    const { client, id } = await liveConnection(stack, 'sdk');
    if (!id) return skipNoId(t);
    const payload = JSON.stringify({ type: 'notice', text: 'from the SDK' });
    const posted = await api.send(new PostToConnectionCommand({ ConnectionId: id, Data: payload }));
    assert.equal(posted.$metadata.httpStatusCode, 200);
    assert.deepEqual(await client.waitFor((f) => f.type === 'notice'), JSON.parse(payload));

    const info = await api.send(new GetConnectionCommand({ ConnectionId: id }));
    assert.ok(info.ConnectedAt instanceof Date && !Number.isNaN(info.ConnectedAt.getTime()), 'ConnectedAt is a date');
    assert.ok(info.LastActiveAt instanceof Date && !Number.isNaN(info.LastActiveAt.getTime()), 'LastActiveAt is a date');
    assert.ok(Math.abs(info.ConnectedAt.getTime() - Date.now()) < 60_000);
    assert.equal(info.Identity.SourceIp, '127.0.0.1');

    const tooLarge = await sdkError(api.send(new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.alloc(131073, 65) })));
    assert.equal(tooLarge.name, 'PayloadTooLargeException');
    assert.equal(tooLarge.$metadata?.httpStatusCode, 413);

    const deleted = await api.send(new DeleteConnectionCommand({ ConnectionId: id }));
    assert.equal(deleted.$metadata.httpStatusCode, 204);
    assert.equal((await client.waitClose()).code, 1001);
    const after = await waitUntil(async () => {
      const err = await sdkError(api.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'late' })));
      return err.name === 'GoneException' ? err : null;
    }, { what: 'GoneException after DeleteConnection' });
    assert.equal(after.$metadata?.httpStatusCode, 410);
    const deleteAgain = await sdkError(api.send(new DeleteConnectionCommand({ ConnectionId: id })));
    assert.equal(deleteAgain.name, 'GoneException');
  } finally {
    api.destroy();
  }
});

// ------------------------------------------------------------------ HTTP: static files and dev tokens

test('GET / serves HTML with a Content-Security-Policy header', async (t) => {
  if (skipWithoutHttp(t)) return;
  const res = await fetch(`${stack.base}/`, { signal: AbortSignal.timeout(5000) });
  const body = await res.text();
  assert.equal(res.status, 200, `GET / -> ${res.status} ${body.slice(0, 100)}`);
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(body, /<html|<!doctype html/i);
  const csp = res.headers.get('content-security-policy');
  assert.ok(csp, 'Content-Security-Policy is set');
  assert.match(csp, /default-src/);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
});

test('GET of a path outside the web root is refused', async (t) => {
  if (skipWithoutHttp(t)) return;
  // Raw request targets: fetch() would normalise the dot segments away.
  for (const p of ['/../CMakeLists.txt', '/%2e%2e/CMakeLists.txt', '/..%2fCMakeLists.txt', '/../../../../etc/passwd',
    '/no-such-file.html']) {
    const { status, body } = await rawGet(stack, p);
    assert.ok(status === 400 || status === 404, `${p} -> ${status}`);
    assert.doesNotMatch(body, /cmake_minimum_required|root:x:0/);
  }
});

test('/auth/dev-token validates names: empty, blank, too long, control characters and non-JSON bodies get 400', async (t) => {
  if (skipInTarget(t, '/auth/dev-token is the local gateway\'s; a deployed stage takes Cognito tokens')) return;
  const post = (body) => fetch(`${stack.base}/auth/dev-token`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(5000),
  });
  const bad = [
    JSON.stringify({ name: '' }),
    JSON.stringify({ name: ' ' }),
    JSON.stringify({ name: 'a'.repeat(33) }),
    JSON.stringify({ name: 'é'.repeat(33) }),
    JSON.stringify({ name: 'a\u0001b' }),
    JSON.stringify({ name: 'a\nb' }),
    JSON.stringify({ name: 'tab\there' }),
    JSON.stringify({ name: 'del\u007f' }),
    JSON.stringify({ name: 'c1\u0085' }),
    JSON.stringify({ name: ' lead' }),
    JSON.stringify({ name: 'trail ' }),
    JSON.stringify({ name: 5 }),
    JSON.stringify({ name: null }),
    JSON.stringify({ name: ['a'] }),
    JSON.stringify({}),
    JSON.stringify(['alice']),
    JSON.stringify('alice'),
    'name=alice',
    '{"name":"alice"',
    '',
    '{"name":"\\ud800"}',
  ];
  for (const body of bad) {
    const res = await post(body);
    const text = await res.text();
    assert.equal(res.status, 400, `body ${JSON.stringify(body)} -> ${res.status} ${text}`);
  }
  for (const name of ['a'.repeat(32), 'Zoë 🚀', 'x']) {
    const res = await post(JSON.stringify({ name }));
    assert.equal(res.status, 200, name);
    const body = await res.json();
    assert.equal(body.name, name);
    assert.match(body.userId, /^[A-Za-z0-9_-]{1,64}$/);
    assert.ok(body.expiresAt > Date.now() / 1000);
    assert.equal(body.token.split('.').length, 3);
  }
  const get = await fetch(`${stack.base}/auth/dev-token`, { signal: AbortSignal.timeout(5000) });
  assert.equal(get.status, 405);
  // The same name yields the same userId (a stable dev identity).
  const name = uniq('same');
  assert.equal((await devToken(stack, name)).userId, (await devToken(stack, name)).userId);
});
