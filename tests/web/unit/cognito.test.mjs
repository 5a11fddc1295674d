// Unit tests of the cloud sign-in (web/js/cognito.js): PKCE against RFC 7636,
// the Hosted UI round trip (authorize URL, state check, code exchange), token
// refresh and expiry, sign-out, and config.json's auth block (config.js).

import test from 'node:test';
import assert from 'node:assert/strict';
import { createHash, webcrypto } from 'node:crypto';

import {
  AuthError, CognitoSession, FRESH_MIN_INTERVAL_MS, REFRESH_MARGIN_MS, authorizeUrl, base64url, cleanCallbackUrl,
  decodeJwtPayload, displayName, isCallback, logoutUrl, pkceChallenge, randomString,
} from '../../../web/js/cognito.js';
import { authConfig } from '../../../web/js/config.js';
import { Session, createSession } from '../../../web/js/session.js';

const DOMAIN = 'https://stratus-test.auth.eu-west-1.amazoncognito.com';
const SITE = 'https://chat.example.com/';
const AUTH = authConfig({
  auth: {
    type: 'cognito', domain: DOMAIN, clientId: '1example23456789abcdefghij', region: 'eu-west-1', redirectUri: SITE,
    scopes: ['openid', 'profile', 'email'],
  },
});
const T0 = 1_800_000_000_000; // ms

function memoryStorage() {
  const m = new Map();
  return {
    map: m,
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem: (k, v) => m.set(k, String(v)),
    removeItem: (k) => m.delete(k),
  };
}

