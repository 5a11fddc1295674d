// scripts/deploy, offline: syntax and shellcheck, then whole runs against fake `aws` and
// `sam` commands that record every call and answer like the real ones. This checks the
// order and the arguments (package, deploy, outputs, config.json, uploads with content
// types and cache headers, invalidation, teardown); it cannot check AWS itself.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from './lib/template.mjs';

const script = path.join(repoRoot, 'scripts/deploy');

const outputs = {
  WebSocketUrl: 'wss://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod',
  StageName: 'prod',
  SiteUrl: 'https://d111111abcdef8.cloudfront.net',
  UserPoolId: 'eu-west-1_AbCdEfGhI',
  UserPoolClientId: '1example23456789abcdefghij',
  CognitoDomain: 'https://stratus-0123456789ab.auth.eu-west-1.amazoncognito.com',
  SiteBucketName: 'stratus-sitebucket-1a2b3c4d5e6f',
  DistributionId: 'E1ABCDEFGHIJKL',
  ConnectionsTableName: 'stratus-ConnectionsTable-AAA',
  MessagesTableName: 'stratus-MessagesTable-BBB',
};

// Records each call as one line of \x1f-separated arguments; answers by subcommand.
const fakeAws = `#!/usr/bin/env bash
set -euo pipefail
(IFS=$'\\x1f'; printf 'aws\\x1f%s\\n' "$*") >>"$FAKE_LOG"
args=("$@")
while [[ "\${args[0]:-}" == --region || "\${args[0]:-}" == --profile ]]; do args=("\${args[@]:2}"); done
arg_after() { local i; for ((i = 0; i < \${#args[@]}; i++)); do [[ "\${args[i]}" == "$1" ]] && { printf '%s' "\${args[i+1]}"; return; }; done; }
case "\${args[0]} \${args[1]:-}" in
"--version ") echo "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.debian.12" ;;
"sts get-caller-identity") echo 111122223333 ;;
"s3api head-bucket") exit 254 ;;
"s3api create-bucket" | "s3api put-public-access-block" | "s3api put-bucket-encryption") ;;
"cloudformation package")
    template="$(arg_after --template-file)"
    [[ -f "$(dirname "$template")/.build/stratus-lambda.zip" ]] || { echo "no zip beside the template" >&2; exit 98; }
    cp "$template" "$(arg_after --output-template-file)" ;;
"cloudformation deploy") ;;
"cloudformation describe-stacks") printf '%s' "$FAKE_OUTPUTS" ;;
"s3 sync") [[ -d "$FAKE_SITE" ]] || cp -R "\${args[2]}" "$FAKE_SITE" ;;
"cloudfront create-invalidation") echo I2J3K4L5M6N7O8 ;;
"s3 rm" | "cloudformation delete-stack" | "cloudformation wait" | "dynamodb delete-table") ;;
*) echo "fake aws: unexpected call: $*" >&2; exit 99 ;;
esac
`;

const fakeSam = `#!/usr/bin/env bash
set -euo pipefail
(IFS=$'\\x1f'; printf 'sam\\x1f%s\\n' "$*") >>"$FAKE_LOG"
case "\${1:-}" in
--version) echo "SAM CLI, version 1.120.0" ;;
deploy)
    shift
    while [[ $# -gt 0 ]]; do
        if [[ "$1" == --template-file ]]; then
            [[ -f "$(dirname "$2")/.build/stratus-lambda.zip" ]] || { echo "no zip beside the template" >&2; exit 98; }
        fi
        shift
    done ;;
*) echo "fake sam: unexpected call: $*" >&2; exit 99 ;;
esac
`;

// A zip (stored, no compression) holding the given files, so no zip tool is needed.
function crc32(buffer) {
  let crc = 0xffffffff;
  for (const byte of buffer) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) {
      crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
    }
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function makeZip(files) {
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const [name, text] of Object.entries(files)) {
    const data = Buffer.from(text);
    const fileName = Buffer.from(name);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(fileName.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(fileName.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, fileName, data);
    centrals.push(central, fileName);
    offset += local.length + fileName.length + data.length;
  }
  const centralSize = centrals.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(files).length, 8);
  end.writeUInt16LE(Object.keys(files).length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, ...centrals, end]);
}

