// Entry point: reads config.json, signs in, wires the protocol client
// (chat-client.js) to the view (view.js) and to the browser's events.

import { ChatClient, ChatError, STATE } from './chat-client.js';
import { isCallback } from './cognito.js';
import { authConfig, clientOptions, tokenEndpoint, websocketBase, websocketUrl } from './config.js';
import { createSession } from './session.js';
import { ChatView } from './view.js';

const ROOM_KEY = 'stratus.room';

const ERROR_TEXT = {
  not_member: 'You are not a member of that room.',
  too_large: 'That message is too long.',
  invalid_request: 'The server refused the request.',
  rate_limited: 'You are sending too fast; slow down a little.',
  internal: 'The server had a problem; please try again.',
  not_found: 'Not found.',
  gateway: 'The gateway refused the request.',
  gap: 'Some messages could not be loaded:',
};

function describeError(e) {
  const base = ERROR_TEXT[e.code] ?? 'Something went wrong.';
  const where = e.room ? ` (#${e.room})` : '';
  return e.message && e.code !== 'too_large' ? `${base}${where} ${e.message}` : `${base}${where}`;
}

async function loadConfig() {
  const res = await fetch('config.json', { cache: 'no-cache' });
  if (!res.ok) throw new Error(`config.json: HTTP ${res.status}`);
  return res.json();
}

function sessionStorageOrNull() {
  try {
    return sessionStorage;
  } catch {
    return null; // storage blocked: signing in explains it
  }
}

function storageGet(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function storageSet(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    /* private mode */
  }
}

class App {
  constructor(config, auth) {
    this.config = config;
    this.cloud = auth.type === 'cognito';
    this.session = createSession({
      auth,
      storage: localStorage,
      pendingStorage: sessionStorageOrNull(),
      fetch: (...a) => fetch(...a),
      crypto: globalThis.crypto,
      navigate: (url) => location.assign(url),
      endpoint: tokenEndpoint(config, location),
    });
    this.client = null;
    this.active = null;
    this.newMarker = null;
    this.everConnected = false;
    this._renderQueued = new Set();
    this._countdown = null;
    this.view = new ChatView(document, {
      signIn: (name) => this.signIn(name),
      send: (text) => this.send(text),
      typing: () => this.active && this.client?.typing(this.active),
      openRoom: (room) => this.openRoom(room, { focus: true }),
      joinRoom: (room) => this.joinRoom(room),
      leaveRoom: () => this.leaveRoom(),
      signOut: () => this.signOut(),
      retryNow: () => this.client?.reconnectNow(),
      retryMessage: (id) => this.client?.retry(id),
      discardMessage: (id) => this.client?.discard(id),
      loadOlder: () => this.loadOlder(),
      nearTop: () => this.loadOlder(),
      atBottom: () => this.markReadIfSeen(),
      browseRooms: () => this.client?.isOpen && this.client.refreshRooms().catch(() => {}),
      cycleRoom: (step) => this.cycleRoom(step),
    });
  }

  async start() {
    if (!this.cloud) {
      if (this.session.signedIn) this.startChat();
      else this.view.showSignIn();
      return;
    }
    // Cloud: back from the Hosted UI with ?code=&state= (or ?error=)? Finish that first.
    document.getElementById('signin-cloud-submit').addEventListener('click', () => this.cloudSignIn());
    if (isCallback(location.href)) this.view.showBoot('Signing in…');
    try {
      if (await this.session.completeSignIn(location.href, (url) => history.replaceState(history.state, '', url))) {
        this.startChat();
        return;
      }
    } catch (err) {
      this.showCloudSignIn(err.message);
      return;
    }
    if (this.session.signedIn) {
      // A refresh token that expired while the page was closed: say so rather than flash the chat.
      await this.session.token().catch(() => {});
      if (this.session.signedIn) {
        this.startChat();
        return;
      }
      this.showCloudSignIn('Your session has expired. Please sign in again.');
      return;
    }
    this.showCloudSignIn();
  }

