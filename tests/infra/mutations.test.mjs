// The proofs must fail when the template is broken: each case edits a copy of
// infra/template.yaml the way a careless change would, runs one proof file against it
// (STRATUS_INFRA_TEMPLATE) and expects that run to fail with a telling message.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const original = readFileSync(path.join(here, '../../infra/template.yaml'), 'utf8');
const work = mkdtempSync(path.join(tmpdir(), 'stratus-infra-mutations-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** Replaces the one occurrence of `from` after `anchor` (the anchor must exist once). */
function edit(text, anchor, from, to) {
  const at = text.indexOf(anchor);
  assert.ok(at >= 0 && text.indexOf(anchor, at + 1) < 0, `anchor "${anchor}" occurs once`);
  const where = text.indexOf(from, at);
  assert.ok(where >= 0, `"${from}" after "${anchor}"`);
  return text.slice(0, where) + to + text.slice(where + from.length);
}

const mutations = [
  {
    name: 'dynamodb:Scan added to sendMessage',
    proof: 'iam.test.mjs',
    expect: /dynamodb:Scan on arn:aws:dynamodb:[^ ]+: Allowed, expected denied/,
    apply: (t) => edit(t, '  SendMessageRole:', '                  - dynamodb:GetItem\n', '                  - dynamodb:GetItem\n                  - dynamodb:Scan\n'),
  },
  {
    name: 'a wildcard action',
    proof: 'iam.test.mjs',
    expect: /action dynamodb:\*/,
    apply: (t) => edit(t, '  PingRole:', '                  - dynamodb:GetItem\n', '                  - dynamodb:*\n'),
  },
  {
    name: '@connections for every stage',
    proof: 'iam.test.mjs',
    expect: /execute-api:ManageConnections on [^ ]+\/dev\/POST\/@connections\/[^ ]+: Allowed, expected denied/,
    apply: (t) => edit(t, '  TypingRole:', '${StageName}/POST/@connections/*', '*/POST/@connections/*'),
  },
  {
    name: 'DELETE and GET @connections',
    proof: 'iam.test.mjs',
    expect: /\/DELETE\/@connections\/[^ ]+: Allowed, expected denied/,
    apply: (t) => edit(t, '  DisconnectRole:', '/POST/@connections/*', '/*/@connections/*'),
  },
  {
    name: 'another route\'s table access',
    proof: 'iam.test.mjs',
    expect: /dynamodb:PutItem on arn:aws:dynamodb:[^ ]+MessagesTable[^ ]*: Allowed, expected denied/,
    apply: (t) => edit(t, '  GetHistoryRole:', '                  - dynamodb:Query\n', '                  - dynamodb:Query\n                  - dynamodb:PutItem\n'),
  },
  {
    name: 'a role writing to every log group',
    proof: 'iam.test.mjs',
    expect: /wildcard in arn:aws:logs/,
    apply: (t) => edit(t, '  MarkReadRole:', 'Resource: !GetAtt MarkReadLogs.Arn', "Resource: !Sub 'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*'"),
  },
  {
    name: 'Resource "*"',
    proof: 'iam.test.mjs',
    expect: /Resource \*/,
    apply: (t) => edit(t, '  ListRoomsRole:', 'Resource: !GetAtt MessagesTable.Arn', "Resource: '*'"),
  },
  {
    name: 'a public bucket',
    proof: 'posture.test.mjs',
    expect: /RestrictPublicBuckets/,
    apply: (t) => edit(t, '  SiteBucket:', 'RestrictPublicBuckets: true', 'RestrictPublicBuckets: false'),
  },
  {
    name: 'plain HTTP to CloudFront',
    proof: 'posture.test.mjs',
    expect: /ViewerProtocolPolicy allow-all/,
    apply: (t) => edit(t, '  SiteDistribution:', 'ViewerProtocolPolicy: redirect-to-https', 'ViewerProtocolPolicy: allow-all'),
  },
  {
    name: 'a route without its invoke permission',
    proof: 'posture.test.mjs',
    expect: /one invoke permission/,
    apply: (t) => edit(t, '  PingPermission:', 'FunctionName: !Ref PingFunction', 'FunctionName: !Ref PongFunction'),
  },
  {
    name: 'history without point-in-time recovery',
    proof: 'posture.test.mjs',
    expect: /point-in-time recovery/,
    apply: (t) => edit(t, '  MessagesTable:', 'PointInTimeRecoveryEnabled: true', 'PointInTimeRecoveryEnabled: false'),
  },
  {
    name: 'a CSP that allows inline script',
    proof: 'posture.test.mjs',
    expect: /unsafe-inline/,
    apply: (t) => edit(t, '  SiteHeadersPolicy:', "script-src 'self';", "script-src 'self' 'unsafe-inline';"),
  },
];

function runProof(file, templatePath) {
  return new Promise((resolve) => {
    // Without NODE_TEST_CONTEXT, which would make the child report to this runner.
    const { NODE_TEST_CONTEXT, ...env } = process.env;
    const child = spawn(process.execPath, ['--test', path.join(here, file)], {
      env: { ...env, STRATUS_INFRA_TEMPLATE: templatePath },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('close', (code) => resolve({ code, output }));
  });
}

test('the unmodified template passes the proofs this file relies on', async () => {
  const file = path.join(work, 'unmodified.yaml');
  writeFileSync(file, original);
  for (const proof of ['iam.test.mjs', 'posture.test.mjs']) {
    const { code, output } = await runProof(proof, file);
    assert.equal(code, 0, output.slice(-2000));
  }
});

for (const [i, m] of mutations.entries()) {
  test(`caught: ${m.name}`, async () => {
    const file = path.join(work, `mutation-${i}.yaml`);
    const mutated = m.apply(original);
    assert.notEqual(mutated, original);
    writeFileSync(file, mutated);
    const { code, output } = await runProof(m.proof, file);
    assert.notEqual(code, 0, `${m.proof} passed on a template with ${m.name}`);
    assert.match(output, m.expect, output.slice(-3000));
  });
}
