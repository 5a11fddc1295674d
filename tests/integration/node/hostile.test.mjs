// Malformed and hostile input, table-driven (docs/reliability.md, "Malformed and hostile input").
//
// Frame level: raw TCP, the upgrade done by hand (lib/ws-frames.mjs), then hand-built frames
// that no WebSocket library would send: RSV bits, reserved opcodes, unmasked client frames,
// non-canonical and absurd declared lengths, fragmented or oversized control frames, stray
// continuations, bad close frames, invalid UTF-8 split across fragments, binary frames. One
// throwaway connection per case, 20 at a time. Each case must end with the documented close
// code (docs/protocol.md "Gateway behaviour"; RFC 6455 §7.4.1 for the protocol errors Beast
// detects) and the TCP connection must go away.
//
// Message level: well-formed frames with hostile JSON on a few long-lived connections:
// truncation at every byte, nesting 31/32/33/1000, wrong types for every field of every
// action, unknown actions, oversize fields, NUL bytes, duplicate keys, absurd numbers. Each
// must get its documented error frame (code and echo fields) or its normal reply, and the
// connection stays open.
//
// After every batch a control client sends a message that another control client receives.
// On a local stack the gateway's VmRSS after a warm-up pass and after all cases must differ
// by less than 20 MB.
//
// Two gateway bugs found here are pinned by `todo` tests (reported, not failing the suite):
// a message that ends inside a UTF-8 sequence and is completed by an empty final continuation
// is not closed with 1007; and connections the gateway closes itself from its read handler
// (1003, 1009 "Frame too big", 1008) never run $disconnect, so their record, their per-IP slot
// and their memory are never released.
import { test as nodeTest, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { startStack, localStackOrSkip, newUser, connect, join, uniq, openSocket, storedConnectionIds, waitUntil, sleep } from './lib/stack.mjs';
import { RawSocket, frame, closePayload, fragments, OP, OP_NAME, hex, DEFAULT_MASK_KEY } from './lib/ws-frames.mjs';

// Not in target mode: on AWS the frame level is API Gateway's, not ours, and the 2,236
// cases (over 1,000 connections, each with $connect and $disconnect invocations) would
// flood a shared stage or the production-like local run's function instances.
const TARGET_SKIP = process.env.STRATUS_TARGET_URL
  ? 'target mode: tests the Stratus gateway itself (on AWS the frame level is API Gateway\'s)' : false;
const test = (name, options, fn) => {
  if (typeof options === 'function') return nodeTest(name, { skip: TARGET_SKIP }, options);
  return nodeTest(name, { ...options, skip: TARGET_SKIP || options.skip }, fn);
};

const STACK_ARGS = ['--max-connections-per-ip', '0']; // one throwaway connection per frame case
const CONCURRENCY = 20;
const CASE_TIMEOUT_MS = 5000;
const RSS_GROWTH_LIMIT_KB = 20 * 1024;
// STRATUS_HOSTILE_ROUNDS=N runs the frame and message levels N times (a longer memory check).
const ROUNDS = Math.max(1, Number(process.env.STRATUS_HOSTILE_ROUNDS) || 1);

const ACTIONS = ['joinRoom', 'leaveRoom', 'sendMessage', 'getHistory', 'typing', 'listRooms', 'markRead', 'ping'];
const REPLY_TYPES = new Set(['error', 'joined', 'left', 'ack', 'history', 'rooms', 'read', 'pong']);
const MAX_SAFE_COUNT = 4611686018427387903n; // INT64_MAX / 2: protocol.cpp optional_count

let stack;
let control; // {a, b, room, n}
const rss = {};
const counted = { frame: {}, message: {} };

before(async () => {
  // A local gateway of our own without the per-IP cap; else (STRATUS_URL, target mode) the given one.
  stack = (await startStack(STACK_ARGS)) ?? (await startStack());
  const room = uniq('hostile-ctl');
  const a = await connect(stack, await newUser(stack, 'ctl-a'));
  const b = await connect(stack, await newUser(stack, 'ctl-b'));
  await join(a, room);
  await join(b, room);
  control = { a, b, room, n: 0 };
});

after(async () => {
  await stack?.stop();
});

/** The server keeps serving: a control message is acked and delivered to another client. */
async function assertServing(where) {
  if (stack.exited) assert.fail(`the gateway exited (${JSON.stringify(stack.exited)}) ${where}\n${stack.stderr.slice(-2000)}`);
  control.n += 1;
  const clientMsgId = `ctl-${control.n}`;
  const ack = await control.a.request({ action: 'sendMessage', room: control.room, text: `still serving ${where}`, clientMsgId });
  assert.equal(ack.type, 'ack', `control message ${where}: ${JSON.stringify(ack)}`);
  await control.b.waitFor((f) => f.type === 'message' && f.clientMsgId === clientMsgId, 5000, `control message ${where}`);
}

// Under ASan or TSan (STRATUS_SANITIZED=1, set by .ci/run and scripts/tsan.sh) the
// sanitizer's quarantine and shadow memory make RSS meaningless: memory bounds are
// checked on the release gateway only.
const RSS_MEANINGFUL = !process.env.STRATUS_SANITIZED;

async function gatewayRssKb() {
  const status = await readFile(`/proc/${stack.proc.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]);
}

// ======================================================================= frame level

const PING = '{"action":"ping"}';
/** A valid first fragment (text, FIN=0) that opens a message. */
const START = frame({ opcode: OP.text, fin: false, payload: '{"action":' });
const wait = (ms) => ({ wait: ms });

/** A JSON ping of exactly n bytes (n >= 24). */
function pingOfSize(n) {
  const pre = '{"action":"ping","p":"';
  return pre + 'a'.repeat(n - pre.length - 2) + '"}';
}

/** Payload bytes for a declared length: sent in full when small, else only the first 16 bytes. */
function bodyFor(declared, fill = 0x61) {
  const n = BigInt(declared) <= 300n ? Number(declared) : 16;
  return Buffer.alloc(n, fill);
}

/** Masks `body` the way frame() does (for payloads written after their header). */
function masked(body, offset = 0) {
  const key = DEFAULT_MASK_KEY;
  return Buffer.from(Uint8Array.from(body, (b, i) => b ^ key[(i + offset) & 3]));
}

// Invalid UTF-8 (RFC 3629): overlong forms, UTF-16 surrogates, code points above U+10FFFF,
// truncated and broken sequences, bytes that never appear in UTF-8.
const BAD_UTF8 = {
  'overlong NUL C0 80': [0xc0, 0x80],
  'overlong / C0 AF': [0xc0, 0xaf],
  'overlong C1 BF': [0xc1, 0xbf],
  'overlong 3-byte E0 80 80': [0xe0, 0x80, 0x80],
  'overlong 3-byte E0 9F BF': [0xe0, 0x9f, 0xbf],
  'overlong 4-byte F0 80 80 80': [0xf0, 0x80, 0x80, 0x80],
  'overlong 4-byte F0 8F BF BF': [0xf0, 0x8f, 0xbf, 0xbf],
  '5-byte form F8 88 80 80 80': [0xf8, 0x88, 0x80, 0x80, 0x80],
  '6-byte form FC 84 80 80 80 80': [0xfc, 0x84, 0x80, 0x80, 0x80, 0x80],
  'surrogate U+D800': [0xed, 0xa0, 0x80],
  'surrogate U+DB7F': [0xed, 0xad, 0xbf],
  'surrogate U+DB80': [0xed, 0xae, 0x80],
  'surrogate U+DC00': [0xed, 0xb0, 0x80],
  'surrogate U+DFFF': [0xed, 0xbf, 0xbf],
  'surrogate pair D83D DE00 as CESU-8': [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80],
  'U+110000 F4 90 80 80': [0xf4, 0x90, 0x80, 0x80],
  'F5 80 80 80': [0xf5, 0x80, 0x80, 0x80],
  'F7 BF BF BF': [0xf7, 0xbf, 0xbf, 0xbf],
  'truncated 2-byte C3': [0xc3],
  'truncated 3-byte E2 82': [0xe2, 0x82],
  'truncated 4-byte F0 9F 98': [0xf0, 0x9f, 0x98],
  'truncated 4-byte F0 9F': [0xf0, 0x9f],
  'stray continuation 80': [0x80],
  'stray continuation BF': [0xbf],
  'two continuations 80 80': [0x80, 0x80],
  'byte FE': [0xfe],
  'byte FF': [0xff],
  'BOM-like FE FF': [0xfe, 0xff],
  'bad continuation C3 28': [0xc3, 0x28],
  'bad continuation E2 28 A1': [0xe2, 0x28, 0xa1],
  'bad continuation E2 82 28': [0xe2, 0x82, 0x28],
  'bad continuation F0 28 8C BC': [0xf0, 0x28, 0x8c, 0xbc],
  'bad continuation F0 90 28 BC': [0xf0, 0x90, 0x28, 0xbc],
  'lead then ASCII E0 41': [0xe0, 0x41],
  'valid é then stray A9': [0xc3, 0xa9, 0xa9],
  'Latin-1 é (E9) alone': [0xe9],
};

// Valid multi-byte characters, for the positive controls that split them across fragments.
const GOOD_UTF8 = {
  'é U+00E9': [0xc3, 0xa9],
  '€ U+20AC': [0xe2, 0x82, 0xac],
  'U+D7FF': [0xed, 0x9f, 0xbf],
  'U+E000': [0xee, 0x80, 0x80],
  'U+FFFF': [0xef, 0xbf, 0xbf],
  '😀 U+1F600': [0xf0, 0x9f, 0x98, 0x80],
  'U+10FFFF': [0xf4, 0x8f, 0xbf, 0xbf],
};

/** True when `bytes` is a valid UTF-8 prefix that stops inside a sequence (valid if it went on). */
function isTruncatedOnly(bytes) {
  for (const tail of [[0x80], [0x80, 0x80], [0x80, 0x80, 0x80], [0xa9], [0xac], [0x80, 0xac], [0x98, 0x80], [0x9f, 0x98, 0x80]]) {
    const whole = Buffer.concat([Buffer.from(bytes), Buffer.from(tail)]);
    if (new TextDecoder('utf-8', { fatal: false }).decode(whole).indexOf('\uFFFD') < 0) return true;
  }
  return false;
}

/**
 * The frame-level cases: {family, label, steps: [Buffer | {wait}], expect}.
 * expect: {close: code} (the server's close frame carries that code, then TCP closes), or
 * {reply: true, pongs: [payload…]} (a JSON pong comes back, and a pong frame per ping sent;
 * then a normal close is echoed with 1000).
 */
function buildFrameCases() {
  const cases = [];
  const add = (family, label, steps, expect) => cases.push({ family, label, steps, expect });
  const DATA = { text: OP.text, binary: OP.binary, cont: OP.cont };
  const CONTROL = { ping: OP.ping, pong: OP.pong, close: OP.close };
  // A continuation is only meaningful inside a message: the case opens one first.
  const withStart = (opName, f) => (opName === 'cont' ? [START, f] : [f]);

  // 1. RSV1/2/3 set, no extension negotiated (RFC 6455 §5.2: fail the connection).
  for (const [name, op] of Object.entries(DATA)) {
    for (let rsv = 1; rsv <= 7; rsv += 1) {
      for (const mask of [true, false]) {
        for (const enc of [7, 16, 64]) {
          const declared = enc === 7 ? 3 : enc === 16 ? 300 : 70000;
          const f = frame({ opcode: op, rsv, mask, lengthEncoding: enc, declaredLength: declared, payload: bodyFor(declared) });
          add('reserved bits', `${name} rsv=${rsv} ${mask ? 'masked' : 'unmasked'} ${enc}-bit length`, withStart(name, f), { close: 1002 });
        }
      }
    }
  }
  for (const [name, op] of Object.entries(CONTROL)) {
    for (let rsv = 1; rsv <= 7; rsv += 1) {
      for (const mask of [true, false]) {
        const payload = op === OP.close ? closePayload(1000) : 'abc';
        add('reserved bits', `${name} rsv=${rsv} ${mask ? 'masked' : 'unmasked'}`, [frame({ opcode: op, rsv, mask, payload })], { close: 1002 });
      }
    }
  }

  // 2. Reserved opcodes 3-7 (data) and 0xB-0xF (control).
  for (const op of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    for (const fin of [true, false]) {
      for (const mask of [true, false]) {
        for (const midMessage of [false, true]) {
          const f = frame({ opcode: op, fin, mask, payload: 'abc' });
          add('reserved opcodes', `opcode 0x${op.toString(16)} fin=${+fin} ${mask ? 'masked' : 'unmasked'}${midMessage ? ' inside a message' : ''}`,
            midMessage ? [START, f] : [f], { close: 1002 });
        }
      }
      for (const enc of [16, 64]) {
        const declared = enc === 16 ? 300 : 2n ** 40n;
        add('reserved opcodes', `opcode 0x${op.toString(16)} fin=${+fin} ${enc}-bit length ${declared}`,
          [frame({ opcode: op, fin, lengthEncoding: enc, declaredLength: declared, payload: bodyFor(declared) })], { close: 1002 });
      }
    }
  }

  // 3. Unmasked client frames, at every length encoding (RFC 6455 §5.1: the server must close).
  const UNMASKED_LENGTHS = [0n, 5n, 125n, 126n, 65535n, 65536n, 2n ** 31n, 2n ** 63n - 1n];
  for (const [name, op] of Object.entries({ ...DATA, ...CONTROL })) {
    for (const declared of UNMASKED_LENGTHS) {
      for (const fin of op >= 8 ? [true] : [true, false]) {
        const payload = op === OP.close && declared >= 2n && declared <= 300n
          ? Buffer.concat([closePayload(1000), bodyFor(declared - 2n)]) : bodyFor(declared);
        const f = frame({ opcode: op, fin, mask: false, declaredLength: declared, payload });
        add('unmasked', `unmasked ${name} fin=${+fin} length ${declared}`, withStart(name, f), { close: 1002 });
      }
    }
  }

  // 4. Non-canonical lengths: a 16-bit length below 126, a 64-bit length below 65536 (RFC 6455 §5.2
  //    "the minimal number of bytes MUST be used").
  for (const [name, op] of Object.entries(DATA)) {
    for (const [enc, declared] of [[16, 0], [16, 1], [16, 125], [64, 0], [64, 1], [64, 125], [64, 126], [64, 65535]]) {
      for (const fin of [true, false]) {
        const f = frame({ opcode: op, fin, lengthEncoding: enc, declaredLength: declared, payload: bodyFor(declared) });
        add('non-canonical length', `${name} fin=${+fin} length ${declared} in ${enc} bits`, withStart(name, f), { close: 1002 });
      }
    }
  }

  // 5. Huge declared lengths, payload withheld: over the 128 KB message limit, Beast refuses at the header.
  const HUGE = [131073n, 2n ** 20n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n, 2n ** 32n + 1n, 2n ** 53n + 1n,
    2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n];
  for (const [name, op] of Object.entries(DATA)) {
    for (const declared of HUGE) {
      for (const fin of [true, false]) {
        const f = frame({ opcode: op, fin, declaredLength: declared, payload: bodyFor(declared) });
        const msb = declared >= 2n ** 63n ? ' (MSB set)' : '';
        add('huge declared length', `${name} fin=${+fin} declares ${declared}${msb}`, withStart(name, f), { close: 1009 });
      }
    }
  }
  // ... and a continuation whose declared length takes the message over 128 KB.
  for (const [firsts, declared] of [[[32768], 98305], [[32768, 32768, 32768], 32769], [[1], 131072], [[32768, 32768, 32768, 32768], 1],
    [[100], 2n ** 63n - 1n], [[100], 2n ** 64n - 1n]]) {
    const steps = firsts.map((n, i) => frame({ opcode: i === 0 ? OP.text : OP.cont, fin: false, payload: Buffer.alloc(n, 0x61) }));
    steps.push(frame({ opcode: OP.cont, fin: true, declaredLength: declared, payload: bodyFor(declared) }));
    add('huge declared length', `fragments ${firsts.join('+')} then a continuation declaring ${declared}`, steps, { close: 1009 });
  }

  // 6. Frames over 32 KB with their payload (the gateway's own per-frame limit).
  for (const [name, op] of [['text', OP.text], ['binary', OP.binary]]) {
    for (const n of [32769, 40000, 65535, 65536, 100000, 131072]) {
      const body = op === OP.text ? pingOfSize(n) : Buffer.alloc(n, 0x62);
      add('oversized frame', `${name} frame of ${n} bytes`, [frame({ opcode: op, payload: body })], { close: 1009 });
      add('oversized frame', `${name} first fragment of ${n} bytes, then an empty final continuation`,
        [frame({ opcode: op, fin: false, payload: body }), frame({ opcode: OP.cont, payload: '' })], { close: 1009 });
    }
  }

  // 7. Over 32 KB declared, payload withheld for 300 ms, then sent (see docs/reliability.md: the close
  //    comes once the frame is complete).
  for (const [name, op] of [['text', OP.text], ['binary', OP.binary]]) {
    for (const n of [32769, 65535, 65536, 131072]) {
      const body = Buffer.from(op === OP.text ? pingOfSize(n) : Buffer.alloc(n, 0x62));
      const header = frame({ opcode: op, declaredLength: n, payload: body.subarray(0, 100) });
      add('withheld oversize payload', `${name} declares ${n}, first 100 bytes, 300 ms pause, the rest`,
        [header, wait(300), masked(body.subarray(100), 100)], { close: 1009, withheld: true });
    }
  }

  // 8. Fragmented control frames (FIN=0), alone and inside a fragmented message.
  for (const [name, op] of Object.entries(CONTROL)) {
    for (const len of [0, 5, 125]) {
      const payload = op === OP.close && len >= 2 ? Buffer.concat([closePayload(1000), Buffer.alloc(len - 2, 0x61)]) : Buffer.alloc(len, 0x61);
      for (const midMessage of [false, true]) {
        const f = frame({ opcode: op, fin: false, payload });
        add('fragmented control', `${name} FIN=0 length ${len}${midMessage ? ' inside a message' : ''}`, midMessage ? [START, f] : [f], { close: 1002 });
      }
    }
  }

  // 9. Control frames over 125 bytes (RFC 6455 §5.5).
  for (const [name, op] of Object.entries(CONTROL)) {
    for (const declared of [126n, 200n, 1000n, 65535n, 65536n, 2n ** 31n, 2n ** 63n - 1n]) {
      for (const midMessage of [false, true]) {
        const payload = op === OP.close && declared <= 1000n ? Buffer.concat([closePayload(1000), Buffer.alloc(Number(declared) - 2, 0x61)])
          : declared <= 1000n ? Buffer.alloc(Number(declared), 0x61) : bodyFor(declared);
        const f = frame({ opcode: op, declaredLength: declared, payload });
        add('control over 125 bytes', `${name} of ${declared} bytes${midMessage ? ' inside a message' : ''}`, midMessage ? [START, f] : [f], { close: 1002 });
      }
    }
  }

  // 10. Continuation frames with no message to continue.
  for (const fin of [true, false]) {
    for (const len of [0, 1, 5, 125, 126, 1000]) {
      const f = frame({ opcode: OP.cont, fin, payload: Buffer.alloc(len, 0x61) });
      add('continuation without start', `continuation fin=${+fin} length ${len} as the first frame`, [f], { close: 1002 });
      add('continuation without start', `continuation fin=${+fin} length ${len} after a complete message`,
        [frame({ opcode: OP.text, payload: PING }), f], { close: 1002 });
    }
  }

  // 11. A new data frame while a fragmented message is open.
  for (const firstLen of [0, 1, 10]) {
    for (const [name, op] of [['text', OP.text], ['binary', OP.binary]]) {
      for (const fin of [true, false]) {
        add('data frame inside a message', `text FIN=0 (${firstLen} bytes), then ${name} fin=${+fin}`,
          [frame({ opcode: OP.text, fin: false, payload: Buffer.alloc(firstLen, 0x20) }), frame({ opcode: op, fin, payload: PING })], { close: 1002 });
      }
    }
  }

  // 12. Close frames: a 1-byte body, codes RFC 6455 §7.4 forbids on the wire, invalid UTF-8 reasons;
  //     valid codes are echoed.
  for (const b of [0x00, 0x03, 0xe8, 0xff]) {
    add('close frames', `close with a 1-byte body ${hex([b])}`, [frame({ opcode: OP.close, payload: Buffer.from([b]) })], { close: 1002 });
  }
  const BAD_CODES = [0, 1, 500, 999, 1004, 1005, 1006, 1014, 1015, 1016, 1017, 1100, 1500, 1999, 2000, 2500, 2998, 2999];
  for (const code of BAD_CODES) {
    for (const reason of ['', 'bye']) {
      add('close frames', `close code ${code}${reason ? ' with a reason' : ''}`, [frame({ opcode: OP.close, payload: closePayload(code, reason) })], { close: 1002 });
    }
  }
  for (const code of [5000, 5001, 9999, 65535]) { // undefined by RFC 6455; Beast accepts and echoes them
    for (const reason of ['', 'bye']) {
      add('close frames', `close code ${code}${reason ? ' with a reason' : ''} (echoed)`, [frame({ opcode: OP.close, payload: closePayload(code, reason) })], { close: code });
    }
  }
  for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 3000, 3999, 4000, 4999]) {
    add('close frames', `valid close code ${code} (echoed)`, [frame({ opcode: OP.close, payload: closePayload(code, 'ok') })], { close: code });
  }
  add('close frames', 'empty close (answered with 1000)', [frame({ opcode: OP.close, payload: '' })], { close: 1000 });
  add('close frames', 'close 1000 with a 123-byte reason (the most that fits)', [frame({ opcode: OP.close, payload: closePayload(1000, 'r'.repeat(123)) })], { close: 1000 });
  for (const [label, bytes] of Object.entries(BAD_UTF8)) {
    add('close frames', `close 1000 with invalid UTF-8 reason: ${label}`,
      [frame({ opcode: OP.close, payload: closePayload(1000, Buffer.concat([Buffer.from('bye '), Buffer.from(bytes)])) })], { close: 1002 });
  }

  // 13. Invalid UTF-8 in text, whole and split across fragments at every interesting point.
  const pre = Buffer.from('{"action":"ping","x":"');
  const post = Buffer.from('"}');
  for (const [label, arr] of Object.entries(BAD_UTF8)) {
    const bad = Buffer.from(arr);
    const whole = Buffer.concat([pre, bad, post]);
    const at = pre.length;
    add('invalid UTF-8', `${label}: in one frame`, [frame({ opcode: OP.text, payload: whole })], { close: 1007 });
    add('invalid UTF-8', `${label}: alone as the payload`, [frame({ opcode: OP.text, payload: bad })], { close: 1007 });
    add('invalid UTF-8', `${label}: split before it`, fragments(whole, [at]), { close: 1007 });
    add('invalid UTF-8', `${label}: split after its first byte`, fragments(whole, [at + 1]), { close: 1007 });
    add('invalid UTF-8', `${label}: one fragment per byte of it`, fragments(whole, [...bad.keys()].map((i) => at + i).concat(at + bad.length)), { close: 1007 });
    add('invalid UTF-8', `${label}: at the end of the message`, [frame({ opcode: OP.text, payload: Buffer.concat([pre, bad]) })], { close: 1007 });
    // A sequence that is only invalid because it is cut off, followed by an EMPTY final frame, is
    // not caught (known gateway bug, see the todo test below): Beast 1.81 checks that the message
    // does not end inside a sequence only while it processes payload bytes of the final frame.
    const cutOff = isTruncatedOnly(bad);
    add('invalid UTF-8', `${label}: ending a FIN=0 fragment, then an empty final continuation`,
      [frame({ opcode: OP.text, fin: false, payload: Buffer.concat([pre, bad]) }), frame({ opcode: OP.cont, payload: '' })],
      cutOff ? { close: 1007, knownBug: true, timeoutMs: 1500 } : { close: 1007 });
  }

  // 14. Binary frames (API Gateway's 1003).
  const BINARY_PAYLOADS = {
    empty: Buffer.alloc(0), 'a JSON ping': Buffer.from(PING), '3 bytes': Buffer.from('abc'),
    '125 bytes': Buffer.alloc(125, 1), '126 bytes': Buffer.alloc(126, 2), '1000 bytes': Buffer.alloc(1000, 3),
    '32768 bytes': Buffer.alloc(32768, 4), 'invalid UTF-8': Buffer.from([0xc0, 0xaf, 0xff, 0xfe]),
  };
  for (const [label, body] of Object.entries(BINARY_PAYLOADS)) {
    add('binary', `binary frame, ${label}`, [frame({ opcode: OP.binary, payload: body })], { close: 1003 });
    add('binary', `binary FIN=0, ${label}, then a final continuation`,
      [frame({ opcode: OP.binary, fin: false, payload: body }), frame({ opcode: OP.cont, payload: 'z' })], { close: 1003 });
    add('binary', `binary FIN=0, ${label}, a ping, then a final continuation`,
      [frame({ opcode: OP.binary, fin: false, payload: body }), frame({ opcode: OP.ping, payload: 'p' }), frame({ opcode: OP.cont, payload: 'z' })], { close: 1003 });
  }

  // 15. Positive controls: legal but unusual framing gets the normal answer. These show that the
  //     hand-built frames are right, so the refusals above are about the one thing each case breaks.
  const ok = (label, steps, pongs = []) => add('valid controls', label, steps, { reply: true, pongs });
  ok('text ping in one frame', [frame({ opcode: OP.text, payload: PING })]);
  ok('mask key 00 00 00 00', [frame({ opcode: OP.text, payload: PING, maskKey: Buffer.alloc(4) })]);
  for (const n of [126, 1000, 32768]) ok(`text frame of ${n} bytes (16-bit length)`, [frame({ opcode: OP.text, payload: pingOfSize(n) })]);
  ok('a message of 4 x 32768 bytes = 131072 (the message limit)', fragments(pingOfSize(131072), [32768, 65536, 98304]));
  ok('4 x 32768 bytes with FIN=0, then an empty final continuation',
    [...fragments(pingOfSize(131072), [32768, 65536, 98304]).map((f, i) => (i === 3 ? Buffer.concat([Buffer.from([f[0] & 0x7f]), f.subarray(1)]) : f)),
      frame({ opcode: OP.cont, payload: '' })]);
  for (const len of [0, 2, 125]) {
    const body = Buffer.alloc(len, 0x70);
    ok(`ping frame of ${len} bytes is answered with a pong`, [frame({ opcode: OP.ping, payload: body }), frame({ opcode: OP.text, payload: PING })], [body]);
  }
  ok('unsolicited pong is ignored', [frame({ opcode: OP.pong, payload: 'x' }), frame({ opcode: OP.text, payload: PING })]);
  ok('ping between fragments', [frame({ opcode: OP.text, fin: false, payload: '{"action":' }), frame({ opcode: OP.ping, payload: 'mid' }),
    frame({ opcode: OP.cont, payload: '"ping"}' })], [Buffer.from('mid')]);
  ok('pong between fragments', [frame({ opcode: OP.text, fin: false, payload: '{"action":' }), frame({ opcode: OP.pong, payload: 'mid' }),
    frame({ opcode: OP.cont, payload: '"ping"}' })]);
  ok('empty FIN=0 fragments, then the message', [frame({ opcode: OP.text, fin: false, payload: '' }), frame({ opcode: OP.cont, fin: false, payload: '' }),
    frame({ opcode: OP.cont, fin: false, payload: '{"action":"ping"' }), frame({ opcode: OP.cont, payload: '}' })]);
  ok('one fragment per byte', fragments(PING, [...Array(PING.length).keys()]));
  for (const [label, arr] of Object.entries(GOOD_UTF8)) {
    const ch = Buffer.from(arr);
    const whole = Buffer.concat([pre, ch, post]);
    ok(`${label} in one frame`, [frame({ opcode: OP.text, payload: whole })]);
    ok(`${label} split after its first byte`, fragments(whole, [pre.length + 1]));
    ok(`${label} one fragment per byte`, fragments(whole, [...ch.keys()].map((i) => pre.length + i).concat(pre.length + ch.length)));
  }
  return cases;
}

/** Runs one frame case on its own connection; resolves with a failure text or null. */
async function runFrameCase(c, url) {
  const bytes = Buffer.concat(c.steps.filter(Buffer.isBuffer));
  const where = `[${c.family}] ${c.label} — bytes ${hex(bytes)}`;
  let raw;
  try {
    raw = await RawSocket.open(url, { timeoutMs: CASE_TIMEOUT_MS });
  } catch (err) {
    return `${where}: upgrade failed: ${err.message}`;
  }
  try {
    // Consecutive frames go out in one write, as a client would send them. (Written one by one, a
    // frame that arrives after the server failed the connection can meet Beast's teardown, which
    // closes the socket after its first drain read: the kernel answers the late bytes with RST, and
    // the client's next write fails before it has read the close frame.)
    const writes = [];
    for (const step of c.steps) {
      if (Buffer.isBuffer(step) && Buffer.isBuffer(writes.at(-1))) writes[writes.length - 1] = Buffer.concat([writes.at(-1), step]);
      else writes.push(step);
    }
    let closedBeforeLastWrite = false;
    for (const [i, step] of writes.entries()) {
      if (!Buffer.isBuffer(step)) {
        await new Promise((resolve) => setTimeout(resolve, step.wait));
        continue;
      }
      if (i === writes.length - 1 && raw.closeFrame) closedBeforeLastWrite = true;
      await raw.write(step);
    }
    if (c.expect.reply) {
      const reply = await raw.waitFrame((f) => f.opcode === OP.text, CASE_TIMEOUT_MS);
      if (!reply) return `${where}: expected a JSON pong, got ${describe(raw)}`;
      const text = reply.payload.toString('utf8');
      if (text !== '{"type":"pong"}') return `${where}: expected {"type":"pong"}, got ${text.slice(0, 200)}`;
      const pongs = raw.frames.filter((f) => f.opcode === OP.pong).map((f) => f.payload);
      if (pongs.length !== c.expect.pongs.length || pongs.some((p, i) => !p.equals(c.expect.pongs[i]))) {
        return `${where}: expected pong frames [${c.expect.pongs.map((p) => hex(p)).join(',')}], got [${pongs.map((p) => hex(p)).join(',')}]`;
      }
      const end = await raw.close(CASE_TIMEOUT_MS);
      if (end.closeCode !== 1000 || !end.tcpClosed) return `${where}: normal close not completed: ${describe(raw)}`;
      return null;
    }
    const timeoutMs = c.expect.timeoutMs ?? CASE_TIMEOUT_MS;
    const end = await raw.waitEnd(timeoutMs);
    if (c.expect.withheld) c.closedBeforePayload = closedBeforeLastWrite;
    if (end.closeCode !== c.expect.close) {
      return `${where}: expected close ${c.expect.close}, got ${end.closeCode === null ? 'no close frame' : `close ${end.closeCode}`}` +
        `${end.tcpClosed ? ', TCP closed' : `, TCP still open after ${timeoutMs} ms`}; ${describe(raw)}`;
    }
    if (!end.tcpClosed) return `${where}: close ${end.closeCode} came but TCP stayed open for ${CASE_TIMEOUT_MS} ms`;
    const dataFrames = end.frames.filter((f) => f.opcode !== OP.close && f.opcode !== OP.text && f.opcode !== OP.pong);
    if (dataFrames.length) return `${where}: unexpected frames from the server: ${describe(raw)}`;
    return null;
  } finally {
    raw.destroy();
  }
}

function describe(raw) {
  const frames = raw.frames.map((f) => `${OP_NAME[f.opcode] ?? f.opcode}:${f.opcode === OP.close ? hex(f.payload) : f.payload.toString('utf8').slice(0, 80)}`);
  return `frames [${frames.join(' | ')}]${raw.tcpClosed ? ' TCP closed' : ''}${raw.error ? ` error ${raw.error.code ?? raw.error.message}` : ''}`;
}

/** Runs frame cases CONCURRENCY at a time; checks the control clients after each batch. */
async function runFrameCases(cases, url, tag) {
  const failures = [];
  for (let i = 0; i < cases.length; i += CONCURRENCY) {
    const batch = cases.slice(i, i + CONCURRENCY);
    const results = await Promise.all(batch.map((c) => runFrameCase(c, url)));
    failures.push(...results.filter(Boolean));
    await assertServing(`after ${tag} frame cases ${i + 1}-${i + batch.length}`);
  }
  return failures;
}

// ======================================================================= message level

const DEFAULT_ERROR = Object.freeze({ type: 'error', code: 'invalid_request', action: '', validActions: true });

/** A value the error frame echoes: a non-empty string of at most 64 bytes (protocol.cpp short_string_member). */
const echoed = (v) => (typeof v === 'string' && v.length > 0 && Buffer.byteLength(v) <= 64 ? v : undefined);

/** The error an object frame gets: routed to its action, or to $default when the action is not one. */
function errorFor(obj, code = 'invalid_request') {
  const routed = typeof obj.action === 'string' && ACTIONS.includes(obj.action);
  return {
    type: 'error', code, action: routed ? obj.action : (echoed(obj.action) ?? ''), validActions: !routed,
    room: echoed(obj.room), clientMsgId: echoed(obj.clientMsgId),
  };
}

/** A JSON number literal as the server reads it for a count field: a BigInt, 'invalid' or 'overflow'. */
function countLiteral(raw) {
  if (!Number.isFinite(Number(raw))) return 'overflow'; // beyond double range: the JSON parser refuses the frame
  if (!/^-?\d+$/.test(raw) || raw.startsWith('-')) return 'invalid'; // fractions, exponents, any minus (even -0)
  const v = BigInt(raw);
  return v > MAX_SAFE_COUNT ? 'invalid' : v;
}

/** Nesting `levels` deep (arrays or objects), as a JSON value. */
function nested(levels, shape) {
  if (shape === 'array') return '['.repeat(levels) + ']'.repeat(levels);
  return '{"a":'.repeat(levels - 1) + '{}' + '}'.repeat(levels - 1);
}

/**
 * The message-level cases, by family: [{family, cases: [{label, frame, expect}]}], for one
 * user whose connection has joined ctx.room. expect: an error (see errorFor) or {type} of the
 * normal reply ('none' for typing: nothing comes, checked with a ping after it).
 */
function buildMessageCases(ctx) {
  const { room, room2, tag } = ctx;
  const families = [];
  let ids = 0;
  const mid = () => `${tag}-${(ids += 1)}`;
  const family = (name) => {
    const f = { family: name, cases: [] };
    families.push(f);
    return (label, frameValue, expect) => f.cases.push({
      label, frame: typeof frameValue === 'string' ? frameValue : JSON.stringify(frameValue), expect,
    });
  };
  const valid = () => ({
    joinRoom: { action: 'joinRoom', room },
    leaveRoom: { action: 'leaveRoom', room },
    sendMessage: { action: 'sendMessage', room, text: 'hello world', clientMsgId: mid() },
    getHistory: { action: 'getHistory', room, after: 0, limit: 10 },
    typing: { action: 'typing', room },
    listRooms: { action: 'listRooms' },
    markRead: { action: 'markRead', room, seq: 1 },
    ping: { action: 'ping' },
  });
  const NORMAL = { joinRoom: 'joined', leaveRoom: 'left', sendMessage: 'ack', getHistory: 'history', typing: 'none',
    listRooms: 'rooms', markRead: 'read', ping: 'pong' };

  // 1. Truncated JSON at every byte offset of a valid request of each action (ASCII only, so every
  //    offset is a character boundary and the frame stays valid UTF-8).
  {
    const add = family('truncated JSON');
    for (const [action, obj] of Object.entries(valid())) {
      const full = JSON.stringify(obj);
      for (let cut = 0; cut < full.length; cut += 1) add(`${action} cut at byte ${cut}`, full.slice(0, cut), DEFAULT_ERROR);
    }
  }

  // 2. Nesting: 31 and 32 levels (the outer object counts) are served; 33 and 1000 are refused
  //    before parsing, so they fall to $default. joinRoom/leaveRoom use room2, in that order.
  {
    const add = family('deep nesting');
    for (const depth of [31, 32, 33, 1000]) {
      for (const shape of ['array', 'object']) {
        for (const placement of ['first', 'last']) {
          for (const action of ['ping', 'listRooms', 'getHistory', 'markRead', 'sendMessage', 'typing', 'joinRoom', 'leaveRoom']) {
            const obj = valid()[action];
            if (action === 'joinRoom' || action === 'leaveRoom') obj.room = room2;
            const members = JSON.stringify(obj).slice(1, -1);
            const deep = `"x":${nested(depth - 1, shape)}`;
            const text = placement === 'first' ? `{${deep},${members}}` : `{${members},${deep}}`;
            add(`${action} with a ${shape} member ${depth} levels deep (${placement})`, text,
              depth <= 32 ? { type: NORMAL[action] } : DEFAULT_ERROR);
          }
        }
      }
    }
  }

  // 3. Wrong types for every field of every action.
  {
    const add = family('wrong types');
    const FOR_STRINGS = [0, 1, -1, 1.5, 1e21, true, false, null, [], ['x'], {}, { a: 'b' }];
    const FOR_COUNTS = ['1', '', 'abc', 1.5, -1, -0.5, 1e21, true, false, [], [1], {}, { a: 1 }, null];
    const FIELDS = {
      joinRoom: { room: 'string' }, leaveRoom: { room: 'string' },
      sendMessage: { room: 'string', text: 'string', clientMsgId: 'string' },
      getHistory: { room: 'string', after: 'count', before: 'count', limit: 'count' },
      typing: { room: 'string' }, listRooms: {}, markRead: { room: 'string', seq: 'count' }, ping: {},
    };
    for (const action of ACTIONS) {
      for (const value of FOR_STRINGS) {
        const obj = { ...valid()[action], action: value };
        add(`${action}: action = ${JSON.stringify(value)}`, obj, errorFor(obj));
      }
      for (const [field, kind] of Object.entries(FIELDS[action])) {
        const values = kind === 'string' ? FOR_STRINGS : FOR_COUNTS;
        for (const value of values) {
          const obj = { ...valid()[action], [field]: value };
          if (field === 'before') delete obj.after; // 'after' and 'before' together are refused anyway
          // null is "absent" for the optional counts; seq is required.
          const expect = value === null && kind === 'count' && field !== 'seq' ? { type: 'history' } : errorFor(obj);
          add(`${action}: ${field} = ${JSON.stringify(value)}`, obj, expect);
        }
        const { [field]: _omitted, ...without } = valid()[action];
        add(`${action}: ${field} missing`, without, kind === 'count' && field !== 'seq' ? { type: 'history' } : errorFor(without));
      }
    }
  }

  // 4. Unknown actions: near misses of every action, and names a router might treat specially.
  {
    const add = family('unknown actions');
    const names = new Set();
    for (const a of ACTIONS) {
      for (const m of [a.toUpperCase(), a.toLowerCase(), a[0].toUpperCase() + a.slice(1), ` ${a}`, `${a} `, `${a}\u0000`, `${a}\n`,
        `${a}s`, a.slice(0, -1), `$${a}`, a.replace(/o/, '\u043e') + (a.includes('o') ? '' : '\u00e9'), a.padEnd(65, 'x'), `${a}.${a}`]) {
        if (!ACTIONS.includes(m)) names.add(m);
      }
    }
    for (const extra of ['', ' ', '$connect', '$disconnect', '$default', 'x'.repeat(64), 'x'.repeat(65), 'x'.repeat(1000),
      '__proto__', 'constructor', 'hasOwnProperty', 'null', 'undefined', '0', 'ping,ping', '*', '.*', '\u{1F600}']) names.add(extra);
    for (const action of names) {
      const obj = { action, room };
      add(`action ${JSON.stringify(action).slice(0, 40)}`, obj, errorFor(obj));
    }
  }

  // 5. Oversize fields (docs/protocol.md "Limits"); the frames stay under the 32 KB frame limit.
  {
    const add = family('oversize fields');
    for (const len of [65, 66, 100, 255, 256, 1000, 4096, 30000]) {
      for (const action of ['joinRoom', 'leaveRoom', 'sendMessage', 'getHistory', 'typing', 'markRead']) {
        const obj = { ...valid()[action], room: 'r'.repeat(len) };
        add(`${action}: room of ${len} characters`, obj, errorFor(obj));
      }
    }
    add('joinRoom: room of 64 characters (the limit)', { action: 'joinRoom', room: `r${'x'.repeat(63)}` }, { type: 'joined' });
    for (const [width, ch] of [[1, 'a'], [2, 'é'], [3, '€'], [4, '\u{1F600}']]) {
      for (const cps of [4000, 4001, 4002, 5000, 8000]) {
        const obj = { action: 'sendMessage', room, text: ch.repeat(cps), clientMsgId: mid() };
        add(`sendMessage: text of ${cps} ${width}-byte characters`, obj, cps <= 4000 ? { type: 'ack' } : errorFor(obj, 'too_large'));
      }
    }
    for (const len of [64, 65, 100, 1000, 10000]) {
      const obj = { action: 'sendMessage', room, text: 'x', clientMsgId: `${tag}-${'c'.repeat(len - tag.length - 1)}` };
      add(`sendMessage: clientMsgId of ${len} characters`, obj, len <= 64 ? { type: 'ack' } : errorFor(obj));
    }
    for (const limit of [100, 101, 1000, 65536, 2147483648]) {
      const obj = { action: 'getHistory', room, limit };
      add(`getHistory: limit ${limit}`, obj, limit <= 100 ? { type: 'history' } : errorFor(obj));
    }
    add('ping with an unknown 30000-character field (ignored)', { action: 'ping', junk: 'j'.repeat(30000) }, { type: 'pong' });
    add('ping with 2000 unknown fields (ignored)', Object.fromEntries([['action', 'ping'], ...Array.from({ length: 2000 }, (_, i) => [`k${i}`, i])]), { type: 'pong' });
    add('ping with a 5000-element array (ignored)', { action: 'ping', list: Array.from({ length: 5000 }, (_, i) => i % 10) }, { type: 'pong' });
  }

  // 6. NUL bytes: a raw NUL anywhere makes the frame unacceptable JSON ($default); an escaped \u0000
  //    inside a string is read, and refused by the field's rules.
  {
    const add = family('NUL bytes');
    for (const [action, obj] of Object.entries(valid())) {
      const full = JSON.stringify(obj);
      const inAction = full.indexOf(action) + 2;
      const positions = { 'at the start': 0, 'after {': 1, 'inside the action name': inAction, 'before }': full.length - 1, 'at the end': full.length };
      if (obj.room) positions['inside the room'] = full.indexOf(room) + 3;
      for (const [where, pos] of Object.entries(positions)) {
        add(`${action}: raw NUL ${where}`, `${full.slice(0, pos)}\u0000${full.slice(pos)}`, DEFAULT_ERROR);
      }
    }
    add('a raw NUL alone', '\u0000', DEFAULT_ERROR);
    add('raw NULs only (100)', '\u0000'.repeat(100), DEFAULT_ERROR);
    for (const [field, value] of [['room', `${room}\u0000`], ['text', 'a\u0000b'], ['text', '\u0000'], ['clientMsgId', 'id\u0000']]) {
      const obj = { action: 'sendMessage', room, text: 'x', clientMsgId: mid(), [field]: value };
      add(`sendMessage: escaped \\u0000 in ${field}`, obj, errorFor(obj));
    }
    for (const action of ['joinRoom', 'getHistory', 'typing', 'markRead', 'leaveRoom']) {
      const obj = { ...valid()[action], room: `\u0000${room}` };
      add(`${action}: escaped \\u0000 leading the room`, obj, errorFor(obj));
    }
  }

  // 7. Duplicate keys: the last one counts, for routing and for the fields alike.
  {
    const add = family('duplicate keys');
    const serve = ['ping', 'listRooms', 'getHistory', 'markRead', 'sendMessage', 'typing', 'joinRoom'];
    for (const action of ACTIONS) {
      const obj = valid()[action];
      const members = JSON.stringify(obj).slice(1, -1);
      add(`${action}, then "action":"nope"`, `{${members},"action":"nope"}`, errorFor({ ...obj, action: 'nope' }));
      add(`${action}, then "action":5`, `{${members},"action":5}`, errorFor({ ...obj, action: 5 }));
      if (serve.includes(action)) {
        add(`"action":"nope", then ${action}`, `{"action":"nope",${JSON.stringify(valid()[action]).slice(1, -1)}}`, { type: NORMAL[action] });
      }
    }
    for (const action of ['joinRoom', 'sendMessage', 'getHistory', 'typing', 'markRead']) {
      const obj = valid()[action];
      const members = JSON.stringify(obj).slice(1, -1);
      add(`${action}: a valid room, then "room":"bad room"`, `{${members},"room":"bad room"}`, errorFor({ ...obj, room: 'bad room' }));
      add(`${action}: "room":"bad room", then a valid room`, `{"room":"bad room",${members}}`, { type: NORMAL[action] });
      add(`${action}: "room":5, then a valid room`, `{"room":5,${JSON.stringify(valid()[action]).slice(1, -1)}}`, { type: NORMAL[action] });
    }
    const send = valid().sendMessage;
    add('sendMessage: valid text, then "text":""', `{${JSON.stringify(send).slice(1, -1)},"text":""}`, errorFor(send));
    add('sendMessage: "text":"", then valid text', `{"text":"",${JSON.stringify({ ...send, clientMsgId: mid() }).slice(1, -1)}}`, { type: 'ack' });
  }

  // 8. Absurd numbers in the count fields: huge, negative, fractional, exponent forms, -0.
  {
    const add = family('numbers');
    const LITERALS = ['0', '1', '-1', '-0', '-0.0', '0.0', '0.5', '1.0', '1.5', '-1.5', '1e0', '1E2', '2.5e1', '1e-1', '1e-400',
      '100', '101', '1e308', '1e309', '-1e309', '9007199254740993', '4611686018427387903', '4611686018427387904',
      '9223372036854775807', '9223372036854775808', '18446744073709551615', '18446744073709551616', '-9223372036854775808',
      '-9223372036854775809', `1${'0'.repeat(100)}`, `1${'0'.repeat(400)}`];
    for (const raw of LITERALS) {
      const v = countLiteral(raw);
      for (const [action, field] of [['markRead', 'seq'], ['getHistory', 'after'], ['getHistory', 'before'], ['getHistory', 'limit']]) {
        const text = `{"action":"${action}","room":"${room}","${field}":${raw}}`;
        let expect;
        if (v === 'overflow') expect = DEFAULT_ERROR; // the frame does not parse: no echo at all
        else if (v === 'invalid') expect = errorFor({ action, room });
        else if (field === 'limit') expect = v >= 1n && v <= 100n ? { type: 'history' } : errorFor({ action, room });
        else expect = { type: action === 'markRead' ? 'read' : 'history' };
        add(`${action} ${field} = ${raw.slice(0, 30)}`, text, expect);
      }
    }
  }
  return families;
}

function checkReply(reply, expect) {
  const problems = [];
  if (expect.type !== 'error') {
    if (reply.type !== expect.type) problems.push(`expected ${expect.type}`);
    return problems;
  }
  if (reply.type !== 'error') return ['expected an error frame'];
  if (reply.code !== expect.code) problems.push(`code ${reply.code} (expected ${expect.code})`);
  if (reply.action !== expect.action) problems.push(`action ${JSON.stringify(reply.action)} (expected ${JSON.stringify(expect.action)})`);
  for (const key of ['room', 'clientMsgId']) {
    if (reply[key] !== expect[key]) problems.push(`${key} ${JSON.stringify(reply[key])} (expected ${expect[key] === undefined ? 'absent' : JSON.stringify(expect[key])})`);
  }
  if (expect.validActions) {
    if (JSON.stringify(reply.validActions) !== JSON.stringify(ACTIONS)) problems.push(`validActions ${JSON.stringify(reply.validActions)}`);
  } else if ('validActions' in reply) problems.push('validActions present on a routed action');
  if (typeof reply.message !== 'string' || reply.message.length === 0) problems.push('no message');
  if (typeof reply.requestId !== 'string' || !/^[A-Za-z0-9_-]{15}=$/.test(reply.requestId)) problems.push(`requestId ${reply.requestId}`);
  return problems;
}

/** Runs one family on a fresh connection of `user`; resolves with failure texts. */
async function runMessageFamily(user, ctx, fam) {
  const client = await connect(stack, user, { label: `${user.name} ${fam.family}` });
  const failures = [];
  try {
    await join(client, ctx.room);
    const next = () => client.waitFor((f) => REPLY_TYPES.has(f.type), CASE_TIMEOUT_MS, 'a reply');
    for (const c of fam.cases) {
      const where = `[${fam.family}] ${c.label} — frame ${JSON.stringify(c.frame).slice(0, 160)}`;
      try {
        const waiting = next();
        await client.send(c.frame);
        if (c.expect.type === 'none') {
          // Nothing comes for typing: the next reply must be the pong of a ping sent after it.
          await client.send({ action: 'ping' });
          const reply = await waiting;
          if (reply.type !== 'pong') failures.push(`${where}: expected no reply, got ${JSON.stringify(reply).slice(0, 200)}`);
          continue;
        }
        const reply = await waiting;
        const problems = checkReply(reply, c.expect);
        if (problems.length) failures.push(`${where}: ${problems.join(', ')} — got ${JSON.stringify(reply).slice(0, 240)}`);
      } catch (err) {
        failures.push(`${where}: ${err.message.split(';')[0]}`);
        if (!client.isOpen) break;
      }
    }
    if (!client.isOpen) failures.push(`[${fam.family}] the connection was closed: ${JSON.stringify(client.closed)}`);
    else assert.deepEqual(await client.ok({ action: 'ping' }), { type: 'pong' });
  } finally {
    client.terminate();
  }
  await assertServing(`after the ${fam.family} message cases`);
  return failures;
}

async function messageContext(prefix) {
  const user = await newUser(stack, prefix);
  const ctx = { room: uniq(`${prefix}-room`), room2: uniq(`${prefix}-aux`), tag: uniq('h') };
  const setup = await connect(stack, user);
  await join(setup, ctx.room);
  await setup.ok({ action: 'sendMessage', room: ctx.room, text: 'first', clientMsgId: `${ctx.tag}-0` });
  setup.terminate();
  return { user, ctx };
}

const report = (failures, total, what) => {
  const shown = failures.slice(0, 40).join('\n');
  assert.equal(failures.length, 0, `${failures.length} of ${total} ${what} cases failed:\n${shown}`);
};

// ======================================================================= tests

test('warm-up: a sample of every family, then the gateway\'s RSS', { timeout: 60_000 }, async (t) => {
  const frameCases = buildFrameCases().filter((_, i) => i % 10 === 0);
  await runFrameCases(frameCases, stack.wsUrl((await newUser(stack, 'warm')).token), 'warm-up');
  const { user, ctx } = await messageContext('warm');
  for (const fam of buildMessageCases(ctx)) {
    await runMessageFamily(user, ctx, { family: fam.family, cases: fam.cases.filter((_, i) => i % 10 === 0) });
  }
  if (stack.local) {
    rss.warm = await gatewayRssKb();
    t.diagnostic(`gateway VmRSS after warm-up: ${rss.warm} kB`);
  }
});

test('frame level: every hand-built frame gets its close code (1002, 1003, 1007, 1009 or the echo) and the server keeps serving', { timeout: 120_000 }, async (t) => {
  const user = await newUser(stack, 'raw');
  for (let round = 1; round <= ROUNDS; round += 1) {
    const cases = buildFrameCases().filter((c) => !c.expect.knownBug);
    const labels = new Set(cases.map((c) => `${c.family}|${c.label}`));
    assert.equal(labels.size, cases.length, 'frame case labels are distinct');
    const started = Date.now();
    const failures = await runFrameCases(cases, stack.wsUrl(user.token), `round ${round}`);
    if (round === 1) for (const c of cases) counted.frame[c.family] = (counted.frame[c.family] ?? 0) + 1;
    const withheld = cases.filter((c) => c.expect.withheld);
    t.diagnostic(`round ${round}: ${cases.length} frame cases in ${Date.now() - started} ms: ${JSON.stringify(counted.frame)}`);
    t.diagnostic(`withheld oversize payload: ${withheld.filter((c) => c.closedBeforePayload).length} of ${withheld.length} closed before the rest of the payload was sent`);
    if (stack.local) t.diagnostic(`gateway VmRSS after frame round ${round}: ${await gatewayRssKb()} kB`);
    report(failures, cases.length, 'frame');
  }
});

test('frame level, regression: a message ending inside a UTF-8 sequence, completed by an EMPTY final continuation, is closed with 1007',
  // Beast 1.81 skips utf8_checker::finish() for a zero-length FIN frame; the gateway now checks the whole message.
  async (t) => {
    const cases = buildFrameCases().filter((c) => c.expect.knownBug);
    const user = await newUser(stack, 'rawbug');
    const failures = await runFrameCases(cases, stack.wsUrl(user.token), 'known-bug');
    for (const c of cases) counted.frame[c.family] = (counted.frame[c.family] ?? 0) + 1;
    t.diagnostic(`${cases.length} cases, ${failures.length} not closed with 1007`);
    for (const f of failures) t.diagnostic(f.slice(0, 400));
    report(failures, cases.length, 'known-bug frame');
  });

test('message level: every hostile frame gets its documented error frame (code and echo) or its normal reply; the connection stays open', { timeout: 120_000 }, async (t) => {
  for (let round = 1; round <= ROUNDS; round += 1) {
    const { user, ctx } = await messageContext('msg');
    const families = buildMessageCases(ctx);
    const started = Date.now();
    const failures = [];
    for (const fam of families) {
      assert.ok(fam.cases.length < 900, `${fam.family}: stays under the per-connection rate burst`);
      failures.push(...await runMessageFamily(user, ctx, fam));
      counted.message[fam.family] = fam.cases.length;
    }
    const total = families.reduce((n, f) => n + f.cases.length, 0);
    t.diagnostic(`round ${round}: ${total} message cases in ${Date.now() - started} ms: ${JSON.stringify(counted.message)}`);
    if (stack.local) t.diagnostic(`gateway VmRSS after message round ${round}: ${await gatewayRssKb()} kB`);
    report(failures, total, 'message');
  }
});

test('at least 1,000 generated inputs in all', (t) => {
  const frames = Object.values(counted.frame).reduce((a, b) => a + b, 0);
  const messages = Object.values(counted.message).reduce((a, b) => a + b, 0);
  t.diagnostic(`cases: ${frames} frame level + ${messages} message level = ${frames + messages}`);
  assert.ok(frames + messages >= 1000, `${frames + messages} cases`);
});

test('memory stays flat: gateway VmRSS grows less than 20 MB from the warm-up to the end', async (t) => {
  if (!stack.local) {
    t.skip(stack.target ? 'target mode: needs the local gateway process' : 'needs a local gateway process (not STRATUS_URL)');
    return;
  }
  assert.ok(rss.warm, 'the warm-up measured the RSS');
  await assertServing('at the end');
  rss.end = await gatewayRssKb();
  t.diagnostic(`gateway VmRSS: ${rss.warm} kB after warm-up, ${rss.end} kB after all cases (${rss.end - rss.warm >= 0 ? '+' : ''}${rss.end - rss.warm} kB)`);
  if (!RSS_MEANINGFUL) {
    t.diagnostic('sanitized gateway (STRATUS_SANITIZED): RSS bound not checked');
    return;
  }
  assert.ok(rss.end - rss.warm < RSS_GROWTH_LIMIT_KB, `RSS grew by ${rss.end - rss.warm} kB`);
});

/** A dev token over a connection that is closed afterwards (no keep-alive socket holds a slot). */
function devTokenOnce(target, name) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${target.base}/auth/dev-token`, { method: 'POST', agent: false, timeout: 5000,
      headers: { 'content-type': 'application/json' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error(`dev-token ${res.statusCode} ${body}`))));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ name }));
  });
}

