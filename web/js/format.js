// Pure helpers for presenting chat data (no DOM): links, times, names, grouping.

// http(s) URLs, and bare www. hosts. Anything else (javascript:, data:, …) stays text.
const URL_RE = /\b(?:https?:\/\/|www\.)[^\s<>"'`]+/gi;
const TRAILING_CHAR = /^[.,;:!?)\]}'"»”’]$/;
const count = (text, ch) => text.split(ch).length - 1;

/**
 * Splits text into [{text}] and [{text, href}] segments. An href is only ever
 * an absolute http: or https: URL (checked with the URL parser).
 */
export function linkify(text) {
  const out = [];
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    let raw = match[0];
    // Trailing punctuation belongs to the sentence, unless it closes a bracket inside the URL.
    while (TRAILING_CHAR.test(raw.at(-1) ?? '')) {
      if (raw.endsWith(')') && count(raw, '(') >= count(raw, ')')) break;
      raw = raw.slice(0, -1);
    }
    const href = safeHref(raw.startsWith('www.') ? `https://${raw}` : raw);
    if (!href) continue;
    if (match.index > last) out.push({ text: text.slice(last, match.index) });
    out.push({ text: raw, href });
    last = match.index + raw.length;
  }
  if (last < text.length) out.push({ text: text.slice(last) });
  return out;
}

/** The normalised URL if it is http(s) with a host, else null. */
export function safeHref(candidate) {
  let url;
  try {
    url = new URL(candidate);
  } catch {
    return null;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) return null;
  return url.href;
}

const pad = (n) => String(n).padStart(2, '0');

/** "14:05" in local time. */
export function formatTime(ts) {
  const d = new Date(ts);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Full local date and time, for tooltips: "2026-03-01 14:05:09". */
export function formatFull(ts) {
  const d = new Date(ts);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

const DAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** Local calendar day key: "2026-3-1". */
export function dayKey(ts) {
  const d = new Date(ts);
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

/** "Today", "Yesterday", "Monday, March 2" or "March 2, 2024". */
export function dayLabel(ts, now = Date.now()) {
  const d = new Date(ts);
  const today = new Date(now);
  today.setHours(0, 0, 0, 0);
  const that = new Date(d);
  that.setHours(0, 0, 0, 0);
  const days = Math.round((today - that) / 86_400_000);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  const md = `${MONTHS[d.getMonth()]} ${d.getDate()}`;
  if (days > 1 && days < 7) return `${DAY_NAMES[d.getDay()]}, ${md}`;
  return d.getFullYear() === today.getFullYear() ? md : `${md}, ${d.getFullYear()}`;
}

/** One or two initials for an avatar. */
export function initials(name) {
  const words = String(name ?? '').trim().split(/[\s._-]+/).filter(Boolean);
  if (words.length === 0) return '?';
  const first = [...words[0]][0] ?? '?';
  const second = words.length > 1 ? ([...words[1]][0] ?? '') : '';
  return (first + second).toUpperCase();
}

/** A stable avatar colour slot 0..7 for a display name (djb2 hash). */
export function colorSlot(name) {
  let h = 5381;
  for (const ch of String(name ?? '')) h = (Math.imul(h, 33) + ch.codePointAt(0)) >>> 0;
  return h % 8;
}

/** "alice is typing…", "alice and bob are typing…", "alice, bob and 2 others are typing…". */
export function typingText(names) {
  const n = names.length;
  if (n === 0) return '';
  if (n === 1) return `${names[0]} is typing…`;
  if (n === 2) return `${names[0]} and ${names[1]} are typing…`;
  if (n === 3) return `${names[0]}, ${names[1]} and ${names[2]} are typing…`;
  return `${names[0]}, ${names[1]} and ${n - 2} others are typing…`;
}

export const GROUP_GAP_MS = 5 * 60_000;

/**
 * Whether message `cur` continues the group started before it: same author,
 * same day, within GROUP_GAP_MS of the previous one.
 */
export function continuesGroup(prev, cur) {
  if (!prev || !cur) return false;
  if (prev.authorId !== cur.authorId) return false;
  if (dayKey(prev.ts) !== dayKey(cur.ts)) return false;
  return cur.ts - prev.ts < GROUP_GAP_MS;
}
