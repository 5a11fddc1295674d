// A stand-in for an Amazon Cognito user pool in the integration tests: RS256
// keys, a JWKS, Cognito-shaped id and access tokens, a loopback JWKS endpoint
// (HTTP or HTTPS), and throwaway TLS material. node:crypto and the openssl CLI
// only; nothing leaves 127.0.0.1.
//
//   const pool = createCognitoFixture();
//   const tls = await makeTlsMaterial(dir);                  // optional, for HTTPS
//   const jwks = await pool.serveJwks({ tls });              // or { tls: false }
//   // configure the verifier: issuer = pool.issuer, client id = pool.clientId,
//   // JWKS URL = jwks.url, CA file = tls.caFile
//   const token = pool.sign({ username: 'alice' });          // id token
//   const access = pool.sign({ tokenUse: 'access' });
//   ...
//   await jwks.close();
//
// Real Cognito publishes the keys at `${issuer}/.well-known/jwks.json`; here the
// issuer keeps its real shape and the keys are served from `jwks.url`, whose
// path is `/<userPoolId>/.well-known/jwks.json` on a loopback origin.

import { execFile } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, randomBytes, randomUUID, sign as rsaSign } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

const b64url = (data) => Buffer.from(data).toString('base64url');

/** A kid shaped like Cognito's: standard base64 (with `+`, `/` and `=`) of 32 random bytes. */
function newKid() {
  return randomBytes(32).toString('base64');
}

/** A fresh 2048-bit RSA key pair and its public JWK in Cognito's member order. */
function newSigningKey() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
  const kid = newKid();
  const { n, e } = publicKey.export({ format: 'jwk' });
  return { kid, privateKey, jwk: { alg: 'RS256', e, kid, kty: 'RSA', n, use: 'sig' } };
}

/**
 * A fake user pool.
 *
 * Returns:
 * - issuer: `https://cognito-idp.<region>.amazonaws.com/<userPoolId>`
 * - region, userPoolId, clientId
 * - jwks: the JWKS document as an object (`{ keys: [...] }`, live: addKey() appends)
 * - kid: the kid of the current signing key
 * - sign(claims, options): a compact RS256 JWT (see below)
 * - addKey(): a new signing key (key rotation); becomes the current one; returns its kid
 * - serveJwks({ tls }): a loopback JWKS endpoint (see below)
 */
export function createCognitoFixture({
  region = 'us-east-1',
  userPoolId = 'us-east-1_TestPool1',
  clientId = 'stratustestclient',
} = {}) {
  const issuer = `https://cognito-idp.${region}.amazonaws.com/${userPoolId}`;
  const keys = new Map(); // kid -> private key
  const jwks = { keys: [] };
  let currentKid;

  function addKey() {
    const key = newSigningKey();
    keys.set(key.kid, key.privateKey);
    jwks.keys.push(key.jwk);
    currentKid = key.kid;
    return key.kid;
  }
  addKey();

  /**
   * Signs Cognito-shaped claims.
   *
   * claims: { sub (default: a random UUID), username (default 'testuser'),
   *   tokenUse: 'id' | 'access' (default 'id'), expiresIn (seconds, default 3600),
   *   now (epoch seconds, default: the wall clock), ...overrides }
   * Overrides replace claims; an override of `undefined` removes the claim.
   * id tokens carry `aud` and `cognito:username`; access tokens `client_id`,
   * `username` and `scope`.
   *
   * options: { kid (default: the current key; an unknown kid is signed with the
   *   current key), header (extra or replaced header members, e.g. { alg: 'none' };
   *   the signature is still RS256), privateKey (sign with another KeyObject) }
   */
  function sign(
    { sub = randomUUID(), username = 'testuser', tokenUse = 'id', expiresIn = 3600, now, ...overrides } = {},
    { kid = currentKid, header = {}, privateKey } = {},
  ) {
    const iat = now ?? Math.floor(Date.now() / 1000);
    const common = {
      sub,
      iss: issuer,
      origin_jti: randomUUID(),
      event_id: randomUUID(),
      token_use: tokenUse,
      auth_time: iat,
      exp: iat + expiresIn,
      iat,
      jti: randomUUID(),
    };
    const claims =
      tokenUse === 'access'
        ? { ...common, client_id: clientId, scope: 'aws.cognito.signin.user.admin', username }
        : { ...common, email_verified: true, 'cognito:username': username, aud: clientId };
    for (const [name, value] of Object.entries(overrides)) {
      if (value === undefined) delete claims[name];
      else claims[name] = value;
    }
    const key = privateKey ?? keys.get(kid) ?? keys.get(currentKid);
    const input = `${b64url(JSON.stringify({ kid, alg: 'RS256', ...header }))}.${b64url(JSON.stringify(claims))}`;
    return `${input}.${b64url(rsaSign('sha256', Buffer.from(input), key))}`;
  }

  /**
   * Serves the live JWKS at `/<userPoolId>/.well-known/jwks.json` on
   * 127.0.0.1:<ephemeral port>, over HTTPS when `tls` is `{ key, cert }` (PEM
   * text or Buffers) or `{ keyFile, certFile }` (as from makeTlsMaterial).
   * Other paths -> 404, other methods -> 405.
   * Returns { url, origin, requests (GETs of the JWKS so far), close() }.
   * `respond` (optional) replaces the response: (req, res) => boolean (true when handled),
   * for outage and garbage tests.
   */
  async function serveJwks({ tls = false, respond } = {}) {
    const jwksPath = `/${userPoolId}/.well-known/jwks.json`;
    let requests = 0;
    const handler = (req, res) => {
      const url = new URL(req.url, 'http://127.0.0.1');
      if (url.pathname !== jwksPath) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      requests += 1;
      if (respond?.(req, res)) return;
      const body = JSON.stringify(jwks);
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'cache-control': 'max-age=3600',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    };

    let server;
    if (tls) {
      const key = tls.key ?? (await readFile(tls.keyFile));
      const cert = tls.cert ?? (await readFile(tls.certFile));
      server = https.createServer({ key, cert }, handler);
    } else {
      server = http.createServer(handler);
    }
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const origin = `${tls ? 'https' : 'http'}://127.0.0.1:${server.address().port}`;
    return {
      url: `${origin}${jwksPath}`,
      origin,
      get requests() {
        return requests;
      },
      close() {
        server.closeAllConnections?.();
        return new Promise((resolve) => server.close(() => resolve()));
      },
    };
  }

  return {
    issuer,
    region,
    userPoolId,
    clientId,
    jwks,
    get kid() {
      return currentKid;
    },
    sign,
    addKey,
    serveJwks,
  };
}

