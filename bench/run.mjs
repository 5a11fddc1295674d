#!/usr/bin/env node
// bench/run: fan-out latency, throughput, CPU and memory of Stratus, always next
// to the loopback floor (bench/floor_server.cpp) measured on the same machine in
// the same run. It builds nothing: it needs build/release/{stratus,
// stratus-bootstrap, stratus-floor-server}. It writes the tables into
// docs/benchmarks.md between the bench/run markers (nothing else in the file
// changes) and the raw loadgen JSON into build/bench-results/<time>/.
//
//   bench/run [--repeats 3] [--sizes 10,100,1000] [--variants floor,inproc,lambda,dynamodb]
//             [--cold-start-runs 15] [--build-dir build/release] [--quick] [--no-docs]
//
// See bench/README.md.

import { spawn, spawnSync, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const started = Date.now();

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------
const args = process.argv.slice(2);
function option(name, fallback) {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  if (i + 1 >= args.length) throw new Error(`${name} needs a value`);
  return args[i + 1];
}
const flag = (name) => args.includes(name);
if (flag('--help') || flag('-h')) {
  console.log(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 12).join('\n'));
  process.exit(0);
}
const quick = flag('--quick');
const repeats = Number(option('--repeats', quick ? '1' : '3'));
const sizes = option('--sizes', '10,100,1000').split(',').map(Number);
const variants = option('--variants', 'floor,inproc,lambda,dynamodb').split(',');
const coldStartRuns = Number(option('--cold-start-runs', quick ? '0' : '15'));
const buildDir = path.resolve(repo, option('--build-dir', 'build/release'));
const writeDocs = !flag('--no-docs');
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const outDir = path.resolve(repo, option('--out', `build/bench-results/${stamp}`));

const bin = {
  stratus: path.join(buildDir, 'stratus'),
  bootstrap: path.join(buildDir, 'stratus-bootstrap'),
  floor: path.join(buildDir, 'stratus-floor-server'),
};
for (const [name, file] of Object.entries(bin)) {
  if (!fs.existsSync(file)) {
    console.error(`bench/run: no ${file} (${name}); build it: cmake --build --preset release`);
    process.exit(2);
  }
}
fs.mkdirSync(outDir, { recursive: true });

// ---------------------------------------------------------------------------
// The plan. Latency: one sender at a fixed rate, well below saturation, so the
// numbers are fan-out latency and not queueing; the same rate for the floor and
// Stratus. Throughput: 10 senders in closed loop (each sends its next message
// when the previous ones are acknowledged, `window` at a time). Message counts
// keep the whole run under 15 minutes on a 2-core machine; DynamoDB (moto, a
// few hundred requests per second) gets small counts and no room of 1000.
// ---------------------------------------------------------------------------
const SIZE_BYTES = 160;
const latencyPlan = {
  10: { rate: 200, messages: 1000 },
  100: { rate: 50, messages: 150 },
  1000: { rate: 10, messages: 30 },
};
const throughputPlan = {
  // At most 1,000 messages per sender: the chat core's per-user rate limit
  // (100/s, burst 1,000; no switch) refuses the rest.
  10: { senders: 10, messages: 1000, window: 8 },
  100: { senders: 10, messages: 500, window: 4 },
  1000: { senders: 10, messages: 50, window: 2 },
};
// Per variant: scale of the message counts and sizes it runs.
const VARIANTS = {
  floor: { label: 'floor', title: 'floor server', scale: 1, sizes: [10, 100, 1000] },
  inproc: { label: 'in-process', title: 'Stratus, in-process handler, SQLite', scale: 1, sizes: [10, 100, 1000] },
  lambda: {
    label: '--lambda',
    title: 'Stratus, out-of-process `stratus-bootstrap` (`--lambda`), SQLite',
    scale: 0.25,
    sizes: [10, 100, 1000],
  },
  dynamodb: {
    label: 'DynamoDB (moto)',
    title: 'Stratus, in-process handler, DynamoDB API on moto_server',
    // moto serves a few hundred requests per second: a sendMessage is one
    // transaction and one Query, a join several requests.
    latency: { 10: { rate: 10, messages: 30 }, 100: { rate: 2, messages: 10 } },
    throughput: { 10: { senders: 2, messages: 20, window: 1 }, 100: { senders: 2, messages: 5, window: 1 } },
    sizes: [10, 100],
  },
};
// Users: one per client up to 100 (presence to the whole room on each first join
// is O(N^2) frames), then several connections per user.
const usersFor = (clients) => Math.min(clients, 100);