let work;
let bin;
let zipPath;

before(() => {
  work = mkdtempSync(path.join(tmpdir(), 'stratus-deploy-test-'));
  bin = path.join(work, 'bin');
  spawnSync('mkdir', ['-p', bin, path.join(work, 'sam-bin')]);
  writeFileSync(path.join(bin, 'aws'), fakeAws);
  chmodSync(path.join(bin, 'aws'), 0o755);
  writeFileSync(path.join(work, 'sam-bin', 'sam'), fakeSam);
  chmodSync(path.join(work, 'sam-bin', 'sam'), 0o755);
  zipPath = path.join(work, 'stratus-lambda-arm64.zip');
  writeFileSync(zipPath, makeZip({ bootstrap: '#!/bin/sh\n' }));
});

after(() => rmSync(work, { recursive: true, force: true }));

let runCount = 0;
function run(args, { withSam = false, input } = {}) {
  const dir = path.join(work, `run-${++runCount}`);
  spawnSync('mkdir', ['-p', dir]);
  const log = path.join(dir, 'calls');
  const site = path.join(dir, 'site');
  writeFileSync(log, '');
  const paths = [bin, ...(withSam ? [path.join(work, 'sam-bin')] : []), '/usr/local/bin', '/usr/bin', '/bin'];
  const result = spawnSync('bash', [script, ...args], {
    encoding: 'utf8',
    input: input ?? '',
    timeout: 60_000,
    env: {
      PATH: paths.join(':'),
      HOME: dir,
      TMPDIR: dir,
      FAKE_LOG: log,
      FAKE_SITE: site,
      FAKE_OUTPUTS: Object.entries(outputs).map(([k, v]) => `${k}\t${v}\n`).join(''),
    },
  });
  const calls = readFileSync(log, 'utf8').split('\n').filter(Boolean).map((line) => line.split('\x1f'));
  return { ...result, calls, site, dir };
}

/** The calls of one tool whose arguments (after global options) start with `words`. */
const callsOf = (calls, tool, ...words) =>
  calls.filter(([t, ...rest]) => {
    if (t !== tool) return false;
    while (rest[0] === '--region' || rest[0] === '--profile') rest = rest.slice(2);
    return words.every((w, i) => rest[i] === w);
  });
const valueAfter = (call, flag) => call[call.indexOf(flag) + 1];
/** "service command" of each call, in order (global options skipped). */
const verbs = (calls) =>
  calls.map(([tool, ...rest]) => {
    while (rest[0] === '--region' || rest[0] === '--profile') rest = rest.slice(2);
    return tool === 'aws' ? rest.slice(0, 2).join(' ') : `${tool} ${rest[0]}`;
  });

