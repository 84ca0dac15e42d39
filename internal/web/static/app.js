// ICS browser chat client. Plain JavaScript, no build step.
//
// It speaks the public protocol (docs/PROTOCOL.md in the repository): POST auth?nickname=
// for a token, then a WebSocket to ws offering ["ics.v1", token]. Every URL is
// relative to the page, so the client also works behind a path prefix.
//
// User-supplied text is only ever put into the page with textContent.
(() => {
  'use strict';

  const GLOBAL = 'global';
  const NAME_RE = /^[A-Za-z_][A-Za-z0-9_-]{1,31}$/;
  const BACKOFF_BASE_MS = 500;
  const BACKOFF_MAX_MS = 15000;
  const STORE_KEY = 'ics.session';
  const STABLE_MS = 10000; // a connection up this long resets the backoff

  const $ = (id) => document.getElementById(id);
  const el = {
    loginView: $('login-view'), loginForm: $('login-form'), nickInputLogin: $('nickname-input'),
    loginButton: $('login-button'), loginError: $('login-error'), ended: $('ended-notice'),
    chatView: $('chat-view'), room: $('current-room'), status: $('conn-status'),
    meNick: $('me-nick'), meAvatar: $('me-avatar'), exit: $('exit-button'),
    sidebar: $('sidebar'), sidebarToggle: $('sidebar-toggle'),
    roomList: $('room-list'), refreshRooms: $('refresh-rooms'),
    createForm: $('create-room-form'), newRoom: $('new-room-input'),
    userList: $('user-list'), userCount: $('user-count'), usersMore: $('users-more'),
    nickForm: $('nick-form'), nickInput: $('nick-input'),
    banner: $('error-banner'), bannerText: $('error-text'), bannerDismiss: $('error-dismiss'),
    messages: $('messages'), msgForm: $('message-form'), msgInput: $('message-input'),
    empty: $('empty-state'), emptyRoom: $('empty-room'),
  };

  // Base of every relative URL: the directory of the page.
  const base = new URL('.', window.location.href);
  function authURL(nick) {
    const u = new URL('auth', base);
    u.search = '?nickname=' + encodeURIComponent(nick);
    return u.toString();
  }
  function wsURL() {
    const u = new URL('ws', base);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    u.search = '';
    u.hash = '';
    return u.toString();
  }

  // A big room is listed a page at a time: the first page at once, the
  // next ones when asked ("Show more").
  const USERS_PAGE = 200;

  const state = {
    nick: '',           // our nickname (as the server knows it)
    token: '',          // token for reconnects (refreshed on setnick)
    room: GLOBAL,       // the room we are in
    ws: null,
    opened: false,      // the current socket reached "open"
    active: false,      // we want to be connected
    everConnected: false,
    attempt: 0,         // reconnect attempts since the last good connection
    tokenRefused: false,// the last upgrade with the stored token failed
    takenStreak: 0,     // consecutive 409s while reconnecting
    retryTimer: 0,
    openedAt: 0,        // when the current connection opened (ms)
    rejoin: '',         // room to go back to after a reconnect
    users: [],
    usersTotal: 0,      // the room's size (the server's `total`)
    usersMore: false,   // names follow the ones listed: "Show more" asks for them
    rooms: [],
    seq: 0,
    pending: new Map(), // id -> what the command was (for error context)
    usersTimer: 0,
    timelines: new Map(), // room -> the <li>s of that room's timeline while another room is shown
    shown: '',          // the room whose timeline #messages shows
    hues: new Map(),    // nickname -> avatar hue, carried over renames
    history: new Map(), // room -> {epoch, seq}: the room's history line and the last seq shown
  };

  // ---------- persistence (per tab) ----------
  function saveSession() {
    try {
      sessionStorage.setItem(STORE_KEY, JSON.stringify({ nick: state.nick, token: state.token, room: state.room }));
    } catch (_) { /* storage may be unavailable */ }
  }
  function loadSession() {
    try { return JSON.parse(sessionStorage.getItem(STORE_KEY) || 'null'); } catch (_) { return null; }
  }
  function clearSession() {
    try { sessionStorage.removeItem(STORE_KEY); } catch (_) { /* ignore */ }
  }

  // ---------- small DOM helpers ----------
  // A person's avatar colour: derived from the name the page first saw and
  // handed on at each rename (see the nick frame), so it survives renames.
  function hue(name) {
    let h = state.hues.get(name);
    if (h !== undefined) return h;
    h = 0;
    for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) % 360;
    return h;
  }
  function renamed(old, nick) {
    if (!state.hues.has(nick)) state.hues.set(nick, hue(old));
  }
  function avatar(name, cls) {
    const a = document.createElement('span');
    a.className = 'avatar' + (cls ? ' ' + cls : '');
    a.setAttribute('aria-hidden', 'true');
    a.textContent = name.replace(/[^A-Za-z0-9]/g, '').slice(0, 2) || '?';
    a.style.setProperty('--hue', String(hue(name)));
    return a;
  }
  function setAvatar(node, name) {
    node.textContent = name.replace(/[^A-Za-z0-9]/g, '').slice(0, 2) || '?';
    node.style.setProperty('--hue', String(hue(name)));
  }
  function nearBottom() {
    const m = el.messages;
    return m.scrollHeight - m.scrollTop - m.clientHeight < 80;
  }
  function scrollToBottom() { el.messages.scrollTop = el.messages.scrollHeight; }
  function append(li, force) {
    const stick = force || nearBottom();
    el.messages.appendChild(li);
    // Keep the log bounded.
    while (el.messages.childElementCount > 1000) el.messages.firstElementChild.remove();
    if (stick) scrollToBottom();
    updateEmpty();
  }

  // ---------- one timeline per room ----------
  // #messages shows the current room's timeline; the others wait, detached,
  // in state.timelines until their room is shown again.
  function showTimeline(room) {
    if (state.shown === room) return;
    if (state.shown) state.timelines.set(state.shown, [...el.messages.children]);
    el.messages.replaceChildren(...(state.timelines.get(room) || []));
    state.timelines.delete(room);
    state.shown = room;
    scrollToBottom();
    updateEmpty();
  }
  // The empty state says what to do next while the room has no messages.
  function updateEmpty() {
    const none = !el.messages.querySelector('li.msg');
    el.empty.hidden = !none;
    el.emptyRoom.textContent = '#' + state.room;
  }
  function fmtTime(ts) {
    const d = new Date(ts);
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  // ---------- history (docs/PROTOCOL.md "History and recovery") ----------
  // Each room's messages are numbered by seq within its epoch. The page
  // remembers, per room, the epoch and the highest seq it showed; on
  // entering a room (first time, back from another room, after a reconnect)
  // it asks `history` for what it missed, or for the recent messages when
  // it has seen none. A message shown twice (live and in a reply) is
  // dropped by seq; a reply that cannot vouch for the gap says so.
  const HISTORY_LIMIT = 100;
  function onOwnJoined(f) {
    if (typeof f.seq !== 'number' || typeof f.epoch !== 'string') return; // a server without history
    const h = state.history.get(f.room);
    if (!h) {
      state.history.set(f.room, { epoch: f.epoch, seq: 0 });
      if (f.seq > 0) send('history', { limit: 50 }, 'history-recent');
      return;
    }
    if (h.epoch === f.epoch && h.seq >= f.seq) return; // nothing missed
    send('history', { since: h.seq, epoch: h.epoch, limit: HISTORY_LIMIT }, 'history-since');
  }
  function onHistory(f, what) {
    if (f.room !== state.room || !Array.isArray(f.messages)) return;
    const h = state.history.get(f.room) || { epoch: f.epoch, seq: 0 };
    if (h.epoch !== f.epoch) {
      // Another history line (the room was recreated, the server
      // restarted): what is shown stays, numbered in the old line.
      h.epoch = f.epoch;
      h.seq = 0;
    }
    state.history.set(f.room, h);
    for (const m of f.messages) if (m && m.type === 'message') addMessage(m);
    if (what === 'history-since') {
      if (f.complete === false) {
        addNotice('Some messages may be missing here (the server no longer has all of them).', 'error');
      } else if (f.messages.length > 0 && h.seq < f.seq) {
        // More than one reply's worth: ask for the rest.
        send('history', { since: h.seq, epoch: h.epoch, limit: HISTORY_LIMIT }, 'history-since');
      }
    }
  }
  // placeMessage puts li into the timeline in seq order and reports false
  // for a message already shown.
  function placeMessage(li, f) {
    const h = state.history.get(f.room);
    if (typeof f.seq !== 'number' || !h || f.room !== state.room) {
      append(li, li.classList.contains('own'));
      return true;
    }
    li.dataset.seq = String(f.seq);
    li.dataset.epoch = h.epoch;
    const same = el.messages.querySelectorAll('li.msg[data-epoch="' + CSS.escape(h.epoch) + '"]');
    const last = same[same.length - 1];
    if (!last || Number(last.dataset.seq) < f.seq) {
      append(li, li.classList.contains('own'));
    } else {
      for (const o of same) {
        const s = Number(o.dataset.seq);
        if (s === f.seq) return false;
        if (s > f.seq) {
          el.messages.insertBefore(li, o);
          updateEmpty();
          break;
        }
      }
    }
    if (f.seq > h.seq) h.seq = f.seq;
    return true;
  }

  function addMessage(f) {
    // The server's own messages are told by structure (docs/PROTOCOL.md,
    // "Recognising the server"): a user named like the server is a user.
    const server = f.server === true;
    const own = !server && f.from === state.nick;
    const li = document.createElement('li');
    li.className = 'msg' + (own ? ' own' : '') + (server ? ' server' : '');
    li.dataset.testid = 'message';
    li.dataset.from = f.from;
    li.dataset.room = f.room || '';
    if (server) {
      const a = document.createElement('span');
      a.className = 'avatar large server-avatar';
      a.setAttribute('aria-hidden', 'true');
      a.textContent = '!';
      li.appendChild(a);
    } else if (!own) {
      li.appendChild(avatar(f.from, 'large'));
    }
    const bubble = document.createElement('div');
    bubble.className = 'bubble';
    const meta = document.createElement('div');
    meta.className = 'meta';
    const who = document.createElement('span');
    who.className = 'sender';
    who.textContent = server ? 'Server announcement' : own ? 'You' : f.from;
    meta.appendChild(who);
    if (typeof f.ts === 'number') {
      const t = document.createElement('time');
      t.dateTime = new Date(f.ts).toISOString();
      t.title = new Date(f.ts).toLocaleString();
      t.textContent = fmtTime(f.ts);
      meta.appendChild(t);
    }
    const body = document.createElement('p');
    body.className = 'body';
    body.textContent = f.body;
    bubble.append(meta, body);
    li.appendChild(bubble);
    placeMessage(li, f);
  }

  function addNotice(text, kind) {
    const li = document.createElement('li');
    li.className = 'notice' + (kind ? ' ' + kind : '');
    li.dataset.testid = 'notice';
    li.textContent = text;
    append(li);
  }

  let bannerTimer = 0;
  function showError(text, code) {
    el.bannerText.textContent = text;
    el.banner.dataset.code = code || '';
    el.banner.hidden = false;
    clearTimeout(bannerTimer);
    bannerTimer = setTimeout(hideError, 10000);
  }
  function hideError() { el.banner.hidden = true; }

  function setStatus(kind, text) {
    el.status.dataset.state = kind;
    el.status.textContent = text;
  }

  function setRoom(room) {
    state.room = room;
    showTimeline(room);
    el.room.textContent = room;
    el.msgInput.placeholder = 'Message #' + room;
    document.title = '#' + room + ' · ICS chat';
    renderRooms();
    saveSession();
  }

  function setNick(nick) {
    state.nick = nick;
    el.meNick.textContent = nick;
    setAvatar(el.meAvatar, nick);
    saveSession();
  }

  function renderUsers() {
    el.userList.replaceChildren();
    for (const u of state.users) {
      const li = document.createElement('li');
      li.dataset.nick = u;
      if (u === state.nick) li.className = 'self';
      li.appendChild(avatar(u, 'small'));
      const name = document.createElement('span');
      name.textContent = u;
      li.appendChild(name);
      el.userList.appendChild(li);
    }
    const total = Math.max(state.usersTotal, state.users.length);
    el.userCount.textContent = '(' + total + ')';
    el.usersMore.hidden = !state.usersMore;
    el.usersMore.textContent = 'Show ' + Math.min(USERS_PAGE, total - state.users.length) + ' more of ' + (total - state.users.length);
  }

  function renderRooms() {
    const names = state.rooms.includes(state.room) ? state.rooms : [...state.rooms, state.room].sort();
    const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.room : undefined;
    el.roomList.replaceChildren();
    for (const r of names) {
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.dataset.room = r;
      b.textContent = r;
      if (r === state.room) {
        b.setAttribute('aria-current', 'true');
        b.setAttribute('aria-label', r + ' (current room)');
      } else {
        b.setAttribute('aria-label', 'Switch to room ' + r);
      }
      li.appendChild(b);
      el.roomList.appendChild(li);
      if (r === focused) b.focus();
    }
  }

  // ---------- sending ----------
  function send(type, args, what) {
    const ws = state.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      showError('Not connected right now; try again in a moment.', 'offline');
      return false;
    }
    const id = 'c' + (++state.seq);
    if (what) {
      state.pending.set(id, what);
      // Commands answered by broadcasts (no id) leave entries behind: keep
      // only the most recent ones.
      if (state.pending.size > 200) state.pending.delete(state.pending.keys().next().value);
    }
    ws.send(JSON.stringify({ type, args: args || {}, id }));
    return true;
  }
  function refreshUsersSoon() {
    clearTimeout(state.usersTimer);
    state.usersTimer = setTimeout(() => send('listusers', { limit: USERS_PAGE }, 'listusers'), 150);
  }

  // ---------- incoming frames ----------
  const errorText = {
    nickname_taken: 'That nickname is already taken.',
    invalid_name: 'Names are 2–32 characters: letters, digits, _ and -, starting with a letter or _.',
    room_not_found: 'That room does not exist (any more).',
    room_exists: 'A room with that name already exists.',
    already_in_room: 'You are already in that room.',
    body_too_long: 'That message is too long.',
    rate_limited: 'You are sending too fast; slow down a little.',
    server_busy: 'The server is busy; please retry.',
    draining: 'The server is restarting.',
  };

  function onFrame(f) {
    const what = f.id !== undefined ? state.pending.get(String(f.id)) : undefined;
    if (f.id !== undefined) state.pending.delete(String(f.id));
    switch (f.type) {
      case 'message':
        addMessage(f);
        break;
      case 'joined':
        if (f.nickname === state.nick) {
          setRoom(f.room);
          if (!el.messages.querySelector('li.notice.divider')) addNotice('You are in #' + f.room, 'divider');
          onOwnJoined(f);
          send('listusers', { limit: USERS_PAGE }, 'listusers');
          // watch: the server pushes the room list whenever it changes.
          send('listrooms', { watch: true }, 'listrooms');
        } else {
          addNotice(f.body || (f.nickname + ' joined'));
          refreshUsersSoon();
        }
        break;
      case 'left':
        if (f.nickname !== state.nick) {
          addNotice(f.body || (f.nickname + ' left'));
          refreshUsersSoon();
        }
        break;
      case 'nick':
        renamed(f.old, f.nickname);
        if (f.token || what === 'setnick') {
          if (f.token) state.token = f.token;
          setNick(f.nickname);
          addNotice('You are now known as ' + f.nickname);
          el.nickInput.value = '';
        } else {
          addNotice(f.body || (f.old + ' is now ' + f.nickname));
        }
        refreshUsersSoon();
        break;
      case 'users': {
        const page = Array.isArray(f.users) ? f.users : [];
        // A later page adds to the list; any other reply replaces it.
        state.users = what === 'listusers-more' ? state.users.concat(page) : page;
        state.usersTotal = typeof f.total === 'number' ? f.total : state.users.length;
        state.usersMore = f.more === true;
        renderUsers();
      }
        break;
      case 'rooms':
        state.rooms = Array.isArray(f.rooms) ? f.rooms : [];
        renderRooms();
        if (what === 'rejoin' && state.rejoin) {
          const r = state.rejoin;
          state.rejoin = '';
          if (state.rooms.includes(r) && r !== state.room) {
            send('switchroom', { room: r }, 'rejoin-switch');
          } else if (r !== state.room) {
            addNotice('Room #' + r + ' is gone after the reconnect; you are in #' + state.room + '.');
          }
        }
        break;
      case 'history':
        onHistory(f, what);
        break;
      case 'error': {
        const code = f.code || 'error';
        const msg = errorText[code] || f.body || 'Something went wrong.';
        const detail = f.body && errorText[code] ? ' (' + f.body + ')' : '';
        showError(msg + detail, code);
        if (what === 'rejoin-switch') addNotice('Could not go back to your room.', 'error');
        break;
      }
      default:
        // Unknown frame types from newer servers are ignored.
        break;
    }
  }

  // ---------- connection ----------
  function backoff(n) {
    const ceil = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * Math.pow(2, n));
    return Math.round(ceil / 2 + Math.random() * ceil / 2); // "equal jitter"
  }

  async function requestToken(nick) {
    let resp;
    try {
      resp = await fetch(authURL(nick), { method: 'POST', cache: 'no-store', credentials: 'same-origin' });
    } catch (_) {
      return { network: true };
    }
    let body = {};
    try { body = await resp.json(); } catch (_) { /* not JSON */ }
    return { status: resp.status, body };
  }

  function authErrorText(r) {
    if (r.network) return 'Cannot reach the server. Check your connection and try again.';
    switch (r.status) {
      case 400: return 'That nickname is not valid: use 2–32 letters, digits, _ or -, starting with a letter or _.';
      case 409: return 'That nickname is already taken. Please pick another one.';
      case 429: return 'Too many attempts. Wait a moment and try again.';
      case 503: return 'The server is restarting. Try again in a moment.';
      default: return (r.body && r.body.error) || ('Sign-in failed (HTTP ' + r.status + ').');
    }
  }

  function setLoginError(message, code) {
    el.loginError.textContent = message || '';
    el.loginError.dataset.code = code || '';
    el.loginError.hidden = !message;
    if (message) el.nickInputLogin.setAttribute('aria-invalid', 'true');
    else el.nickInputLogin.removeAttribute('aria-invalid');
  }

  function showChat() {
    el.loginView.hidden = true;
    el.chatView.hidden = false;
    el.msgInput.focus();
  }
  function showLogin(message, ended) {
    el.chatView.hidden = true;
    el.loginView.hidden = false;
    el.loginButton.disabled = false;
    el.ended.hidden = !ended;
    el.ended.textContent = ended || '';
    setLoginError(message, '');
    el.nickInputLogin.value = state.nick || el.nickInputLogin.value;
    el.nickInputLogin.focus();
  }

  function stop(reasonText, asLogin) {
    state.active = false;
    clearTimeout(state.retryTimer);
    const ws = state.ws;
    state.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) {
      try { ws.close(1000); } catch (_) { /* ignore */ }
    }
    setStatus('offline', 'Disconnected');
    if (asLogin) {
      showLogin('', reasonText);
    } else if (reasonText) {
      addNotice(reasonText, 'error');
    }
  }

  function scheduleReconnect() {
    if (!state.active) return;
    clearTimeout(state.retryTimer);
    const delay = backoff(state.attempt);
    state.attempt++;
    setStatus('reconnecting', 'Reconnecting… (attempt ' + state.attempt + ')');
    state.retryTimer = setTimeout(reconnect, delay);
  }

  async function reconnect() {
    if (!state.active) return;
    if (state.tokenRefused || !state.token) {
      // The stored token did not get us in: ask for a new one, same nickname.
      const r = await requestToken(state.nick);
      if (!state.active) return;
      if (r.status === 201 && r.body && r.body.token) {
        state.token = r.body.token;
        state.tokenRefused = false;
        state.takenStreak = 0;
        saveSession();
      } else if (r.status === 409) {
        // Maybe our own half-open old socket still holds the name: the
        // stored token would take it over. Give up after a few tries.
        if (++state.takenStreak >= 5) {
          clearSession();
          stop('', false);
          showLogin('Your nickname "' + state.nick + '" was taken while you were away. Please pick another one.');
          return;
        }
      } else if (r.status === 400) {
        clearSession();
        stop('', false);
        showLogin(authErrorText(r));
        return;
      } else {
        scheduleReconnect();
        return;
      }
    }
    openSocket();
  }

  function openSocket() {
    clearTimeout(state.retryTimer);
    let ws;
    try {
      ws = new WebSocket(wsURL(), ['ics.v1', state.token]);
    } catch (e) {
      state.tokenRefused = true;
      scheduleReconnect();
      return;
    }
    state.ws = ws;
    state.opened = false;
    ws.onopen = () => {
      if (state.ws !== ws) return;
      state.opened = true;
      const wasReconnect = state.everConnected;
      state.everConnected = true;
      state.openedAt = Date.now();
      state.tokenRefused = false;
      state.takenStreak = 0;
      setStatus('connected', 'Connected');
      if (wasReconnect) {
        // A new connection always starts in global.
        setRoom(GLOBAL);
        addNotice('Reconnected.');
        if (state.rejoin && state.rejoin !== GLOBAL) {
          send('listrooms', {}, 'rejoin');
        } else {
          state.rejoin = '';
        }
      }
    };
    ws.onmessage = (ev) => {
      if (state.ws !== ws || typeof ev.data !== 'string') return;
      let f;
      try { f = JSON.parse(ev.data); } catch (_) { return; }
      if (f && typeof f === 'object') onFrame(f);
    };
    ws.onclose = (ev) => {
      if (state.ws !== ws) return;
      state.ws = null;
      const opened = state.opened;
      state.opened = false;
      if (!state.active) return;
      if (!opened) {
        // The browser hides the HTTP status of a refused upgrade: treat
        // a close before open as refusal and get a fresh token next time.
        state.tokenRefused = true;
        scheduleReconnect();
        return;
      }
      switch (ev.code) {
        case 1000:
          clearSession();
          stop('You left the chat.', true);
          return;
        case 4001:
          clearSession();
          stop('You were removed from the chat' + (ev.reason ? ': ' + ev.reason : '.'), true);
          return;
        case 4409:
          clearSession();
          stop('This session was replaced by a newer connection with your nickname (another tab or device?). Sign in again to continue here.', true);
          return;
      }
      // Only a connection that stayed up a while resets the backoff, so a
      // server that accepts and drops at once is not hammered.
      if (Date.now() - state.openedAt > STABLE_MS) state.attempt = 0;
      state.rejoin = state.room !== GLOBAL ? state.room : '';
      if (ev.code === 1012) addNotice('The server is restarting; reconnecting…');
      else addNotice('Connection lost (' + ev.code + (ev.reason ? ': ' + ev.reason : '') + '); reconnecting…');
      state.users = [];
      state.usersTotal = 0;
      state.usersMore = false;
      renderUsers();
      scheduleReconnect();
    };
  }

  function start(nick, token) {
    state.active = true;
    state.everConnected = false;
    state.attempt = 0;
    state.tokenRefused = false;
    state.takenStreak = 0;
    state.rejoin = '';
    state.token = token;
    state.rooms = [];
    state.users = [];
    state.usersTotal = 0;
    state.usersMore = false;
    state.timelines.clear();
    state.history.clear();
    state.shown = '';
    el.messages.replaceChildren();
    setNick(nick);
    setRoom(GLOBAL);
    renderUsers();
    setStatus('connecting', 'Connecting…');
    showChat();
    openSocket();
  }

  // ---------- UI events ----------
  el.loginForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const nick = el.nickInputLogin.value.trim();
    setLoginError('', '');
    el.ended.hidden = true;
    if (!NAME_RE.test(nick)) {
      setLoginError('That nickname is not valid: use 2–32 letters, digits, _ or -, starting with a letter or _.', 'invalid_name');
      el.nickInputLogin.focus();
      return;
    }
    el.loginButton.disabled = true;
    const r = await requestToken(nick);
    el.loginButton.disabled = false;
    if (r.status === 201 && r.body && r.body.token) {
      start(r.body.nickname || nick, r.body.token);
      return;
    }
    setLoginError(authErrorText(r), (r.body && r.body.code) || (r.network ? 'network' : ''));
    el.nickInputLogin.focus();
    el.nickInputLogin.select();
  });

  el.msgForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const body = el.msgInput.value;
    if (!body.trim()) return;
    if (send('message', { body })) el.msgInput.value = '';
  });

  el.createForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const name = el.newRoom.value.trim();
    if (!name) return;
    if (!NAME_RE.test(name)) {
      showError(errorText.invalid_name, 'invalid_name');
      return;
    }
    if (send('createroom', { name }, 'createroom')) {
      el.newRoom.value = '';
      closeSidebar();
      el.msgInput.focus();
    }
  });

  el.roomList.addEventListener('click', (e) => {
    const b = e.target.closest('button[data-room]');
    if (!b) return;
    const room = b.dataset.room;
    if (room === state.room) return;
    if (send('switchroom', { room }, 'switchroom')) {
      closeSidebar();
      el.msgInput.focus();
    }
  });

  el.refreshRooms.addEventListener('click', () => send('listrooms', {}, 'listrooms'));
  el.usersMore.addEventListener('click', () => {
    const last = state.users[state.users.length - 1];
    if (last !== undefined) send('listusers', { after: last, limit: USERS_PAGE }, 'listusers-more');
  });

  el.nickForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const nickname = el.nickInput.value.trim();
    if (!nickname) return;
    if (!NAME_RE.test(nickname)) {
      showError(errorText.invalid_name, 'invalid_name');
      return;
    }
    send('setnick', { nickname }, 'setnick');
  });

  el.exit.addEventListener('click', () => {
    if (!send('exit', { room: state.room }, 'exit')) {
      // Not connected: just forget the session locally.
      clearSession();
      stop('You left the chat.', true);
    }
  });

  el.bannerDismiss.addEventListener('click', hideError);

  function closeSidebar() {
    el.chatView.classList.remove('sidebar-open');
    el.sidebarToggle.setAttribute('aria-expanded', 'false');
  }
  el.sidebarToggle.addEventListener('click', () => {
    const open = !el.chatView.classList.contains('sidebar-open');
    el.chatView.classList.toggle('sidebar-open', open);
    el.sidebarToggle.setAttribute('aria-expanded', String(open));
    if (open) send('listrooms', {}, 'listrooms');
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && el.chatView.classList.contains('sidebar-open')) {
      closeSidebar();
      el.sidebarToggle.focus();
    }
  });

  // Back online: don't wait for the backoff timer.
  window.addEventListener('online', () => {
    if (state.active && !state.ws) {
      clearTimeout(state.retryTimer);
      reconnect();
    }
  });

  // Expose a little state for tests and debugging (read-only copies).
  window.icsClient = {
    get nick() { return state.nick; },
    get token() { return state.token; },
    get room() { return state.room; },
    get connected() { return !!state.ws && state.opened; },
    get timelines() { return [...state.timelines.keys()]; },
  };

  // A reload in the same tab resumes the session.
  const saved = loadSession();
  if (saved && saved.nick && saved.token) {
    start(saved.nick, saved.token);
    if (saved.room && saved.room !== GLOBAL) state.rejoin = saved.room;
    state.everConnected = true; // treat as a reconnect: rejoin the room
  } else {
    showLogin('');
  }
})();