function latencyArgs(variant, size) {
  // The rate sets the load; counts only set the number of samples.
  const base = VARIANTS[variant].latency?.[size] ?? latencyPlan[size];
  const messages = Math.max(5, Math.round(base.messages * (quick ? 0.3 : 1)));
  return { clients: size, senders: 1, messages, rate: base.rate, window: 1 };
}
function throughputArgs(variant, size) {
  const v = VARIANTS[variant];
  const base = v.throughput?.[size] ?? throughputPlan[size];
  const scale = (v.scale ?? 1) * (quick ? 0.3 : 1);
  return {
    clients: size,
    senders: base.senders,
    messages: Math.max(2, Math.round(base.messages * scale)),
    rate: 0,
    window: base.window,
  };
}

// ---------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------
const children = new Set();
function cleanup() {
  for (const child of children) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    cleanup();
    process.exit(130);
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts a server; resolves with {child, match} once stdout matches `ready`. */
function startProcess(command, argv, ready, { env, timeoutMs = 60_000, logFile } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    const log = logFile ? fs.createWriteStream(logFile) : null;
    let out = '';
    let done = false;
    const timer = setTimeout(() => finish(new Error(`${command} not ready after ${timeoutMs} ms`)), timeoutMs);
    function finish(error, match) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (error) {
        stop(child);
        reject(error);
      } else {
        resolve({ child, match });
      }
    }
    child.stdout.on('data', (chunk) => {
      log?.write(chunk);
      out += chunk;
      const match = out.match(ready);
      if (match) finish(null, match);
    });
    child.stderr.on('data', (chunk) => log?.write(chunk));
    child.on('exit', (code) => {
      children.delete(child);
      finish(new Error(`${command} exited (${code}) before it was ready: ${out.slice(-500)}`));
    });
  });
}

/** SIGTERM, then SIGKILL after `graceMs`. */
async function stop(child, graceMs = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timedOut = await Promise.race([exited.then(() => false), sleep(graceMs).then(() => true)]);
  if (timedOut) {
    child.kill('SIGKILL');
    await exited;
  }
  children.delete(child);
}

function readProc(pid, file) {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return null;
  }
}
const rssKib = (pid) => Number(readProc(pid, 'status')?.match(/VmRSS:\s+(\d+)/)?.[1] ?? NaN);

/** CPU ticks of `pid` and its descendants (utime+stime+cutime+cstime). */
function treeTicks(pid) {
  const parents = new Map();
  const ticks = new Map();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readProc(name, 'stat');
    if (!stat) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    parents.set(Number(name), Number(fields[1]));
    ticks.set(Number(name), Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]));
  }
  let total = 0;
  const pending = [pid];
  while (pending.length) {
    const id = pending.pop();
    total += ticks.get(id) ?? 0;
    for (const [child, parent] of parents) if (parent === id) pending.push(child);
  }
  return total;
}

/** Waits until the processes use (almost) no CPU: the previous run's disconnects are done. */
async function waitQuiet(pids, maxMs = 30_000) {
  const deadline = Date.now() + maxMs;
  let before = pids.reduce((sum, pid) => sum + treeTicks(pid), 0);
  while (Date.now() < deadline) {
    await sleep(250);
    const now = pids.reduce((sum, pid) => sum + treeTicks(pid), 0);
    if (now - before <= 2) return; // at most 20 ms of CPU in 250 ms
    before = now;
  }
}

// ---------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------
const devHelp = spawnSync(bin.stratus, ['dev', '--help'], { encoding: 'utf8' }).stdout ?? '';
// The gateway's abuse controls (when this build has them) would refuse a load
// generator: 1,000 connections from one IP, senders far above a person's rate.
const abuseOff = [];
if (devHelp.includes('--max-connections-per-ip')) abuseOff.push('--max-connections-per-ip', '0');
if (devHelp.includes('--rate-limit')) abuseOff.push('--rate-limit', '0');
if (devHelp.includes('--user-rate-limit')) abuseOff.push('--user-rate-limit', '0');