/** A JWT-shaped token (the signature is not checked by the client). */
function jwt(claims) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'RS256', kid: 'k1' })}.${enc(claims)}.c2lnbmF0dXJl`;
}

function idToken({ sub = 'sub-alice', exp = T0 / 1000 + 3600, ...rest } = {}) {
  return jwt({ sub, exp, iat: exp - 3600, 'cognito:username': 'alice-123', token_use: 'id', aud: AUTH.clientId, ...rest });
}

/** A token endpoint that answers from a queue of responses and records each request. */
function fakeFetch(...answers) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, init, form: Object.fromEntries(new URLSearchParams(init.body)) });
    const a = answers.length > 1 ? answers.shift() : answers[0];
    if (a instanceof Error) throw a;
    const { status = 200, body } = typeof a === 'function' ? a(calls.at(-1)) : a;
    return { ok: status >= 200 && status < 300, status, json: async () => body };
  };
  return { fetch, calls };
}

function makeSession({ fetch = fakeFetch({ body: {} }).fetch, storage = memoryStorage(), pending = memoryStorage(), now = () => T0 } = {}) {
  const navigations = [];
  const session = new CognitoSession({
    auth: AUTH, storage, pendingStorage: pending, fetch, crypto: webcrypto, navigate: (u) => navigations.push(u), now,
  });
  return { session, navigations, storage, pending };
}

/** Runs signIn() and returns the state the Hosted UI would echo and the verifier kept for the exchange. */
async function startSignIn(session, navigations, pending) {
  await session.signIn();
  const url = new URL(navigations.at(-1));
  const kept = JSON.parse(pending.getItem('stratus.cognito.pending'));
  return { url, state: url.searchParams.get('state'), verifier: kept.verifier };
}

// ------------------------------------------------------------ PKCE, JWT

test('PKCE: RFC 7636 Appendix B example (verifier from its octets, S256 challenge), checked with node:crypto', async () => {
  const octets = [116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212, 37, 77, 105, 214,
    191, 240, 91, 88, 5, 88, 83, 132, 141, 121];
  const verifier = base64url(Uint8Array.from(octets));
  assert.equal(verifier, 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk');
  const expected = createHash('sha256').update(verifier, 'ascii').digest('base64url');
  assert.equal(expected, 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'); // the RFC's value
  assert.equal(await pkceChallenge(webcrypto, verifier), expected);
});

test('PKCE: random verifiers are 43 unreserved characters, unique, and their challenges match node:crypto', async () => {
  const seen = new Set();
  for (let i = 0; i < 50; i += 1) {
    const v = randomString(webcrypto, 32);
    assert.match(v, /^[A-Za-z0-9_-]{43}$/); // RFC 7636 §4.1: 43..128 of [A-Z a-z 0-9 - . _ ~]
    seen.add(v);
    assert.equal(await pkceChallenge(webcrypto, v), createHash('sha256').update(v).digest('base64url'));
  }
  assert.equal(seen.size, 50);
  assert.match(randomString(webcrypto, 16), /^[A-Za-z0-9_-]{22}$/);
});

test('JWT claims are decoded (UTF-8, base64url) without verification; display name preference', () => {
  const claims = { sub: 'u1', preferred_username: 'Zoë 🌧', name: 'Zoe Full', 'cognito:username': 'zoe', exp: 1 };
  assert.deepEqual(decodeJwtPayload(jwt(claims)), claims);
  for (const bad of [null, '', 'a.b', 'a.!!!.c', `x.${Buffer.from('[1]').toString('base64url')}.y`, 'a.b.c.d']) {
    assert.equal(decodeJwtPayload(bad), null, String(bad));
  }
  assert.equal(displayName(claims), 'Zoë 🌧');
  assert.equal(displayName({ name: 'Zoe Full', 'cognito:username': 'zoe' }), 'Zoe Full');
  // The server's rule: the first claim that is a valid name (1-32 characters, no controls, no edge spaces), else user-<sub>.
  assert.equal(displayName({ preferred_username: ' zoe', name: 'x'.repeat(33), 'cognito:username': 'zoe' }), 'zoe');
  assert.equal(displayName({ preferred_username: 'a\u0085b', username: 'zoe2' }), 'zoe2');
  assert.equal(displayName({ sub: '0a1b2c3d-4e5f-6789' }), 'user-0a1b2c3d');
});

// ------------------------------------------------------------ sign-in round trip

test('signIn: the authorize URL carries every parameter; verifier and state wait in sessionStorage only', async () => {
  const { session, navigations, storage, pending } = makeSession();
  const { url, state, verifier } = await startSignIn(session, navigations, pending);
  assert.equal(url.origin + url.pathname, `${DOMAIN}/oauth2/authorize`);
  assert.deepEqual([...url.searchParams.keys()].sort(),
    ['client_id', 'code_challenge', 'code_challenge_method', 'redirect_uri', 'response_type', 'scope', 'state']);
  assert.equal(url.searchParams.get('response_type'), 'code');
  assert.equal(url.searchParams.get('client_id'), AUTH.clientId);
  assert.equal(url.searchParams.get('redirect_uri'), SITE);
  assert.equal(url.searchParams.get('scope'), 'openid profile email');
  assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
  assert.equal(url.searchParams.get('code_challenge'), createHash('sha256').update(verifier).digest('base64url'));
  assert.match(state, /^[A-Za-z0-9_-]{22}$/);
  assert.equal(storage.map.size, 0, 'nothing in localStorage before the exchange');
  assert.equal(session.signedIn, false);
  // A second attempt uses new values.
  const again = await startSignIn(session, navigations, pending);
  assert.notEqual(again.state, state);
  assert.notEqual(again.verifier, verifier);
  assert.equal(authorizeUrl(AUTH, { state: 's', challenge: 'c' }),
    `${DOMAIN}/oauth2/authorize?response_type=code&client_id=${AUTH.clientId}&redirect_uri=https%3A%2F%2Fchat.example.com%2F` +
    '&scope=openid+profile+email&state=s&code_challenge=c&code_challenge_method=S256');
});

test('callback: the code exchange request is exact; tokens kept; the address bar is cleaned; a reload stays signed in', async () => {
  const token = idToken({ preferred_username: 'alice' });
  const { fetch, calls } = fakeFetch({ body: { id_token: token, access_token: 'acc', refresh_token: 'ref-1', expires_in: 3600, token_type: 'Bearer' } });
  const { session, navigations, storage, pending } = makeSession({ fetch });
  const { state, verifier } = await startSignIn(session, navigations, pending);
  const replaced = [];
  const done = await session.completeSignIn(`${SITE}?ping=1000&code=the-code&state=${state}`, (u) => replaced.push(u));
  assert.equal(done, true);
  assert.equal(calls.length, 1);
  assert.equal(calls[0].url, `${DOMAIN}/oauth2/token`);
  assert.equal(calls[0].init.method, 'POST');
  assert.equal(calls[0].init.headers['content-type'], 'application/x-www-form-urlencoded');
  assert.equal(calls[0].init.credentials, 'omit');
  assert.equal(calls[0].init.body,
    `grant_type=authorization_code&client_id=${AUTH.clientId}&code=the-code&redirect_uri=https%3A%2F%2Fchat.example.com%2F` +
    `&code_verifier=${verifier}`);
  assert.deepEqual(replaced, [`${SITE}?ping=1000`]);
  assert.deepEqual(session.current, { name: 'alice', token, userId: 'sub-alice', expiresAt: T0 / 1000 + 3600 });
  assert.equal(pending.getItem('stratus.cognito.pending'), null, 'the verifier is gone after the round trip');
  assert.equal(await session.token(), token);
  // A reload: a new session over the same storage.
  const reloaded = makeSession({ fetch, storage }).session;
  assert.deepEqual(reloaded.current, session.current);
  // Not a callback: nothing to do.
  assert.equal(await reloaded.completeSignIn(`${SITE}?ping=1000`), false);
  assert.equal(isCallback(`${SITE}?code=x`), true);
  assert.equal(cleanCallbackUrl(`${SITE}?error=a&error_description=b&x=1#frag`), `${SITE}?x=1#frag`);
});

