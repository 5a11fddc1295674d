// Cross-check of our C++ SigV4 signer (tests/adapters/aws/sigv4_sign_tool) against a real,
// independent peer: @smithy/signature-v4, the signer inside the AWS SDK for JavaScript v3.
// ~50 varied requests (methods, odd paths, repeated/empty query parameters, header case and
// whitespace variants, JSON bodies, with and without a session token, dynamodb and
// execute-api) must give the same Authorization header, X-Amz-Date and security token.
// Runs without ../shared; skips with a message if the tool has not been built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { targetMode } from './lib/stack.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const TOOL = path.resolve(ROOT, process.env.STRATUS_SIGV4_TOOL ?? 'build/release/tests/sigv4_sign_tool');
const SKIP = targetMode()
  ? 'target mode: an offline cross-check of two SigV4 signers (not the deployed stage)'
  : existsSync(TOOL)
  ? false
  : `sigv4_sign_tool not found at ${TOOL} (build it with "cmake --build build/release --target sigv4_sign_tool" `
    + 'or set STRATUS_SIGV4_TOOL)';

const AKID = 'AKIDEXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';

// ---------------------------------------------------------------------------
// Our signer, through the tool.
// ---------------------------------------------------------------------------

function signWithTool(request) {
  const run = spawnSync(TOOL, [], { input: JSON.stringify(request), encoding: 'utf8', timeout: 10_000 });
  assert.equal(run.status, 0, `sigv4_sign_tool failed: ${run.stderr}`);
  return JSON.parse(run.stdout);
}

// ---------------------------------------------------------------------------
// smithy, fed the same request. Normalizations (each is what AWS's canonical
// form makes of the wire request, so like is compared with like):
// - smithy's headers are an object: repeated headers (and case variants of one
//   name) cannot both be present. We join them, each value trimmed, with ',' in
//   their original order: exactly the canonical rule for repeated headers.
// - smithy does not add Host (an SDK middleware does); our sign() sets it to the
//   given host, replacing a stale one. We set `host` the same way here.
// - smithy's query is an object of decoded values that it escapes again. We split
//   the raw query on '&' and the first '=', percent-decode (RFC 3986: '+' stays
//   '+'), and keep repeats as arrays; a key without '=' has the value ''.
// - smithy's path is the wire path; with uriEscapePath: true (its default, as in
//   botocore for non-S3) it removes dot segments and empty segments and escapes
//   the path again ('%3D' -> '%253D'), which is what our signer does for non-S3.
// - applyChecksum: false, or smithy would add and sign x-amz-content-sha256.
// - No `Date` header in the cases: smithy drops it before signing (as botocore),
//   ours would sign it.
// ---------------------------------------------------------------------------

function percentDecode(text) {
  return decodeURIComponent(text.replace(/%(?![0-9A-Fa-f]{2})/g, '%25'));
}

function smithyRequest(request) {
  const headers = {};
  const order = [];
  for (const [name, value] of request.headers) {
    const lower = name.toLowerCase();
    if (lower === 'host') continue;
    if (!(lower in headers)) {
      order.push(lower);
      headers[lower] = [];
    }
    headers[lower].push(value.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, ''));
  }
  const joined = Object.fromEntries(order.map((name) => [name, headers[name].join(',')]));
  joined.host = request.host;

  const question = request.target.indexOf('?');
  const rawPath = question < 0 ? request.target : request.target.slice(0, question);
  const rawQuery = question < 0 ? '' : request.target.slice(question + 1);
  const query = {};
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = percentDecode(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? '' : percentDecode(part.slice(eq + 1));
    if (key in query) {
      query[key] = [].concat(query[key], value);
    } else {
      query[key] = value;
    }
  }
  return {
    method: request.method,
    protocol: 'https:',
    hostname: request.host,
    path: rawPath,
    query,
    headers: joined,
    body: request.body === '' ? undefined : request.body,
  };
}

function signingDate(amzDate) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  return new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
}

