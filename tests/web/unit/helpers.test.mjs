// Unit tests of the UI's pure helpers: links, grouping, config, session tokens.

import test from 'node:test';
import assert from 'node:assert/strict';

import { continuesGroup, initials, linkify, safeHref, typingText } from '../../../web/js/format.js';
import { clientOptions, tokenEndpoint, websocketBase, websocketUrl } from '../../../web/js/config.js';
import { Session } from '../../../web/js/session.js';

test('linkify: only http(s) URLs become links; everything else stays text', () => {
  assert.deepEqual(linkify('see https://example.com/a?b=1. ok'), [
    { text: 'see ' },
    { text: 'https://example.com/a?b=1', href: 'https://example.com/a?b=1' },
    { text: '. ok' },
  ]);
  assert.deepEqual(linkify('(http://x.org/wiki/Foo_(bar))'), [
    { text: '(' },
    { text: 'http://x.org/wiki/Foo_(bar)', href: 'http://x.org/wiki/Foo_(bar)' },
    { text: ')' },
  ]);
  assert.deepEqual(linkify('www.example.org'), [{ text: 'www.example.org', href: 'https://www.example.org/' }]);
  for (const text of ['javascript:alert(1)', 'data:text/html,<script>alert(1)</script>', 'vbscript:x',
    '<a href="javascript:alert(1)">x</a>', 'JaVaScRiPt:alert(1)', 'file:///etc/passwd']) {
    assert.ok(linkify(text).every((s) => !s.href), text);
    assert.equal(linkify(text).map((s) => s.text).join(''), text, 'text is kept whole');
  }
  // Quotes and angle brackets end a URL, so markup never rides along in an href.
  const segs = linkify('https://a.com/"><img src=x onerror=alert(1)>');
  assert.equal(segs[0].href, 'https://a.com/');
  assert.equal(segs.map((s) => s.text).join(''), 'https://a.com/"><img src=x onerror=alert(1)>');
  assert.equal(safeHref('https://'), null);
  assert.equal(safeHref('ftp://x.org'), null);
});

test('grouping, initials and typing text', () => {
  const t = Date.UTC(2026, 0, 1, 12, 0, 0);
  assert.ok(continuesGroup({ authorId: 'a', ts: t }, { authorId: 'a', ts: t + 60_000 }));
  assert.ok(!continuesGroup({ authorId: 'a', ts: t }, { authorId: 'b', ts: t + 1 }));
  assert.ok(!continuesGroup({ authorId: 'a', ts: t }, { authorId: 'a', ts: t + 6 * 60_000 }));
  assert.ok(!continuesGroup(null, { authorId: 'a', ts: t }));
  assert.equal(initials('alice'), 'A');
  assert.equal(initials('Bob Smith'), 'BS');
  assert.equal(initials('  '), '?');
  assert.equal(typingText([]), '');
  assert.equal(typingText(['alice']), 'alice is typing…');
  assert.equal(typingText(['alice', 'bob']), 'alice and bob are typing…');
  assert.equal(typingText(['a', 'b', 'c', 'd', 'e']), 'a, b and 3 others are typing…');
});

test('config: null websocketUrl means the page host, path /{stage}, ws or wss following the page', () => {
  const http = new URL('http://127.0.0.1:8080/index.html');
  const https = new URL('https://chat.example.com/');
  assert.equal(websocketBase({ websocketUrl: null, stage: 'local' }, http), 'ws://127.0.0.1:8080/local');
  assert.equal(websocketBase({ stage: 'prod' }, https), 'wss://chat.example.com/prod');
  assert.equal(websocketBase({ websocketUrl: 'wss://abc.execute-api.eu-west-1.amazonaws.com/prod' }, https),
    'wss://abc.execute-api.eu-west-1.amazonaws.com/prod');
  assert.equal(websocketUrl('ws://h:1/local', 'a.b+c/='), 'ws://h:1/local?token=a.b%2Bc%2F%3D');
  assert.equal(tokenEndpoint({ tokenEndpoint: '/auth/dev-token' }, http), 'http://127.0.0.1:8080/auth/dev-token');
  assert.deepEqual(clientOptions({ pingIntervalMs: 300000 }, '?ping=1500&ackTimeout=abc&backoffMax=-1'), {
    pingIntervalMs: 1500,
  });
  assert.deepEqual(clientOptions({ defaultRoom: 'lobby' }, ''), { defaultRoom: 'lobby' });
});

function memoryStorage() {
  const m = new Map();
  return { getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, String(v)), removeItem: (k) => m.delete(k) };
}

test('session: survives a reload (storage), reuses a valid token, fetches a fresh one when asked or expiring', async () => {
  const storage = memoryStorage();
  let now = 1_000_000_000_000;
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, body: JSON.parse(init.body) });
    const n = calls.length;
    return { ok: true, status: 200, json: async () => ({ token: `tok${n}`, userId: 'u1', name: 'alice', expiresAt: now / 1000 + 3600 }) };
  };
  const s1 = new Session({ storage, fetch, endpoint: 'http://h/auth/dev-token', now: () => now });
  await s1.signIn('alice');
  const s2 = new Session({ storage, fetch, endpoint: 'http://h/auth/dev-token', now: () => now });
  assert.equal(s2.current.name, 'alice');
  assert.equal(await s2.token(), 'tok1');
  assert.equal(await s2.token({ fresh: true }), 'tok2');
  now += 3600 * 1000; // expired
  assert.equal(await s2.token(), 'tok3');
  assert.deepEqual(calls.map((c) => c.body.name), ['alice', 'alice', 'alice']);
  s2.signOut();
  assert.equal(new Session({ storage, fetch, endpoint: 'x', now: () => now }).current, null);
});

test('session: a refused sign-in surfaces the server\'s message', async () => {
  const fetch = async () => ({ ok: false, status: 400, json: async () => ({ error: 'invalid_request', message: 'name must be 1-32 characters' }) });
  const s = new Session({ storage: memoryStorage(), fetch, endpoint: 'x' });
  await assert.rejects(s.signIn('x'.repeat(40)), /name must be 1-32 characters/);
  assert.equal(s.signedIn, false);
});

test('web/ has no HTML-injection sinks, no eval, and no inline script, style or handlers', async () => {
  const { readdir, readFile } = await import('node:fs/promises');
  const path = await import('node:path');
  const root = new URL('../../../web/', import.meta.url).pathname;
  const files = [];
  const walk = async (dir) => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else files.push(p);
    }
  };
  await walk(root);
  const sinks = /\.(innerHTML|outerHTML)\s*[+]?=|insertAdjacentHTML\s*\(|document\.write(ln)?\s*\(|\beval\s*\(|new\s+Function\s*\(|setAttribute\(\s*['"](on\w+|style|href|src)['"]/;
  const js = files.filter((f) => f.endsWith('.js'));
  assert.ok(js.length >= 7, `found ${js.length} modules`);
  for (const f of js) {
    const text = await readFile(f, 'utf8');
    text.split('\n').forEach((line, i) => assert.doesNotMatch(line, sinks, `${path.relative(root, f)}:${i + 1}`));
  }
  for (const f of files.filter((x) => x.endsWith('.html'))) {
    const html = await readFile(f, 'utf8');
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, `${f}: inline script`);
    assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=|javascript:/i, `${f}: inline style, handler or javascript: URL`);
  }
});