test('callback: a state mismatch, a missing or reused pending request, and ?error= are refused with a message, without a token request', async () => {
  const { fetch, calls } = fakeFetch({ body: { id_token: idToken(), refresh_token: 'r', expires_in: 3600 } });
  const { session, navigations, pending } = makeSession({ fetch });
  const { state } = await startSignIn(session, navigations, pending);
  const replaced = [];
  await assert.rejects(session.completeSignIn(`${SITE}?code=c&state=${state}x`, (u) => replaced.push(u)),
    (err) => err instanceof AuthError && /state mismatch/.test(err.message) && /sign in again/i.test(err.message));
  assert.deepEqual(replaced, [SITE]);
  // The pending request was single-use: the right state now fails too (a replayed answer).
  await assert.rejects(session.completeSignIn(`${SITE}?code=c&state=${state}`), /does not belong to a sign-in started in this tab/);
  // No pending request at all.
  await assert.rejects(makeSession({ fetch }).session.completeSignIn(`${SITE}?code=c&state=s`), /Please sign in again/);
  // The Hosted UI reports an error (e.g. the user cancelled); the description is shown, control characters removed.
  await startSignIn(session, navigations, pending);
  await assert.rejects(session.completeSignIn(`${SITE}?error=access_denied&error_description=User+cancelled%0A%3Cb%3E&state=x`),
    (err) => err.message === 'Sign-in did not complete: User cancelled <b>.' && err.code === 'access_denied');
  assert.equal(pending.getItem('stratus.cognito.pending'), null);
  assert.equal(calls.length, 0);
  assert.equal(session.signedIn, false);
});

