// Hundreds of malformed frames: each gets an error frame with the expected code (or
// the documented close code), the connection stays usable and nothing is stored.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, newUser, connect, join, uniq, fullHistory } from './lib/stack.mjs';

let stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

const ACTIONS = ['joinRoom', 'leaveRoom', 'sendMessage', 'getHistory', 'typing', 'listRooms', 'markRead', 'ping'];
const REPLY_TYPES = new Set(['error', 'joined', 'left', 'ack', 'history', 'rooms', 'read', 'pong']);
const ROOM_ACTIONS = ['joinRoom', 'leaveRoom', 'sendMessage', 'getHistory', 'typing', 'markRead'];

const WRONG_TYPES = [1, -1, 1.5, true, false, null, [], ['x'], {}, { a: 1 }];
const BAD_ROOMS = ['', '.hidden', '-dash', 'a b', 'a/b', 'a\\b', 'a\u0000b', 'é', 'x'.repeat(65), 'a#b', 'a:b',
  '../etc', '\u{1F680}', 'room!', ' lead', 'trail ', 'a\nb', 'a%20b', 'ａ'];

/** Builds the cases: {label, frame: string, code, action (expected error action) | undefined for $default}. */
function buildCases(room, strangerRoom) {
  const cases = [];
  const add = (label, frame, code, action) => cases.push({
    label, frame: typeof frame === 'string' ? frame : JSON.stringify(frame), code, action,
    // Numbers beyond the double range (1e400) are valid JSON grammar, but the server's JSON
    // parser refuses them, so the frame falls to $default (action ""). RFC 8259 §6 allows
    // such limits; only the code is checked for them.
    anyAction: typeof frame === 'string' && /1e400/.test(frame),
  });
  const valid = {
    joinRoom: { action: 'joinRoom', room },
    leaveRoom: { action: 'leaveRoom', room },
    sendMessage: { action: 'sendMessage', room, text: 'hello', clientMsgId: 'mid-1' },
    getHistory: { action: 'getHistory', room },
    typing: { action: 'typing', room },
    markRead: { action: 'markRead', room, seq: 1 },
  };

  // 1. Not JSON at all, or broken JSON: $default answers.
  for (const text of ['{', '}', '{"action":"ping"', '{"action":}', "{'action':'ping'}", '{"action":"ping",}',
    '{action:"ping"}', 'nul', 'tru', '{"a" "b"}', '', ' ', '\n', '{"action":"ping"}}', '{"action":"ping"} x',
    '{"action":"ping"}{"action":"ping"}', '"unterminated', '{"action":"ping\\x"}', '{"action":"\\u12"}', 'NaN',
    '{"action":NaN}', '{"action":"ping","n":01}', '{"action":"ping","n":.5}', '{"action":"ping","n":1.}',
    '{"action":"ping","n":+1}', '{"action":"ping","n":0x10}', '\u00ef\u00bb\u00bf{"action":"ping"}', '/* c */{"action":"ping"}',
    '{"action":"ping"}\u0000', '{"action":"ping"}\u0000trailing garbage']) {
    add(`bad JSON ${JSON.stringify(text).slice(0, 40)}`, text, 'invalid_request');
  }
  // 2. Truncated JSON of every action.
  for (const frame of Object.values(valid)) {
    const full = JSON.stringify(frame);
    for (const cut of [1, 2, 5, 10, Math.floor(full.length / 2), full.length - 2, full.length - 1]) {
      add(`truncated ${frame.action} at ${cut}`, full.slice(0, cut), 'invalid_request');
    }
  }
  // 3. JSON that is not an object.
  for (const text of ['[]', '[{"action":"ping"}]', '["ping"]', '1', '-1', '0', '1e999', '"ping"', '"{\\"action\\":\\"ping\\"}"',
    'null', 'true', 'false', '{}', '{"Action":"ping"}', '{"ACTION":"ping"}', '{"actions":"ping"}']) {
    add(`non-object or action-less ${text}`, text, 'invalid_request');
  }
  // 4. Unknown actions (and action values of the wrong type).
  for (const action of ['dance', 'SendMessage', 'sendmessage', 'PING', ' ping', 'ping ', 'ping\u0000', '$connect',
    '$disconnect', '$default', 'a'.repeat(100), 'join Room', 'getHistory\n', '__proto__', 'constructor', 'toString']) {
    add(`unknown action ${JSON.stringify(action).slice(0, 30)}`, { action, room }, 'invalid_request');
  }
  for (const action of [5, 1.5, true, false, null, [], ['ping'], {}, { ping: 1 }]) {
    add(`action of type ${JSON.stringify(action)}`, { action, room }, 'invalid_request');
  }
  // 5. Deep nesting.
  add('depth 1000 arrays', '['.repeat(1000) + ']'.repeat(1000), 'invalid_request');
  add('depth 1000 objects', '{"a":'.repeat(1000) + '1' + '}'.repeat(1000), 'invalid_request');
  add('ping with a depth-1000 member', `{"action":"ping","x":${'['.repeat(1000)}${']'.repeat(1000)}}`, 'invalid_request');
  add('sendMessage with a depth-40 member',
    `{"action":"sendMessage","room":"${room}","text":"t","clientMsgId":"d40","x":${'['.repeat(40)}${']'.repeat(40)}}`, 'invalid_request');
  add('unbalanced depth 1000', '['.repeat(1000), 'invalid_request');

  // 6. room: missing, wrong type, invalid names, for every action that takes a room.
  for (const action of ROOM_ACTIONS) {
    const { room: _omit, ...withoutRoom } = valid[action];
    add(`${action} without room`, withoutRoom, 'invalid_request', action);
    for (const value of WRONG_TYPES) {
      add(`${action} room=${JSON.stringify(value)}`, { ...valid[action], room: value }, 'invalid_request', action);
    }
    for (const value of BAD_ROOMS) {
      add(`${action} room=${JSON.stringify(value).slice(0, 20)}`, { ...valid[action], room: value }, 'invalid_request', action);
    }
  }

  // 7. sendMessage text and clientMsgId.
  const send = (fields) => ({ ...valid.sendMessage, ...fields });
  {
    const { text: _t, ...noText } = valid.sendMessage;
    add('sendMessage without text', noText, 'invalid_request', 'sendMessage');
    const { clientMsgId: _c, ...noId } = valid.sendMessage;
    add('sendMessage without clientMsgId', noId, 'invalid_request', 'sendMessage');
  }
  for (const value of WRONG_TYPES) {
    add(`sendMessage text=${JSON.stringify(value)}`, send({ text: value }), 'invalid_request', 'sendMessage');
    add(`sendMessage clientMsgId=${JSON.stringify(value)}`, send({ clientMsgId: value }), 'invalid_request', 'sendMessage');
  }
  for (const text of ['', ' ', '   ', '\n', '\t\r\n ', '\u0000', 'a\u0001b', 'bell\u0007', 'esc\u001b[31m', 'del\u007f',
    'c1\u0085', 'c1\u009f', 'form\u000cfeed', 'vt\u000b']) {
    add(`sendMessage text=${JSON.stringify(text)}`, send({ text }), 'invalid_request', 'sendMessage');
  }
  for (const [label, text] of [
    ['4001 ASCII chars', 'a'.repeat(4001)],
    ['4001 two-byte chars', 'é'.repeat(4001)],
    ['4001 emoji', '\u{1F600}'.repeat(4001)],
    ['16385 bytes', 'a'.repeat(16385)],
    ['16386 bytes of é', 'é'.repeat(8193)],
    ['20000 chars', 'w'.repeat(20000)],
  ]) {
    add(`sendMessage text of ${label}`, send({ text }), 'too_large', 'sendMessage');
  }
  for (const clientMsgId of ['', 'x'.repeat(65), 'a b', 'a.b', 'é', 'a/b', 'a=b', 'a+b', 'a\u0000', '\u{1F600}', '{}']) {
    add(`sendMessage clientMsgId=${JSON.stringify(clientMsgId).slice(0, 20)}`, send({ clientMsgId }), 'invalid_request', 'sendMessage');
  }

  // 8. getHistory limits, cursors and huge numbers (raw text so that the numbers arrive as written).
  const hist = (members) => `{"action":"getHistory","room":"${room}",${members}}`;
  for (const members of ['"limit":0', '"limit":-1', '"limit":-100', '"limit":101', '"limit":1000000', '"limit":1.5',
    '"limit":"10"', '"limit":true', '"limit":[]', '"limit":{}', '"limit":1e400', '"limit":1e2', '"limit":1.0',
    '"limit":99999999999999999999999', '"limit":-99999999999999999999999', '"limit":9223372036854775807',
    '"after":-1', '"after":1.5', '"after":"5"', '"after":true', '"after":[1]', '"after":99999999999999999999',
    '"after":9223372036854775807', '"after":1e400', '"after":-9223372036854775808', '"before":-1', '"before":"5"',
    '"before":1.5', '"before":18446744073709551615', '"after":1,"before":5', '"after":0,"before":0',
    '"after":5,"before":1', '"after":1,"before":2,"limit":10']) {
    add(`getHistory ${members}`, hist(members), 'invalid_request', 'getHistory');
  }
  // 9. markRead seq.
  const mark = (members) => `{"action":"markRead","room":"${room}"${members}}`;
  for (const members of ['', ',"seq":null', ',"seq":-1', ',"seq":"1"', ',"seq":1.5', ',"seq":true', ',"seq":[]',
    ',"seq":99999999999999999999', ',"seq":1e400']) {
    add(`markRead ${members || 'without seq'}`, mark(members), 'invalid_request', 'markRead');
  }

  // 10. Rooms this user never joined (some that exist, some that do not).
  for (const r of [strangerRoom, uniq('never'), 'general-does-not-exist', 'Z', 'a'.repeat(64)]) {
    add(`getHistory on never-joined ${r.slice(0, 20)}`, { action: 'getHistory', room: r }, 'not_member', 'getHistory');
    add(`getHistory after on never-joined ${r.slice(0, 20)}`, { action: 'getHistory', room: r, after: 0, limit: 5 }, 'not_member', 'getHistory');
    add(`sendMessage to never-joined ${r.slice(0, 20)}`, { action: 'sendMessage', room: r, text: 'x', clientMsgId: uniq('nm') }, 'not_member', 'sendMessage');
    add(`typing in never-joined ${r.slice(0, 20)}`, { action: 'typing', room: r }, 'not_member', 'typing');
    add(`markRead in never-joined ${r.slice(0, 20)}`, { action: 'markRead', room: r, seq: 1 }, 'not_member', 'markRead');
    add(`leaveRoom of never-joined ${r.slice(0, 20)}`, { action: 'leaveRoom', room: r }, 'not_member', 'leaveRoom');
  }

  // 11. Lone surrogate escapes (valid UTF-8 on the wire, but not Unicode text): rejected as invalid_request.
  for (const esc of ['\\ud800', '\\udc00', '\\udbff\\u0041', '\\ud800\\ud800', 'x\\udfff', '\\ude00\\ud83d']) {
    add(`text with lone surrogate ${esc}`, `{"action":"sendMessage","room":"${room}","text":"${esc}","clientMsgId":"sur1"}`, 'invalid_request');
    add(`room with lone surrogate ${esc}`, `{"action":"joinRoom","room":"${esc}"}`, 'invalid_request');
  }
  add('action with a lone surrogate', '{"action":"ping\\ud800"}', 'invalid_request');
  return cases;
}