/** Opens a raw connection, writes `bytes`, waits for the end; resolves with the close code. */
async function hostileClose(url, bytes) {
  const raw = await RawSocket.open(url, { timeoutMs: CASE_TIMEOUT_MS });
  try {
    await raw.write(bytes);
    return (await raw.waitEnd(CASE_TIMEOUT_MS)).closeCode;
  } finally {
    raw.destroy();
  }
}

const BINARY_FRAME = frame({ opcode: OP.binary, payload: 'x' });
const OVERSIZE_FRAME = frame({ opcode: OP.text, payload: pingOfSize(40000) });

test('regression: connections the gateway closes itself after a read (1003 binary, 1009 frame too big, 1008 rate abuse) run $disconnect and free their record, slot and memory',
  // websocket_session::start_close() from on_read left no read pending, and the async_close handler
  // called on_closed() only on error; it now ends the session either way.
  async (t) => {
    if (!stack.local) {
      t.skip('needs a local gateway (its store, its RSS and its own flags)');
      return;
    }
    const problems = [];
    // 1. The connection record (and so presence) goes once the socket is closed.
    const user = await newUser(stack, 'leak');
    for (const [name, bytes, code] of [['binary', BINARY_FRAME, 1003], ['oversize frame', OVERSIZE_FRAME, 1009]]) {
      const got = await hostileClose(stack.wsUrl(user.token), bytes);
      if (got !== code) problems.push(`${name}: close ${got}, expected ${code}`);
    }
    try {
      await waitUntil(async () => (await storedConnectionIds(stack, user.userId)).length === 0, { timeoutMs: 2000, what: 'no stored connection' });
    } catch {
      problems.push(`after a 1003 and a 1009 close, ${(await storedConnectionIds(stack, user.userId)).length} connection records remain (no $disconnect)`);
    }
    // 2. Memory: 300 binary and 100 oversize-frame closes.
    const before = await gatewayRssKb();
    const cases = [...Array(300).fill(BINARY_FRAME), ...Array(100).fill(OVERSIZE_FRAME)];
    for (let i = 0; i < cases.length; i += CONCURRENCY) {
      await Promise.all(cases.slice(i, i + CONCURRENCY).map((b) => hostileClose(stack.wsUrl(user.token), b)));
    }
    await sleep(300);
    const grown = (await gatewayRssKb()) - before;
    t.diagnostic(`VmRSS +${grown} kB over 300 binary and 100 oversize-frame closes; ${(await storedConnectionIds(stack, user.userId)).length} connection records left`);
    if (RSS_MEANINGFUL && grown > 1024) problems.push(`VmRSS grew by ${grown} kB over 400 server-closed connections`);
    // 3. The per-IP slot is freed: with a cap of 3, three such closes must not lock the address out.
    const small = await localStackOrSkip(t, ['--max-connections-per-ip', '3', '--rate-limit', '1', '--rate-burst', '2', '--rate-abuse-frames', '3']);
    if (small) {
      try {
        const u = await devTokenOnce(small, uniq('slot'));
        await sleep(200);
        const url = small.wsUrl(u.token);
        const pings = Buffer.concat(Array.from({ length: 8 }, () => frame({ opcode: OP.text, payload: PING })));
        for (const [name, bytes, code] of [['binary', BINARY_FRAME, 1003], ['oversize frame', OVERSIZE_FRAME, 1009], ['rate abuse', pings, 1008]]) {
          const got = await hostileClose(url, bytes).catch((err) => err.message);
          if (got !== code) problems.push(`cap 3, ${name}: ${got} (expected close ${code})`);
        }
        await sleep(300);
        const client = await openSocket(url, { label: 'after-3-closes' }).catch((err) => err);
        if (client instanceof Error) problems.push(`with --max-connections-per-ip 3, after three server-closed connections a new connection is refused: ${client.message.slice(0, 120)}`);
        else client.terminate();
      } finally {
        await small.stop();
      }
    }
    assert.deepEqual(problems, []);
  });
