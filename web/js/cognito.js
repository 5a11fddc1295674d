// Cloud sign-in: the Amazon Cognito Hosted UI, with the OAuth 2.0 authorization
// code flow and PKCE (RFC 7636, S256). CognitoSession has the same surface as
// Session (session.js), so the app and chat-client.js do not care which one
// they have: signedIn, current {name, token, userId, expiresAt}, signIn(),
// signOut(), token({fresh}).
//
// The id token is the chat token (`?token=<id_token>`). Its claims are decoded
// here WITHOUT verification, only for the display name, the user id and the
// refresh schedule; the server verifies the signature.
//
// Storage, sessionStorage, fetch, crypto, navigation and the clock are
// injected, so this runs under Node's test runner too.

const STORE_KEY = 'stratus.cognito';
const PENDING_KEY = 'stratus.cognito.pending';
/** Refresh when the id token has less than this left. */
export const REFRESH_MARGIN_MS = 60_000;
/** token({fresh: true}) reuses a token refreshed less than this ago (a server that is down is not a reason to ask Cognito again and again). */
export const FRESH_MIN_INTERVAL_MS = 10_000;
/** The query parameters of the Hosted UI's answer, removed from the address bar afterwards. */
export const CALLBACK_PARAMS = Object.freeze(['code', 'state', 'error', 'error_description', 'error_uri']);

export class AuthError extends Error {
  /** signedOut: the session is gone (sign in again). status: the token endpoint's HTTP status, if any. */
  constructor(message, { signedOut = false, status = null, code = null } = {}) {
    super(message);
    this.name = 'AuthError';
    this.signedOut = signedOut;
    this.status = status;
    this.code = code;
  }
}

// ------------------------------------------------------------ PKCE and JWT helpers

/** base64url without padding (RFC 4648 §5), as RFC 7636 and JWTs use it. */
export function base64url(bytes) {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function base64urlDecode(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error('not base64url');
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** `bytes` random bytes, base64url: 32 bytes give a 43-character PKCE verifier. */
export function randomString(crypto, bytes = 32) {
  const buf = new Uint8Array(bytes);
  crypto.getRandomValues(buf);
  return base64url(buf);
}

/** The S256 code challenge: BASE64URL(SHA-256(ASCII(verifier))). */
export async function pkceChallenge(crypto, verifier) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

/** A JWT's payload claims, NOT verified (null if it is not JWT-shaped). */
export function decodeJwtPayload(token) {
  if (typeof token !== 'string') return null;
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const claims = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(base64urlDecode(parts[1])));
    return claims && typeof claims === 'object' && !Array.isArray(claims) ? claims : null;
  } catch {
    return null;
  }
}

/** A name the server accepts (core validate_name): 1-32 code points, no control characters, no space at either end. */
function validName(v) {
  if (typeof v !== 'string') return false;
  const n = [...v].length;
  return n >= 1 && n <= 32 && !/[\u0000-\u001f\u007f-\u009f]/.test(v) && !v.startsWith(' ') && !v.endsWith(' ');
}

/**
 * The name to show for the id token's user: the same rule as the server's
 * Cognito token verifier, so the name shown for me is the one others see.
 */
export function displayName(claims) {
  for (const claim of ['preferred_username', 'name', 'cognito:username', 'username']) {
    if (validName(claims?.[claim])) return claims[claim];
  }
  return `user-${String(claims?.sub ?? '').slice(0, 8)}`;
}

/** The Hosted UI's authorize URL for this sign-in attempt. */
export function authorizeUrl(auth, { state, challenge }) {
  const url = new URL('/oauth2/authorize', auth.domain);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: auth.clientId,
    redirect_uri: auth.redirectUri,
    scope: auth.scopes.join(' '),
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  return url.href;
}

/** The Hosted UI's logout URL: it ends the Cognito session and comes back to redirectUri. */
export function logoutUrl(auth) {
  const url = new URL('/logout', auth.domain);
  url.search = new URLSearchParams({ client_id: auth.clientId, logout_uri: auth.redirectUri }).toString();
  return url.href;
}