async function startFloor(tag) {
  const { child, match } = await startProcess(bin.floor, ['--port', '0'], /listening on 127\.0\.0\.1:(\d+)/, {
    logFile: path.join(outDir, `${tag}.server.log`),
  });
  return { child, pid: child.pid, url: `ws://127.0.0.1:${match[1]}/`, protocol: 'floor', watch: [] };
}

async function startStratus(tag, { lambda = false, dynamodb = null } = {}) {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-bench-'));
  const argv = ['dev', '--host', '127.0.0.1', '--port', '0', '--data-dir', data, '--web-root', data, ...abuseOff];
  if (lambda) argv.push('--lambda', bin.bootstrap);
  if (dynamodb) argv.push('--dynamodb-endpoint', dynamodb.url, '--table-prefix', `${tag}-`);
  const { child, match } = await startProcess(bin.stratus, argv, /ready at http:\/\/127\.0\.0\.1:(\d+)\//, {
    logFile: path.join(outDir, `${tag}.server.log`),
  });
  const watch = dynamodb ? [`store=${dynamodb.pid}`] : [];
  return {
    child,
    pid: child.pid,
    url: `ws://127.0.0.1:${match[1]}/local`,
    protocol: 'stratus',
    watch,
    data,
  };
}

async function startMoto() {
  const script = path.join(repo, 'tests/integration/dynamodb/moto-stack.mjs');
  try {
    const { child, match } = await startProcess(process.execPath, [script], /STRATUS_DYNAMODB_ENDPOINT=(\S+)/, {
      timeoutMs: 40_000,
      logFile: path.join(outDir, 'moto.log'),
    });
    return { child, pid: child.pid, url: match[1] };
  } catch (error) {
    return { error: String(error.message ?? error) };
  }
}

// ---------------------------------------------------------------------------
// One loadgen run
// ---------------------------------------------------------------------------
function loadgenArgv(server, p) {
  return [
    'loadgen',
    '--protocol',
    server.protocol,
    '--url',
    server.url,
    '--clients',
    String(p.clients),
    '--senders',
    String(p.senders),
    '--messages',
    String(p.messages),
    '--size',
    String(SIZE_BYTES),
    '--rate',
    String(p.rate),
    '--window',
    String(p.window),
    '--users',
    String(usersFor(p.clients)),
    '--connect-timeout',
    '120',
    '--max-seconds',
    '240',
    '--watch',
    `gateway=${server.pid}`,
    ...server.watch.flatMap((w) => ['--watch', w]),
  ];
}

