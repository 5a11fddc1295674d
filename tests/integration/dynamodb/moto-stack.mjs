#!/usr/bin/env node
// A local DynamoDB for the tests: moto_server on a free loopback port, behind a
// request-serialising HTTP proxy (test code).
//
// Why the proxy: moto_server 5.2.1 serves requests on threads, and concurrent
// conflicting TransactWriteItems on one item can lose already committed writes
// or answer HTTP 500 ("dictionary changed size during iteration"). The proxy
// forwards one request at a time, in arrival order, so moto never races itself;
// Stratus's own concurrent transactions still conflict at the condition level
// (each request sees the previous one's committed state), so the store's
// retry-on-conflict path is still exercised.
//
// Usage:
//   node tests/integration/dynamodb/moto-stack.mjs
//       prints "STRATUS_DYNAMODB_ENDPOINT=http://127.0.0.1:PORT" and serves until
//       SIGINT/SIGTERM (or until stdin closes, with --stdin).
//   node tests/integration/dynamodb/moto-stack.mjs -- <command> [args...]
//       runs the command with STRATUS_DYNAMODB_ENDPOINT set, stops everything,
//       and exits with the command's status. Without moto_server the command runs
//       without the variable (the DynamoDB tests then skip, saying why).
//
// As a module: `const stack = await startMotoStack(); stack.url; await stack.stop();`
// startMotoStack() resolves to null when moto_server is not installed.

import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { freePort } from '../node/lib/stack.mjs';

const START_TIMEOUT_MS = 30_000;
// Headers that describe one hop's connection, not the message (RFC 9110 §7.6.1).
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
]);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** True when moto_server is on PATH. */
export function motoAvailable() {
  const probe = spawnSync('moto_server', ['--help'], { stdio: 'ignore' });
  return !probe.error && probe.status === 0;
}

/** One plain request to the upstream; resolves with {status, headers, body}. */
function forward(upstreamPort, method, path, headers, body) {
  return new Promise((resolve, reject) => {
    const outgoing = {};
    for (const [name, value] of Object.entries(headers)) {
      if (!HOP_BY_HOP.has(name.toLowerCase())) outgoing[name] = value;
    }
    outgoing['content-length'] = String(body.length);
    const req = http.request(
      { host: '127.0.0.1', port: upstreamPort, method, path, headers: outgoing, agent: false },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode, headers: res.rawHeaders, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * The serialising proxy: requests are queued in arrival order and forwarded one
 * at a time; method, path, headers and body go through unchanged (hop-by-hop
 * headers aside), and so do the response's status, headers and body.
 */
export async function startSerialisingProxy(upstreamPort) {
  let queue = Promise.resolve();
  let forwarded = 0;
  const server = http.createServer((req, res) => {
    const chunks = [];
    const body = new Promise((resolve, reject) => {
      req.on('data', (chunk) => chunks.push(chunk));
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
    });
    // Queued at arrival, so the order is the order the requests came in.
    queue = queue.then(async () => {
      try {
        const upstream = await forward(upstreamPort, req.method, req.url, req.headers, await body);
        forwarded += 1;
        const headers = [];
        for (let i = 0; i < upstream.headers.length; i += 2) {
          const name = upstream.headers[i];
          if (!HOP_BY_HOP.has(name.toLowerCase()) && name.toLowerCase() !== 'content-length') {
            headers.push(name, upstream.headers[i + 1]);
          }
        }
        headers.push('Content-Length', String(upstream.body.length));
        res.writeHead(upstream.status, headers);
        res.end(upstream.body);
      } catch (err) {
        if (!res.headersSent) {
          res.writeHead(502, { 'content-type': 'text/plain' });
        }
        res.end(`moto proxy: ${err.message}`);
      }
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    get forwarded() {
      return forwarded;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

async function waitForMoto(port, proc) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`moto_server exited with ${proc.exitCode}`);
    const answered = await new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/moto-api/', agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(true));
      });
      req.on('error', () => resolve(false));
      req.setTimeout(1000, () => req.destroy());
    });
    if (answered) return;
    await sleep(100);
  }
  throw new Error(`moto_server did not answer on port ${port} within ${START_TIMEOUT_MS} ms`);
}

/** Starts moto_server and the proxy; null when moto_server is not installed. */
export async function startMotoStack() {
  if (!motoAvailable()) return null;
  const motoPort = await freePort();
  const proc = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(motoPort)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-8192);
  });
  try {
    await waitForMoto(motoPort, proc);
  } catch (err) {
    proc.kill('SIGKILL');
    throw new Error(`${err.message}\n${stderr}`);
  }
  const proxy = await startSerialisingProxy(motoPort);
  const url = `http://127.0.0.1:${proxy.port}`;
  return {
    url,
    motoUrl: `http://127.0.0.1:${motoPort}`,
    proxy,
    async stop() {
      await proxy.close();
      if (proc.exitCode === null) {
        const exited = new Promise((resolve) => proc.once('exit', resolve));
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

async function main(argv) {
  const dash = argv.indexOf('--');
  const command = dash >= 0 ? argv.slice(dash + 1) : [];
  const stack = await startMotoStack();
  if (!stack) {
    console.error('moto-stack: moto_server is not on PATH; the DynamoDB tests will skip');
    if (command.length === 0) process.exit(1);
  }
  if (command.length === 0) {
    console.log(`STRATUS_DYNAMODB_ENDPOINT=${stack.url}`);
    const stop = async () => {
      await stack.stop();
      process.exit(0);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    if (argv.includes('--stdin')) {
      process.stdin.resume();
      process.stdin.on('end', stop);
    }
    return;
  }
  const env = { ...process.env };
  if (stack) {
    env.STRATUS_DYNAMODB_ENDPOINT = stack.url;
    console.error(`moto-stack: moto_server behind a serialising proxy at ${stack.url}`);
  }
  const child = spawn(command[0], command.slice(1), { stdio: 'inherit', env });
  const forwardSignal = (signal) => child.kill(signal);
  process.on('SIGINT', forwardSignal);
  process.on('SIGTERM', forwardSignal);
  const status = await new Promise((resolve) => {
    child.on('error', (err) => {
      console.error(`moto-stack: cannot run ${command[0]}: ${err.message}`);
      resolve(127);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
  if (stack) await stack.stop();
  process.exit(status);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((err) => {
    console.error(`moto-stack: ${err.stack ?? err}`);
    process.exit(1);
  });
}
