// Interop: what Stratus's DynamoDB store writes, read back with the AWS SDK for
// JavaScript v3 (@aws-sdk/client-dynamodb). Proves the wire format and item
// shapes are what AWS clients expect: keys, attribute types (numbers are N,
// ttl is N epoch seconds), the table settings (PAY_PER_REQUEST, TTL on `ttl`).
//
// The C++ side is tests/adapters/dynamodb/dynamodb_seed_main.cpp (built as
// stratus_dynamodb_seed), which writes a known data set through dynamodb_store.
// Endpoint: STRATUS_DYNAMODB_ENDPOINT if set, else a moto_server started here
// behind the serialising proxy (tests/integration/dynamodb/moto-stack.mjs).
// Skips with a message when neither moto_server nor the seed binary is there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { motoAvailable, startMotoStack } from '../dynamodb/moto-stack.mjs';
import { targetMode } from './lib/stack.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

function seedPath() {
  if (process.env.STRATUS_DYNAMODB_SEED) return path.resolve(ROOT, process.env.STRATUS_DYNAMODB_SEED);
  // Next to the binary under test (build/<preset>/stratus -> build/<preset>/tests/...).
  if (process.env.STRATUS_BIN) {
    const bin = path.resolve(ROOT, process.env.STRATUS_BIN);
    for (const dir of [path.dirname(bin), path.resolve(path.dirname(bin), '../..')]) {
      const candidate = path.join(dir, 'tests', 'stratus_dynamodb_seed');
      if (existsSync(candidate)) return candidate;
    }
  }
  return path.join(ROOT, 'build/release/tests/stratus_dynamodb_seed');
}

const SEED = seedPath();
const EXTERNAL = process.env.STRATUS_DYNAMODB_ENDPOINT || '';
const SKIP = targetMode()
  ? 'target mode: reads back what a locally built seed binary wrote to a local DynamoDB (not the deployed stage)'
  : !existsSync(SEED)
  ? `stratus_dynamodb_seed not found at ${SEED} (build it with "cmake --build build/release --target `
    + 'stratus_dynamodb_seed" or set STRATUS_DYNAMODB_SEED)'
  : !EXTERNAL && !motoAvailable()
    ? 'no DynamoDB endpoint: moto_server is not on PATH and STRATUS_DYNAMODB_ENDPOINT is not set'
    : false;

let stack = null;
let endpoint = EXTERNAL;
let seeded = null;
let ddb = null;

before(async () => {
  if (SKIP) return;
  if (!endpoint) {
    stack = await startMotoStack();
    endpoint = stack.url;
  }
  const prefix = `interop${randomBytes(6).toString('hex')}_`;
  // Asynchronously: the proxy runs on this process's event loop.
  const run = await promisify(execFile)(SEED, [endpoint, prefix], { encoding: 'utf8', timeout: 120_000 }).catch(
    (err) => assert.fail(`stratus_dynamodb_seed failed: ${err.stderr ?? err.message}`),
  );
  seeded = JSON.parse(run.stdout.trim().split('\n').pop());
  ddb = new DynamoDBClient({
    endpoint,
    region: process.env.AWS_REGION || 'us-east-1',
    credentials: {
      accessKeyId: process.env.AWS_ACCESS_KEY_ID || 'test',
      secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY || 'test',
    },
  });
});

after(async () => {
  ddb?.destroy();
  await stack?.stop();
});

const key = (pk, sk) => ({ pk: { S: pk }, sk: { S: sk } });

/** Every attribute is exactly one of the expected types, and no others exist. */
function assertShape(item, shape, what) {
  assert.ok(item, `${what}: item missing`);
  assert.deepEqual(Object.keys(item).sort(), Object.keys(shape).sort(), `${what}: attribute names`);
  for (const [name, type] of Object.entries(shape)) {
    assert.deepEqual(Object.keys(item[name]), [type], `${what}.${name} is ${type}`);
    if (type === 'N') assert.match(item[name].N, /^-?\d+$/, `${what}.${name} is an integer`);
  }
}

async function get(table, pk, sk) {
  const out = await ddb.send(new GetItemCommand({ TableName: table, Key: key(pk, sk), ConsistentRead: true }));
  return out.Item;
}

async function query(table, pk, prefix) {
  const out = await ddb.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: prefix ? 'pk = :p AND begins_with(sk, :s)' : 'pk = :p',
      ExpressionAttributeValues: prefix ? { ':p': { S: pk }, ':s': { S: prefix } } : { ':p': { S: pk } },
      ConsistentRead: true,
    }),
  );
  return out.Items;
}