function runLoadgen(server, p, tag) {
  const argv = loadgenArgv(server, p);
  return new Promise((resolve) => {
    const child = spawn(bin.stratus, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('exit', (code) => {
      children.delete(child);
      fs.writeFileSync(path.join(outDir, `${tag}.json`), out || JSON.stringify({ error: err, code }));
      if (code !== 0) {
        console.error(`  ${tag}: loadgen failed (${code}): ${err.trim()}`);
        resolve(null);
        return;
      }
      try {
        resolve(JSON.parse(out));
      } catch {
        console.error(`  ${tag}: loadgen printed no JSON`);
        resolve(null);
      }
    });
  });
}

const fmtUs = (us) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(0)} µs`);
const median = (values) => {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return NaN;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

// ---------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------
const results = {}; // results[variant][size] = {latency: [...], throughput: [...], rssIdle: [...], notes: []}
const notes = [];
let moto = null;

console.log(`bench/run: ${repeats} repeat(s), sizes ${sizes.join(', ')}, variants ${variants.join(', ')}`);
console.log(`  raw results: ${path.relative(repo, outDir)}/`);
if (abuseOff.length) console.log(`  gateway abuse controls off for the load generator: ${abuseOff.join(' ')}`);

for (const variant of variants) {
  const v = VARIANTS[variant];
  if (!v) throw new Error(`unknown variant ${variant}`);
  results[variant] = {};
  if (variant === 'dynamodb') {
    moto = await startMoto();
    if (moto.error) {
      notes.push(`DynamoDB (moto) skipped: ${moto.error}`);
      console.log(`  dynamodb: skipped (${moto.error})`);
      continue;
    }
  }
  for (const size of sizes) {
    if (!v.sizes.includes(size)) continue;
    const cell = (results[variant][size] = { latency: [], throughput: [], rssIdle: [], rssConnected: [] });
    for (let r = 1; r <= repeats; ++r) {
      const tag = `${variant}-${size}-r${r}`;
      const t0 = Date.now();
      let server;
      try {
        server =
          variant === 'floor'
            ? await startFloor(tag)
            : await startStratus(tag, { lambda: variant === 'lambda', dynamodb: variant === 'dynamodb' ? moto : null });
      } catch (error) {
        console.error(`  ${tag}: server did not start: ${error.message}`);
        notes.push(`${v.label}, room ${size}, run ${r}: the server did not start (${error.message})`);
        continue;
      }
      await sleep(200);
      cell.rssIdle.push(rssKib(server.pid));
      const quietPids = [server.pid, ...(moto?.pid && variant === 'dynamodb' ? [moto.pid] : [])];

      const lat = await runLoadgen(server, latencyArgs(variant, size), `${tag}-latency`);
      if (lat) {
        cell.latency.push(lat);
        cell.rssConnected.push(lat.processes.gateway?.rss_kib_connected ?? NaN);
      }
      await waitQuiet(quietPids);
      const thr = await runLoadgen(server, throughputArgs(variant, size), `${tag}-throughput`);
      if (thr) cell.throughput.push(thr);
      await stop(server.child);
      if (server.data) fs.rmSync(server.data, { recursive: true, force: true });
      if (variant === 'dynamodb') await waitQuiet([moto.pid], 10_000);
      const last = lat?.latency_us.last_recipient;
      console.log(
        `  ${tag}: ` +
          (last ? `last-recipient p50 ${fmtUs(last.p50)} p99 ${fmtUs(last.p99)}` : 'latency run failed') +
          (thr ? `, ${Math.round(thr.delivered_per_s).toLocaleString('en-US')} delivered/s` : ', throughput run failed') +
          ` (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
      );
    }
  }
}
if (moto && !moto.error) await stop(moto.child);
if (variants.includes('dynamodb') && sizes.includes(1000)) {
  notes.push(
    'DynamoDB (moto) has no room of 1,000: the joins alone outlast the budget (537 of 1,000 clients had joined ' +
      'after 120 s in a trial run; each join reads the room, so joins get slower as the room grows).',
  );
}

// ---------------------------------------------------------------------------
// Lambda cold start (bench/lambda-cold-start.sh)
// ---------------------------------------------------------------------------
let coldStart = null;
if (coldStartRuns > 0) {
  console.log(`  lambda cold start: bench/lambda-cold-start.sh ${coldStartRuns}`);
  const run = spawnSync('bash', [path.join(repo, 'bench/lambda-cold-start.sh'), String(coldStartRuns)], {
    cwd: repo,
    encoding: 'utf8',
    timeout: 300_000,
  });
  coldStart =
    run.status === 0
      ? run.stdout.trim()
      : `(bench/lambda-cold-start.sh failed: ${(run.stderr || run.error?.message || '').trim().split('\n').pop()})`;
}

// ---------------------------------------------------------------------------
// Summaries and Markdown
// ---------------------------------------------------------------------------
function summary(variant, size) {
  const cell = results[variant]?.[size];
  if (!cell) return null;
  const lat = cell.latency;
  const thr = cell.throughput;
  const pick = (runs, f) => median(runs.map(f));
  return {
    runs: lat.length,
    p50: pick(lat, (d) => d.latency_us.last_recipient.p50),
    p99: pick(lat, (d) => d.latency_us.last_recipient.p99),
    deliveryP50: pick(lat, (d) => d.latency_us.delivery.p50),
    rate: lat[0]?.rate,
    latMessages: lat[0]?.messages,
    throughputRuns: thr.length,
    perSecond: pick(thr, (d) => d.delivered_per_s),
    thrMessages: thr[0] ? `${thr[0].senders} × ${thr[0].messages_per_sender}, window ${thr[0].window}` : '',
    serverCpu: pick(thr, (d) => d.processes.gateway?.cpu_s_per_1000_deliveries),
    storeCpu: pick(thr, (d) => d.processes.store?.cpu_s_per_1000_deliveries),
    loadgenCpu: pick(thr, (d) => d.loadgen.cpu_s_per_1000_deliveries),
    loadgenBusy: pick(thr, (d) => Math.max(...d.loadgen.io_thread_busy)),
    thrP50: pick(thr, (d) => d.latency_us.last_recipient.p50),
    losses: [...lat, ...thr].reduce((s, d) => s + d.losses, 0),
    refused: [...lat, ...thr].reduce((s, d) => s + (d.refused_messages ?? 0), 0),
    duplicates: [...lat, ...thr].reduce((s, d) => s + d.duplicates, 0),
    rssIdle: median(cell.rssIdle),
    rssConnected: median(cell.rssConnected),
  };
}

