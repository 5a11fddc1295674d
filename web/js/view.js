// Rendering: turns the client's state into DOM, and DOM events into calls on
// the handlers the app passes in. Keyed updates keep elements (and focus and
// scroll position) stable; user text only ever becomes text nodes (dom.js).

import { h, icon, richText, setChildren } from './dom.js';
import { colorSlot, continuesGroup, dayKey, dayLabel, formatFull, formatTime, initials, typingText } from './format.js';

const BOTTOM_SLACK_PX = 48;
const LOAD_OLDER_PX = 320;

/**
 * Puts `items` into `parent` in order, reusing children by key.
 * create(item) -> element; update(element, item) refreshes a reused one.
 */
function reconcile(parent, items, { key, create, update }) {
  const existing = new Map();
  for (const el of parent.children) existing.set(el.dataset.key, el);
  let cursor = parent.firstElementChild;
  for (const item of items) {
    const k = key(item);
    let el = existing.get(k);
    if (el) {
      existing.delete(k);
      update?.(el, item);
    } else {
      el = create(item);
      el.dataset.key = k;
    }
    if (el === cursor) cursor = cursor.nextElementSibling;
    else parent.insertBefore(el, cursor);
  }
  for (const el of existing.values()) el.remove();
}

function avatar(user, extraClass = '') {
  return h('span', { class: `avatar c${colorSlot(user.name)} ${extraClass}`.trim(), 'aria-hidden': 'true' }, initials(user.name));
}

function timeEl(ts, cls) {
  return h('time', { class: cls, datetime: new Date(ts).toISOString(), title: formatFull(ts) }, formatTime(ts));
}

export class ChatView {
  constructor(doc, handlers) {
    this.doc = doc;
    this.on = handlers;
    const $ = (id) => doc.getElementById(id);
    this.el = {
      boot: $('boot'),
      bootText: $('boot-text'),
      signin: $('signin'),
      signinForm: $('signin-form'),
      signinName: $('signin-name'),
      signinError: $('signin-error'),
      signinSubmit: $('signin-submit'),
      app: $('app'),
      sidebar: $('sidebar'),
      conn: $('conn'),
      connText: $('conn-text'),
      roomList: $('room-list'),
      otherRooms: $('other-rooms'),
      otherEmpty: $('other-rooms-empty'),
      newRoomForm: $('new-room-form'),
      newRoomInput: $('new-room-input'),
      newRoomError: $('new-room-error'),
      meAvatar: $('me-avatar'),
      meName: $('me-name'),
      signOut: $('sign-out'),
      scrim: $('scrim'),
      roomsToggle: $('rooms-toggle'),
      roomsToggleBadge: $('rooms-toggle-badge'),
      roomName: $('room-name'),
      roomMeta: $('room-meta'),
      peopleToggle: $('people-toggle'),
      peopleCount: $('people-count'),
      leave: $('leave-room'),
      banner: $('banner'),
      bannerText: $('banner-text'),
      bannerRetry: $('banner-retry'),
      scroller: $('scroller'),
      historyStatus: $('history-status'),
      messages: $('messages'),
      jump: $('jump'),
      typing: $('typing'),
      composer: $('composer'),
      composerLabel: $('composer-label'),
      input: $('composer-input'),
      send: $('send'),
      composerError: $('composer-error'),
      people: $('people'),
      peopleTitle: $('people-title'),
      peopleList: $('people-list'),
      peopleClose: $('people-close'),
      toasts: $('toasts'),
      announcer: $('announcer'),
    };
    this.activeRoom = null;
    this.peopleOpen = doc.defaultView.matchMedia('(min-width: 1101px)').matches;
    this._applyPeople();
    this._bind();
  }

  // ------------------------------------------------------------ screens

  showBoot(text) {
    this.el.bootText.textContent = text;
    this.el.boot.hidden = false;
    this.el.signin.hidden = true;
    this.el.app.hidden = true;
  }

