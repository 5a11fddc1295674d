// Two browsers (alice and bob) chat through the real local stack: keyboard
// sending, typing indicator, reload with history, going offline while 30
// messages are sent, and a connection the server drops.

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';

import {
  checkClean, checkOrder, closeAll, connectionsApi, launch, openPage, screenshot, sendText, shownMessages, signIn,
  startStack, storedConnectionIds, waitConnected, waitForTexts, waitRoom, waitState, WAIT_MS,
} from './lib.mjs';

let stack;
let browser;
let alice;
let bob;

before(async () => {
  stack = await startStack();
  browser = await launch();
  // Short typing expiry so the test need not wait the default 6 s.
  alice = await openPage(browser, stack.base, { query: '?typingTtl=1500' });
  bob = await openPage(browser, stack.base, { query: '?typingTtl=1500' });
  await signIn(alice.page, 'alice');
  await signIn(bob.page, 'bob');
  await waitRoom(alice.page, 'general');
  await waitRoom(bob.page, 'general');
});

after(async () => {
  if (alice) await screenshot(alice.page, 'chat-alice').catch(() => {});
  if (bob) await screenshot(bob.page, 'chat-bob').catch(() => {});
  await closeAll(alice?.context, bob?.context, browser);
  await stack?.stop();
});

test('alice and bob chat: Enter sends, Shift+Enter makes a new line, own messages are distinct', async () => {
  const { page: a } = alice;
  const { page: b } = bob;
  await a.locator('#composer-input').click();
  await a.keyboard.type('hello bob');
  await a.keyboard.press('Enter');
  await waitForTexts(b, ['hello bob']);

  await b.locator('#composer-input').click();
  await b.keyboard.type('line one');
  await b.keyboard.press('Shift+Enter');
  await b.keyboard.type('line two');
  assert.equal(await b.inputValue('#composer-input'), 'line one\nline two', 'Shift+Enter adds a newline');
  assert.equal((await shownMessages(b)).length, 1, 'nothing sent before Enter');
  await b.keyboard.press('Enter');
  assert.equal(await b.inputValue('#composer-input'), '', 'Enter sent and cleared the composer');
  await waitForTexts(a, ['line one\nline two']);

  const onAlice = await shownMessages(a);
  assert.deepEqual(onAlice.map((m) => [m.text, m.own]), [['hello bob', true], ['line one\nline two', false]]);
  const onBob = await shownMessages(b);
  assert.deepEqual(onBob.map((m) => [m.text, m.own]), [['hello bob', false], ['line one\nline two', true]]);
  checkOrder(assert, onAlice, 'alice');
  checkOrder(assert, onBob, 'bob');
  // A long word wraps inside the bubble instead of widening the page.
  await sendText(a, 'x'.repeat(600));
  await waitForTexts(b, ['x'.repeat(600)]);
  const overflow = await b.evaluate(() => document.getElementById('scroller').scrollWidth - document.getElementById('scroller').clientWidth);
  assert.ok(overflow <= 1, `no horizontal overflow (${overflow}px)`);

  // Keyboard: the skip link (first in the tab order) lands in the composer;
  // after it, Tab goes to the room list.
  const firstFocusable = await a.evaluate(() => [...document.querySelectorAll('a[href], button, input, textarea, [tabindex="0"]')]
    .find((el) => el.offsetParent !== null || el.classList.contains('skip-link'))?.className);
  assert.equal(firstFocusable, 'skip-link');
  await a.focus('.skip-link');
  assert.equal(await a.locator('.skip-link').isVisible(), true);
  await a.keyboard.press('Tab');
  assert.equal(await a.evaluate(() => document.activeElement?.dataset.room), 'general');
  await a.keyboard.press('Shift+Tab');
  await a.keyboard.press('Enter');
  await a.waitForFunction(() => document.activeElement?.id === 'composer-input');
  await checkClean(assert, a, alice.rec, 'alice');
  await checkClean(assert, b, bob.rec, 'bob');
});

test('the typing indicator appears while alice types and disappears (expiry, or her message)', async () => {
  const { page: a } = alice;
  const { page: b } = bob;
  const typingIs = (page, text, timeout = 5_000) => page.waitForFunction(
    (t) => (document.getElementById('typing')?.textContent ?? '') === t, text, { timeout, polling: 50 });
  await a.locator('#composer-input').click();
  await a.keyboard.type('thinking');
  await typingIs(b, 'alice is typing…');
  const shownAt = Date.now();
  await typingIs(b, '');
  const lasted = Date.now() - shownAt;
  assert.ok(lasted < 4_000, `expired after ${lasted} ms`);

  // Sending resets the throttle, so typing right after announces again; the
  // message itself then clears the indicator (before the expiry).
  await a.keyboard.press('Enter');
  await waitForTexts(b, ['thinking']);
  await a.keyboard.type('one more');
  await typingIs(b, 'alice is typing…');
  await a.keyboard.press('Enter');
  await b.waitForFunction(() => {
    const texts = [...document.querySelectorAll('#messages li.msg[data-seq] .bubble')].map((x) => x.textContent);
    return texts.includes('one more') && (document.getElementById('typing')?.textContent ?? '') === '';
  }, null, { timeout: 1_000, polling: 20 });
});

test('bob reloads: still signed in, and the history is back in order', async () => {
  const { page: b } = bob;
  const beforeReload = await shownMessages(b);
  await b.reload({ waitUntil: 'domcontentloaded' });
  await waitConnected(b);
  await waitRoom(b, 'general');
  assert.equal(await b.locator('#signin').isVisible(), false, 'no sign-in screen after a reload');
  await waitForTexts(b, beforeReload.map((m) => m.text));
  const afterReload = await shownMessages(b);
  assert.deepEqual(afterReload.map((m) => [m.seq, m.text, m.own]), beforeReload.map((m) => [m.seq, m.text, m.own]));
  await checkClean(assert, b, bob.rec, 'bob');
});