test('tables: pk/sk strings, on-demand billing, TTL enabled on `ttl`', { skip: SKIP }, async () => {
  for (const table of [seeded.connectionsTable, seeded.messagesTable]) {
    const { Table } = await ddb.send(new DescribeTableCommand({ TableName: table }));
    assert.equal(Table.TableStatus, 'ACTIVE');
    assert.deepEqual(Table.KeySchema, [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    assert.deepEqual(
      Table.AttributeDefinitions.map((d) => [d.AttributeName, d.AttributeType]).sort(),
      [['pk', 'S'], ['sk', 'S']],
    );
    assert.equal(Table.BillingModeSummary?.BillingMode, 'PAY_PER_REQUEST');
    const ttl = await ddb.send(new DescribeTimeToLiveCommand({ TableName: table }));
    assert.equal(ttl.TimeToLiveDescription.TimeToLiveStatus, 'ENABLED');
    assert.equal(ttl.TimeToLiveDescription.AttributeName, 'ttl');
  }
});

test('connection META item', { skip: SKIP }, async () => {
  const item = await get(seeded.connectionsTable, `CONN#${seeded.connectionId}`, 'META');
  assertShape(
    item,
    { pk: 'S', sk: 'S', connectionId: 'S', userId: 'S', name: 'S', connectedAt: 'N', endpoint: 'S', ttl: 'N' },
    'META',
  );
  assert.equal(item.userId.S, 'alice');
  assert.equal(item.name.S, 'Alice 🦊', 'UTF-8 text survives');
  assert.equal(item.endpoint.S, 'https://gw-a.example/local');
  assert.equal(item.connectedAt.N, '1700000000000', 'connectedAt is epoch milliseconds');
  assert.equal(item.ttl.N, String(1_700_000_000 + 2 * 3600), 'ttl is epoch seconds');
});

test('subscription items from both sides; one Query on the room is the fan-out list', { skip: SKIP }, async () => {
  const rooms = await query(seeded.connectionsTable, `CONN#${seeded.connectionId}`, 'ROOM#');
  assert.equal(rooms.length, 1);
  assertShape(rooms[0], { pk: 'S', sk: 'S', room: 'S', ttl: 'N' }, 'CONN#/ROOM#');
  assert.equal(rooms[0].sk.S, `ROOM#${seeded.room}`);

  const fanout = await query(seeded.connectionsTable, `ROOM#${seeded.room}`);
  assert.equal(fanout.length, 1);
  assertShape(
    fanout[0],
    { pk: 'S', sk: 'S', room: 'S', connectionId: 'S', userId: 'S', name: 'S', endpoint: 'S', ttl: 'N' },
    'ROOM#/CONN#',
  );
  assert.equal(fanout[0].sk.S, `CONN#${seeded.connectionId}`);
  assert.equal(fanout[0].endpoint.S, 'https://gw-a.example/local');
  assert.equal(fanout[0].ttl.N, String(1_700_000_000 + 2 * 3600));
});

test('room head, membership and the room index', { skip: SKIP }, async () => {
  const head = await get(seeded.messagesTable, `ROOM#${seeded.room}`, 'HEAD');
  assertShape(head, { pk: 'S', sk: 'S', room: 'S', lastSeq: 'N', createdBy: 'S', createdAt: 'N' }, 'HEAD');
  assert.equal(Number(head.lastSeq.N), seeded.lastSeq);
  assert.equal(head.createdBy.S, 'alice');

  const member = await get(seeded.messagesTable, `ROOM#${seeded.room}`, 'MEMBER#alice');
  assertShape(member, { pk: 'S', sk: 'S', room: 'S', userId: 'S', joinedAt: 'N', lastReadSeq: 'N' }, 'MEMBER');
  assert.equal(member.lastReadSeq.N, '1');

  const index = await query(seeded.messagesTable, 'ROOMS');
  assert.deepEqual(index.map((i) => i.sk.S), [`ROOM#${seeded.room}`]);
  assertShape(index[0], { pk: 'S', sk: 'S', room: 'S', createdAt: 'N' }, 'ROOMS');
});

test('messages: zero-padded seq in the sort key, ordered by Query', { skip: SKIP }, async () => {
  const messages = await query(seeded.messagesTable, `ROOM#${seeded.room}`, 'MSG#');
  assert.equal(messages.length, 2);
  messages.forEach((m, i) => {
    const seq = i + 1;
    assertShape(
      m,
      { pk: 'S', sk: 'S', room: 'S', seq: 'N', id: 'S', userId: 'S', name: 'S', text: 'S', ts: 'N', clientMsgId: 'S' },
      `MSG ${seq}`,
    );
    assert.equal(m.sk.S, `MSG#${String(seq).padStart(20, '0')}`);
    assert.equal(m.seq.N, String(seq));
    assert.equal(m.text.S, `hello ${seq} ✓`);
    assert.equal(m.clientMsgId.S, `cm-${seq}`);
    assert.equal(m.ts.N, String(1_700_000_000_000 + seq));
  });
});

test('dedupe items: one per (user, clientMsgId), ttl in epoch seconds', { skip: SKIP }, async () => {
  for (const seq of [1, 2]) {
    const item = await get(seeded.messagesTable, `DEDUP#alice#cm-${seq}`, 'DEDUP');
    assertShape(item, { pk: 'S', sk: 'S', userId: 'S', clientMsgId: 'S', room: 'S', seq: 'N', ttl: 'N' }, 'DEDUP');
    assert.equal(item.room.S, seeded.room);
    assert.equal(item.seq.N, String(seq));
    assert.equal(item.ttl.N, String(1_700_000_000 + 24 * 3600));
  }
});

test('the store reported consumed capacity', { skip: SKIP }, async () => {
  assert.ok(seeded.readUnits > 0, 'read units');
  assert.ok(seeded.writeUnits > 0, 'write units');
});