  showSignIn(error = '') {
    this.el.boot.hidden = true;
    this.el.app.hidden = true;
    this.el.signin.hidden = false;
    this.el.signinError.textContent = error;
    this.el.signinSubmit.disabled = false;
    this.el.signinName.focus();
  }

  showApp(me) {
    this.setMe(me);
    this.el.boot.hidden = true;
    this.el.signin.hidden = true;
    this.el.app.hidden = false;
    this.el.input.focus();
  }

  setMe(me) {
    this.me = me;
    this.el.meAvatar.className = `avatar avatar-sm c${colorSlot(me.name)}`;
    this.el.meAvatar.textContent = initials(me.name);
    this.el.meName.textContent = me.name;
  }

  // ------------------------------------------------------------ events

  _bind() {
    const { el } = this;
    el.signinForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const name = el.signinName.value.trim();
      if (!name) {
        el.signinError.textContent = 'Please enter a display name.';
        el.signinName.focus();
        return;
      }
      el.signinError.textContent = '';
      el.signinSubmit.disabled = true;
      this.on.signIn(name);
    });

    el.input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.altKey && !ev.ctrlKey && !ev.metaKey && !ev.isComposing) {
        ev.preventDefault();
        this._submit();
      }
    });
    el.input.addEventListener('input', () => {
      this._autosize();
      el.composerError.textContent = '';
      if (el.input.value.trim()) this.on.typing();
    });
    el.composer.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this._submit();
    });

    el.newRoomForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const name = el.newRoomInput.value.trim().replace(/^#/, '');
      if (!name) return;
      el.newRoomError.textContent = '';
      this.on.joinRoom(name).then(
        () => {
          el.newRoomInput.value = '';
        },
        (err) => {
          el.newRoomError.textContent = err.message;
        },
      );
    });

    el.roomList.addEventListener('click', (ev) => {
      const btn = ev.target.closest('button[data-room]');
      if (btn) this.on.openRoom(btn.dataset.room);
    });
    el.otherRooms.addEventListener('click', (ev) => {
      const btn = ev.target.closest('button[data-room]');
      if (btn) this.on.joinRoom(btn.dataset.room).catch((err) => this.toast(err.message));
    });
    el.leave.addEventListener('click', () => this.on.leaveRoom());
    el.signOut.addEventListener('click', () => this.on.signOut());
    el.bannerRetry.addEventListener('click', () => this.on.retryNow());

    el.roomsToggle.addEventListener('click', () => this.setDrawer(!el.app.classList.contains('rooms-open')));
    el.scrim.addEventListener('click', () => this.setDrawer(false));
    el.peopleToggle.addEventListener('click', () => {
      this.peopleOpen = !this.peopleOpen;
      this._applyPeople();
    });
    el.peopleClose.addEventListener('click', () => {
      this.peopleOpen = false;
      this._applyPeople();
      el.peopleToggle.focus();
    });
    el.newRoomInput.addEventListener('focus', () => this.on.browseRooms());
    this.doc.addEventListener('keydown', (ev) => {
      if (ev.altKey && !ev.ctrlKey && !ev.metaKey && (ev.key === 'ArrowUp' || ev.key === 'ArrowDown')) {
        ev.preventDefault();
        this.on.cycleRoom(ev.key === 'ArrowDown' ? 1 : -1);
        return;
      }
      if (ev.key !== 'Escape') return;
      if (el.app.classList.contains('rooms-open')) {
        this.setDrawer(false);
      } else if (this.peopleOpen && !this.doc.defaultView.matchMedia('(min-width: 1101px)').matches) {
        this.peopleOpen = false;
        this._applyPeople();
        el.peopleToggle.focus();
      }
    });

    el.messages.addEventListener('click', (ev) => {
      const btn = ev.target.closest('button[data-action]');
      if (!btn) return;
      if (btn.dataset.action === 'retry') this.on.retryMessage(btn.dataset.id);
      if (btn.dataset.action === 'discard') this.on.discardMessage(btn.dataset.id);
    });
    el.historyStatus.addEventListener('click', (ev) => {
      if (ev.target.closest('button[data-action="older"]')) this.on.loadOlder();
    });
    el.scroller.addEventListener('scroll', () => {
      if (el.scroller.scrollTop < LOAD_OLDER_PX) this.on.nearTop();
      if (this.isAtBottom()) {
        el.jump.hidden = true;
        this.on.atBottom();
      }
    }, { passive: true });
    el.jump.addEventListener('click', () => {
      this.scrollToBottom();
      el.input.focus();
    });
  }

  _submit() {
    const text = this.el.input.value;
    if (!text.trim()) return;
    const error = this.on.send(text);
    if (error) {
      this.el.composerError.textContent = error;
      return;
    }
    this.el.input.value = '';
    this._autosize();
    this.el.composerError.textContent = '';
    this.scrollToBottom();
  }

  _autosize() {
    const { input } = this.el;
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, 200)}px`;
  }

  setDrawer(open) {
    const { el } = this;
    if (open) this.on.browseRooms();
    el.app.classList.toggle('rooms-open', open);
    el.scrim.hidden = !open;
    el.roomsToggle.setAttribute('aria-expanded', String(open));
    el.roomsToggle.setAttribute('aria-label', open ? 'Hide rooms' : 'Show rooms');
    if (open) {
      (el.roomList.querySelector('[aria-current="page"]') ?? el.roomList.querySelector('button') ?? el.newRoomInput).focus();
    } else if (el.sidebar.contains(this.doc.activeElement)) {
      el.roomsToggle.focus();
    }
  }

  get drawerOpen() {
    return this.el.app.classList.contains('rooms-open');
  }

  _applyPeople() {
    this.el.app.classList.toggle('people-hidden', !this.peopleOpen);
    this.el.peopleToggle.setAttribute('aria-expanded', String(this.peopleOpen));
  }

  // ------------------------------------------------------------ connection

  renderConnection({ state, nextRetryAt, everConnected, now }) {
    const { el } = this;
    el.conn.dataset.state = state;
    const labels = {
      idle: 'Starting…',
      connecting: everConnected ? 'Reconnecting…' : 'Connecting…',
      syncing: everConnected ? 'Catching up…' : 'Connecting…',
      connected: 'Online',
      reconnecting: 'Reconnecting…',
      offline: 'Offline',
      stopped: 'Signed out',
    };
    el.connText.textContent = labels[state] ?? state;
    el.conn.setAttribute('aria-label', `Connection: ${labels[state] ?? state}`);
    let banner = '';
    let retry = false;
    if (state === 'reconnecting') {
      const secs = nextRetryAt ? Math.max(0, Math.ceil((nextRetryAt - now) / 1000)) : 0;
      banner = secs > 0 ? `Connection lost. Reconnecting in ${secs} s…` : 'Connection lost. Reconnecting…';
      retry = true;
    } else if (state === 'offline') {
      banner = 'You are offline. Messages you send will go out when the connection is back.';
      retry = true;
    } else if (state === 'connecting' && everConnected) {
      banner = 'Reconnecting…';
    }
    el.banner.hidden = banner === '';
    el.bannerText.textContent = banner;
    el.bannerRetry.hidden = !retry;
  }

  // ------------------------------------------------------------ rooms

  renderRooms(mine, others, active) {
    const { el } = this;
    reconcile(el.roomList, mine, {
      key: (r) => r.name,
      create: (r) => {
        const btn = h('button', { class: 'room', type: 'button', 'data-room': r.name },
          h('span', { class: 'room-hash', 'aria-hidden': 'true' }, '#'),
          h('span', { class: 'room-name' }, r.name),
          h('span', { class: 'room-online' }),
          h('span', { class: 'badge' }));
        return h('li', {}, btn);
      },
      update: () => {},
    });
    for (const li of el.roomList.children) {
      const r = mine.find((x) => x.name === li.dataset.key);
      const btn = li.firstElementChild;
      const isActive = r.name === active;
      if (isActive) btn.setAttribute('aria-current', 'page');
      else btn.removeAttribute('aria-current');
      btn.classList.toggle('has-unread', r.unread > 0 && !isActive);
      const online = btn.querySelector('.room-online');
      online.textContent = String(r.online);
      online.classList.toggle('none', r.online === 0);
      online.title = `${r.online} online`;
      const badge = btn.querySelector('.badge');
      const showBadge = r.unread > 0 && !isActive;
      badge.hidden = !showBadge;
      badge.textContent = r.unread > 99 ? '99+' : String(r.unread);
      const parts = [r.name, `${r.online} online`];
      if (showBadge) parts.push(`${r.unread} unread`);
      btn.setAttribute('aria-label', parts.join(', '));
    }
    reconcile(el.otherRooms, others, {
      key: (r) => r.name,
      create: (r) => h('li', {}, h('button', { class: 'room', type: 'button', 'data-room': r.name },
        h('span', { class: 'room-hash', 'aria-hidden': 'true' }, '#'),
        h('span', { class: 'room-name' }, r.name),
        h('span', { class: 'room-online' }),
        h('span', { class: 'room-join', 'aria-hidden': 'true' }, 'Join'))),
    });
    for (const li of el.otherRooms.children) {
      const r = others.find((x) => x.name === li.dataset.key);
      const online = li.querySelector('.room-online');
      online.textContent = String(r.online);
      online.classList.toggle('none', r.online === 0);
      li.firstElementChild.setAttribute('aria-label', `Join ${r.name}, ${r.online} online`);
    }
    el.otherEmpty.hidden = others.length > 0;
    const unreadElsewhere = mine.some((r) => r.unread > 0 && r.name !== active);
    el.roomsToggleBadge.hidden = !unreadElsewhere;
  }

  // ------------------------------------------------------------ the open room

  /** Switches the main column to `room` (clears the message list). */
  openRoom(room) {
    const { el } = this;
    this.activeRoom = room;
    el.roomName.textContent = room ?? '';
    el.composerLabel.textContent = room ? `Message #${room}` : 'Message';
    el.input.placeholder = room ? `Message #${room}` : '';
    el.input.disabled = !room;
    el.send.disabled = !room;
    el.leave.disabled = !room;
    el.messages.replaceChildren();
    el.historyStatus.replaceChildren();
    el.typing.textContent = '';
    el.jump.hidden = true;
    el.composerError.textContent = '';
  }

  isAtBottom() {
    const sc = this.el.scroller;
    return sc.scrollHeight - sc.scrollTop - sc.clientHeight < BOTTOM_SLACK_PX;
  }

  scrollToBottom() {
    const sc = this.el.scroller;
    sc.scrollTop = sc.scrollHeight;
    this.el.jump.hidden = true;
  }

  /** True when the loaded messages do not fill the viewport (load more to allow scrolling). */
  needsMoreAbove() {
    const sc = this.el.scroller;
    return sc.scrollHeight <= sc.clientHeight + LOAD_OLDER_PX;
  }

  /**
   * Draws the room's messages (confirmed, then own pending ones). Keeps the
   * first visible message where it was when content is added above it, and
   * follows the bottom when the reader was there.
   */
  renderMessages(rv, { newMarkerSeq = null, stickToBottom = false, live = false } = {}) {
    const { el, me } = this;
    const sc = el.scroller;
    const wasAtBottom = stickToBottom || this.isAtBottom();
    let anchor = null;
    let anchorTop = 0;
    if (!wasAtBottom) {
      const top = sc.getBoundingClientRect().top;
      // Dividers move when older messages arrive; messages do not.
      for (const li of el.messages.querySelectorAll(':scope > li.msg')) {
        if (li.getBoundingClientRect().bottom > top + 1) {
          anchor = li;
          anchorTop = li.getBoundingClientRect().top;
          break;
        }
      }
    }
    const before = el.messages.childElementCount;

    const items = [];
    for (const m of rv.messages) {
      const own = m.from?.userId === me.userId;
      items.push({
        key: own && m.clientMsgId ? `m:${m.clientMsgId}` : `s:${m.seq}`,
        seq: m.seq,
        authorId: m.from?.userId,
        name: own ? 'You' : (m.from?.name ?? '?'),
        user: m.from ?? { userId: '', name: '?' },
        ts: m.ts,
        text: m.text,
        own,
        state: 'confirmed',
        clientMsgId: m.clientMsgId,
      });
    }
    for (const p of rv.pending) {
      items.push({
        key: `m:${p.clientMsgId}`,
        seq: null,
        authorId: me.userId,
        name: 'You',
        user: me,
        ts: p.createdAt,
        text: p.text,
        own: true,
        state: p.state,
        error: p.error,
        clientMsgId: p.clientMsgId,
      });
    }
    const rows = [];
    let prev = null;
    for (const it of items) {
      let breakGroup = false;
      if (!prev || dayKey(prev.ts) !== dayKey(it.ts)) {
        rows.push({ kind: 'day', key: `d:${dayKey(it.ts)}`, ts: it.ts });
        breakGroup = true;
      }
      if (newMarkerSeq !== null && it.seq === newMarkerSeq + 1) {
        rows.push({ kind: 'new', key: 'new' });
        breakGroup = true;
      }
      it.groupStart = breakGroup || !continuesGroup(prev, it);
      rows.push({ kind: 'msg', key: it.key, it });
      prev = it;
    }

    reconcile(el.messages, rows, {
      key: (r) => r.key,
      create: (r) => this._createRow(r),
      update: (li, r) => this._updateRow(li, r),
    });

    this._renderHistoryStatus(rv);

    if (wasAtBottom) {
      this.scrollToBottom();
    } else if (anchor?.isConnected) {
      sc.scrollTop += anchor.getBoundingClientRect().top - anchorTop;
      if (live && el.messages.childElementCount > before) el.jump.hidden = false;
    }
  }

  _createRow(r) {
    if (r.kind === 'day') {
      return h('li', { class: 'divider', role: 'separator' }, dayLabel(r.ts));
    }
    if (r.kind === 'new') {
      return h('li', { class: 'divider divider-new', role: 'separator' }, 'New messages');
    }
    const { it } = r;
    const li = h('li', { class: 'msg', 'data-author': it.authorId ?? '' },
      avatar(it.user, 'msg-avatar'),
      h('div', { class: 'msg-head' },
        h('span', { class: 'msg-author' }, it.name),
        timeEl(it.ts, 'msg-time')),
      h('div', { class: 'msg-line' },
        h('span', { class: 'sr-only sr-author' }, `${it.name}: `),
        h('div', { class: 'bubble' }, richText(it.text)),
        timeEl(it.ts, 'line-time'),
        h('span', { class: 'msg-status' })));
    if (it.own) li.classList.add('own');
    this._updateRow(li, r);
    return li;
  }

  _updateRow(li, r) {
    if (r.kind !== 'msg') return;
    const { it } = r;
    li.classList.toggle('group-start', it.groupStart);
    li.classList.toggle('pending', it.state === 'pending' || it.state === 'sent');
    li.classList.toggle('failed', it.state === 'failed');
    if (it.seq !== null) li.dataset.seq = String(it.seq);
    else delete li.dataset.seq;
    if (it.clientMsgId) li.dataset.clientMsgId = it.clientMsgId;
    if (li.dataset.state === it.state) return;
    li.dataset.state = it.state;
    const status = li.querySelector('.msg-status');
    if (it.state === 'pending' || it.state === 'sent') {
      setChildren(status, icon('clock'), 'Sending…');
    } else if (it.state === 'failed') {
      const retry = h('button', { class: 'link-btn', type: 'button', 'data-action': 'retry', 'data-id': it.clientMsgId }, 'Retry');
      const discard = h('button', { class: 'link-btn', type: 'button', 'data-action': 'discard', 'data-id': it.clientMsgId }, 'Discard');
      setChildren(status, icon('alert'), `Not sent${it.error?.message ? ` (${it.error.message})` : ''} · `, retry, ' · ', discard);
    } else {
      status.replaceChildren();
    }
  }

  _renderHistoryStatus(rv) {
    const hs = this.el.historyStatus;
    if (!rv.loaded) {
      setChildren(hs, 'Loading messages…');
    } else if (rv.loadingOlder) {
      setChildren(hs, 'Loading older messages…');
    } else if (rv.hasOlder) {
      if (!hs.querySelector('button')) {
        setChildren(hs, h('button', { class: 'link-btn', type: 'button', 'data-action': 'older' }, 'Load older messages'));
      }
    } else if (!hs.querySelector('.room-intro')) {
      setChildren(hs, h('div', { class: 'room-intro' },
        h('strong', {}, `This is the beginning of #${rv.name}.`),
        rv.messages.length ? ' Everything said here is above.' : ' Say hello!'));
    }
  }

  renderRoomMeta(rv, unreadTotal) {
    const n = rv ? rv.online.length : 0;
    this.el.roomMeta.textContent = rv ? `${n} online` : '';
    this.el.peopleCount.textContent = rv ? String(n) : '';
    this.el.peopleToggle.setAttribute('aria-label', `People in this room (${n} online)`);
    this.doc.title = `${unreadTotal > 0 ? `(${unreadTotal}) ` : ''}${rv ? `#${rv.name} · ` : ''}Stratus`;
  }

  renderPresence(rv) {
    const { el, me } = this;
    const people = rv ? [...rv.online].sort((x, y) => (y.userId === me.userId) - (x.userId === me.userId)) : [];
    el.peopleTitle.textContent = `Online — ${people.length}`;
    const typingIds = new Set((rv?.typing ?? []).map((u) => u.userId));
    reconcile(el.peopleList, people, {
      key: (u) => u.userId,
      create: (u) => h('li', { class: 'person' },
        avatar(u, 'avatar-sm'),
        h('span', { class: 'person-name' }, u.name),
        h('span', { class: 'person-you' }, u.userId === me.userId ? 'you' : '')),
    });
    for (const li of el.peopleList.children) {
      const isMe = li.dataset.key === me.userId;
      const typing = typingIds.has(li.dataset.key);
      li.classList.toggle('typing-now', typing);
      li.querySelector('.person-you').textContent = isMe ? 'you' : typing ? 'typing…' : '';
    }
  }

  renderTyping(rv) {
    const names = (rv?.typing ?? []).map((u) => u.name);
    const text = typingText(names);
    if (this.el.typing.textContent !== text) this.el.typing.textContent = text;
  }

  // ------------------------------------------------------------ notices

  /** A short-lived notice (errors from the server, failed actions). */
  toast(message, { timeoutMs = 6000 } = {}) {
    const close = h('button', { type: 'button', 'aria-label': 'Dismiss' }, '✕');
    const t = h('div', { class: 'toast', role: 'alert' }, icon('alert'), h('span', { class: 'toast-text' }, message), close);
    const remove = () => t.remove();
    close.addEventListener('click', remove);
    this.el.toasts.append(t);
    while (this.el.toasts.childElementCount > 3) this.el.toasts.firstElementChild.remove();
    this.doc.defaultView.setTimeout(remove, timeoutMs);
  }

  /** Reads a line out to screen readers (polite). */
  announce(text) {
    const p = h('p', {}, text);
    this.el.announcer.append(p);
    while (this.el.announcer.childElementCount > 5) this.el.announcer.firstElementChild.remove();
  }

  focusComposer() {
    this.el.input.focus();
  }
}