test('bob goes offline, alice sends 30 messages, bob comes back and sees all 30 exactly once, in order', async () => {
  const { page: a } = alice;
  const { page: b, context: bobContext, rec } = bob;
  const shownBefore = await shownMessages(b);
  const lastSeq = shownBefore.at(-1).seq;
  const socketsBefore = rec.sockets.length;

  await bobContext.setOffline(true);
  await waitState(b, 'offline');
  assert.equal(await b.locator('#banner').isVisible(), true, 'the offline banner is shown');

  const texts = Array.from({ length: 30 }, (_, i) => `burst ${String(i + 1).padStart(2, '0')}`);
  for (const t of texts) await sendText(a, t);
  await waitForTexts(a, texts, 15_000);
  // Bob's page got none of them while offline.
  const whileOffline = await shownMessages(b);
  assert.equal(whileOffline.length, shownBefore.length);

  await bobContext.setOffline(false);
  await waitConnected(b, 15_000);
  await waitForTexts(b, texts, 15_000);
  const shown = await shownMessages(b);
  checkOrder(assert, shown, 'bob after coming back');
  assert.deepEqual(shown.slice(shownBefore.length).map((m) => m.text), texts, 'the 30, once each, in order');
  assert.equal(shown.length, shownBefore.length + 30);

  // It really reconnected and resumed: a new socket that re-joined and asked for what came after.
  assert.ok(rec.sockets.length > socketsBefore, 'a new WebSocket was opened');
  const sent = rec.sockets.at(-1).sent;
  assert.ok(sent.some((f) => f.action === 'joinRoom' && f.room === 'general'), JSON.stringify(sent));
  assert.ok(sent.some((f) => f.action === 'getHistory' && f.room === 'general' && f.after === lastSeq), JSON.stringify(sent));
  await checkClean(assert, b, rec, 'bob');
});

test('the server drops bob\'s connection: the app reconnects by itself and shows what was sent meanwhile', async (t) => {
  if (!stack.dataDir) return t.skip('needs a local stack (reads connection ids from its SQLite file)');
  const { page: a } = alice;
  const { page: b, rec } = bob;
  const session = await b.evaluate(() => JSON.parse(localStorage.getItem('stratus.session')));
  const shownBefore = await shownMessages(b);
  const socketsBefore = rec.sockets.length;
  const ids = await storedConnectionIds(stack, session.userId);
  assert.equal(ids.length, 1, `bob has one connection: ${ids}`);
  const res = await connectionsApi(stack, 'DELETE', ids[0]);
  assert.equal(res.status, 204);
  const texts = ['after the drop 1', 'after the drop 2', 'after the drop 3'];
  for (const t of texts) await sendText(a, t);
  await b.waitForFunction((n) => document.getElementById('conn').dataset.state === 'connected' && n, socketsBefore, { timeout: WAIT_MS });
  await waitForTexts(b, texts, 15_000);
  assert.ok(rec.sockets.length > socketsBefore, 'reconnected on a new socket');
  const shown = await shownMessages(b);
  checkOrder(assert, shown, 'bob after the drop');
  assert.deepEqual(shown.slice(shownBefore.length).map((m) => m.text), texts);
  await checkClean(assert, b, rec, 'bob');
  await checkClean(assert, a, alice.rec, 'alice');
});

test('a message over the 4,000-character limit is explained in the composer and not sent', async () => {
  const { page: a } = alice;
  const before = (await shownMessages(a)).length;
  await a.locator('#composer-input').fill('y'.repeat(4001));
  await a.locator('#composer-input').press('Enter');
  await a.waitForFunction(() => /too long/.test((document.getElementById('composer-error')?.textContent ?? '')));
  assert.equal((await a.inputValue('#composer-input')).length, 4001, 'the text is kept for editing');
  assert.equal((await shownMessages(a)).length, before);
  await a.locator('#composer-input').fill('');
});

test('rooms: alice creates one, bob finds it under Browse rooms and joins, alice leaves it', async () => {
  const { page: a } = alice;
  const { page: b } = bob;
  await a.fill('#new-room-input', 'side-room');
  await a.press('#new-room-input', 'Enter');
  await waitRoom(a, 'side-room');
  await sendText(a, 'welcome to the side room');
  await waitForTexts(a, ['welcome to the side room']);

  await b.click('#new-room-input'); // looking for rooms refreshes the list
  const join = b.locator('#other-rooms button[data-room="side-room"]');
  await join.waitFor();
  await join.click();
  await waitRoom(b, 'side-room');
  await waitForTexts(b, ['welcome to the side room']);
  await a.waitForFunction(() => (document.getElementById('people-title')?.textContent ?? '') === 'Online — 2');

  // Alt+Down/Up moves between rooms from the keyboard.
  await b.keyboard.press('Alt+ArrowUp');
  await waitRoom(b, 'general');
  await b.keyboard.press('Alt+ArrowDown');
  await waitRoom(b, 'side-room');

  await a.click('#leave-room');
  await waitRoom(a, 'general');
  await a.locator('#other-rooms button[data-room="side-room"]').waitFor();
  assert.equal(await a.locator('#room-list button[data-room="side-room"]').count(), 0);
  await b.waitForFunction(() => (document.getElementById('people-title')?.textContent ?? '') === 'Online — 1');
  await checkClean(assert, a, alice.rec, 'alice');
  await checkClean(assert, b, bob.rec, 'bob');
});
