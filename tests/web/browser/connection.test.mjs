// Connection upkeep against a gateway with a 2-second idle timeout: the
// application-level ping keeps the socket open; without it the gateway closes
// the socket and the app reconnects by itself. A stored token the server
// refuses (401) is replaced by a fresh one.

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';

import { checkClean, closeAll, launch, openPage, sendText, signIn, startStack, waitConnected, waitForTexts, waitRoom } from './lib.mjs';

let stack;
let browser;

before(async () => {
  stack = await startStack(['--idle-timeout', '2']); // null with STRATUS_URL: these tests need their own gateway
  if (stack) browser = await launch();
});

after(async () => {
  await closeAll(browser);
  await stack?.stop();
});

test('application pings (?ping=600) keep one socket open past the idle timeout', async (t) => {
  if (!stack) return t.skip('needs a local gateway (not STRATUS_URL)');
  const { context, page, rec } = await openPage(browser, stack.base, { query: '?ping=600' });
  try {
    await signIn(page, 'pinger');
    await page.waitForTimeout(4_500);
    assert.equal(rec.sockets.length, 1, 'no reconnect was needed');
    assert.equal(rec.sockets[0].closed, false);
    const pings = rec.sockets[0].sent.filter((f) => f.action === 'ping').length;
    assert.ok(pings >= 5, `${pings} pings in 4.5 s`);
    assert.equal(await page.locator('#conn').getAttribute('data-state'), 'connected');
    await checkClean(assert, page, rec, 'pinger');
  } finally {
    await closeAll(context);
  }
});

test('without pings the gateway closes the idle socket (1001) and the app reconnects on its own', async (t) => {
  if (!stack) return t.skip('needs a local gateway (not STRATUS_URL)');
  const { context, page, rec } = await openPage(browser, stack.base, { query: '?ping=600000' });
  try {
    await signIn(page, 'sleeper');
    await waitRoom(page, 'general');
    // Idle 2 s -> closed; the reconnect comes within the first backoff step (< 0.5 s).
    const deadline = Date.now() + 8_000;
    while (rec.sockets.length < 2 && Date.now() < deadline) await page.waitForTimeout(100);
    assert.ok(rec.sockets.length >= 2, 'a new socket after the idle close');
    assert.equal(rec.sockets[0].closed, true);
    await waitConnected(page);
    await sendText(page, 'still here');
    await waitForTexts(page, ['still here']);
    await checkClean(assert, page, rec, 'sleeper');
  } finally {
    await closeAll(context);
  }
});

test('a stored token the server refuses (401 at the handshake) is replaced by a fresh one', async (t) => {
  if (!stack) return t.skip('needs a local gateway (not STRATUS_URL)');
  const { context, page, rec } = await openPage(browser, stack.base, { query: '?ping=600' });
  try {
    await signIn(page, 'tess');
    const real = await page.evaluate(() => JSON.parse(localStorage.getItem('stratus.session')));
    // A token signed with another key, not expired: only the server can tell it is bad.
    const forged = { ...real, token: `${real.token.split('.').slice(0, 2).join('.')}.${'A'.repeat(43)}`, userId: 'stale-id' };
    await page.evaluate((s) => localStorage.setItem('stratus.session', JSON.stringify(s)), forged);
    const socketsBefore = rec.sockets.length;
    await page.reload({ waitUntil: 'domcontentloaded' });
    await waitConnected(page, 15_000);
    const now = await page.evaluate(() => JSON.parse(localStorage.getItem('stratus.session')));
    assert.notEqual(now.token, forged.token, 'a new token was fetched');
    assert.equal(now.userId, real.userId, 'the same user (same name)');
    assert.ok(rec.sockets.length >= socketsBefore + 2, 'a refused attempt, then a good one');
    await sendText(page, 'back with a fresh token');
    await waitForTexts(page, ['back with a fresh token']);
    const own = await page.locator('#messages li.msg.own').count();
    assert.equal(own, 1, 'own messages recognised with the refreshed identity');
    await checkClean(assert, page, rec, 'tess');
  } finally {
    await closeAll(context);
  }
});