describe('scripts/deploy', () => {
  test('is executable bash that passes bash -n', () => {
    const check = spawnSync('bash', ['-n', script], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    assert.match(readFileSync(script, 'utf8'), /^#!\/usr\/bin\/env bash\n/);
    assert.match(readFileSync(script, 'utf8'), /\nset -euo pipefail\n/);
    assert.ok(spawnSync('test', ['-x', script]).status === 0, 'scripts/deploy is executable');
  });

  const shellcheck = spawnSync('shellcheck', ['--version'], { encoding: 'utf8' });
  test('passes shellcheck', { skip: shellcheck.error && 'shellcheck is not installed (apt-get install shellcheck)' }, () => {
    const check = spawnSync('shellcheck', [script], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout);
  });

  test('--help, and bad arguments fail before touching AWS', () => {
    const help = run(['--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /--teardown/);
    const unknown = run(['--bogus']);
    assert.equal(unknown.status, 2);
    const arch = run(['--arch', 'mips', '--region', 'eu-west-1']);
    assert.equal(arch.status, 1);
    assert.match(arch.stderr, /arm64 or x86_64/);
    for (const r of [help, unknown, arch]) {
      assert.deepEqual(r.calls, []);
    }
  });

  test('deploy with the AWS CLI: package, deploy, config.json, typed uploads, invalidation', () => {
    const r = run(['--region', 'eu-west-1', '--stack-name', 'stratus', '--zip', zipPath, '--domain-prefix', 'my-chat']);
    assert.equal(r.status, 0, r.stderr);
    for (const call of r.calls.filter(([tool]) => tool === 'aws').slice(1)) {
      assert.equal(valueAfter(call, '--region'), 'eu-west-1', call.join(' '));
    }

    const bucket = 'stratus-artifacts-111122223333-eu-west-1';
    const [create] = callsOf(r.calls, 'aws', 's3api', 'create-bucket');
    assert.equal(valueAfter(create, '--bucket'), bucket);
    assert.equal(valueAfter(create, '--create-bucket-configuration'), 'LocationConstraint=eu-west-1');
    assert.equal(callsOf(r.calls, 'aws', 's3api', 'put-public-access-block').length, 1);

    const [pkg] = callsOf(r.calls, 'aws', 'cloudformation', 'package');
    assert.equal(valueAfter(pkg, '--s3-bucket'), bucket);
    const [deploy] = callsOf(r.calls, 'aws', 'cloudformation', 'deploy');
    assert.equal(valueAfter(deploy, '--stack-name'), 'stratus');
    assert.equal(valueAfter(deploy, '--template-file'), valueAfter(pkg, '--output-template-file'));
    assert.ok(deploy.includes('CAPABILITY_IAM') && deploy.includes('CAPABILITY_AUTO_EXPAND'));
    assert.ok(deploy.includes('--no-fail-on-empty-changeset'));
    const overrides = deploy.slice(deploy.indexOf('--parameter-overrides') + 1);
    assert.deepEqual(overrides, ['Architecture=arm64', 'StageName=prod', 'CognitoDomainPrefix=my-chat']);

    const config = JSON.parse(readFileSync(path.join(r.site, 'config.json'), 'utf8'));
    assert.deepEqual(config, {
      websocketUrl: outputs.WebSocketUrl,
      stage: 'prod',
      tokenEndpoint: null,
      auth: {
        type: 'cognito',
        domain: outputs.CognitoDomain,
        clientId: outputs.UserPoolClientId,
        region: 'eu-west-1',
        redirectUri: outputs.SiteUrl,
        scopes: ['openid', 'email', 'profile'],
      },
      pingIntervalMs: 300000,
      defaultRoom: 'general',
    });
    // The rest of the site is web/ as it is.
    const webFiles = readdirSync(path.join(repoRoot, 'web'), { recursive: true });
    for (const f of webFiles) {
      assert.ok(existsSync(path.join(r.site, f)), `uploaded ${f}`);
    }

    const syncs = callsOf(r.calls, 'aws', 's3', 'sync');
    assert.ok(syncs.length >= 3);
    for (const s of syncs) {
      assert.equal(s[s.indexOf('sync') + 2], `s3://${outputs.SiteBucketName}/`);
      assert.ok(s.includes('--delete'), 'stale files are removed');
    }
    const syncFor = (pattern) => {
      const found = syncs.filter((s) => s.some((a, i) => a === pattern && s[i - 1] === '--include'));
      assert.equal(found.length, 1, `one sync includes ${pattern}`);
      return found[0];
    };
    assert.equal(valueAfter(syncFor('index.html'), '--cache-control'), 'no-cache');
    assert.match(valueAfter(syncFor('index.html'), '--content-type'), /^text\/html/);
    assert.equal(valueAfter(syncFor('config.json'), '--cache-control'), 'no-cache');
    assert.match(valueAfter(syncFor('config.json'), '--content-type'), /^application\/json/);
    assert.match(valueAfter(syncFor('*.js'), '--content-type'), /^text\/javascript/);
    assert.match(valueAfter(syncFor('*.css'), '--content-type'), /^text\/css/);
    assert.equal(valueAfter(syncFor('*.svg'), '--content-type'), 'image/svg+xml');
    assert.ok(syncFor('*.html').includes('index.html'), 'the long-cache HTML sync excludes index.html');

    const [invalidation] = callsOf(r.calls, 'aws', 'cloudfront', 'create-invalidation');
    assert.equal(valueAfter(invalidation, '--distribution-id'), outputs.DistributionId);
    assert.equal(valueAfter(invalidation, '--paths'), '/*');
    const order = verbs(r.calls);
    assert.ok(order.indexOf('cloudformation deploy') < order.indexOf('cloudformation describe-stacks'));
    assert.ok(order.lastIndexOf('s3 sync') < order.indexOf('cloudfront create-invalidation'));
    assert.match(r.stdout, new RegExp(outputs.SiteUrl.replace(/[.]/g, '\\.')));
    assert.match(r.stdout, /wss:\/\/a1b2c3d4e5/);
  });

  test('the generated config.json is what web/js/config.js accepts', async (t) => {
    const web = await import(pathToFileURL(path.join(repoRoot, 'web/js/config.js')).href);
    if (typeof web.authConfig !== 'function') {
      t.skip('web/js/config.js has no authConfig()');
      return;
    }
    const r = run(['--region', 'eu-west-1', '--zip', zipPath]);
    assert.equal(r.status, 0, r.stderr);
    const config = JSON.parse(readFileSync(path.join(r.site, 'config.json'), 'utf8'));
    const auth = web.authConfig(config, { href: `${outputs.SiteUrl}/` });
    assert.equal(auth.type, 'cognito');
    assert.equal(auth.domain, outputs.CognitoDomain);
    assert.equal(auth.clientId, outputs.UserPoolClientId);
    assert.equal(auth.redirectUri, outputs.SiteUrl);
    assert.ok(auth.scopes.includes('openid'));
  });

  test('deploy with SAM when it is installed; x86_64 and admin password auth on request', () => {
    const r = run(['--region', 'us-east-1', '--zip', zipPath, '--arch', 'x86_64', '--allow-admin-password-auth'], { withSam: true });
    assert.equal(r.status, 0, r.stderr);
    const [deploy] = callsOf(r.calls, 'sam', 'deploy');
    assert.ok(deploy, 'sam deploy ran');
    assert.ok(deploy.includes('--resolve-s3'));
    assert.equal(valueAfter(deploy, '--region'), 'us-east-1');
    assert.ok(deploy.includes('CAPABILITY_AUTO_EXPAND'));
    const overrides = deploy.slice(deploy.indexOf('--parameter-overrides') + 1);
    assert.deepEqual(overrides, ['Architecture=x86_64', 'StageName=prod', 'AllowAdminPasswordAuth=true']);
    assert.deepEqual(callsOf(r.calls, 'aws', 'cloudformation', 'package'), []);
    assert.deepEqual(callsOf(r.calls, 'aws', 's3api', 'create-bucket'), []);
    assert.equal(callsOf(r.calls, 'aws', 'cloudfront', 'create-invalidation').length, 1);
  });

  test('a zip without bootstrap at its root is refused before deploying', () => {
    const bad = path.join(work, 'bad.zip');
    writeFileSync(bad, makeZip({ 'build/bootstrap': 'x' }));
    const r = run(['--region', 'us-east-1', '--zip', bad]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no bootstrap at its root/);
    assert.deepEqual(callsOf(r.calls, 'aws', 'cloudformation', 'deploy'), []);
  });

  test('teardown: refuses without a terminal or --yes', () => {
    const r = run(['--teardown', '--region', 'us-east-1']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--yes/);
    assert.deepEqual(callsOf(r.calls, 'aws', 'cloudformation', 'delete-stack'), []);
    assert.deepEqual(callsOf(r.calls, 'aws', 's3', 'rm'), []);
  });

  test('teardown --yes --delete-data: empty the bucket, delete the stack, then the kept table', () => {
    const r = run(['--teardown', '--yes', '--delete-data', '--region', 'us-east-1', '--stack-name', 'stratus']);
    assert.equal(r.status, 0, r.stderr);
    const order = verbs(r.calls);
    const rm = order.indexOf('s3 rm');
    const del = order.indexOf('cloudformation delete-stack');
    const wait = order.indexOf('cloudformation wait');
    const table = order.indexOf('dynamodb delete-table');
    assert.ok(rm >= 0 && rm < del && del < wait && wait < table, order.join(', '));
    const [rmCall] = callsOf(r.calls, 'aws', 's3', 'rm');
    assert.equal(rmCall[rmCall.indexOf('rm') + 1], `s3://${outputs.SiteBucketName}`);
    assert.equal(valueAfter(callsOf(r.calls, 'aws', 'dynamodb', 'delete-table')[0], '--table-name'), outputs.MessagesTableName);
  });
});
