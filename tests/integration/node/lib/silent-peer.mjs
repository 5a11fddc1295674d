// A peer for the "silent at the TCP level" tests: connects (one or more
// sockets), joins a room on each, prints "ready" once all have joined, then does
// nothing. The parent SIGSTOPs it, so its sockets stay open but never answer a ping.
//   node silent-peer.mjs <ws url with token> <room> [more ws urls...]
import WebSocket from 'ws';

const [first, room, ...more] = process.argv.slice(2);
const urls = [first, ...more];
let joined = 0;
const giveUp = setTimeout(() => {
  process.stderr.write(`silent-peer: ${joined}/${urls.length} joined within 20 s\n`);
  process.exit(2);
}, 20_000);
let open = urls.length;
for (const url of urls) {
  const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 5000 });
  ws.on('open', () => ws.send(JSON.stringify({ action: 'joinRoom', room })));
  ws.on('message', (data) => {
    const frame = JSON.parse(data.toString('utf8'));
    if (frame.type === 'joined' && frame.room === room) {
      joined += 1;
      if (joined === urls.length) {
        clearTimeout(giveUp);
        process.stdout.write('ready\n');
      }
    }
  });
  ws.on('error', (err) => {
    process.stderr.write(`silent-peer: ${err.message}\n`);
    process.exit(2);
  });
  ws.on('close', () => {
    open -= 1;
    if (open === 0) process.exit(0);
  });
}
