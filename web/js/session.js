// The signed-in user: display name and token, kept in localStorage so that a
// reload stays signed in. Tokens come from the config's token endpoint
// (POST {"name"} -> {"token","userId","name","expiresAt"} on the local stack).
// Storage and fetch are injected, so this runs under Node's test runner too.
// In the cloud (config.json's auth.type "cognito") CognitoSession (cognito.js),
// with the same surface, takes its place: createSession() picks by config.

import { CognitoSession } from './cognito.js';

const KEY = 'stratus.session';
const REFRESH_MARGIN_MS = 60_000;

export class Session {
  constructor({ storage, fetch, endpoint, now = () => Date.now() }) {
    this._storage = storage;
    this._fetch = fetch;
    this._endpoint = endpoint;
    this._now = now;
    this.current = this._load();
  }

  _load() {
    try {
      const raw = this._storage.getItem(KEY);
      if (!raw) return null;
      const s = JSON.parse(raw);
      if (typeof s?.name !== 'string' || typeof s?.token !== 'string' || typeof s?.userId !== 'string') return null;
      return s;
    } catch {
      return null;
    }
  }

  _save(s) {
    this.current = s;
    try {
      this._storage.setItem(KEY, JSON.stringify(s));
    } catch {
      /* private mode: the session lasts until the tab closes */
    }
  }

  get signedIn() {
    return this.current !== null;
  }

  /** Gets a token for `name`; rejects with an Error whose message can be shown. */
  async signIn(name) {
    const s = await this._issue(name);
    this._save(s);
    return s;
  }

  signOut() {
    this.current = null;
    try {
      this._storage.removeItem(KEY);
    } catch {
      /* nothing stored */
    }
  }

  /** A token to connect with: the stored one while valid, else (or when `fresh`) a new one. */
  async token({ fresh = false } = {}) {
    if (!this.current) throw new Error('not signed in');
    const expiresAtMs = Number(this.current.expiresAt) * 1000;
    if (!fresh && Number.isFinite(expiresAtMs) && expiresAtMs - REFRESH_MARGIN_MS > this._now()) {
      return this.current.token;
    }
    const s = await this._issue(this.current.name);
    if (this.current && this.current.name === s.name) this._save(s);
    return s.token;
  }

  async _issue(name) {
    let res;
    try {
      res = await this._fetch(this._endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name }),
        cache: 'no-store',
        credentials: 'omit',
      });
    } catch (err) {
      throw new Error(`Cannot reach the server (${err?.message ?? err}).`);
    }
    let body = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    if (!res.ok) {
      throw new Error(body?.message || `The server refused the sign-in (HTTP ${res.status}).`);
    }
    if (typeof body?.token !== 'string' || typeof body?.userId !== 'string') {
      throw new Error('The server sent an unexpected answer.');
    }
    return { name: body.name ?? name, token: body.token, userId: body.userId, expiresAt: body.expiresAt };
  }
}

/**
 * The session for config.json's auth (authConfig() in config.js): Session with
 * the dev token endpoint, or CognitoSession for the Cognito Hosted UI.
 */
export function createSession({ auth, storage, pendingStorage, fetch, crypto, navigate, endpoint, now }) {
  if (auth?.type === 'cognito') return new CognitoSession({ auth, storage, pendingStorage, fetch, crypto, navigate, now });
  return new Session({ storage, fetch, endpoint, now });
}
