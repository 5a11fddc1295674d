// Hand-built WebSocket frames (RFC 6455 §5.2) and a raw client that does the HTTP
// upgrade itself, for tests that must send what no WebSocket library would:
// reserved bits and opcodes, unmasked client frames, non-canonical or absurd
// declared lengths, fragmented control frames, bad close codes, invalid UTF-8.
//
//   const raw = await RawSocket.open(stack.wsUrl(token));
//   await raw.write(frame({ opcode: OP.text, payload: '{"action":"ping"}' }));
//   const frames = await raw.waitFrame((f) => f.opcode === OP.text);
//   const end = await raw.waitEnd();   // {closeCode, closeReason, tcpClosed, frames}
//
// The server's frames are parsed as they arrive. When the server sends a close
// frame the client answers with a close frame (as RFC 6455 §5.5.1 asks), so a
// server waiting for the closing handshake can tear the TCP connection down.

import net from 'node:net';
import tls from 'node:tls';
import { createHash, randomBytes } from 'node:crypto';

export const OP = Object.freeze({ cont: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa });
export const OP_NAME = { 0: 'cont', 1: 'text', 2: 'binary', 8: 'close', 9: 'ping', 10: 'pong' };

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** The masking key used unless a frame names its own: fixed, so that case bytes are reproducible. */
export const DEFAULT_MASK_KEY = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2). */
export function acceptFor(key) {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

const toBuffer = (p) => (p === undefined ? Buffer.alloc(0) : Buffer.isBuffer(p) ? p : Buffer.from(p, 'utf8'));

/**
 * One frame as bytes.
 *   opcode           0-15
 *   payload          Buffer or string (UTF-8); default empty
 *   fin              default true
 *   rsv              the three RSV bits as a number 0-7 (4 = RSV1, 2 = RSV2, 1 = RSV3); default 0
 *   mask             default true (clients must mask)
 *   maskKey          4-byte Buffer; default DEFAULT_MASK_KEY
 *   lengthEncoding   'auto' (shortest, as RFC 6455 requires), 7, 16 or 64
 *   declaredLength   the length written in the header (number or BigInt); default payload.length.
 *                    When it differs from the payload, the payload is sent as given (short or withheld).
 */
export function frame({ opcode, payload, fin = true, rsv = 0, mask = true, maskKey = DEFAULT_MASK_KEY,
  lengthEncoding = 'auto', declaredLength } = {}) {
  const body = toBuffer(payload);
  const declared = BigInt(declaredLength ?? body.length);
  let encoding = lengthEncoding;
  if (encoding === 'auto') encoding = declared <= 125n ? 7 : declared <= 0xffffn ? 16 : 64;
  const head = [((fin ? 1 : 0) << 7) | ((rsv & 7) << 4) | (opcode & 0x0f)];
  const maskBit = mask ? 0x80 : 0;
  let ext;
  if (encoding === 7) {
    if (declared > 125n) throw new Error(`7-bit length cannot hold ${declared}`);
    head.push(maskBit | Number(declared));
    ext = Buffer.alloc(0);
  } else if (encoding === 16) {
    if (declared > 0xffffn) throw new Error(`16-bit length cannot hold ${declared}`);
    head.push(maskBit | 126);
    ext = Buffer.alloc(2);
    ext.writeUInt16BE(Number(declared));
  } else if (encoding === 64) {
    head.push(maskBit | 127);
    ext = Buffer.alloc(8);
    ext.writeBigUInt64BE(BigInt.asUintN(64, declared));
  } else {
    throw new Error(`unknown length encoding ${encoding}`);
  }
  let data = body;
  let key = Buffer.alloc(0);
  if (mask) {
    key = Buffer.from(maskKey);
    data = Buffer.alloc(body.length);
    for (let i = 0; i < body.length; i += 1) data[i] = body[i] ^ key[i & 3];
  }
  return Buffer.concat([Buffer.from(head), ext, key, data]);
}

/** A close frame's payload: 2-byte code (omitted when code is null) and reason bytes. */
export function closePayload(code, reason = Buffer.alloc(0)) {
  if (code === null || code === undefined) return Buffer.alloc(0);
  const head = Buffer.alloc(2);
  head.writeUInt16BE(code);
  return Buffer.concat([head, toBuffer(reason)]);
}

/** A text message split into fragments at the given byte offsets (first text, then continuations). */
export function fragments(payload, cuts, options = {}) {
  const body = toBuffer(payload);
  const points = [0, ...cuts.filter((c) => c > 0 && c < body.length), body.length];
  const out = [];
  for (let i = 0; i + 1 < points.length; i += 1) {
    out.push(frame({ ...options, opcode: i === 0 ? (options.opcode ?? OP.text) : OP.cont,
      fin: i + 2 === points.length, payload: body.subarray(points[i], points[i + 1]) }));
  }
  return out;
}

/** Parses the server's (unmasked) frames from `buf`; returns {frames, rest}. */
export function parseFrames(buf) {
  const frames = [];
  let off = 0;
  for (;;) {
    if (buf.length - off < 2) break;
    const b0 = buf[off];
    const b1 = buf[off + 1];
    let len = b1 & 0x7f;
    let p = off + 2;
    if (len === 126) {
      if (buf.length - p < 2) break;
      len = buf.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      if (buf.length - p < 8) break;
      len = Number(buf.readBigUInt64BE(p));
      p += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    let key = null;
    if (masked) {
      if (buf.length - p < 4) break;
      key = buf.subarray(p, p + 4);
      p += 4;
    }
    if (buf.length - p < len) break;
    let payload = Buffer.from(buf.subarray(p, p + len));
    if (key) for (let i = 0; i < payload.length; i += 1) payload[i] ^= key[i & 3];
    frames.push({ fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, payload });
    off = p + len;
  }
  return { frames, rest: buf.subarray(off) };
}

/** Hex of a buffer, shortened in the middle when long (for failure messages). */
export function hex(buf, max = 96) {
  const h = Buffer.from(buf).toString('hex');
  if (h.length <= max * 2) return h;
  return `${h.slice(0, max)}…(${buf.length} bytes)…${h.slice(-32)}`;
}

/**
 * A WebSocket client over a plain TCP (or TLS, for wss://) socket that writes
 * whatever bytes it is given and records what comes back.
 */
export class RawSocket {
  constructor(socket, leftover) {
    this.socket = socket;
    this.frames = []; // server frames, in order
    this.closeFrame = null; // {code, reason} of the server's close frame
    this.tcpClosed = false;
    this.error = null;
    this._buf = Buffer.alloc(0);
    this._waiters = [];
    this._sentClose = false;
    socket.on('data', (chunk) => this._onData(chunk));
    socket.on('error', (err) => {
      this.error = err;
    });
    socket.on('close', () => {
      this.tcpClosed = true;
      this._wake();
    });
    if (leftover.length) this._onData(leftover);
  }

  /**
   * Opens `url` (ws:// or wss://, with path and query), does the upgrade and
   * checks the 101 answer and its Sec-WebSocket-Accept. Rejects on any other answer.
   */
  static open(url, { timeoutMs = 5000, headers = {} } = {}) {
    const u = new URL(url);
    const secure = u.protocol === 'wss:';
    const port = Number(u.port || (secure ? 443 : 80));
    const key = randomBytes(16).toString('base64');
    const request = [
      `GET ${u.pathname}${u.search} HTTP/1.1`,
      `Host: ${u.host}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${key}`,
      'Sec-WebSocket-Version: 13',
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      '', '',
    ].join('\r\n');
    return new Promise((resolve, reject) => {
      const socket = secure
        ? tls.connect({ host: u.hostname, port, servername: u.hostname })
        : net.connect({ host: u.hostname, port });
      socket.setNoDelay(true);
      let head = Buffer.alloc(0);
      let settled = false;
      const fail = (err) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      const timer = setTimeout(() => fail(new Error(`upgrade to ${u.host}${u.pathname} timed out after ${timeoutMs} ms`)), timeoutMs);
      const onData = (chunk) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) {
          if (head.length > 16384) fail(new Error('upgrade answer headers too long'));
          return;
        }
        socket.removeListener('data', onData);
        const lines = head.subarray(0, end).toString('latin1').split('\r\n');
        const status = /^HTTP\/1\.1 (\d{3})/.exec(lines[0]);
        const fields = new Map();
        for (const line of lines.slice(1)) {
          const i = line.indexOf(':');
          if (i > 0) fields.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
        }
        if (!status || status[1] !== '101') {
          fail(new Error(`upgrade refused: ${lines[0]}`));
          return;
        }
        if (fields.get('sec-websocket-accept') !== acceptFor(key)) {
          fail(new Error(`bad Sec-WebSocket-Accept ${fields.get('sec-websocket-accept')}`));
          return;
        }
        if ((fields.get('upgrade') ?? '').toLowerCase() !== 'websocket') {
          fail(new Error(`bad Upgrade header ${fields.get('upgrade')}`));
          return;
        }
        settled = true;
        clearTimeout(timer);
        resolve(new RawSocket(socket, head.subarray(end + 4)));
      };
      socket.on('data', onData);
      socket.once('error', (err) => fail(err));
      socket.once('close', () => fail(new Error('connection closed during the upgrade')));
      socket.once(secure ? 'secureConnect' : 'connect', () => socket.write(request));
    });
  }

  _onData(chunk) {
    this._buf = Buffer.concat([this._buf, chunk]);
    const { frames, rest } = parseFrames(this._buf);
    this._buf = Buffer.from(rest);
    for (const f of frames) {
      this.frames.push(f);
      if (f.opcode === OP.close && !this.closeFrame) {
        this.closeFrame = {
          code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : null,
          reason: f.payload.length > 2 ? f.payload.subarray(2).toString('utf8') : '',
        };
        // Complete the closing handshake: echo the code (an empty close when there is none).
        if (!this._sentClose && this.socket.writable) {
          this._sentClose = true;
          const echo = this.closeFrame.code === null ? Buffer.alloc(0) : closePayload(this.closeFrame.code);
          this.socket.write(frame({ opcode: OP.close, payload: echo }), () => {});
        }
      }
    }
    this._wake();
  }

  _wake() {
    for (const w of this._waiters.splice(0)) w();
  }

  /** Writes bytes; resolves once handed to the kernel (never rejects: the server may have gone). */
  write(bytes) {
    return new Promise((resolve) => {
      if (this.socket.destroyed || !this.socket.writable) {
        resolve(false);
        return;
      }
      this.socket.write(bytes, (err) => resolve(!err));
    });
  }

  /** Resolves when `cond()` is true, or with false after timeoutMs. */
  _until(cond, timeoutMs) {
    return new Promise((resolve) => {
      const deadline = Date.now() + timeoutMs;
      const check = () => {
        if (cond()) {
          clearTimeout(timer);
          resolve(true);
          return;
        }
        if (Date.now() >= deadline) {
          resolve(false);
          return;
        }
        this._waiters.push(check);
      };
      const timer = setTimeout(() => {
        const i = this._waiters.indexOf(check);
        if (i >= 0) this._waiters.splice(i, 1);
        resolve(cond());
      }, timeoutMs);
      check();
    });
  }

  /** The first server frame (from index `from`) matching `match`, or null after timeoutMs. */
  async waitFrame(match, timeoutMs = 5000, from = 0) {
    let found = null;
    await this._until(() => {
      found = this.frames.slice(from).find(match) ?? null;
      return found !== null || this.tcpClosed;
    }, timeoutMs);
    return found;
  }

  /** True once the server's close frame arrived (or the TCP connection ended). */
  waitCloseFrame(timeoutMs = 5000) {
    return this._until(() => this.closeFrame !== null || this.tcpClosed, timeoutMs);
  }

  /**
   * Waits until the TCP connection is closed, at most timeoutMs. Resolves with
   * {closeCode, closeReason, tcpClosed, frames}; closeCode is null without a close frame.
   */
  async waitEnd(timeoutMs = 5000) {
    await this._until(() => this.tcpClosed, timeoutMs);
    return {
      closeCode: this.closeFrame ? this.closeFrame.code : null,
      closeReason: this.closeFrame ? this.closeFrame.reason : null,
      tcpClosed: this.tcpClosed,
      frames: this.frames,
    };
  }

  /** Sends a normal close (1000) and waits for the end. */
  async close(timeoutMs = 5000) {
    if (!this._sentClose && !this.tcpClosed) {
      this._sentClose = true;
      await this.write(frame({ opcode: OP.close, payload: closePayload(1000) }));
    }
    return this.waitEnd(timeoutMs);
  }

  destroy() {
    this.socket.destroy();
  }
}
