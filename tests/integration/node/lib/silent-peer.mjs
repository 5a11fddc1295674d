// A peer for the "silent at the TCP level" test: connects, joins a room,
// prints "ready", then does nothing. The parent SIGSTOPs it, so its socket
// stays open but never answers a ping.
//   node silent-peer.mjs <ws url with token> <room>
import WebSocket from 'ws';

const [url, room] = process.argv.slice(2);
const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 5000 });
const giveUp = setTimeout(() => {
  process.stderr.write('silent-peer: no joined reply within 10 s\n');
  process.exit(2);
}, 10_000);
ws.on('open', () => ws.send(JSON.stringify({ action: 'joinRoom', room })));
ws.on('message', (data) => {
  const frame = JSON.parse(data.toString('utf8'));
  if (frame.type === 'joined' && frame.room === room) {
    clearTimeout(giveUp);
    process.stdout.write('ready\n');
  }
});
ws.on('error', (err) => {
  process.stderr.write(`silent-peer: ${err.message}\n`);
  process.exit(2);
});
ws.on('close', () => process.exit(0));