const num = (x, digits = 0) =>
  Number.isFinite(x) ? x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '—';
const ratio = (x, floor) => {
  if (!Number.isFinite(x) || !Number.isFinite(floor) || floor <= 0) return '—';
  const r = x / floor;
  return `${r >= 0.1 ? r.toFixed(2) : r.toPrecision(2)}×`;
};
const ms = (us) => (Number.isFinite(us) ? (us / 1000).toFixed(us < 10_000 ? 2 : 1) : '—');
const mib = (kib) => (Number.isFinite(kib) ? `${(kib / 1024).toFixed(1)} MiB` : '—');

function machine() {
  const cpu = (() => {
    try {
      return execFileSync('lscpu', { encoding: 'utf8' }).match(/Model name:\s*(.+)/)?.[1]?.trim();
    } catch {
      return os.cpus()[0]?.model;
    }
  })();
  const hypervisor = (() => {
    try {
      return execFileSync('lscpu', { encoding: 'utf8' }).match(/Hypervisor vendor:\s*(.+)/)?.[1]?.trim();
    } catch {
      return null;
    }
  })();
  const distro = fs.readFileSync('/etc/os-release', 'utf8').match(/PRETTY_NAME="?([^"\n]+)"?/)?.[1] ?? 'Linux';
  let commit = '';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repo, encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  return {
    text:
      `${os.cpus().length} vCPUs (${cpu}${hypervisor ? `, ${hypervisor} VM` : ''}), ` +
      `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${distro}, kernel ${os.release()}`,
    commit,
  };
}

const loadAtEnd = os.loadavg();
const elapsed = (Date.now() - started) / 1000;
const host = machine();
const present = (variant, size) => results[variant]?.[size]?.latency.length > 0 || results[variant]?.[size]?.throughput.length > 0;

let md = '';
md += '## Fan-out, throughput, CPU and memory (generated by `bench/run`)\n\n';
md += `Generated ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC by \`bench/run${args.length ? ' ' + args.join(' ') : ''}\``;
md += host.commit ? ` at commit \`${host.commit}\` (plus the working tree)` : '';
md += ` in ${Math.floor(elapsed / 60)} min ${Math.round(elapsed % 60)} s. `;
md += `Each cell is the median of ${repeats} run${repeats > 1 ? 's' : ''}, each on a fresh server.\n\n`;
md += `Machine: ${host.text}. Server and load generator share the machine (loopback, no TLS, no compression), `;
md += `so every number includes the load generator's own CPU use; load average ${loadAtEnd.map((x) => x.toFixed(1)).join(' / ')} (1 / 5 / 15 min) at the end of the run.\n\n`;
md += 'How it is measured (`stratus loadgen`, JSON per run in `build/bench-results/`):\n\n';
md += `- Every message is ${SIZE_BYTES} bytes of text carrying the sender, the message index and a \`steady_clock\` send time, so each receiver times its own delivery. Every client of the room receives every message, the sender included. Losses and duplicates are counted per (message, receiver).\n`;
md += '- **Latency** runs: one sender at a fixed rate (the same rate for the floor and Stratus), every client of the room receiving. **p50 / p99** are of the *last-recipient* latency: from the send to the moment the last client of the room has the message.\n';
md += '- **Throughput** runs: 10 senders in closed loop (a sender sends its next message when one of its `window` unanswered messages is acknowledged: the ack frame for Stratus, its own echo for the floor). **Delivered msg/s** counts frames received by clients, from the first send to the last delivery.\n';
md += '- **CPU per 1,000 deliveries**: the server\'s CPU (its process and children, from `/proc/<pid>/stat`; for `--lambda` that includes the bootstrap instances) and the load generator\'s (`getrusage`) over the throughput run, divided by deliveries. "Client busy" is the load generator\'s I/O thread CPU ÷ wall time; near 1.0 the client, not the server, was the limit.\n';
md += `- **Users**: one per client up to 100, then 100 users with several connections each (each first join pushes presence to the whole room). Abuse controls${abuseOff.length ? ` are off (\`${abuseOff.join(' ')}\`)` : ' do not exist in this build'}: the load generator is one IP that sends far faster than a person. Under \`--lambda\` the function keeps the chat core's per-user limit (100 messages/s, burst 1,000; the bootstrap has no switch for it), so no sender sends more than 1,000 messages in a run.\n\n`;