test('callback: a failed exchange (refused code, unreachable, odd answer) rejects with a message and stays signed out', async () => {
  const cases = [
    [{ status: 400, body: { error: 'invalid_grant' } }, /Sign-in could not be completed: .*HTTP 400 \(invalid_grant\)/],
    [new TypeError('Failed to fetch'), /cannot reach the sign-in service \(Failed to fetch\)/],
    [{ status: 200, body: { access_token: 'only' } }, /unexpected answer \(no id token\)/],
    [{ status: 200, body: { id_token: 'not-a-jwt', expires_in: 3600 } }, /cannot be read/],
  ];
  for (const [answer, re] of cases) {
    const { session, navigations, pending } = makeSession({ fetch: fakeFetch(answer).fetch });
    const { state } = await startSignIn(session, navigations, pending);
    await assert.rejects(session.completeSignIn(`${SITE}?code=c&state=${state}`), re);
    assert.equal(session.signedIn, false);
  }
});

// ------------------------------------------------------------ tokens

async function signedIn({ answers, now, expiresIn = 3600 }) {
  const first = { body: { id_token: idToken({ exp: now() / 1000 + expiresIn }), refresh_token: 'ref-1', expires_in: expiresIn } };
  const ff = fakeFetch(first, ...answers);
  const made = makeSession({ fetch: ff.fetch, now });
  const { state } = await startSignIn(made.session, made.navigations, made.pending);
  await made.session.completeSignIn(`${SITE}?code=c&state=${state}`);
  ff.calls.length = 0;
  return { ...made, calls: ff.calls };
}

test('token: kept while valid; refreshed (grant_type=refresh_token) inside the last minute; fresh forces it; one request for concurrent callers', async () => {
  let now = T0;
  const refreshed = (n) => ({ body: { id_token: idToken({ exp: now / 1000 + 3600, preferred_username: `alice${n}` }), expires_in: 3600 } });
  const { session, calls } = await signedIn({ now: () => now, answers: [() => refreshed(2), () => refreshed(3), () => refreshed(4)] });
  const first = session.current.token;
  assert.equal(await session.token(), first);
  now += 3600_000 - REFRESH_MARGIN_MS - 1; // just outside the margin
  assert.equal(await session.token(), first);
  assert.equal(calls.length, 0);
  now += 2; // inside the last minute: refresh before expiry
  const [a, b] = await Promise.all([session.token(), session.token()]);
  assert.equal(a, b);
  assert.notEqual(a, first);
  assert.equal(calls.length, 1, 'concurrent callers share one refresh');
  assert.equal(calls[0].url, `${DOMAIN}/oauth2/token`);
  assert.equal(calls[0].init.body, `grant_type=refresh_token&client_id=${AUTH.clientId}&refresh_token=ref-1`);
  assert.equal(session.current.name, 'alice2');
  assert.equal(session.current.expiresAt, Math.floor(now / 1000) + 3600);
  // fresh (after a refused handshake) refreshes, but not twice within a few seconds.
  assert.equal(await session.token({ fresh: true }), a);
  now += FRESH_MIN_INTERVAL_MS;
  const c = await session.token({ fresh: true });
  assert.notEqual(c, a);
  assert.equal(calls.length, 2);
  assert.equal(calls[1].form.refresh_token, 'ref-1', 'the refresh token is kept when none comes back');
  // The sooner of exp and expires_in counts, and a rotated refresh token is used next time.
  now = T0 + 7_200_000;
  const rot = await signedIn({
    now: () => now,
    answers: [
      () => ({ body: { id_token: idToken({ exp: now / 1000 + 7200 }), refresh_token: 'ref-2', expires_in: 3600 } }),
      () => ({ body: { id_token: idToken({ exp: now / 1000 + 3600 }), expires_in: 7200 } }),
    ],
  });
  now += FRESH_MIN_INTERVAL_MS;
  await rot.session.token({ fresh: true });
  assert.equal(rot.session.current.expiresAt, now / 1000 + 3600, 'expires_in is sooner');
  now += FRESH_MIN_INTERVAL_MS;
  await rot.session.token({ fresh: true });
  assert.equal(rot.session.current.expiresAt, now / 1000 + 3600, 'exp is sooner');
  assert.deepEqual(rot.calls.map((c) => c.form.refresh_token), ['ref-1', 'ref-2']);
});

