// Older history loads when scrolling up (getHistory {before}) without the
// view jumping; unread badges count messages in rooms not being read.

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';

import {
  checkClean, checkOrder, closeAll, connect, devToken, join, launch, openPage, shownMessages, signIn, startStack,
  waitRoom,
} from './lib.mjs';

let stack;
let browser;
let reader;
let writer;

before(async () => {
  stack = await startStack();
  browser = await launch();
  writer = await connect(stack, await devToken(stack, 'wendy'));
  await join(writer, 'archive');
  await join(writer, 'news');
  for (let i = 1; i <= 130; i += 1) {
    // One at a time keeps this simple; the local stack acks in about a millisecond.
    await writer.ok({ action: 'sendMessage', room: 'archive', text: `archived message ${i}`, clientMsgId: `a${i}` });
  }
  reader = await openPage(browser, stack.base);
  await signIn(reader.page, 'rita');
});

after(async () => {
  writer?.terminate();
  await closeAll(reader?.context, browser);
  await stack?.stop();
});

test('scrolling up loads older pages with the first visible message staying put, down to the first message', async () => {
  const { page } = reader;
  await page.fill('#new-room-input', 'archive');
  await page.press('#new-room-input', 'Enter');
  await waitRoom(page, 'archive');
  await page.locator('#messages li.msg[data-seq="130"]').waitFor();
  let shown = await shownMessages(page);
  assert.deepEqual([shown[0].seq, shown.at(-1).seq, shown.length], [81, 130, 50], 'the newest page');
  const atBottom = await page.evaluate(() => {
    const s = document.getElementById('scroller');
    return s.scrollHeight - s.scrollTop - s.clientHeight;
  });
  assert.ok(atBottom < 5, 'opens at the newest message');

  for (const [oldest, expectedOldest] of [[81, 31], [31, 1]]) {
    const anchor = page.locator(`#messages li.msg[data-seq="${oldest}"]`);
    // Scroll to the top (that triggers the load) and note where the oldest
    // loaded message is, in one synchronous step: the scroll event comes later.
    const topBefore = await anchor.evaluate((el) => {
      document.getElementById('scroller').scrollTop = 0;
      return el.getBoundingClientRect().top;
    });
    await page.locator(`#messages li.msg[data-seq="${expectedOldest}"]`).waitFor({ state: 'attached' });
    const topAfter = await anchor.evaluate((el) => el.getBoundingClientRect().top);
    assert.ok(Math.abs(topAfter - topBefore) <= 2, `message ${oldest} stayed in place (${topBefore} -> ${topAfter})`);
  }
  await page.getByText('This is the beginning of #archive.').waitFor();
  shown = await shownMessages(page);
  assert.equal(shown.length, 130);
  checkOrder(assert, shown, 'full archive');
  assert.equal(shown[0].text, 'archived message 1');
  await checkClean(assert, page, reader.rec, 'rita');
});

test('unread badges count new messages in other rooms and clear when the room is opened', async () => {
  const { page } = reader;
  await page.fill('#new-room-input', 'news');
  await page.press('#new-room-input', 'Enter');
  await waitRoom(page, 'news');
  await page.click('#room-list button[data-room="archive"]');
  await waitRoom(page, 'archive');
  for (let i = 1; i <= 3; i += 1) {
    await writer.ok({ action: 'sendMessage', room: 'news', text: `breaking ${i}`, clientMsgId: `n${i}` });
  }
  const badge = page.locator('#room-list button[data-room="news"] .badge');
  await page.waitForFunction(() => document.querySelector('#room-list button[data-room="news"] .badge')?.textContent === '3');
  assert.equal(await badge.isVisible(), true);
  assert.match(await page.title(), /^\(3\) /);
  await page.click('#room-list button[data-room="news"]');
  await waitRoom(page, 'news');
  await page.locator('#messages li.msg[data-seq="3"]').waitFor();
  await page.locator('#messages .divider-new').waitFor();
  await badge.waitFor({ state: 'hidden' });
  // The server has the read position too: a reload shows no badge.
  await page.click('#room-list button[data-room="archive"]');
  await page.waitForTimeout(800); // markRead is debounced (500 ms)
  await page.reload({ waitUntil: 'domcontentloaded' });
  await page.locator('#conn[data-state="connected"]').waitFor({ state: 'attached' });
  await page.locator('#room-list button[data-room="news"]').waitFor();
  assert.equal(await badge.isVisible(), false);
});