md += '### Results\n\n';
md +=
  '| room | server | latency run | p50 | p99 | p50 ÷ floor | throughput run | delivered msg/s | ÷ floor | server CPU s / 1k deliveries | loadgen CPU s / 1k | client busy |\n';
md += '|---|---|---|---|---|---|---|---|---|---|---|---|\n';
for (const size of sizes) {
  const floor = summary('floor', size);
  for (const variant of variants) {
    if (!present(variant, size)) continue;
    const s = summary(variant, size);
    const v = VARIANTS[variant];
    const store = Number.isFinite(s.storeCpu) ? ` (+ moto ${num(s.storeCpu, 3)})` : '';
    md +=
      `| ${num(size)} | ${v.label} | ${s.latMessages ?? '—'} msgs at ${s.rate ?? '—'}/s | ${ms(s.p50)} ms | ${ms(s.p99)} ms | ` +
      `${variant === 'floor' ? '1' : ratio(s.p50, floor?.p50)} | ${s.thrMessages || '—'} | ${num(s.perSecond)} | ` +
      `${variant === 'floor' ? '1' : ratio(s.perSecond, floor?.perSecond)} | ${num(s.serverCpu, 4)}${store} | ` +
      `${num(s.loadgenCpu, 4)} | ${num(s.loadgenBusy, 2)} |\n`;
  }
}
// A p50 equal to the send interval means a recipient got message k only when
// message k+1 was written: the signature of Nagle's algorithm on the server's
// sockets (small writes held until the previous one is acknowledged).
const interval = [];
for (const variant of variants)
  for (const size of sizes) {
    if (variant === 'floor' || !present(variant, size)) continue;
    const s = summary(variant, size);
    const gap = 1e6 / s.rate;
    if (Number.isFinite(s.p50) && Math.abs(s.p50 - gap) / gap < 0.05) interval.push(`${VARIANTS[variant].label} room ${size}`);
  }
if (interval.length) {
  md +=
    `\nIn ${interval.join(', ')} the p50 equals the interval between two sends (1 / rate): recipients get a message ` +
    'when the next one is written. That is the pattern of Nagle\'s algorithm on the gateway\'s sockets (no ' +
    '`TCP_NODELAY`: a small write waits for the acknowledgement of the previous one); the p50 there measures the ' +
    'send rate, not the fan-out.\n';
}
const lossy = [];
for (const variant of variants)
  for (const size of sizes) {
    if (!present(variant, size)) continue;
    const s = summary(variant, size);
    if (s.losses || s.duplicates || s.refused) {
      lossy.push(
        `${VARIANTS[variant].label} room ${size}: ${s.losses} deliveries lost, ${s.duplicates} duplicated, ` +
          `${s.refused} messages refused by the server`,
      );
    }
  }
md += `\nLost or duplicated deliveries and refused messages over all runs: ${lossy.length ? lossy.join('; ') : 'none'}.\n\n`;

md += '### Gateway memory (VmRSS)\n\n';
md += '| server | idle, just started | room of 1,000 connected and joined, idle |\n|---|---|---|\n';
for (const variant of variants) {
  if (!sizes.some((size) => present(variant, size))) continue;
  const idle = median(sizes.flatMap((size) => results[variant]?.[size]?.rssIdle ?? []));
  const connected = results[variant]?.[1000] ? summary(variant, 1000).rssConnected : NaN;
  md += `| ${VARIANTS[variant].label} | ${mib(idle)} | ${mib(connected)} |\n`;
}
md += '\n';