test('token: an expired or revoked refresh token signs out with a message; an unreachable Cognito does not', async () => {
  let now = T0;
  const { session, storage, calls } = await signedIn({
    now: () => now,
    answers: [new TypeError('network down'), new TypeError('network down'), { status: 400, body: { error: 'invalid_grant', error_description: 'Refresh Token has expired' } }],
  });
  const token = session.current.token;
  now += 3600_000 - 30_000; // 30 s left: a refresh is due, but Cognito is unreachable
  assert.equal(await session.token(), token, 'the still-valid token is used');
  now += FRESH_MIN_INTERVAL_MS;
  await assert.rejects(session.token({ fresh: true }), (err) => !err.signedOut && /cannot reach/.test(err.message));
  assert.equal(session.signedIn, true);
  now += 60_000; // expired now
  await assert.rejects(session.token(), (err) => err instanceof AuthError && err.signedOut && err.message === 'Your session has expired. Please sign in again.');
  assert.equal(session.signedIn, false);
  assert.equal(session.current, null);
  assert.equal(storage.getItem('stratus.cognito'), null);
  assert.equal(calls.length, 3);
  await assert.rejects(session.token(), (err) => err.signedOut);
});

test('token: another tab\'s newer tokens are adopted (no refresh of our own), and a stored session of another app client is ignored', async () => {
  let now = T0;
  const { session, storage, calls } = await signedIn({ now: () => now, answers: [{ status: 500, body: {} }] });
  now += 3600_000 - 1000;
  const other = makeSession({
    storage, now: () => now,
    fetch: fakeFetch({ body: { id_token: idToken({ exp: now / 1000 + 3600, preferred_username: 'tab2' }), expires_in: 3600 } }).fetch,
  }).session;
  const fromOther = await other.token();
  assert.equal(await session.token(), fromOther);
  assert.equal(session.current.name, 'tab2');
  assert.equal(calls.length, 0);
  const elsewhere = new CognitoSession({
    auth: { ...AUTH, clientId: 'another0client' }, storage, pendingStorage: memoryStorage(), fetch: () => {}, crypto: webcrypto, navigate: () => {},
  });
  assert.equal(elsewhere.signedIn, false);
});

// ------------------------------------------------------------ sign-out

test('signOut: clears storage, revokes the refresh token (keepalive) and goes to the Hosted UI logout', async () => {
  const { session, storage, navigations, pending, calls } = await signedIn({ now: () => T0, answers: [{ status: 200, body: {} }] });
  pending.setItem('stratus.cognito.pending', '{}');
  session.signOut();
  // The revocation is requested before the navigation starts, not in a later tick.
  assert.equal(calls.length, 1);
  await new Promise((r) => setImmediate(r));
  const expected = `${DOMAIN}/logout?client_id=${AUTH.clientId}&logout_uri=https%3A%2F%2Fchat.example.com%2F`;
  assert.equal(logoutUrl(AUTH), expected);
  assert.equal(navigations.at(-1), expected);
  assert.equal(session.signedIn, false);
  assert.equal(storage.getItem('stratus.cognito'), null);
  assert.equal(pending.getItem('stratus.cognito.pending'), null);
  assert.equal(calls.length, 1);
  assert.equal(calls[0].url, `${DOMAIN}/oauth2/revoke`);
  assert.equal(calls[0].init.keepalive, true);
  assert.equal(calls[0].init.body, `token=ref-1&client_id=${AUTH.clientId}`);
  // Local-only (the session ended by itself): no navigation.
  const before = navigations.length;
  assert.equal(session.signOut({ redirect: false }), expected);
  assert.equal(navigations.length, before);
});

