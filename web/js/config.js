// Reads web/config.json (where the WebSocket is, how to get a token) and the
// few tuning knobs a page URL may override (for tests). Pure: no DOM, no fetch.

/** The tuning knobs that `?name=ms` in the page URL (or config.json) may set. */
export const TUNABLE = Object.freeze({
  ping: 'pingIntervalMs',
  pongTimeout: 'pongTimeoutMs',
  ackTimeout: 'ackTimeoutMs',
  backoffBase: 'backoffBaseMs',
  backoffMax: 'backoffMaxMs',
  typingTtl: 'typingTtlMs',
});

/**
 * The WebSocket base URL (without the token) for a config and the page location.
 * websocketUrl null/absent: same host as the page, path /{stage}, ws: or wss: following the page.
 */
export function websocketBase(config, location) {
  if (config.websocketUrl) {
    const url = new URL(config.websocketUrl, location.href);
    if (url.protocol === 'http:') url.protocol = 'ws:';
    if (url.protocol === 'https:') url.protocol = 'wss:';
    return url.href;
  }
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const stage = encodeURIComponent(config.stage || 'local');
  return `${scheme}//${location.host}/${stage}`;
}

/** The full WebSocket URL for a token. */
export function websocketUrl(base, token) {
  const url = new URL(base);
  url.searchParams.set('token', token);
  return url.href;
}

/** The token endpoint as an absolute URL (relative ones resolve against the page). */
export function tokenEndpoint(config, location) {
  return new URL(config.tokenEndpoint || '/auth/dev-token', location.href).href;
}

/**
 * Client options from config.json (`options`, plus top-level `pingIntervalMs`)
 * and from the page's query string (`?ping=1000` etc.; positive integers only).
 */
export function clientOptions(config, search = '') {
  const opts = { ...(config.options ?? {}) };
  if (Number.isInteger(config.pingIntervalMs) && config.pingIntervalMs > 0) opts.pingIntervalMs = config.pingIntervalMs;
  if (config.defaultRoom !== undefined) opts.defaultRoom = config.defaultRoom;
  const params = new URLSearchParams(search);
  for (const [param, option] of Object.entries(TUNABLE)) {
    const raw = params.get(param);
    if (raw === null || !/^\d{1,9}$/.test(raw)) continue;
    const value = Number(raw);
    if (value > 0) opts[option] = value;
  }
  return opts;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
const DEFAULT_SCOPES = Object.freeze(['openid', 'profile', 'email']);

function authUrl(value, what, { allowLoopbackHttp = false } = {}) {
  let url;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`config.json: auth.${what} must be an absolute https:// URL (got ${JSON.stringify(value)}).`);
  }
  const http = url.protocol === 'http:' && allowLoopbackHttp && LOOPBACK.has(url.hostname);
  if (url.protocol !== 'https:' && !http) {
    throw new Error(`config.json: auth.${what} must be an https:// URL (got ${JSON.stringify(value)}).`);
  }
  if (url.username || url.password || url.hash) {
    throw new Error(`config.json: auth.${what} must not contain credentials or a #fragment (got ${JSON.stringify(value)}).`);
  }
  return url;
}

/**
 * How users sign in, from config.json's `auth` block, checked and normalised.
 * Absent or {"type":"dev"}: the dev token endpoint and a name field.
 * {"type":"cognito", domain, clientId, redirectUri, region?, scopes?}: the
 * Cognito Hosted UI (see cognito.js). Throws an Error whose message names the
 * bad field. With `location`, redirectUri must be on the page's own origin
 * (the PKCE verifier waits in this origin's sessionStorage).
 */
export function authConfig(config, location = null) {
  const auth = config?.auth;
  if (auth === undefined || auth === null) return Object.freeze({ type: 'dev' });
  if (typeof auth !== 'object' || Array.isArray(auth)) throw new Error('config.json: auth must be an object.');
  if (auth.type === 'dev') return Object.freeze({ type: 'dev' });
  if (auth.type !== 'cognito') {
    throw new Error(`config.json: auth.type must be "dev" or "cognito" (got ${JSON.stringify(auth.type)}).`);
  }
  if (typeof auth.domain !== 'string') throw new Error('config.json: auth.domain is missing.');
  const domain = authUrl(auth.domain, 'domain');
  if (domain.pathname !== '/' || domain.search) {
    throw new Error(`config.json: auth.domain must be just the Hosted UI origin, without a path or query (got ${JSON.stringify(auth.domain)}).`);
  }
  if (typeof auth.clientId !== 'string' || !/^[A-Za-z0-9_+-]{1,128}$/.test(auth.clientId)) {
    throw new Error(`config.json: auth.clientId must be the app client id (got ${JSON.stringify(auth.clientId)}).`);
  }
  if (auth.clientSecret !== undefined) {
    throw new Error('config.json: auth.clientSecret must not be set; a browser app is a public client (PKCE, no secret).');
  }
  if (typeof auth.redirectUri !== 'string') throw new Error('config.json: auth.redirectUri is missing.');
  const redirect = authUrl(auth.redirectUri, 'redirectUri', { allowLoopbackHttp: true });
  if (location && redirect.origin !== new URL(location.href).origin) {
    throw new Error(`config.json: auth.redirectUri (${redirect.href}) is not on this site (${new URL(location.href).origin}).`);
  }
  if (auth.region !== undefined && (typeof auth.region !== 'string' || !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(auth.region))) {
    throw new Error(`config.json: auth.region must look like "eu-west-1" (got ${JSON.stringify(auth.region)}).`);
  }
  const scopes = auth.scopes ?? DEFAULT_SCOPES;
  if (!Array.isArray(scopes) || scopes.length === 0 || !scopes.every((s) => typeof s === 'string' && /^[\x21-\x7e]+$/.test(s))) {
    throw new Error('config.json: auth.scopes must be a non-empty list of scope names.');
  }
  if (!scopes.includes('openid')) {
    throw new Error('config.json: auth.scopes must include "openid" (the id token is the chat token).');
  }
  return Object.freeze({
    type: 'cognito',
    domain: domain.origin,
    clientId: auth.clientId,
    redirectUri: auth.redirectUri,
    region: auth.region ?? null,
    scopes: Object.freeze([...scopes]),
  });
}