/**
 * Throwaway TLS material in `dir` (which must exist), made with the openssl
 * CLI: a self-signed CA (ca.pem, CA:TRUE, keyCertSign) and a server key and
 * certificate (server-key.pem, server.pem) for CN=localhost with
 * subjectAltName DNS:localhost, IP:127.0.0.1, serverAuth, signed by the CA and
 * valid for 2 days. OpenSSL verification with the CA file and a host-name
 * check for `localhost` or `127.0.0.1` succeeds. The CA key stays in `dir`
 * (ca-key.pem); delete `dir` when done.
 * Returns { caFile, keyFile, certFile } (absolute paths).
 */
export async function makeTlsMaterial(dir) {
  const file = (name) => path.resolve(dir, name);
  const caKey = file('ca-key.pem');
  const caFile = file('ca.pem');
  const keyFile = file('server-key.pem');
  const csrFile = file('server.csr');
  const certFile = file('server.pem');
  const extFile = file('server-ext.cnf');
  const serial = `0x${randomBytes(16).toString('hex').replace(/^./, '1')}`;

  await run('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2',
    '-keyout', caKey, '-out', caFile, '-subj', '/CN=Stratus Test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-addext', 'subjectKeyIdentifier=hash',
  ]);
  await run('openssl', [
    'req', '-new', '-newkey', 'rsa:2048', '-nodes', '-sha256',
    '-keyout', keyFile, '-out', csrFile, '-subj', '/CN=localhost',
  ]);
  await writeFile(
    extFile,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      'authorityKeyIdentifier=keyid',
      '',
    ].join('\n'),
  );
  await run('openssl', [
    'x509', '-req', '-sha256', '-days', '2', '-in', csrFile,
    '-CA', caFile, '-CAkey', caKey, '-set_serial', serial,
    '-extfile', extFile, '-out', certFile,
  ]);
  // Fail here, not in a test, if the chain or the names are wrong.
  await run('openssl', ['verify', '-CAfile', caFile, '-purpose', 'sslserver', '-verify_hostname', 'localhost', certFile]);
  await run('openssl', ['verify', '-CAfile', caFile, '-purpose', 'sslserver', '-verify_ip', '127.0.0.1', certFile]);
  // The private key of a server must be usable by node (sanity: parses).
  createPrivateKey(await readFile(keyFile));
  return { caFile, keyFile, certFile };
}
