// A realistic conversation (four people, three rooms, a link, unread badges,
// someone typing), checked and captured: test-results/web/showcase-*.png.
// docs/screenshot-chat.png is a copy of showcase-desktop.png.

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';

import {
  checkClean, checkOrder, closeAll, connect, devToken, join, launch, openPage, screenshot, sendText, shownMessages,
  signIn, startStack, waitForTexts, waitRoom,
} from './lib.mjs';

let stack;
let browser;
let alice;
const peers = {};

before(async () => {
  stack = await startStack();
  browser = await launch();
  for (const name of ['bob', 'carol', 'dave']) {
    peers[name] = await connect(stack, await devToken(stack, name));
    for (const room of ['general', 'design', 'random']) await join(peers[name], room);
  }
});

after(async () => {
  for (const p of Object.values(peers)) p.terminate();
  await closeAll(alice?.context, browser);
  await stack?.stop();
});

let n = 0;
const say = (who, room, text) => peers[who].ok({ action: 'sendMessage', room, text, clientMsgId: `s${(n += 1)}` });

test('showcase: a lively #general with presence, unread rooms, a link and a typing indicator', async () => {
  await say('carol', 'general', 'Morning all! The staging deploy of the new presence service just finished.');
  await say('dave', 'general', 'Nice. Release notes are here: https://example.com/notes/presence');
  await say('dave', 'general', 'Reconnects picked up right where they left off in my tests.');

  alice = await openPage(browser, stack.base, { viewport: { width: 1280, height: 860 } });
  await signIn(alice.page, 'alice');
  const { page } = alice;
  await page.click('#new-room-input');
  for (const room of ['design', 'random']) {
    await page.fill('#new-room-input', room);
    await page.press('#new-room-input', 'Enter');
    await waitRoom(page, room);
  }
  await page.click('#room-list button[data-room="general"]');
  await waitRoom(page, 'general');

  await sendText(page, 'Great work! I will run the reconnect soak test this afternoon.');
  await sendText(page, 'Anything I should watch out for?');
  await say('carol', 'general', 'Keep an eye on the 410 Gone rate when you kill connections: it should drop to zero after the first sweep.');
  await say('bob', 'general', 'Also, typing frames are throttled to one every 3 s now,\nso the fan-out cost of a busy room dropped a lot.');
  await say('dave', 'design', 'Retro notes are in the doc, please add your items before Thursday.');
  await say('carol', 'design', 'Added mine!');
  await say('bob', 'random', 'Anyone up for lunch at 12:30?');
  await say('carol', 'random', 'Count me in.');
  await say('dave', 'random', 'Same here');
  await sendText(page, 'Thanks both, shipping it after lunch.');
  await peers.bob.send({ action: 'typing', room: 'general' });

  await waitForTexts(page, ['Thanks both, shipping it after lunch.', 'Keep an eye on the 410 Gone rate when you kill connections: it should drop to zero after the first sweep.']);
  await page.waitForFunction(() => (document.getElementById('typing')?.textContent ?? '') === 'bob is typing…');
  await page.waitForFunction(() => document.querySelector('#room-list button[data-room="random"] .badge')?.textContent === '3');
  await page.waitForFunction(() => (document.getElementById('people-title')?.textContent ?? '') === 'Online — 4');
  const shown = await shownMessages(page);
  checkOrder(assert, shown, 'general');
  assert.equal(shown.length, 8);
  assert.equal(await page.locator('#messages a[href^="https://example.com/notes/"]').count(), 1);
  await page.mouse.move(0, 0);
  await page.locator('#composer-input').blur();
  await screenshot(page, 'showcase-desktop');
  await checkClean(assert, page, alice.rec, 'alice');
});