  /** The cloud sign-in card (the Hosted UI button), with an optional error. */
  showCloudSignIn(error = '') {
    this.view.showSignIn();
    document.getElementById('signin-form').hidden = true;
    document.getElementById('signin-cloud').hidden = false;
    document.getElementById('signin-cloud-error').textContent = error;
    const button = document.getElementById('signin-cloud-submit');
    button.disabled = false;
    button.textContent = error ? 'Sign in again' : 'Sign in';
    button.focus();
  }

  async cloudSignIn() {
    const button = document.getElementById('signin-cloud-submit');
    button.disabled = true;
    button.textContent = 'Redirecting…';
    try {
      await this.session.signIn(); // navigates to the Hosted UI
    } catch (err) {
      this.showCloudSignIn(err.message);
    }
  }

  /** The session ended under a running chat (refresh token expired or revoked). */
  sessionEnded(message) {
    this.client?.stop();
    this.showCloudSignIn(message);
  }

  async signIn(name) {
    try {
      await this.session.signIn(name);
    } catch (err) {
      this.view.showSignIn(err.message);
      return;
    }
    this.startChat();
  }

  signOut() {
    this.client?.stop();
    this.session.signOut(); // cloud: goes to the Hosted UI's logout, which comes back here
    if (!this.cloud) location.reload();
  }

