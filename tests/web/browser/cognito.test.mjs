// Cloud sign-in in a real browser, against a fake Cognito Hosted UI. The page
// is the real gateway's, with config.json swapped for one that has an
// `auth: {type: "cognito"}` block and the CSP's connect-src widened to the
// Cognito domain (as the cloud CSP is). The Hosted UI is Playwright routes on
// the https Cognito origin: /oauth2/authorize answers with a redirect back
// (after checking every parameter), /oauth2/token checks the PKCE verifier
// against the challenge and hands out the gateway's own dev tokens as id
// tokens (JWT-shaped, with sub and name, so the real gateway accepts them),
// /oauth2/revoke and /logout do what Cognito does. No request leaves the machine.

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

import { checkClean, closeAll, devToken, launch, openPage, sendText, startStack, waitConnected, waitForTexts, WAIT_MS } from './lib.mjs';

const DOMAIN = 'https://stratus-browser-test.auth.eu-west-1.amazoncognito.com';
const CLIENT_ID = '4examplebrowserclient0000';

let stack;
let browser;

before(async () => {
  stack = await startStack();
  browser = await launch();
});

after(async () => {
  await closeAll(browser);
  await stack?.stop();
});

/** A fake Hosted UI for one browser context. `mode` steers /oauth2/authorize: ok, deny or badstate. */
async function fakeCognito(context, { user = 'carol' } = {}) {
  const base = stack.base;
  const redirectUri = `${base}/`;
  const fake = { mode: 'ok', authorizeCalls: [], tokenCalls: [], revoked: [], logouts: [], codes: new Map(), refresh: new Set(), problems: [] };
  const config = {
    websocketUrl: null, stage: stack.stage ?? 'local', pingIntervalMs: 300000, defaultRoom: 'general',
    auth: { type: 'cognito', domain: DOMAIN, clientId: CLIENT_ID, region: 'eu-west-1', redirectUri, scopes: ['openid', 'profile', 'email'] },
  };
  const cors = { 'access-control-allow-origin': new URL(base).origin, 'content-type': 'application/json' };
  const json = (route, status, body) => route.fulfill({ status, headers: cors, body: JSON.stringify(body) });

  // A page Playwright fulfils has no known address space, so Chromium's Local
  // Network Access checks would block its WebSocket to 127.0.0.1: allow it.
  await context.grantPermissions(['local-network-access'], { origin: new URL(base).origin });
  await context.route(`${base}/config.json`, (route) => route.fulfill({
    status: 200, headers: { 'content-type': 'application/json', 'cache-control': 'no-cache' }, body: JSON.stringify(config),
  }));
  // The page itself: the gateway's answer, with the Cognito origin added to connect-src.
  await context.route((url) => url.origin === new URL(base).origin && url.pathname === '/', async (route) => {
    const res = await route.fetch();
    const headers = { ...res.headers() };
    headers['content-security-policy'] = headers['content-security-policy'].replace("connect-src 'self'", `connect-src 'self' ${DOMAIN}`);
    await route.fulfill({ response: res, headers });
  });

  await context.route(`${DOMAIN}/**`, async (route) => {
    const req = route.request();
    const url = new URL(req.url());
    if (url.pathname === '/oauth2/authorize' && req.method() === 'GET') {
      const p = Object.fromEntries(url.searchParams);
      fake.authorizeCalls.push(p);
      const ok = p.response_type === 'code' && p.client_id === CLIENT_ID && p.redirect_uri === redirectUri &&
        p.scope === 'openid profile email' && p.code_challenge_method === 'S256' && /^[\w-]{43}$/.test(p.code_challenge ?? '') &&
        /^[\w-]{16,}$/.test(p.state ?? '');
      if (!ok) fake.problems.push(`authorize: ${url.search}`);
      const back = new URL(redirectUri);
      if (fake.mode === 'deny') {
        back.searchParams.set('error', 'access_denied');
        back.searchParams.set('error_description', 'The user cancelled the sign-in');
        back.searchParams.set('state', p.state);
      } else {
        const code = `code-${fake.codes.size + 1}`;
        fake.codes.set(code, { challenge: p.code_challenge, redirectUri: p.redirect_uri });
        back.searchParams.set('code', code);
        back.searchParams.set('state', fake.mode === 'badstate' ? `${p.state}-forged` : p.state);
      }
      return redirect(route, back.href);
    }
    if (url.pathname === '/oauth2/token' && req.method() === 'POST') {
      const form = Object.fromEntries(new URLSearchParams(req.postData() ?? ''));
      fake.tokenCalls.push(form);
      if (req.headers()['content-type'] !== 'application/x-www-form-urlencoded' || form.client_id !== CLIENT_ID) {
        fake.problems.push(`token: ${req.headers()['content-type']} ${JSON.stringify(form)}`);
        return json(route, 400, { error: 'invalid_client' });
      }
      if (form.grant_type === 'authorization_code') {
        const issued = fake.codes.get(form.code);
        fake.codes.delete(form.code); // single use
        const verified = issued && issued.redirectUri === form.redirect_uri &&
          createHash('sha256').update(form.code_verifier ?? '').digest('base64url') === issued.challenge;
        if (!verified) return json(route, 400, { error: 'invalid_grant' });
      } else if (form.grant_type === 'refresh_token') {
        if (!fake.refresh.has(form.refresh_token)) return json(route, 400, { error: 'invalid_grant', error_description: 'Refresh Token has expired' });
      } else {
        return json(route, 400, { error: 'unsupported_grant_type' });
      }
      const dev = await devToken(stack, user);
      const refreshToken = form.grant_type === 'authorization_code' ? `rt-${fake.refresh.size + 1}` : undefined;
      if (refreshToken) fake.refresh.add(refreshToken);
      return json(route, 200, { id_token: dev.token, access_token: 'not-used', refresh_token: refreshToken, expires_in: 3600, token_type: 'Bearer' });
    }
    if (url.pathname === '/oauth2/revoke' && req.method() === 'POST') {
      const form = Object.fromEntries(new URLSearchParams(req.postData() ?? ''));
      fake.revoked.push(form);
      fake.refresh.delete(form.token);
      return route.fulfill({ status: 200, headers: { 'access-control-allow-origin': new URL(base).origin }, body: '' });
    }
    if (url.pathname === '/logout' && req.method() === 'GET') {
      fake.logouts.push(Object.fromEntries(url.searchParams));
      return redirect(route, url.searchParams.get('logout_uri'));
    }
    fake.problems.push(`unexpected ${req.method()} ${req.url()}`);
    return route.fulfill({ status: 404, body: '' });
  });
  return fake;
}

