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