async function nextReply(client, timeoutMs = 3000) {
  return client.waitFor((f) => REPLY_TYPES.has(f.type), timeoutMs, 'a reply');
}

test('over 200 malformed frames each get the expected error code; the connection stays usable and nothing is stored', { timeout: 90_000 }, async () => {
  const room = uniq('mal');
  const strangerRoom = uniq('stranger');
  const owner = await connect(stack, await newUser(stack, 'owner'));
  await join(owner, strangerRoom);
  await owner.ok({ action: 'sendMessage', room: strangerRoom, text: 'private', clientMsgId: 'p1' });

  const user = await newUser(stack, 'fuzz');
  const client = await connect(stack, user);
  const watcher = await connect(stack, await newUser(stack, 'watcher'));
  await join(client, room);
  await join(watcher, room);
  const ok = await client.ok({ action: 'sendMessage', room, text: 'the only message', clientMsgId: 'only-1' });
  assert.equal(ok.seq, 1);

  const cases = buildCases(room, strangerRoom);
  assert.ok(cases.length >= 200, `${cases.length} cases`);
  const failures = [];
  for (const c of cases) {
    let reply;
    try {
      const waiting = nextReply(client);
      await client.send(c.frame);
      reply = await waiting;
    } catch (err) {
      failures.push(`${c.label}: ${err.message.split(';')[0]}`);
      if (!client.isOpen) break;
      continue;
    }
    const problems = [];
    if (reply.type !== 'error') problems.push(`got ${reply.type}`);
    else {
      if (reply.code !== c.code) problems.push(`code ${reply.code} (expected ${c.code})`);
      if (c.action !== undefined && !c.anyAction && reply.action !== c.action) problems.push(`action ${JSON.stringify(reply.action)} (expected ${c.action})`);
      if (c.action === undefined && !Array.isArray(reply.validActions)) {
        // Frames that cannot be routed to an action must come from $default, with validActions.
        problems.push('no validActions');
      }
      if (typeof reply.message !== 'string' || reply.message.length === 0) problems.push('no message');
      if (typeof reply.requestId !== 'string' || !/^[A-Za-z0-9_-]{15}=$/.test(reply.requestId)) problems.push(`requestId ${reply.requestId}`);
    }
    if (problems.length) failures.push(`${c.label}: ${problems.join(', ')} — ${JSON.stringify(reply).slice(0, 200)}`);
  }
  assert.ok(client.isOpen, `the connection is still open (closed: ${JSON.stringify(client.closed)})`);
  assert.deepEqual(failures, [], `${failures.length} of ${cases.length} malformed frames got an unexpected answer`);

  // Still usable, and nothing changed.
  assert.deepEqual(await client.ok({ action: 'ping' }), { type: 'pong' });
  const ack = await client.ok({ action: 'sendMessage', room, text: 'still works \u{1F600}', clientMsgId: 'only-2' });
  assert.equal(ack.seq, 2, 'no malformed frame stored a message');
  const history = await fullHistory(client, room);
  assert.deepEqual(history.map((m) => m.text), ['the only message', 'still works \u{1F600}']);
  assert.equal((await fullHistory(owner, strangerRoom)).length, 1, 'the stranger room is unchanged');
  const watched = watcher.received((f) => f.type === 'message').map((m) => m.seq);
  assert.deepEqual(watched, [1, 2], 'the watcher saw only the two real messages');
  assert.equal(watcher.received((f) => f.type === 'typing').length, 0, 'no typing event leaked from a rejected frame');
  const rooms = await client.ok({ action: 'listRooms' });
  assert.deepEqual(rooms.rooms.filter((r) => r.member).map((r) => r.room), [room], 'no room was joined by a malformed frame');
});