/**
 * The Hosted UI sends the browser back to the app. Not with a 302: Playwright
 * does not route the request a fulfilled redirect leads to, and the page must
 * get the CSP rewritten above. A meta refresh is a fresh, routed navigation.
 */
function redirect(route, to) {
  const attr = to.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return route.fulfill({
    status: 200,
    headers: { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'none'" },
    body: `<!doctype html><meta http-equiv="refresh" content="0;url=${attr}"><title>Redirecting</title>`,
  });
}

async function cloudPage() {
  const opened = await openPage(browser, stack.base); // the plain page first; then the cloud config
  const fake = await fakeCognito(opened.context);
  await opened.page.goto(`${stack.base}/`, { waitUntil: 'domcontentloaded' });
  await opened.page.locator('#signin-cloud-submit').waitFor({ state: 'visible' });
  return { ...opened, fake };
}

/** Console errors a test provokes on purpose (a 400 from the token endpoint, a refused forged token) are not failures. */
function dropExpected(rec, patterns) {
  rec.consoleErrors = rec.consoleErrors.filter((t) => !patterns.some((re) => re.test(t)));
}

test('cloud sign-in: Hosted UI with PKCE and state, code exchange, chat, reload, refresh after a refused token, sign-out', async (t) => {
  if (!stack.dataDir) return t.skip('needs a local gateway (not STRATUS_URL)');
  const { context, page, rec, fake } = await cloudPage();
  try {
    assert.equal(await page.locator('#signin-form').isVisible(), false, 'no name field in the cloud');
    await page.click('#signin-cloud-submit');
    await waitConnected(page);
    assert.equal(page.url(), `${stack.base}/`, 'code and state are gone from the address bar');
    assert.equal(fake.authorizeCalls.length, 1);
    assert.deepEqual(fake.tokenCalls.map((c) => c.grant_type), ['authorization_code']);
    assert.equal(await page.locator('#me-name').textContent(), 'carol');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('stratus.cognito.pending')), null);
    await sendText(page, 'signed in through the hosted UI');
    await waitForTexts(page, ['signed in through the hosted UI']);

    // A reload stays signed in, without another round trip.
    await page.reload({ waitUntil: 'domcontentloaded' });
    await waitConnected(page);
    assert.equal(fake.authorizeCalls.length, 1);
    assert.equal(fake.tokenCalls.length, 1);

    // A stored id token the server refuses: the app refreshes (refresh_token grant) and carries on.
    await page.evaluate(() => {
      const rec = JSON.parse(localStorage.getItem('stratus.cognito'));
      rec.idToken = `${rec.idToken.split('.').slice(0, 2).join('.')}.${'A'.repeat(43)}`;
      rec.obtainedAt = 0;
      localStorage.setItem('stratus.cognito', JSON.stringify(rec));
    });
    await page.reload({ waitUntil: 'domcontentloaded' });
    await waitConnected(page, 15_000);
    assert.deepEqual(fake.tokenCalls.map((c) => c.grant_type), ['authorization_code', 'refresh_token']);
    assert.equal(fake.tokenCalls[1].refresh_token, 'rt-1');
    await waitForTexts(page, ['signed in through the hosted UI']);

    // Sign out: tokens gone, the refresh token revoked, the Hosted UI's logout, and back to the sign-in card.
    await page.click('#sign-out');
    await page.locator('#signin-cloud-submit').waitFor({ state: 'visible' });
    assert.deepEqual(fake.logouts, [{ client_id: CLIENT_ID, logout_uri: `${stack.base}/` }]);
    assert.equal(await page.evaluate(() => localStorage.getItem('stratus.cognito')), null);
    const deadline = Date.now() + WAIT_MS;
    while (fake.revoked.length === 0 && Date.now() < deadline) await page.waitForTimeout(50);
    assert.deepEqual(fake.revoked, [{ token: 'rt-1', client_id: CLIENT_ID }]);
    assert.deepEqual(fake.problems, []);
    await checkClean(assert, page, rec, 'cloud');
  } finally {
    await closeAll(context);
  }
});