async function signWithSmithy(request) {
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: request.accessKeyId,
      secretAccessKey: request.secretAccessKey,
      ...(request.sessionToken ? { sessionToken: request.sessionToken } : {}),
    },
    region: request.region,
    service: request.service,
    sha256: Sha256,
    applyChecksum: false,
    uriEscapePath: true,
  });
  const signed = await signer.sign(smithyRequest(request), { signingDate: signingDate(request.amzDate) });
  return signed.headers;
}

// ---------------------------------------------------------------------------
// The cases: a few fixed ones, then seeded random combinations.
// ---------------------------------------------------------------------------

function mulberry32(seed) {
  let a = seed;
  return () => {
    a = (a + 0x6D2B79F5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const base = {
  headers: [],
  body: '',
  accessKeyId: AKID,
  secretAccessKey: SECRET,
  sessionToken: '',
  region: 'us-east-1',
  amzDate: '20150830T123600Z',
};

const fixed = [
  {
    name: 'get-vanilla (official vector)',
    ...base, method: 'GET', target: '/', host: 'example.amazonaws.com', service: 'service',
    expectSignature: '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
  },
  {
    name: '@connections PostToConnection with a session token',
    ...base, method: 'POST', target: '/prod/@connections/R1kmxc2VNjMCFIA%3D',
    host: 'abc123.execute-api.eu-west-1.amazonaws.com', service: 'execute-api', region: 'eu-west-1',
    headers: [['Content-Type', 'application/json']], body: '{"type":"message","text":"héllo"}',
    sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLE//token+with/slashes==',
  },
  {
    name: '@connections DeleteConnection behind a custom domain base path',
    ...base, method: 'DELETE', target: '/chat/v1/@connections/eHrdFcnvvHcCE-w%3D',
    host: 'chat.example.com', service: 'execute-api',
  },
  {
    name: 'DynamoDB PutItem',
    ...base, method: 'POST', target: '/', host: 'dynamodb.us-east-1.amazonaws.com', service: 'dynamodb',
    headers: [
      ['Content-Type', 'application/x-amz-json-1.0'],
      ['X-Amz-Target', 'DynamoDB_20120810.PutItem'],
      ['User-Agent', 'stratus/0.1'],
    ],
    body: '{"TableName":"Connections","Item":{"connectionId":{"S":"abc="},"ttl":{"N":"1700000000"}}}',
  },
  {
    name: 'caller-supplied x-amz-content-sha256 is used as the payload hash',
    ...base, method: 'PUT', target: '/p', host: 'localhost:8000', service: 'dynamodb',
    headers: [['X-Amz-Content-Sha256', 'UNSIGNED-PAYLOAD']], body: 'ignored',
  },
  {
    name: 'stale Host header is replaced by the signed host',
    ...base, method: 'GET', target: '/a/./b/../c//d/', host: '127.0.0.1:18000', service: 'dynamodb',
    headers: [['Host', 'old.example'], ['X-Amz-Date', '19990101T000000Z'], ['Authorization', 'stale']],
  },
];

function generated(count, seed) {
  const rnd = mulberry32(seed);
  const pick = (list) => list[Math.floor(rnd() * list.length)];
  const some = (list, max) => Array.from({ length: Math.floor(rnd() * (max + 1)) }, () => pick(list));
  const segments = [
    'prod', 'dev', '@connections', 'abc%3D', 'R1kmxc2VNjMCFIA%3D', 'a b', 'caf\u00e9', '%E2%9C%93', 'x=y',
    '\u{1F600}', '.', '..', '', 'a+b', "it's", '(p)', '*', '~user', 'A-Z_0.9', '%2F', 'semi;colon', 'a%20b',
  ];
  const keys = ['a', 'b', 'A', 'a-b', 'Param', 'Param-3', 'empty', 'caf\u00e9', '%E1%88%B4', 'x%3Dy', 'sp ace'];
  const values = ['1', '2', '', 'v w', 'v%20w', 'a=b', '%3D', '\u00fc', 'z', '~._-', '%2B', 'Z'];
  const headerPool = [
    ['X-Custom', '  spaced   value  '], ['x-custom', 'second'], ['X-CUSTOM', '\tthird\t'],
    ['X-Tab', 'a\t\tb'], ['My-Header1', 'VALUE1'], ['Content-Type', 'application/json; charset=utf-8'],
    ['Accept', 'application/json'], ['User-Agent', 'curl/8'], ['X-Amzn-Trace-Id', 'Root=1-abc'],
    ['Content-Length', '42'], ['X-Amz-Target', 'DynamoDB_20120810.Query'], ['x-amz-meta-Case', 'MiXeD'],
  ];
  const out = [];
  for (let i = 0; i < count; i += 1) {
    const service = pick(['dynamodb', 'execute-api']);
    const pathText = `/${some(segments, 5).join('/')}${rnd() < 0.2 ? '/' : ''}${rnd() < 0.1 ? '//x' : ''}`;
    const params = some(keys, 5).map((key) => {
      const r = rnd();
      if (r < 0.15) return key; // no '='
      if (r < 0.3) return `${key}=`; // empty value
      return `${key}=${pick(values)}`;
    });
    const method = pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD']);
    const body = method === 'POST' || method === 'PUT' || method === 'PATCH'
      ? JSON.stringify({ i, text: pick(['hello', 'h\u00e9llo \u{1F44B}', '', 'a "quoted" \\ string']), n: rnd() })
      : '';
    out.push({
      name: `generated #${i} ${method} ${service}`,
      ...base,
      method,
      target: params.length > 0 ? `${pathText}?${params.join('&')}` : pathText,
      host: pick(['dynamodb.us-east-1.amazonaws.com', 'abc.execute-api.eu-west-1.amazonaws.com', 'localhost:8000']),
      service,
      region: pick(['us-east-1', 'eu-west-1', 'ap-southeast-2']),
      headers: some(headerPool, 4),
      body,
      sessionToken: rnd() < 0.5 ? `FwoGZXIvYXdzE${i}EXAMPLE/+=` : '',
      amzDate: pick(['20150830T123600Z', '20240229T235959Z', '20260101T000000Z']),
    });
  }
  return out;
}

const cases = [...fixed, ...generated(46, 20260830)];

test('the case set has the intended variety', { skip: targetMode() && SKIP }, () => {
  assert.ok(cases.length >= 50);
  assert.ok(cases.some((c) => c.sessionToken) && cases.some((c) => !c.sessionToken));
  assert.ok(cases.some((c) => c.service === 'dynamodb') && cases.some((c) => c.service === 'execute-api'));
  assert.ok(cases.some((c) => /[?&]([^=&]+)=[^&]*&(.*&)?\1=/.test(c.target)), 'a repeated query key');
});

for (const c of cases) {
  test(`sigv4 matches @smithy/signature-v4: ${c.name}`, { skip: SKIP }, async () => {
    const { name, expectSignature, ...request } = c;
    const ours = signWithTool(request);
    const theirs = await signWithSmithy(request);
    const context = `target=${JSON.stringify(request.target)}\nour canonical request:\n${ours.canonicalRequest}`;

    assert.equal(ours.authorization, theirs.authorization, context);
    const added = Object.fromEntries(ours.added.map(([k, v]) => [k.toLowerCase(), v]));
    assert.equal(added['x-amz-date'], theirs['x-amz-date']);
    assert.equal(added['x-amz-security-token'], theirs['x-amz-security-token']);
    assert.equal(added.host ?? request.headers.find(([k]) => k.toLowerCase() === 'host')?.[1], request.host);
    assert.ok(!('x-amz-content-sha256' in theirs) || request.headers.some(([k]) => /^x-amz-content-sha256$/i.test(k)),
      'smithy added x-amz-content-sha256: not comparing like with like');
    if (expectSignature) {
      assert.match(ours.authorization, new RegExp(`Signature=${expectSignature}$`));
    }
  });
}