test('a valid surrogate pair escape is accepted as text (control for the lone-surrogate cases)', async () => {
  const room = uniq('pair');
  const client = await connect(stack, await newUser(stack, 'pair'));
  await join(client, room);
  const waiting = client.waitFor((f) => f.type === 'ack' || f.type === 'error');
  await client.send(`{"action":"sendMessage","room":"${room}","text":"smile \\ud83d\\ude00","clientMsgId":"pair1"}`);
  const ack = await waiting;
  assert.equal(ack.type, 'ack', JSON.stringify(ack));
  const m = await client.waitFor((f) => f.type === 'message');
  assert.equal(m.text, 'smile \u{1F600}');
});

test('limits at the edge are accepted: 4000 chars (of 1, 2 and 4 bytes), 64-char room and clientMsgId, depth 32', async () => {
  const room = `r${'x'.repeat(63)}`;
  const client = await connect(stack, await newUser(stack, 'edge'));
  await join(client, room);
  const cases = [
    { text: 'a'.repeat(4000), clientMsgId: 'e'.repeat(64) },
    { text: '\u{1F600}'.repeat(4000), clientMsgId: 'e2' }, // 4000 code points, 16000 bytes
    { text: 'é'.repeat(4000), clientMsgId: 'e3' },
    { text: 'tab\tnewline\ncr\r end', clientMsgId: 'e4' },
  ];
  for (const c of cases) {
    const reply = await client.request({ action: 'sendMessage', room, ...c });
    assert.equal(reply.type, 'ack', `${c.clientMsgId}: ${JSON.stringify(reply).slice(0, 200)}`);
  }
  // (With at most 4000 code points of at most 4 bytes, valid text never exceeds 16000 bytes: the
  // 16384-byte limit binds only together with the code-point limit.)
  const history = await fullHistory(client, room);
  assert.deepEqual(history.map((m) => m.text), cases.map((c) => c.text), 'stored exactly as sent');
  // depth 32 (the outer object counts) is accepted.
  const deep = `{"action":"ping","x":${'['.repeat(31)}${']'.repeat(31)}}`;
  const pong = client.waitFor((f) => f.type === 'pong' || f.type === 'error');
  await client.send(deep);
  assert.equal((await pong).type, 'pong', 'depth 32 is within the limit');
});

