// Helpers for the browser tests: Debian's chromium driven by playwright-core,
// against a real local stack (tests/integration/node/lib/stack.mjs starts
// STRATUS_BIN, default build/release/stratus). Every wait has a timeout.

import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';

import { REPO_ROOT } from '../../integration/node/lib/stack.mjs';

export { startStack, connect, devToken, join, sql, storedConnectionIds, connectionsApi, sleep } from '../../integration/node/lib/stack.mjs';

export const ARTIFACTS = path.join(REPO_ROOT, 'test-results', 'web');
export const WAIT_MS = 10_000;

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic'];

export async function launch() {
  await mkdir(ARTIFACTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30_000 });
}

/**
 * A page (in its own browser context: its own storage, like a separate
 * browser) that records everything that must fail a test: dialogs, page
 * errors, CSP violations (DOM event and console), and every WebSocket the page
 * opens with the frames it sends.
 */
export async function openPage(browser, base, { viewport = { width: 1280, height: 800 }, query = '', mobile = false } = {}) {
  const context = await browser.newContext({
    viewport,
    deviceScaleFactor: mobile ? 2 : 1,
    isMobile: mobile,
    hasTouch: mobile,
    reducedMotion: 'reduce',
  });
  context.setDefaultTimeout(WAIT_MS);
  const page = await context.newPage();
  const rec = { dialogs: [], pageErrors: [], cspConsole: [], consoleErrors: [], sockets: [] };
  page.on('dialog', (d) => {
    rec.dialogs.push(`${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  page.on('pageerror', (e) => rec.pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() !== 'error' && m.type() !== 'warning') return;
    const text = m.text();
    if (/Content[- ]Security[- ]Policy|Refused to (execute|load|apply|connect|evaluate)/i.test(text)) rec.cspConsole.push(text);
    else if (m.type() === 'error') rec.consoleErrors.push(text);
  });
  page.on('websocket', (ws) => {
    const entry = { url: ws.url(), sent: [], closed: false };
    rec.sockets.push(entry);
    ws.on('framesent', (f) => {
      try {
        entry.sent.push(JSON.parse(typeof f.payload === 'string' ? f.payload : f.payload.toString('utf8')));
      } catch {
        /* not JSON */
      }
    });
    ws.on('close', () => {
      entry.closed = true;
    });
  });
  // Runs before any page script (via DevTools, so the CSP does not apply to it).
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  await page.goto(`${base}/${query}`, { waitUntil: 'domcontentloaded' });
  return { context, page, rec };
}

/** Signs in through the form and waits until the app is connected. */
export async function signIn(page, name) {
  await page.locator('#signin-name').waitFor({ state: 'visible' });
  await page.fill('#signin-name', name);
  await page.press('#signin-name', 'Enter');
  await waitConnected(page);
}

export async function waitConnected(page, timeout = WAIT_MS) {
  await page.locator('#conn[data-state="connected"]').waitFor({ state: 'attached', timeout });
}

export async function waitState(page, state, timeout = WAIT_MS) {
  await page.locator(`#conn[data-state="${state}"]`).waitFor({ state: 'attached', timeout });
}

/** Waits until the active room is `room`. */
export async function waitRoom(page, room) {
  await page.waitForFunction((r) => document.getElementById('room-name')?.textContent === r, room, { timeout: WAIT_MS });
}

/** Puts `text` into the composer and presses Enter. */
export async function sendText(page, text) {
  const input = page.locator('#composer-input');
  await input.fill(text);
  await input.press('Enter');
}

/** The messages shown in the open room: [{seq, key, text, own, state}] in DOM order. */
export function shownMessages(page) {
  return page.$$eval('#messages li.msg', (lis) => lis.map((li) => ({
    seq: li.dataset.seq ? Number(li.dataset.seq) : null,
    key: li.dataset.key,
    text: li.querySelector('.bubble')?.textContent ?? '',
    own: li.classList.contains('own'),
    state: li.dataset.state,
  })));
}

/** Waits until the confirmed messages include every text in `texts`. */
export async function waitForTexts(page, texts, timeout = WAIT_MS) {
  await page.waitForFunction((want) => {
    const have = new Set([...document.querySelectorAll('#messages li.msg[data-seq] .bubble')].map((b) => b.textContent));
    return want.every((t) => have.has(t));
  }, texts, { timeout, polling: 50 });
}

/**
 * Asserts the DOM shows each message once, in strictly increasing, gap-free
 * seq order, with no message left pending.
 */
export function checkOrder(assert, shown, what) {
  const seqs = shown.map((m) => m.seq);
  assert.ok(seqs.every((s) => s !== null), `${what}: a message is still pending: ${JSON.stringify(shown.filter((m) => m.seq === null))}`);
  for (let i = 1; i < seqs.length; i += 1) {
    assert.equal(seqs[i], seqs[i - 1] + 1, `${what}: seq ${seqs[i]} follows ${seqs[i - 1]} (duplicate or hole)`);
  }
  assert.equal(new Set(shown.map((m) => m.key)).size, shown.length, `${what}: duplicate keys`);
}

/** Fails on anything recorded that must never happen. */
export async function checkClean(assert, page, rec, what) {
  const cspDom = await page.evaluate(() => window.__csp ?? []).catch(() => []);
  assert.deepEqual(rec.dialogs, [], `${what}: dialogs opened`);
  assert.deepEqual(rec.pageErrors, [], `${what}: uncaught page errors`);
  assert.deepEqual(cspDom, [], `${what}: securitypolicyviolation events`);
  assert.deepEqual(rec.cspConsole, [], `${what}: CSP console messages`);
  // The only console errors allowed are the browser's own reports of what the
  // tests provoke: failed WebSocket attempts (offline, a refused token) and a
  // token fetch while offline. A 404, a failed module or an exception fails.
  const expected = [/^WebSocket connection to '[^']*' failed: /, /^Failed to load resource: net::ERR_INTERNET_DISCONNECTED$/];
  const unexpected = rec.consoleErrors.filter((t) => !expected.some((re) => re.test(t)));
  assert.deepEqual(unexpected, [], `${what}: console errors`);
}

export async function screenshot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
}

/** Closes everything, ignoring errors (for finally blocks). */
export async function closeAll(...things) {
  for (const t of things) {
    try {
      await t?.close();
    } catch {
      /* already closed */
    }
  }
}
