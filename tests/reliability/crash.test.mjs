// Crash durability, the short CI run (docs/reliability.md, "Crash durability").
//
// Three trials, each: 6 users x 3 rooms, 1,500 messages, 5-8 `kill -9` of the gateway at random
// moments (half of them while sends are in flight), restarts on the same data directory with
// --sync normal; then the checker (tests/reliability/lib/crash-harness.mjs). The seeds are fixed;
// STRATUS_CRASH_SEED=<n> replays or varies them. The longer run is scripts/crash-soak.sh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import {
  runTrial, formatResult, formatViolation, trialSeed, baseSeedFromEnv, prng, checkFinal,
} from './lib/crash-harness.mjs';

const BASE_SEED = baseSeedFromEnv(20_260_401);
const TRIALS = 3;

function sqliteExec(dbPath, query) {
  return new Promise((resolve, reject) => {
    execFile('sqlite3', [dbPath, query], { timeout: 10_000 }, (err, stdout, stderr) => (err
      ? reject(new Error(`${err.message} ${stderr}`)) : resolve(stdout)));
  });
}

test(`kill -9 under load: no acked message lost, no duplicates, gap-free seqs, exact client views, integrity ok (base seed ${BASE_SEED})`,
  { timeout: 240_000 }, async (t) => {
    for (let i = 0; i < TRIALS; i += 1) {
      const seed = trialSeed(BASE_SEED, i);
      const kills = prng(seed).int(5, 8);
      await t.test(`trial ${i + 1}/${TRIALS}: seed ${seed}, ${kills} kills, 1500 messages, --sync normal`, async (tt) => {
        const result = await runTrial({ seed, messages: 1500, users: 6, rooms: 3, kills, sync: 'normal' });
        tt.diagnostic(formatResult(result));
        assert.ok(result.violations.length === 0,
          `crash trial failed (replay this trial: scripts/crash-soak.sh --trials 1 --seed ${seed} --messages 1500 ` +
          `--kills ${kills}; the whole test: STRATUS_CRASH_SEED=${BASE_SEED}; work dir kept: ${result.workDir}):\n` +
          result.violations.slice(0, 30).map((v) => formatViolation(v, seed)).join('\n'));
        assert.equal(result.stats.kills, kills, 'every planned kill happened');
        assert.equal(result.stats.acked, 1500);
        assert.equal(result.stats.stored, 1500);
      });
    }
  });

test('the checker fails on a damaged store: a deleted acked message is reported as lost, a gap and a view mismatch',
  { timeout: 60_000 }, async () => {
    const seed = trialSeed(BASE_SEED, 1000);
    const result = await runTrial({
      seed, messages: 120, users: 3, rooms: 2, kills: 1, killMinMs: 200, killMaxMs: 400,
      beforeCheck: (dbPath) => sqliteExec(dbPath, "DELETE FROM messages WHERE room = 'room-0' AND seq = 3"),
    });
    try {
      const kinds = new Set(result.violations.map((v) => v.kind));
      for (const kind of ['lost', 'never-stored', 'seq-gap', 'dedupe-record', 'view']) {
        assert.ok(kinds.has(kind), `reports ${kind}; got ${[...kinds].join(', ')}`);
      }
      const lost = result.violations.find((v) => v.kind === 'lost');
      assert.equal(lost.room, 'room-0');
      assert.equal(lost.seq, 3);
      assert.match(formatViolation(lost, seed), new RegExp(`^\\[lost\\] seed=${seed} room=room-0 seq=3 clientMsgId=\\S+ expected: stored`));
    } finally {
      if (result.workDir) await rm(result.workDir, { recursive: true, force: true });
    }
  });

test('the checker reports duplicates, phantoms, changed content and client views with holes or extras', () => {
  const row = (room, seq, user, cid, text = `t${seq}`) => ({ room, seq, id: `id-${room}-${seq}`, user_id: user, client_msg_id: cid, text });
  const entry = (r) => ({ seq: r.seq, id: r.id, clientMsgId: r.client_msg_id, userId: r.user_id, text: r.text });
  const rows = [row('a', 1, 'u1', 'c1'), row('a', 2, 'u1', 'c2'), row('a', 3, 'u1', 'c1'), row('a', 4, 'u2', 'ghost')];
  const attempted = new Map([['u1/c1', { room: 'a' }], ['u1/c2', { room: 'a' }]]);
  const acked = new Map([['u1/c1', { room: 'a', seq: 1, id: 'id-a-1', text: 't1' }],
    ['u1/c2', { room: 'a', seq: 2, id: 'id-a-2', text: 'changed' }]]);
  const dedupe = rows.slice(0, 2).map((r) => ({ user_id: r.user_id, client_msg_id: r.client_msg_id, room: r.room, seq: r.seq }));
  const holey = new Map([[1, entry(rows[0])], [3, entry(rows[2])], [4, entry(rows[3])]]);
  const extra = new Map(rows.map((r) => [r.seq, entry(r)]).concat([[5, { ...entry(rows[0]), seq: 5 }]]));
  const found = checkFinal({
    rows, rooms: [{ name: 'a', last_seq: 4 }], dedupe, acked, attempted, integrity: ['ok'],
    views: [{ client: 'x', room: 'a', startAfter: 0, view: holey }, { client: 'y', room: 'a', startAfter: 0, view: extra }],
  });
  const kinds = found.map((v) => v.kind);
  assert.ok(kinds.includes('duplicate-stored'), kinds.join());
  assert.ok(kinds.includes('unexpected'), kinds.join());
  assert.ok(found.some((v) => v.kind === 'lost' && v.seq === 2 && /text differs/.test(v.actual)), 'changed text is reported');
  assert.ok(found.some((v) => v.kind === 'view' && v.client === 'x' && v.seq === 2), 'a hole in a view is reported');
  assert.ok(found.some((v) => v.kind === 'view' && v.client === 'y' && v.seq === 5), 'an extra message in a view is reported');
  assert.ok(found.some((v) => v.kind === 'integrity') === false);
  assert.ok(checkFinal({ rows: [], rooms: [], dedupe: [], acked: new Map(), attempted: new Map(), views: [], integrity: ['*** in database main ***', 'row 3 missing from index'] })
    .some((v) => v.kind === 'integrity'), 'integrity_check output other than ok is reported');
  // A clean store passes.
  const clean = rows.slice(0, 2);
  assert.deepEqual(checkFinal({
    rows: clean, rooms: [{ name: 'a', last_seq: 2 }], dedupe, attempted,
    acked: new Map([['u1/c1', { room: 'a', seq: 1, id: 'id-a-1', text: 't1' }], ['u1/c2', { room: 'a', seq: 2, id: 'id-a-2', text: 't2' }]]),
    views: [{ client: 'x', room: 'a', startAfter: 0, view: new Map(clean.map((r) => [r.seq, entry(r)])) }], integrity: ['ok'],
  }), []);
});
