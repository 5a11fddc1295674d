#!/usr/bin/env node
// The token command of the local production-like parity run (run-local.mjs): the local
// stand-in for `aws cognito-idp admin-initiate-auth` (cognito-token.sh). Prints, on one
// line, a Cognito-shaped RS256 id token for the user named by the last argument, signed
// with the throwaway key whose public half run-local.mjs put into the fixture's JWKS.
//
//   STRATUS_PARITY_TOKEN_CONFIG=<file> node tests/integration/parity/mint-token.mjs <name>
//
// The config file (written by run-local.mjs into its temp dir, mode 0600, deleted at
// the end; never committed) is JSON:
//   { "issuer", "userPoolId", "clientId", "kid", "privateKeyPem", "tokenUse": "id"|"access",
//     "expiresIn": seconds }
//
// Like a pool whose user name is the e-mail address (infra/template.yaml), a user's `sub` is
// stable (derived from the pool and the name: the same name is the same user),
// `cognito:username` is the sub, and the display name is the `name` attribute. Only the token
// is printed, exactly as `--query AuthenticationResult.IdToken --output text` does, so the
// suite reads userId and name from the token the same way in both runs.
import { createHash, createPrivateKey, randomUUID, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';

function fail(message) {
  process.stderr.write(`mint-token: ${message}\n`);
  process.exit(2);
}

const name = process.argv.at(-1);
if (process.argv.length < 3 || !name) fail('usage: mint-token.mjs <user name>');
const configPath = process.env.STRATUS_PARITY_TOKEN_CONFIG;
if (!configPath) fail('STRATUS_PARITY_TOKEN_CONFIG is not set (run-local.mjs sets it)');

let config;
try {
  config = JSON.parse(readFileSync(configPath, 'utf8'));
} catch (err) {
  fail(`cannot read ${configPath}: ${err.message}`);
}
for (const key of ['issuer', 'userPoolId', 'clientId', 'kid', 'privateKeyPem']) {
  if (typeof config[key] !== 'string' || !config[key]) fail(`${configPath} lacks "${key}"`);
}

/** A UUID-shaped sub, stable per (pool, name). */
function subFor(userName) {
  const h = createHash('sha256').update(`${config.userPoolId}\0${userName}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const b64url = (data) => Buffer.from(data).toString('base64url');
const sub = subFor(name);
const now = Math.floor(Date.now() / 1000);
const tokenUse = config.tokenUse === 'access' ? 'access' : 'id';
const common = {
  sub,
  iss: config.issuer,
  origin_jti: randomUUID(),
  event_id: randomUUID(),
  token_use: tokenUse,
  auth_time: now,
  exp: now + (Number.isInteger(config.expiresIn) ? config.expiresIn : 3600),
  iat: now,
  jti: randomUUID(),
};
// Id tokens: the pool's attributes. Access tokens carry no `name`; the stage then shows
// `username` (the sub, for an e-mail pool), as real Cognito access tokens would give.
const claims = tokenUse === 'access'
  ? { ...common, client_id: config.clientId, scope: 'aws.cognito.signin.user.admin', username: sub }
  : {
    ...common,
    'cognito:username': sub,
    aud: config.clientId,
    email: `parity+${name.replace(/[^A-Za-z0-9._-]/g, '_')}@example.com`,
    email_verified: true,
    name,
  };

const input = `${b64url(JSON.stringify({ kid: config.kid, alg: 'RS256' }))}.${b64url(JSON.stringify(claims))}`;
let key;
try {
  key = createPrivateKey(config.privateKeyPem);
} catch (err) {
  fail(`the private key in ${configPath} does not parse: ${err.message}`);
}
process.stdout.write(`${input}.${b64url(sign('sha256', Buffer.from(input), key))}\n`);