test('cloud sign-in errors show a message and a way back: cancelled, state mismatch, expired refresh token', async (t) => {
  if (!stack.dataDir) return t.skip('needs a local gateway (not STRATUS_URL)');
  const { context, page, rec, fake } = await cloudPage();
  const error = page.locator('#signin-cloud-error');
  try {
    fake.mode = 'deny';
    await page.click('#signin-cloud-submit');
    await page.waitForFunction(() => /did not complete/.test((document.getElementById('signin-cloud-error')?.textContent ?? '')));
    assert.equal(await error.textContent(), 'Sign-in did not complete: The user cancelled the sign-in.');
    assert.equal(await page.locator('#signin-cloud-submit').textContent(), 'Sign in again');
    assert.equal(page.url(), `${stack.base}/`);

    fake.mode = 'badstate';
    await page.click('#signin-cloud-submit');
    await page.waitForFunction(() => /state mismatch/.test((document.getElementById('signin-cloud-error')?.textContent ?? '')));
    assert.equal(fake.tokenCalls.length, 0, 'no code is exchanged on a state mismatch');
    assert.equal(page.url(), `${stack.base}/`);

    // The retry path works.
    fake.mode = 'ok';
    await page.click('#signin-cloud-submit');
    await waitConnected(page);

    // The refresh token expired while the page was closed.
    fake.refresh.clear();
    await page.evaluate(() => {
      const rec = JSON.parse(localStorage.getItem('stratus.cognito'));
      rec.expiresAt = Math.floor(Date.now() / 1000) - 10;
      localStorage.setItem('stratus.cognito', JSON.stringify(rec));
    });
    await page.reload({ waitUntil: 'domcontentloaded' });
    await page.waitForFunction(() => /expired/.test((document.getElementById('signin-cloud-error')?.textContent ?? '')));
    assert.equal(await error.textContent(), 'Your session has expired. Please sign in again.');
    assert.equal(await page.evaluate(() => localStorage.getItem('stratus.cognito')), null);
    assert.equal(await page.locator('#app').isVisible(), false);
    assert.deepEqual(fake.problems, []);
    dropExpected(rec, [/^Failed to load resource: the server responded with a status of 400/]);
    await checkClean(assert, page, rec, 'cloud errors');
  } finally {
    await closeAll(context);
  }
});