test('signIn: an insecure page (no crypto.subtle) or blocked session storage gives a message', async () => {
  const noSubtle = new CognitoSession({ auth: AUTH, storage: memoryStorage(), pendingStorage: memoryStorage(), fetch: () => {},
    crypto: { getRandomValues: (a) => a }, navigate: () => assert.fail('must not navigate') });
  await assert.rejects(noSubtle.signIn(), /secure \(https\) page/);
  const blocked = new CognitoSession({ auth: AUTH, storage: memoryStorage(), pendingStorage: null, fetch: () => {},
    crypto: webcrypto, navigate: () => assert.fail('must not navigate') });
  await assert.rejects(blocked.signIn(), /session storage/);
  await assert.rejects(blocked.completeSignIn(`${SITE}?code=c&state=s`), /Please sign in again/);
});

// ------------------------------------------------------------ config

test('config: auth absent or dev keeps the dev token endpoint; cognito is checked field by field with clear errors', () => {
  assert.deepEqual(authConfig({}), { type: 'dev' });
  assert.deepEqual(authConfig({ auth: { type: 'dev' } }), { type: 'dev' });
  const good = { type: 'cognito', domain: `${DOMAIN}/`, clientId: 'abc123', region: 'eu-west-1', redirectUri: SITE };
  assert.deepEqual(authConfig({ auth: good }, new URL(`${SITE}room?x=1`)), {
    type: 'cognito', domain: DOMAIN, clientId: 'abc123', redirectUri: SITE, region: 'eu-west-1', scopes: ['openid', 'profile', 'email'],
  });
  assert.equal(authConfig({ auth: { ...good, domain: 'https://auth.example.com' } }).domain, 'https://auth.example.com', 'a custom domain');
  assert.equal(authConfig({ auth: { ...good, redirectUri: 'http://localhost:8080/' } }).redirectUri, 'http://localhost:8080/');
  const bad = [
    [{ ...good, domain: 'http://stratus.auth.eu-west-1.amazoncognito.com' }, /auth\.domain must be an https:\/\/ URL \(got "http:\/\/stratus/],
    [{ ...good, domain: 'stratus.auth.eu-west-1.amazoncognito.com' }, /auth\.domain must be an absolute https:\/\/ URL/],
    [{ ...good, domain: 'http://localhost:9000' }, /auth\.domain must be an https:\/\/ URL/],
    [{ ...good, domain: `${DOMAIN}/oauth2` }, /without a path/],
    [{ ...good, domain: undefined }, /auth\.domain is missing/],
    [{ ...good, clientId: '' }, /auth\.clientId/],
    [{ ...good, clientSecret: 's3cret' }, /must not be set/],
    [{ ...good, redirectUri: 'http://chat.example.com/' }, /auth\.redirectUri must be an https:\/\/ URL/],
    [{ ...good, redirectUri: 'https://chat.example.com/#x' }, /#fragment/],
    [{ ...good, region: 'Ireland' }, /auth\.region/],
    [{ ...good, scopes: ['profile'] }, /must include "openid"/],
    [{ ...good, scopes: 'openid' }, /auth\.scopes must be a non-empty list/],
    [{ ...good, type: 'saml' }, /auth\.type must be "dev" or "cognito"/],
  ];
  for (const [auth, re] of bad) assert.throws(() => authConfig({ auth }), re, JSON.stringify(auth));
  assert.throws(() => authConfig({ auth: 'cognito' }), /auth must be an object/);
  assert.throws(() => authConfig({ auth: good }, new URL('https://d111111abcdef8.cloudfront.net/')),
    /auth\.redirectUri \(https:\/\/chat\.example\.com\/\) is not on this site \(https:\/\/d111111abcdef8\.cloudfront\.net\)/);
});

test('createSession picks the session class by config', () => {
  const deps = { storage: memoryStorage(), pendingStorage: memoryStorage(), fetch: () => {}, crypto: webcrypto, navigate: () => {}, endpoint: 'x' };
  assert.ok(createSession({ ...deps, auth: authConfig({}) }) instanceof Session);
  const cloud = createSession({ ...deps, auth: AUTH });
  assert.ok(cloud instanceof CognitoSession);
  for (const member of ['signedIn', 'current', 'signIn', 'signOut', 'token']) assert.ok(member in cloud, member);
});
