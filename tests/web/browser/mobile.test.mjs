// Phone width (390×844): sign in, reach the room list behind its button,
// create and join a room, send, and see a reply; nothing overflows sideways.

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';

import {
  checkClean, checkOrder, closeAll, connect, devToken, join, launch, openPage, screenshot, sendText, shownMessages,
  signIn, startStack, waitForTexts, waitRoom,
} from './lib.mjs';

let stack;
let browser;
let phone;

before(async () => {
  stack = await startStack();
  browser = await launch();
  phone = await openPage(browser, stack.base, { viewport: { width: 390, height: 844 }, mobile: true });
});

after(async () => {
  await closeAll(phone?.context, browser);
  await stack?.stop();
});

test('a phone-size viewport works: sign in, room list behind a button, join, send, see the reply', async () => {
  const { page } = phone;
  await screenshot(page, 'mobile-signin');
  await signIn(page, 'pat');
  await waitRoom(page, 'general');

  // The room list is off-canvas until its button is pressed.
  assert.equal(await page.locator('#sidebar').isVisible(), false, 'sidebar hidden at phone width');
  const toggle = page.locator('#rooms-toggle');
  assert.equal(await toggle.isVisible(), true);
  await toggle.click();
  await page.locator('#room-list button[data-room="general"]').waitFor({ state: 'visible' });
  assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
  await screenshot(page, 'mobile-rooms');
  await page.keyboard.press('Escape');
  await page.locator('#sidebar').waitFor({ state: 'hidden' });

  // Create a room from the drawer; it opens and the drawer closes.
  await toggle.click();
  await page.fill('#new-room-input', 'phone-room');
  await page.press('#new-room-input', 'Enter');
  await waitRoom(page, 'phone-room');
  await page.locator('#sidebar').waitFor({ state: 'hidden' });

  await sendText(page, 'hello from a phone, with a long enough sentence to wrap across several lines on this narrow screen');
  await waitForTexts(page, ['hello from a phone, with a long enough sentence to wrap across several lines on this narrow screen']);

  // Someone else answers (a plain WebSocket client).
  const quinn = await connect(stack, await devToken(stack, 'quinn'));
  await join(quinn, 'phone-room');
  await quinn.ok({ action: 'sendMessage', room: 'phone-room', text: 'hi pat, reading you loud and clear', clientMsgId: 'q1' });
  await waitForTexts(page, ['hi pat, reading you loud and clear']);
  const shown = await shownMessages(page);
  checkOrder(assert, shown, 'phone');
  assert.deepEqual(shown.map((m) => m.own), [true, false]);

  const layout = await page.evaluate(() => {
    const r = (id) => document.getElementById(id).getBoundingClientRect();
    return {
      docWidth: document.documentElement.scrollWidth,
      composerBottom: r('composer').bottom,
      sendRight: r('send').right,
      height: innerHeight,
      width: innerWidth,
    };
  });
  assert.ok(layout.docWidth <= layout.width, `no sideways scrolling (${layout.docWidth} > ${layout.width})`);
  assert.ok(layout.composerBottom <= layout.height, 'the composer is on screen');
  assert.ok(layout.sendRight <= layout.width, 'the send button is on screen');
  await screenshot(page, 'mobile-chat');
  quinn.terminate();
  await checkClean(assert, page, phone.rec, 'phone');
});
