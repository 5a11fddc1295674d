// The long crash-durability run (scripts/crash-soak.sh is the documented entry point).
//
//   node tests/reliability/crash-soak.mjs [--trials N] [--messages M] [--kills K] [--sync normal|full]
//        [--seed S] [--users U] [--rooms R] [--keep] [--verbose]
//
// Runs N trials one after another (seeds derived from S), prints one line per trial and a
// summary, and exits 1 if any trial found a violation (its work directory is kept and named).
import { parseArgs } from 'node:util';
import { runTrial, formatResult, formatViolation, trialSeed, baseSeedFromEnv, prng } from './lib/crash-harness.mjs';

const USAGE = `usage: crash-soak [--trials N] [--messages M] [--kills K] [--sync normal|full] [--seed S]
                  [--users U] [--rooms R] [--keep] [--verbose]
  --trials N     trials to run (default 50)
  --messages M   messages per trial (default 3000)
  --kills K      kill -9 per trial (default: 5-10, chosen per trial from its seed)
  --sync MODE    the gateway's SQLite synchronous setting: normal (default) or full
  --seed S       base seed (default STRATUS_CRASH_SEED or the time); trial i uses a seed derived from it
  --users U      users, one connection each (default 6)
  --rooms R      rooms, every user in every room (default 3)
  --keep         keep every trial's work directory (failed trials' are always kept)
  --verbose      print violations as they are found`;

let values;
try {
  ({ values } = parseArgs({
    options: {
      trials: { type: 'string', default: '50' },
      messages: { type: 'string', default: '3000' },
      kills: { type: 'string' },
      sync: { type: 'string', default: 'normal' },
      seed: { type: 'string' },
      users: { type: 'string', default: '6' },
      rooms: { type: 'string', default: '3' },
      keep: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (err) {
  console.error(`${err.message}\n${USAGE}`);
  process.exit(2);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

function positiveInt(name, raw, max) {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    console.error(`--${name} must be an integer in 1..${max}, got ${raw}\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

const trials = positiveInt('trials', values.trials, 100_000);
const messages = positiveInt('messages', values.messages, 1_000_000);
const users = positiveInt('users', values.users, 64);
const rooms = positiveInt('rooms', values.rooms, 64);
const fixedKills = values.kills === undefined ? null : positiveInt('kills', values.kills, 1000);
if (!['normal', 'full'].includes(values.sync)) {
  console.error(`--sync must be normal or full, got ${values.sync}\n${USAGE}`);
  process.exit(2);
}
let base;
try {
  base = values.seed !== undefined ? Number(values.seed) : baseSeedFromEnv(Date.now() % 0x100000000);
} catch (err) {
  console.error(err.message);
  process.exit(2);
}
if (!Number.isInteger(base) || base < 0 || base > 0xffffffff) {
  console.error(`--seed must be a 32-bit unsigned integer, got ${values.seed}`);
  process.exit(2);
}

console.log(`crash soak: ${trials} trials x ${messages} messages, ${users} users x ${rooms} rooms, ` +
  `kills ${fixedKills ?? '5-10'} per trial, --sync ${values.sync}, base seed ${base}`);
const began = Date.now();
const total = {
  trials: 0, failed: 0, kills: 0, midWriteKills: 0, messages: 0, acked: 0, stored: 0, resends: 0, inDoubt: 0,
  inDoubtResolved: 0, violations: 0, restartMsMax: 0,
};
const failures = [];
for (let i = 0; i < trials; i += 1) {
  const seed = trialSeed(base, i);
  const kills = fixedKills ?? prng(seed).int(5, 10);
  const result = await runTrial({
    seed, messages, users, rooms, kills, sync: values.sync, keep: values.keep,
    log: values.verbose ? (line) => console.log(`  ${line}`) : () => {},
  });
  const s = result.stats;
  total.trials += 1;
  total.kills += s.kills;
  total.midWriteKills += s.midWriteKills;
  total.messages += s.messages;
  total.acked += s.acked;
  total.stored += s.stored ?? 0;
  total.resends += s.resends;
  total.inDoubt += s.inDoubt;
  total.inDoubtResolved += s.inDoubtResolved;
  total.violations += result.violations.length;
  total.restartMsMax = Math.max(total.restartMsMax, s.restartMsMax);
  if (!result.ok) {
    total.failed += 1;
    failures.push(result);
  }
  console.log(`trial ${i + 1}/${trials} ${formatResult(result)}`);
  if (!result.ok) {
    for (const v of result.violations.slice(0, 20)) console.log(`  ${formatViolation(v, seed)}`);
  }
}

const minutes = ((Date.now() - began) / 60_000).toFixed(1);
console.log(`\nsummary: trials=${total.trials} failed=${total.failed} kills=${total.kills} ` +
  `(mid-write ${total.midWriteKills}) messages=${total.messages} acked=${total.acked} stored=${total.stored} ` +
  `resends=${total.resends} committed-but-unacked at a kill=${total.inDoubt} (resolved to the same seq: ` +
  `${total.inDoubtResolved}) violations=${total.violations} restartMsMax=${total.restartMsMax} ` +
  `sync=${values.sync} base seed=${base} wall=${minutes} min`);
if (failures.length > 0) {
  console.log(`FAILED trials (seed, kept work dir): ${failures.map((r) => `${r.seed} ${r.workDir}`).join('; ')}`);
  process.exit(1);
}
