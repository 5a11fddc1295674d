// Shutdown is bounded: after SIGTERM the gateway closes its sessions, runs their
// $disconnects, and waits at most --shutdown-grace for the ones still running. A
// store that stops answering (here: DynamoDB behind a proxy that goes silent) must
// not hold the process for its retries (10 s per request, 8 attempts).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { startMotoStack } from '../dynamodb/moto-stack.mjs';
import { startStack, usingExternalStack, targetMode, skipInTarget, devToken, connect, join, uniq } from './lib/stack.mjs';

let moto = null;
const stacks = [];
const proxies = [];

before(async () => {
  if (!usingExternalStack() && !targetMode()) moto = await startMotoStack();
});
after(async () => {
  for (const s of stacks) await s.stop();
  for (const p of proxies) p.close();
  await moto?.stop();
});

/** A TCP proxy to `url` that can go silent: it then forwards nothing and answers nothing. */
async function silenceableProxy(url) {
  const target = new URL(url);
  const sockets = new Set();
  let silent = false;
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('error', () => {});
    client.on('close', () => sockets.delete(client));
    if (silent) return; // accepted, never answered
    const upstream = net.connect(Number(target.port), target.hostname);
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => sockets.delete(upstream));
    client.on('data', (chunk) => { if (!silent) upstream.write(chunk); });
    upstream.on('data', (chunk) => { if (!silent) client.write(chunk); });
    client.on('close', () => upstream.destroy());
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxy = {
    url: `http://127.0.0.1:${server.address().port}`,
    silence() { silent = true; },
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
  proxies.push(proxy);
  return proxy;
}

/** Every item of the prefix's Connections table (connection records and subscriptions). */
async function connectionItems(prefix) {
  const ddb = new DynamoDBClient({
    endpoint: moto.motoUrl,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  try {
    const out = await ddb.send(new ScanCommand({ TableName: `${prefix}Connections`, ConsistentRead: true }));
    return out.Items ?? [];
  } finally {
    ddb.destroy();
  }
}

/** SIGTERM, then the exit status and how long it took (SIGKILL after `limitMs`). */
async function terminate(stack, limitMs) {
  const start = Date.now();
  stack.proc.kill('SIGTERM');
  const killer = setTimeout(() => stack.proc.kill('SIGKILL'), limitMs);
  const exited = await stack.exitPromise;
  clearTimeout(killer);
  return { ...exited, ms: Date.now() - start };
}

async function roomOf(stack, count) {
  const room = uniq('bye');
  const clients = [];
  for (let i = 0; i < count; i += 1) {
    const client = await connect(stack, await devToken(stack, `member${i}`), { label: `member${i}` });
    await join(client, room);
    clients.push(client);
  }
  return clients;
}

function skipWithoutMoto(t) {
  if (skipInTarget(t, 'starts and stops its own gateway on a local DynamoDB')) return true;
  if (usingExternalStack()) {
    t.skip('needs local binaries');
    return true;
  }
  if (!moto) {
    t.skip('moto_server is not installed on this machine (no DynamoDB-compatible server)');
    return true;
  }
  return false;
}

test('SIGTERM with a store that answers: every $disconnect runs (no connection item left) and the gateway exits 0', { timeout: 90_000 }, async (t) => {
  if (skipWithoutMoto(t)) return;
  const proxy = await silenceableProxy(moto.url);
  const prefix = `${uniq('sd')}-`;
  const stack = await startStack(['--dynamodb-endpoint', proxy.url, '--table-prefix', prefix, '--shutdown-grace', '20']);
  stacks.push(stack);
  await roomOf(stack, 6);
  // A record and two subscription items per member before.
  assert.equal((await connectionItems(prefix)).length, 18);
  const exit = await terminate(stack, 60_000);
  assert.deepEqual([exit.code, exit.signal], [0, null], stack.stderr.slice(-2000));
  assert.doesNotMatch(stack.stderr, /still running/);
  assert.deepEqual(await connectionItems(prefix), [], 'every $disconnect ran: no connection item is left');
});

test('SIGTERM with a store that stopped answering: the gateway gives up after --shutdown-grace and exits 1, saying why', { timeout: 90_000 }, async (t) => {
  if (skipWithoutMoto(t)) return;
  const proxy = await silenceableProxy(moto.url);
  const stack = await startStack(['--dynamodb-endpoint', proxy.url, '--table-prefix', `${uniq('sd')}-`, '--shutdown-grace', '1']);
  stacks.push(stack);
  await roomOf(stack, 12);
  proxy.silence();
  // Without the grace, 12 $disconnects on 4 workers, each waiting 10 s per attempt for
  // up to 8 attempts, would hold the process for minutes; SIGKILL comes at 60 s.
  const exit = await terminate(stack, 60_000);
  assert.equal(exit.signal, null, `killed after ${exit.ms} ms: the shutdown did not end on its own`);
  assert.equal(exit.code, 1);
  assert.match(stack.stderr, /handler call\(s\) still running 1 s after the sessions closed .*exiting without them/);
  // Sessions get up to 2 s to close, then the 1 s grace: generous slack for a loaded machine.
  assert.ok(exit.ms < 30_000, `exit after ${exit.ms} ms`);
});