  startChat() {
    const s = this.session.current;
    const me = { userId: s.userId, name: s.name };
    this.me = me;
    this.view.showApp(me);
    const base = websocketBase(this.config, location);
    this.client = new ChatClient({
      url: (token) => websocketUrl(base, token),
      getToken: async (opts) => {
        let token;
        try {
          token = await this.session.token(opts);
        } catch (err) {
          if (!this.session.signedIn) queueMicrotask(() => this.sessionEnded(err.message));
          throw err;
        }
        this.syncIdentity();
        return token;
      },
      WebSocket,
      options: clientOptions(this.config, location.search),
    });
    const c = this.client;
    c.on('state', () => this.renderConnection());
    c.on('rooms', () => this.queue('rooms'));
    c.on('room', (e) => this.onRoomEvent(e));
    c.on('incoming', (e) => this.onIncoming(e));
    c.on('synced', () => this.onSynced());
    c.on('error', (e) => this.view.toast(describeError(e)));

    addEventListener('online', () => c.wake());
    addEventListener('offline', () => c.networkLost());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') {
        c.wake();
        this.markReadIfSeen();
      }
    });
    this.active = storageGet(ROOM_KEY);
    this.view.openRoom(this.active);
    c.start(me);
  }

  /** A fresh token may name another user id (e.g. a new data directory): follow it. */
  syncIdentity() {
    const s = this.session.current;
    if (!s || (s.userId === this.me.userId && s.name === this.me.name)) return;
    this.me = { userId: s.userId, name: s.name };
    if (this.client) this.client.me = this.me;
    this.view.setMe(this.me);
  }

  // ------------------------------------------------------------ rendering

  /** Coalesces renders triggered by many events in one task. */
  queue(what) {
    if (this._renderQueued.size === 0) queueMicrotask(() => this.flush());
    this._renderQueued.add(what);
  }

  flush() {
    const what = new Set(this._renderQueued);
    this._renderQueued.clear();
    const c = this.client;
    const rv = this.active ? c.roomView(this.active) : null;
    if (what.has('rooms')) {
      const mine = c.myRooms();
      this.view.renderRooms(mine, c.otherRooms(), this.active);
      const total = mine.reduce((n, r) => n + (r.name === this.active ? 0 : r.unread), 0);
      this.view.renderRoomMeta(rv, total);
    }
    if (!rv) return;
    if (what.has('messages')) {
      this.view.renderMessages(rv, { newMarkerSeq: this.newMarker, live: what.has('live') });
      this.markReadIfSeen();
      if (rv.loaded && rv.hasOlder && this.view.needsMoreAbove()) this.loadOlder();
    }
    if (what.has('presence')) this.view.renderPresence(rv);
    if (what.has('typing')) {
      this.view.renderTyping(rv);
      this.view.renderPresence(rv);
    }
  }

  renderConnection() {
    const c = this.client;
    if (c.state === STATE.CONNECTED) this.everConnected = true;
    const draw = () => this.view.renderConnection({
      state: c.state,
      nextRetryAt: c.nextRetryAt,
      everConnected: this.everConnected,
      now: Date.now(),
    });
    draw();
    clearInterval(this._countdown);
    this._countdown = null;
    if (c.state === STATE.RECONNECTING) this._countdown = setInterval(draw, 1000);
  }

  onRoomEvent({ room, kind, live }) {
    if (kind === 'left') {
      if (room === this.active) this.pickRoom();
      this.queue('rooms');
      return;
    }
    if (room !== this.active) {
      this.queue('rooms');
      return;
    }
    if (kind === 'messages' || kind === 'pending' || kind === 'loading') this.queue('messages');
    if (live) this.queue('live');
    if (kind === 'presence') {
      this.queue('presence');
      this.queue('rooms');
    }
    if (kind === 'typing') this.queue('typing');
  }

  onIncoming({ room, messages }) {
    if (room !== this.active) return;
    for (const m of messages.slice(-3)) this.view.announce(`${m.from?.name ?? 'Someone'}: ${m.text}`);
  }

  onSynced() {
    const mine = this.client.myRooms().map((r) => r.name);
    if (!this.active || !mine.includes(this.active)) this.pickRoom();
    else this.openRoom(this.active);
  }

  pickRoom() {
    const mine = this.client.myRooms().map((r) => r.name);
    const remembered = storageGet(ROOM_KEY);
    const next = mine.includes(remembered) ? remembered : (mine.includes('general') ? 'general' : mine[0]);
    this.openRoom(next ?? null);
  }

  openRoom(room, { focus = false } = {}) {
    const c = this.client;
    const switching = room !== this.active || this.view.activeRoom !== room;
    this.active = room;
    if (room) storageSet(ROOM_KEY, room);
    if (switching) {
      const unread = room ? c.unread(room) : 0;
      const rv = room ? c.roomView(room) : null;
      this.newMarker = unread > 0 && rv ? rv.lastReadSeq : null;
      this.view.openRoom(room);
      this.view.renderMessages(rv ?? { messages: [], pending: [], loaded: false, hasOlder: false, name: room ?? '' }, { stickToBottom: true });
      if (rv) {
        this.view.renderPresence(rv);
        this.view.renderTyping(rv);
      }
    }
    this.queue('rooms');
    if (this.view.drawerOpen) this.view.setDrawer(false);
    if (focus) this.view.focusComposer();
    if (room) {
      c.openRoom(room).catch((err) => this.view.toast(describeError(err)));
      this.queue('messages');
    }
  }

  /** Alt+Up / Alt+Down: the previous or next of my rooms. */
  cycleRoom(step) {
    const mine = this.client?.myRooms().map((r) => r.name) ?? [];
    if (mine.length === 0) return;
    const i = mine.indexOf(this.active);
    this.openRoom(mine[(i + step + mine.length) % mine.length], { focus: true });
  }

  async joinRoom(room) {
    try {
      await this.client.joinRoom(room);
    } catch (err) {
      throw new Error(err instanceof ChatError ? (err.code === 'invalid_request' || err.code === 'disconnected' ? err.message : describeError(err)) : String(err));
    }
    this.openRoom(room, { focus: true });
  }

  async leaveRoom() {
    const room = this.active;
    if (!room) return;
    try {
      await this.client.leaveRoom(room);
    } catch (err) {
      this.view.toast(err instanceof ChatError && err.code === 'disconnected' ? err.message : describeError(err));
    }
  }

  send(text) {
    if (!this.active) return 'Pick a room first.';
    try {
      this.client.send(this.active, text);
    } catch (err) {
      return err.message;
    }
    return null;
  }

  loadOlder() {
    if (!this.active) return;
    this.client.loadOlder(this.active).catch(() => {});
  }

  markReadIfSeen() {
    if (!this.active || document.visibilityState !== 'visible' || !this.view.isAtBottom()) return;
    this.client?.markRead(this.active);
  }
}

async function main() {
  const bootView = document.getElementById('boot-text');
  let config;
  let auth;
  try {
    config = await loadConfig();
    auth = authConfig(config, location);
  } catch (err) {
    bootView.textContent = `Stratus cannot start: ${err.message}`;
    return;
  }
  new App(config, auth).start().catch((err) => {
    bootView.textContent = `Stratus cannot start: ${err?.message ?? err}`;
  });
}

main();