/** Does this page URL carry an answer from the Hosted UI? */
export function isCallback(href) {
  const p = new URL(href).searchParams;
  return p.has('code') || p.has('state') || p.has('error');
}

/** The page URL without the Hosted UI's parameters (others, such as ?ping=, stay). */
export function cleanCallbackUrl(href) {
  const url = new URL(href);
  for (const k of CALLBACK_PARAMS) url.searchParams.delete(k);
  return url.href;
}

/** Text from the outside (error_description) made safe to show: no controls, bounded. */
function shown(text, max = 200) {
  const s = String(text ?? '').replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').trim();
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

// ------------------------------------------------------------ the session

export class CognitoSession {
  /**
   * @param {object} deps
   * @param {object} deps.auth            authConfig(config) of type "cognito"
   * @param {Storage} deps.storage        localStorage: the tokens (a reload stays signed in)
   * @param {Storage} deps.pendingStorage sessionStorage: verifier and state, for the round trip only
   * @param {Function} deps.fetch
   * @param {Crypto} deps.crypto          getRandomValues and subtle.digest
   * @param {(url: string) => void} deps.navigate  location.assign
   * @param {() => number} [deps.now]
   */
  constructor({ auth, storage, pendingStorage, fetch, crypto, navigate, now = () => Date.now() }) {
    if (auth?.type !== 'cognito') throw new Error('CognitoSession needs a cognito auth config');
    this._auth = auth;
    this._storage = storage;
    this._pending = pendingStorage;
    this._fetch = fetch;
    this._crypto = crypto;
    this._navigate = navigate;
    this._now = now;
    this._refreshing = null;
    this._rec = this._load();
    this.current = this._view(this._rec);
  }

  get signedIn() {
    return this._rec !== null;
  }

  // ---------------------------------------------------------- storage

  get _owner() {
    return `${this._auth.domain} ${this._auth.clientId}`;
  }

  _load() {
    try {
      const raw = this._storage.getItem(STORE_KEY);
      if (!raw) return null;
      const r = JSON.parse(raw);
      if (r?.owner !== this._owner) return null; // another user pool or app client
      for (const k of ['idToken', 'userId', 'name']) if (typeof r[k] !== 'string' || !r[k]) return null;
      if (!Number.isFinite(r.expiresAt) || !Number.isFinite(r.obtainedAt)) return null;
      if (r.refreshToken !== null && typeof r.refreshToken !== 'string') return null;
      return r;
    } catch {
      return null;
    }
  }

  _save(rec) {
    this._rec = rec;
    this.current = this._view(rec);
    try {
      this._storage.setItem(STORE_KEY, JSON.stringify(rec));
    } catch {
      /* private mode: the session lasts until the tab closes */
    }
  }

  _clear() {
    this._rec = null;
    this.current = null;
    try {
      this._storage.removeItem(STORE_KEY);
    } catch {
      /* nothing stored */
    }
  }

  _view(rec) {
    return rec ? { name: rec.name, token: rec.idToken, userId: rec.userId, expiresAt: rec.expiresAt } : null;
  }

  _takePending() {
    try {
      const raw = this._pending.getItem(PENDING_KEY);
      this._pending.removeItem(PENDING_KEY); // single use, whatever happens next
      const p = raw ? JSON.parse(raw) : null;
      return typeof p?.state === 'string' && typeof p?.verifier === 'string' ? p : null;
    } catch {
      return null;
    }
  }

  // ---------------------------------------------------------- sign-in

  /** Starts a sign-in: remembers a fresh verifier and state in sessionStorage, then goes to the Hosted UI. */
  async signIn() {
    const c = this._crypto;
    if (!c?.subtle?.digest || !c.getRandomValues) {
      throw new AuthError('Signing in needs a secure (https) page in a current browser.');
    }
    const verifier = randomString(c, 32);
    const state = randomString(c, 16);
    const challenge = await pkceChallenge(c, verifier);
    try {
      this._pending.setItem(PENDING_KEY, JSON.stringify({ state, verifier, createdAt: this._now() }));
    } catch {
      throw new AuthError('This browser does not let the page use session storage, which signing in needs.');
    }
    const url = authorizeUrl(this._auth, { state, challenge });
    this._navigate(url);
    return url;
  }

  /**
   * Finishes a sign-in when `href` is the Hosted UI's answer: checks the state,
   * exchanges the code (with the verifier) for tokens, and keeps them.
   * Resolves false when `href` is not an answer, true when signed in; rejects
   * with an AuthError whose message can be shown. Either way the answer's
   * parameters leave the address bar through `replaceUrl` (history.replaceState),
   * so a reload never replays a used code.
   */
  async completeSignIn(href, replaceUrl = () => {}) {
    if (!isCallback(href)) return false;
    const params = new URL(href).searchParams;
    const pending = this._takePending();
    try {
      if (params.has('error')) {
        const why = shown(params.get('error_description')) || shown(params.get('error'), 60);
        throw new AuthError(`Sign-in did not complete: ${why}.`, { code: shown(params.get('error'), 60) });
      }
      if (!pending) {
        throw new AuthError('This sign-in answer does not belong to a sign-in started in this tab (or it was already used). Please sign in again.');
      }
      if (params.get('state') !== pending.state) {
        throw new AuthError('The sign-in answer does not match the request this tab sent (state mismatch). Please sign in again.');
      }
      const code = params.get('code');
      if (!code) throw new AuthError('The sign-in answer has no authorization code. Please sign in again.');
      let body;
      try {
        body = await this._tokenRequest({
          grant_type: 'authorization_code',
          client_id: this._auth.clientId,
          code,
          redirect_uri: this._auth.redirectUri,
          code_verifier: pending.verifier,
        });
      } catch (err) {
        throw new AuthError(`Sign-in could not be completed: ${err.message}`, { status: err.status, code: err.code });
      }
      this._save(this._fromTokens(body, null));
      return true;
    } finally {
      try {
        replaceUrl(cleanCallbackUrl(href));
      } catch {
        /* the address bar keeps the parameters; the pending state is gone anyway */
      }
    }
  }

  /**
   * Signs out: forgets the tokens, asks Cognito to revoke the refresh token,
   * and (with `redirect`) goes to the Hosted UI's logout, which comes back to
   * redirectUri. Returns the logout URL.
   */
  signOut({ redirect = true } = {}) {
    const refreshToken = this._rec?.refreshToken;
    this._clear();
    this._refreshing = null;
    try {
      this._pending.removeItem(PENDING_KEY);
    } catch {
      /* nothing pending */
    }
    const url = logoutUrl(this._auth);
    if (!redirect) return url;
    if (refreshToken) {
      // Started before the navigation below, not in a later microtask, so the
      // request exists while the page is still alive; keepalive lets it
      // outlive the page.
      let revoke;
      try {
        revoke = this._fetch(new URL('/oauth2/revoke', this._auth.domain).href, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ token: refreshToken, client_id: this._auth.clientId }).toString(),
          credentials: 'omit',
          cache: 'no-store',
          keepalive: true,
        });
      } catch {
        revoke = null; // a fetch that throws at once: the revocation is best effort
      }
      Promise.resolve(revoke).catch(() => {});
    }
    this._navigate(url);
    return url;
  }

  // ---------------------------------------------------------- tokens

  /**
   * The id token to connect with: the kept one while it has more than a
   * minute left, else (or when `fresh`) a refreshed one. A refresh token that
   * Cognito refuses (expired, revoked) signs out: the AuthError has
   * signedOut = true and a message to show.
   */
  async token({ fresh = false } = {}) {
    this._adoptNewer();
    const rec = this._rec;
    if (!rec) throw new AuthError('Not signed in.', { signedOut: true });
    const now = this._now();
    const expMs = rec.expiresAt * 1000;
    const valid = expMs - REFRESH_MARGIN_MS > now;
    if (valid && (!fresh || now - rec.obtainedAt < FRESH_MIN_INTERVAL_MS)) return rec.idToken;
    if (!rec.refreshToken) {
      this._clear();
      throw new AuthError('Your session has ended. Please sign in again.', { signedOut: true });
    }
    if (!this._refreshing) {
      this._refreshing = this._refresh(rec).finally(() => {
        this._refreshing = null;
      });
    }
    try {
      return await this._refreshing;
    } catch (err) {
      // Cognito unreachable: a token that has not expired yet still works.
      if (!err.signedOut && !fresh && this._rec && this._rec.expiresAt * 1000 > this._now()) return this._rec.idToken;
      throw err;
    }
  }

  /** Another tab may have refreshed (or signed in again) since: use its newer tokens. */
  _adoptNewer() {
    const stored = this._load();
    if (stored && (!this._rec || stored.obtainedAt > this._rec.obtainedAt)) {
      this._rec = stored;
      this.current = this._view(stored);
    }
  }

  async _refresh(rec) {
    let body;
    try {
      body = await this._tokenRequest({
        grant_type: 'refresh_token',
        client_id: this._auth.clientId,
        refresh_token: rec.refreshToken,
      });
    } catch (err) {
      if (err.status === 400 || err.status === 401) {
        // Expired or revoked: unless another tab already has newer tokens, this session is over.
        this._adoptNewer();
        const other = this._rec;
        if (other && other !== rec && other.expiresAt * 1000 - REFRESH_MARGIN_MS > this._now()) return other.idToken;
        if (this._rec === rec) this._clear();
        throw new AuthError('Your session has expired. Please sign in again.', { signedOut: true, status: err.status, code: err.code });
      }
      throw err;
    }
    if (this._rec !== rec) throw new AuthError('Not signed in.', { signedOut: this._rec === null });
    const next = this._fromTokens(body, rec);
    this._save(next);
    return next.idToken;
  }

  /** POSTs a form to {domain}/oauth2/token; the JSON answer, or an AuthError. */
  async _tokenRequest(fields) {
    let res;
    try {
      res = await this._fetch(new URL('/oauth2/token', this._auth.domain).href, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(fields).toString(),
        credentials: 'omit',
        cache: 'no-store',
      });
    } catch (err) {
      throw new AuthError(`cannot reach the sign-in service (${shown(err?.message ?? err, 100)}).`);
    }
    let body = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    if (!res.ok) {
      const code = typeof body?.error === 'string' ? shown(body.error, 60) : null;
      const why = code ? ` (${code}${body?.error_description ? `: ${shown(body.error_description)}` : ''})` : '';
      throw new AuthError(`the sign-in service refused the request: HTTP ${res.status}${why}.`, { status: res.status, code });
    }
    if (typeof body?.id_token !== 'string') throw new AuthError('the sign-in service sent an unexpected answer (no id token).');
    return body;
  }

  /** A stored record from a token endpoint answer; `previous` keeps the refresh token when none comes back. */
  _fromTokens(body, previous) {
    const claims = decodeJwtPayload(body.id_token);
    if (!claims || typeof claims.sub !== 'string' || !claims.sub) {
      throw new AuthError('the sign-in service sent an id token that cannot be read.');
    }
    const now = this._now();
    const ends = [];
    if (Number.isFinite(claims.exp)) ends.push(claims.exp);
    if (Number.isFinite(body.expires_in) && body.expires_in > 0) ends.push(Math.floor(now / 1000) + body.expires_in);
    if (ends.length === 0) throw new AuthError('the sign-in service sent a token without an expiry.');
    return {
      owner: this._owner,
      idToken: body.id_token,
      refreshToken: typeof body.refresh_token === 'string' ? body.refresh_token : (previous?.refreshToken ?? null),
      expiresAt: Math.min(...ends),
      userId: claims.sub,
      name: displayName(claims),
      obtainedAt: now,
    };
  }
}
