// XSS: hostile message texts (and a hostile display name) render as text in a
// real browser under the gateway's Content-Security-Policy: no dialog, no new
// script, no event-handler attribute, no foreign element, no CSP violation.

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';

import { checkClean, closeAll, launch, openPage, screenshot, sendText, signIn, startStack, waitForTexts, waitRoom } from './lib.mjs';

export const PAYLOADS = [
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '<img src=x onerror="window.__pwned=1">',
  '<svg onload=alert(1)>',
  '<svg><script>alert(1)</script></svg>',
  'javascript:alert(1)',
  '<a href="javascript:alert(1)">click me</a>',
  '"><script>alert(1)</script>',
  "'><img src=x onerror=alert(1)>",
  '</textarea><script>alert(1)</script>',
  '<iframe src="javascript:alert(1)"></iframe>',
  '<iframe srcdoc="<script>parent.__pwned=1</script>"></iframe>',
  '<body onload=alert(1)>',
  '<details open ontoggle=alert(1)>',
  '<input autofocus onfocus=alert(1)>',
  '<video><source onerror=alert(1)></video>',
  '<object data="javascript:alert(1)"></object>',
  '<embed src="javascript:alert(1)">',
  '<form action="javascript:alert(1)"><button>go</button></form>',
  '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
  '<base href="javascript:alert(1)//">',
  '<style>@import "javascript:alert(1)";</style>',
  '<div style="background:url(javascript:alert(1))">x</div>',
  '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>',
  '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
  '<template><script>alert(1)</script></template>',
  '<scr<script>ipt>alert(1)</scr</script>ipt>',
  '<img src="x" onerror="&#97;&#108;&#101;&#114;&#116;(1)">',
  '{{constructor.constructor(\'alert(1)\')()}}',
  '${alert(1)}',
  'https://example.com/"><script>alert(1)</script>',
  'https://example.com/?q=<img src=x onerror=alert(1)>',
  'data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==',
  'jav&#x09;ascript:alert(1)',
  'JaVaScRiPt:alert(document.domain)',
  '%3Cscript%3Ealert(1)%3C%2Fscript%3E',
  '\\u003cscript\\u003ealert(1)\\u003c/script\\u003e',
  '<link rel="stylesheet" href="data:text/css,*{background:red}">',
];

const EVIL_NAME = '<img src=x onerror=alert(1)>';

let stack;
let browser;
let mallory;
let bob;

before(async () => {
  stack = await startStack();
  browser = await launch();
  mallory = await openPage(browser, stack.base);
  bob = await openPage(browser, stack.base);
  await signIn(mallory.page, EVIL_NAME);
  await signIn(bob.page, 'bob');
  await waitRoom(mallory.page, 'general');
  await waitRoom(bob.page, 'general');
});

after(async () => {
  if (bob) await screenshot(bob.page, 'xss-bob').catch(() => {});
  await closeAll(mallory?.context, bob?.context, browser);
  await stack?.stop();
});

test('the gateway serves the UI with a CSP that allows no inline script or style', async () => {
  const res = await fetch(`${stack.base}/`, { signal: AbortSignal.timeout(5_000) });
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /style-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.match(csp, /frame-ancestors 'none'/);
  const html = await res.text();
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, 'no inline <script>');
  assert.doesNotMatch(html, /\sstyle=|\son[a-z]+=/i, 'no inline style or handler attributes');
  const config = await fetch(`${stack.base}/config.json`, { signal: AbortSignal.timeout(5_000) });
  assert.match(config.headers.get('content-type') ?? '', /application\/json/);
  assert.equal(config.headers.get('cache-control'), 'no-cache');
});

test(`${PAYLOADS.length} XSS payloads and a hostile display name render as text, with no script run and no CSP violation`, async () => {
  assert.ok(PAYLOADS.length >= 20);
  const { page: m } = mallory;
  const { page: b } = bob;
  const scriptsBefore = await b.evaluate(() => document.scripts.length);
  for (const p of PAYLOADS) await sendText(m, p);
  await waitForTexts(b, PAYLOADS, 20_000);
  await waitForTexts(m, PAYLOADS, 20_000);
  // A moment for anything that would fire late (onerror of a broken image, a refresh).
  await b.waitForTimeout(300);

  for (const [who, page] of [['bob', b], ['mallory', m]]) {
    const report = await page.evaluate(() => {
      const bubbles = [...document.querySelectorAll('#messages li.msg .bubble')];
      const onAttrs = [];
      for (const el of document.querySelectorAll('*')) {
        for (const a of el.getAttributeNames()) if (/^on/i.test(a)) onAttrs.push(`${el.tagName} ${a}`);
      }
      const foreign = [...document.querySelectorAll('#messages *')]
        .filter((el) => !['LI', 'DIV', 'SPAN', 'TIME', 'A', 'BUTTON', 'svg', 'path'].includes(el.tagName))
        .map((el) => el.tagName);
      const svgs = [...document.querySelectorAll('#messages svg')].filter((s) => !s.classList.contains('icon')).length;
      const anchors = [...document.querySelectorAll('#messages a')].map((a) => ({ href: a.getAttribute('href'), rel: a.rel, target: a.target }));
      return {
        texts: bubbles.map((x) => x.textContent),
        bubbleChildren: bubbles.flatMap((x) => [...x.children].map((c) => c.tagName)),
        onAttrs,
        foreign,
        svgs,
        anchors,
        scripts: document.scripts.length,
        pwned: window.__pwned ?? null,
        location: location.href,
        authors: [...document.querySelectorAll('.msg-author, .person-name')].map((x) => x.textContent),
        title: document.title,
      };
    });
    for (const p of PAYLOADS) assert.ok(report.texts.includes(p), `${who}: payload shown verbatim as text: ${p}`);
    assert.ok(report.bubbleChildren.every((t) => t === 'A'), `${who}: only safe anchors inside bubbles: ${report.bubbleChildren}`);
    assert.deepEqual(report.onAttrs, [], `${who}: event-handler attributes in the DOM`);
    assert.deepEqual(report.foreign, [], `${who}: unexpected elements in the message list`);
    assert.equal(report.svgs, 0, `${who}: foreign svg`);
    for (const a of report.anchors) {
      assert.match(a.href, /^https?:\/\//, `${who}: anchor href ${a.href}`);
      assert.match(a.rel, /noopener/);
      assert.match(a.rel, /noreferrer/);
      assert.equal(a.target, '_blank');
    }
    assert.equal(report.pwned, null, `${who}: a payload ran`);
    assert.equal(report.scripts, scriptsBefore, `${who}: script elements were added`);
    assert.match(report.location, new RegExp(`^${stack.base}/`), `${who}: navigated away`);
    if (who === 'bob') assert.ok(report.authors.includes(EVIL_NAME), 'the hostile name is shown as text');
  }
  await checkClean(assert, b, bob.rec, 'bob');
  await checkClean(assert, m, mallory.rec, 'mallory');
});