// Targets: docs/benchmarks targets from ../shared/reference/performance.md §8 and the issue.
md += '### Against the targets\n\n| target | measured | met |\n|---|---|---|\n';
const tick = (ok) => (ok === null ? '—' : ok ? 'yes' : '**no**');
for (const size of sizes) {
  const f = summary('floor', size);
  const s = present('inproc', size) ? summary('inproc', size) : null;
  if (!s || !f) continue;
  const r = s.p50 / f.p50;
  md += `| room ${num(size)}: in-process fan-out p50 within 2× of the floor | ${ms(s.p50)} ms vs ${ms(f.p50)} ms (${r.toFixed(2)}×) | ${tick(r <= 2)} |\n`;
}
const absolute = { 10: [0.3, 3], 100: [2, 10], 1000: [15, 60] };
for (const size of sizes) {
  const s = present('inproc', size) ? summary('inproc', size) : null;
  if (!s || !absolute[size]) continue;
  const [p50, p99] = absolute[size];
  md += `| room ${num(size)}: p50 ≤ ${p50} ms, p99 ≤ ${p99} ms (§8) | ${ms(s.p50)} / ${ms(s.p99)} ms | ${tick(s.p50 / 1000 <= p50 && s.p99 / 1000 <= p99)} |\n`;
}
if (present('inproc', 100)) {
  const s = summary('inproc', 100);
  md += `| room 100: ≥ 100,000 delivered msg/s (§8) | ${num(s.perSecond)} | ${tick(s.perSecond >= 100_000)} |\n`;
}
if (present('inproc', 1000)) {
  const s = summary('inproc', 1000);
  md += `| gateway RSS with 1,000 idle connections ≤ 50 MB | ${mib(s.rssConnected)} | ${tick(s.rssConnected / 1024 <= 50)} |\n`;
}
md += '\n';

md += '### Commands\n\n';
md += '```sh\n';
md += `bench/run${args.length ? ' ' + args.join(' ') : ''}\n`;
md += '# each run, e.g. the in-process room of 100 (latency, then throughput):\n';
const example = { pid: '<gateway pid>', url: 'ws://127.0.0.1:<port>/local', protocol: 'stratus', watch: [] };
md += `stratus ${loadgenArgv(example, latencyArgs('inproc', 100)).join(' ')}\n`;
md += `stratus ${loadgenArgv(example, throughputArgs('inproc', 100)).join(' ')}\n`;
md += `# servers: stratus-floor-server --port 0 | stratus dev --port 0 --data-dir <tmp> ${abuseOff.join(' ')} [--lambda build/release/stratus-bootstrap | --dynamodb-endpoint <moto>]\n`;
md += '```\n\n';
if (notes.length) md += notes.map((n) => `- ${n}`).join('\n') + '\n\n';

if (coldStart) {
  md += `### Lambda cold start (\`bench/lambda-cold-start.sh ${coldStartRuns}\`, same run)\n\n`;
  md += `Init Duration (exec of \`bootstrap\` → first \`GET next\`), as described above.\n\n${coldStart}\n\n`;
}

fs.writeFileSync(path.join(outDir, 'summary.md'), md);
if (writeDocs) {
  const docs = path.join(repo, 'docs/benchmarks.md');
  const begin = '<!-- bench/run:begin -->';
  const end = '<!-- bench/run:end -->';
  let text = fs.readFileSync(docs, 'utf8');
  if (!text.includes(begin) || !text.includes(end)) {
    text = `${text.trimEnd()}\n\n${begin}\n${end}\n`;
  }
  const head = text.slice(0, text.indexOf(begin) + begin.length);
  const tail = text.slice(text.indexOf(end));
  fs.writeFileSync(docs, `${head}\n${md.trimEnd()}\n${tail}`);
  console.log('  wrote docs/benchmarks.md (between the bench/run markers)');
} else {
  console.log(md);
}
console.log(`bench/run: done in ${Math.floor(elapsed / 60)} min ${Math.round(elapsed % 60)} s`);
process.exit(0);