test('invalid UTF-8 in a text frame closes the connection with 1007 (each on a throwaway connection)', async () => {
  const user = await newUser(stack, 'utf8');
  const variants = {
    'lone 0xFF': Buffer.from([0xff]),
    'bad continuation': Buffer.concat([Buffer.from('{"action":"ping","x":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]),
    'encoded surrogate U+D800': Buffer.concat([Buffer.from('{"action":"sendMessage","room":"r","clientMsgId":"c","text":"'),
      Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]),
    'overlong slash': Buffer.concat([Buffer.from('{"action":"ping","x":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]),
    'truncated sequence': Buffer.concat([Buffer.from('{"action":"ping","x":"'), Buffer.from([0xe2, 0x82]), Buffer.from('"}')]),
    'beyond U+10FFFF': Buffer.concat([Buffer.from('{"action":"ping","x":"'), Buffer.from([0xf4, 0x90, 0x80, 0x80]), Buffer.from('"}')]),
  };
  for (const [label, buf] of Object.entries(variants)) {
    const client = await connect(stack, user, { label });
    await client.send(buf, { binary: false });
    const closed = await client.waitClose();
    assert.equal(closed.code, 1007, `${label}: close code`);
  }
  // The user can still connect and chat.
  const client = await connect(stack, user);
  assert.deepEqual(await client.ok({ action: 'ping' }), { type: 'pong' });
});
