// meshd console: plain JavaScript, no libraries, no build step. It receives the whole status
// once a second over Server-Sent Events and updates the page in place (keyed elements, text
// changed only where it differs), draws its charts as SVG, and ticks its countdowns locally.
'use strict';

const TEXT = {
  en: {
    title: 'meshd console', skip: 'Skip to the classroom', logout: 'Log out', loginTitle: 'Teacher\'s console',
    loginHelp: 'Enter an admin key (MESH_ADMIN_KEYS, or the admin-key file in meshd\'s data directory). The pupils\' API key does not open the console.',
    adminKey: 'Admin key', login: 'Log in', loginWrong: 'That is not an admin key.', loginExpired: 'That login link was already used or has expired. Enter the admin key.',
    server: 'Server', classroom: 'Classroom', noGroups: 'No groups yet. Groups appear here as soon as a host creates one.',
    chartMessages: 'messages/s', chartRequests: 'requests/s', chartSpan: 'last 2 minutes',
    live: 'live', reconnecting: 'reconnecting…', cancel: 'Cancel', dissolve: 'Dissolve', copy: 'Copy join name',
    copied: (k) => `Copied ${k}`, dissolveConfirm: (k, n) => `Dissolve ${k}? Its ${n} member(s) will be told that the lesson is over.`,
    dissolved: (k) => `${k} dissolved`, failed: (m) => `Failed: ${m}`,
    version: 'Version', uptime: 'Uptime', sockets: 'Open sockets', subscriptions: 'Subscriptions', groups: 'Groups', members: 'Members',
    rps: 'Requests/s', mps: 'Messages/s', cpu: 'CPU', mem: 'Memory', heap: 'Go heap', errors: (m) => `Errors (last ${m} min)`,
    store: 'Store', storeOK: (k, s) => `${k} · ${s} · OK`, storeErr: (e) => `last commit failed: ${e}`, none: 'none',
    host: 'host', websocket: 'WebSocket', polling: 'polling', gone: 'gone', alive: 'live',
    created: 'created', expires: 'ends in', heartbeat: 'host heartbeat due in', subsShort: 'subscriptions', mpsShort: 'msg/s',
    node: 'Node', seen: 'Last seen', variables: 'Variables', events: 'Recent events', noEvents: 'No events yet.', ago: (d) => `${d} ago`,
    nodeLive: 'live', nodeGone: 'expired', raw: 'id', domain: (d) => `domain ${d}`,
  },
  ja: {
    title: 'meshd コンソール', skip: '教室の表示へ移動', logout: 'ログアウト', loginTitle: '先生用コンソール',
    loginHelp: '管理キーを入力してください（MESH_ADMIN_KEYS、または meshd のデータディレクトリにある admin-key ファイル）。児童・生徒用の API キーでは開けません。',
    adminKey: '管理キー', login: 'ログイン', loginWrong: '管理キーが違います。', loginExpired: 'このログインリンクは使用済みか期限切れです。管理キーを入力してください。',
    server: 'サーバー', classroom: '教室', noGroups: 'グループはまだありません。ホストが作るとすぐここに表示されます。',
    chartMessages: 'メッセージ/秒', chartRequests: 'リクエスト/秒', chartSpan: '直近2分',
    live: '接続中', reconnecting: '再接続中…', cancel: 'キャンセル', dissolve: '解散', copy: '参加名をコピー',
    copied: (k) => `${k} をコピーしました`, dissolveConfirm: (k, n) => `${k} を解散しますか？ メンバー ${n} 人に授業の終了が通知されます。`,
    dissolved: (k) => `${k} を解散しました`, failed: (m) => `失敗しました: ${m}`,
    version: 'バージョン', uptime: '稼働時間', sockets: '接続中のソケット', subscriptions: 'サブスクリプション', groups: 'グループ', members: 'メンバー',
    rps: 'リクエスト/秒', mps: 'メッセージ/秒', cpu: 'CPU', mem: 'メモリ', heap: 'Go ヒープ', errors: (m) => `エラー（直近${m}分）`,
    store: 'ストア', storeOK: (k, s) => `${k} · ${s} · 正常`, storeErr: (e) => `直近のコミットに失敗: ${e}`, none: 'なし',
    host: 'ホスト', websocket: 'WebSocket', polling: 'ポーリング', gone: '終了', alive: '稼働中',
    created: '作成', expires: '終了まで', heartbeat: 'ホストのハートビート期限まで', subsShort: 'サブスクリプション', mpsShort: 'メッセージ/秒',
    node: 'ノード', seen: '最終確認', variables: '変数', events: '最近のイベント', noEvents: 'イベントはまだありません。', ago: (d) => `${d}前`,
    nodeLive: '接続中', nodeGone: '期限切れ', raw: 'ID', domain: (d) => `ドメイン ${d}`,
  },
};

const $ = (sel, root = document) => root.querySelector(sel);
let lang = pickLang();
let csrf = '';
let status = null;
let offset = 0; // server clock minus this browser's clock, in ms
let stream = null;
const seenEvents = new Map(); // group fullId -> Set of event ids already in its feed
const FEED_MAX = 50;

function pickLang() {
  try {
    const stored = localStorage.getItem('meshd-console-lang');
    if (stored === 'ja' || stored === 'en') return stored;
  } catch { /* storage may be off */ }
  const nav = (navigator.languages && navigator.languages[0]) || navigator.language || document.documentElement.lang;
  return String(nav).toLowerCase().startsWith('ja') ? 'ja' : 'en';
}

const t = (key, ...args) => {
  const v = TEXT[lang][key];
  return typeof v === 'function' ? v(...args) : v;
};

function applyLang() {
  document.documentElement.lang = lang;
  document.title = t('title');
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  const other = lang === 'ja' ? 'en' : 'ja';
  const btn = $('#lang');
  btn.textContent = other === 'ja' ? '日本語' : 'English';
  btn.lang = other;
  btn.setAttribute('aria-label', other === 'ja' ? '日本語で表示' : 'Show in English');
  const conn = $('#conn');
  if (conn.textContent) setText(conn, t(conn.classList.contains('down') ? 'reconnecting' : 'live'));
  if (status) render(status, true);
}

/** el creates an element with a class and optional text. */
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** setText changes an element's text only when it differs, so nothing flickers. */
function setText(e, text) {
  text = String(text);
  if (e.textContent !== text) e.textContent = text;
}

/** keyed returns the child of parent with data-key k, creating it with make() when missing. */
function keyed(parent, k, make) {
  for (const c of parent.children) if (c.dataset.key === k) return c;
  const c = make();
  c.dataset.key = k;
  parent.appendChild(c);
  return c;
}

/** prune removes the children of parent whose data-key is not in keep. */
function prune(parent, keep) {
  for (const c of [...parent.children]) if (c.dataset.key !== undefined && !keep.has(c.dataset.key)) c.remove();
}

const now = () => Date.now() + offset;

function fmtDur(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const two = (n) => String(n).padStart(2, '0');
  return h ? `${h}:${two(m)}:${two(r)}` : `${m}:${two(r)}`;
}

function fmtBytes(n) {
  if (!n) return '0 B';
  const u = ['B', 'KiB', 'MiB', 'GiB'];
  const i = Math.min(u.length - 1, Math.floor(Math.log(n) / Math.log(1024)));
  return `${(n / 1024 ** i).toFixed(i ? 1 : 0)} ${u[i]}`;
}

const fmtRate = (r) => (r >= 100 ? r.toFixed(0) : r.toFixed(1));
const fmtClock = (iso) => new Date(iso).toLocaleTimeString(lang === 'ja' ? 'ja-JP' : 'en-GB', { hour12: false });

function toast(msg) {
  const e = $('#toast');
  e.textContent = msg;
  e.classList.add('show');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => e.classList.remove('show'), 2500);
}

// ---- charts --------------------------------------------------------------------------------

const SVG = 'http://www.w3.org/2000/svg';
function svgEl(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

/** points maps a series onto a w×h box (newest at the right edge, 120 samples wide). */
function points(series, w, h, max, pad = 0) {
  const n = 120;
  const start = n - series.length;
  return series.map((v, i) => `${((start + i) / (n - 1) * w).toFixed(1)},${(h - pad - (v / max) * (h - 2 * pad)).toFixed(1)}`).join(' ');
}

function niceMax(v) {
  if (v <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function drawServerChart(st) {
  const svg = $('#chart');
  const W = 600, H = 140, L = 34, B = 18;
  const msgs = st.history.messages || [], reqs = st.history.requests || [];
  const max = niceMax(Math.max(1, ...msgs, ...reqs));
  svg.replaceChildren();
  for (const f of [0, 0.5, 1]) {
    const y = (H - B) - f * (H - B - 8);
    svg.append(svgEl('line', { class: 'grid', x1: L, x2: W, y1: y, y2: y }));
    const label = svgEl('text', { class: 'axis', x: L - 4, y: y + 4, 'text-anchor': 'end' });
    label.textContent = fmtRate(max * f);
    svg.append(label);
  }
  for (const [x, txt] of [[L, lang === 'ja' ? '2分前' : '−2 min'], [W - 2, lang === 'ja' ? '現在' : 'now']]) {
    const label = svgEl('text', { class: 'axis', x, y: H - 4, 'text-anchor': x === L ? 'start' : 'end' });
    label.textContent = txt;
    svg.append(label);
  }
  const g = svgEl('g', { transform: `translate(${L},8)` });
  const w = W - L, h = H - B - 8;
  if (msgs.length > 1) {
    const p = points(msgs, w, h, max);
    g.append(svgEl('polygon', { class: 'area', points: `${p.split(' ')[0].split(',')[0]},${h} ${p} ${w},${h}` }));
    g.append(svgEl('polyline', { class: 'msg', points: p }));
  }
  if (reqs.length > 1) g.append(svgEl('polyline', { class: 'req', points: points(reqs, w, h, max) }));
  svg.append(g);
  svg.setAttribute('aria-label', `${t('chartMessages')} ${fmtRate(st.server.messagesPerSecond)}, ${t('chartRequests')} ${fmtRate(st.server.requestsPerSecond)}`);
}

function drawSpark(svg, series) {
  const w = 160, h = 34;
  const max = niceMax(Math.max(1, ...series));
  svg.replaceChildren(svgEl('line', { class: 'grid', x1: 0, x2: w, y1: h - 1, y2: h - 1 }));
  if (series.length > 1) {
    const p = points(series, w, h, max, 2);
    svg.append(svgEl('polygon', { class: 'area', points: `${p.split(' ')[0].split(',')[0]},${h} ${p} ${w},${h}` }));
    svg.append(svgEl('polyline', { class: 'msg', points: p }));
  }
}

// ---- rendering -----------------------------------------------------------------------------

function stat(dl, key, label, value, bad = false) {
  const d = keyed(dl, key, () => { const x = el('div'); x.append(el('dt'), el('dd')); return x; });
  setText(d.firstChild, label);
  setText(d.lastChild, value);
  d.lastChild.classList.toggle('bad', bad);
}

function renderServer(st) {
  const s = st.server, dl = $('#server-stats');
  stat(dl, 'version', t('version'), s.version || '—');
  stat(dl, 'uptime', t('uptime'), fmtDur(s.uptimeSeconds * 1000));
  stat(dl, 'groups', t('groups'), s.groups);
  stat(dl, 'members', t('members'), s.members);
  stat(dl, 'sockets', t('sockets'), s.sockets);
  stat(dl, 'subscriptions', t('subscriptions'), s.subscriptions);
  stat(dl, 'rps', t('rps'), fmtRate(s.requestsPerSecond));
  stat(dl, 'mps', t('mps'), fmtRate(s.messagesPerSecond));
  stat(dl, 'cpu', t('cpu'), `${s.cpuPercent.toFixed(1)} %`);
  stat(dl, 'mem', t('mem'), fmtBytes(s.memoryBytes));
  stat(dl, 'heap', t('heap'), fmtBytes(s.heapBytes));
  const errs = Object.entries(s.recentErrors || {}).sort((a, b) => b[1] - a[1]);
  stat(dl, 'errors', t('errors', Math.max(1, Math.round(s.errorWindowSeconds / 60))),
    errs.length ? errs.map(([k, v]) => `${k} ${v}`).join(', ') : t('none'), errs.length > 0);
  const store = s.store || {};
  stat(dl, 'store', t('store'), store.lastError ? t('storeErr', store.lastError) : t('storeOK', store.kind || '—', fmtBytes(store.bytes)), !!store.lastError);
  drawServerChart(st);
}

function makeGroupCard() {
  const card = el('article', 'card group');
  const head = el('div', 'ghead');
  const h3 = el('h3');
  h3.id = `g-${Math.random().toString(36).slice(2)}`;
  card.setAttribute('aria-labelledby', h3.id);
  const actions = el('div', 'actions');
  const copy = el('button', 'copy');
  copy.type = 'button';
  const dissolve = el('button', 'danger dissolve');
  dissolve.type = 'button';
  actions.append(copy, dissolve);
  head.append(h3, el('span', 'badge mode'), el('span', 'badge state'), actions);
  const meta = el('p', 'meta');
  for (const k of ['created', 'expires', 'heartbeat', 'subs', 'mps']) {
    const s = el('span');
    s.dataset.meta = k;
    s.append(el('span', 'label'), document.createTextNode(' '), el('b'));
    meta.append(s);
  }
  const spark = svgEl('svg', { class: 'spark', viewBox: '0 0 160 34', 'aria-hidden': 'true' });
  meta.append(spark);
  const table = el('table', 'nodes');
  const thead = el('thead');
  const tr = el('tr');
  for (const k of ['node', 'seen', 'variables']) { const th = el('th'); th.dataset.col = k; th.scope = 'col'; tr.append(th); }
  thead.append(tr);
  table.append(thead, el('tbody'));
  const evH = el('h4', 'evh');
  evH.style.margin = '0';
  evH.style.fontSize = '.85rem';
  const feed = el('ul', 'feed');
  feed.tabIndex = 0;
  card.append(head, meta, table, evH, feed);
  copy.addEventListener('click', () => copyJoinName(card.dataset.kana));
  dissolve.addEventListener('click', () => confirmDissolve(card));
  return card;
}

function setMeta(card, k, label, value, soon = false) {
  const s = card.querySelector(`[data-meta="${k}"]`);
  setText(s.firstChild, label);
  setText(s.lastChild, value);
  s.classList.toggle('soon', soon);
}

function nodeRow() {
  const tr = el('tr');
  const who = el('td', 'who');
  who.append(el('span', 'kana'), el('span', 'role'), el('span', 'dot'));
  tr.append(who, el('td', 'seen'), el('td', 'vars-cell'));
  tr.lastChild.append(el('div', 'vars'));
  return tr;
}

function renderGroup(card, g, force) {
  const label = `【${g.kana}】`;
  card.dataset.group = g.fullId;
  card.dataset.domain = card.closest('.domain')?.dataset.key ?? '';
  card.dataset.id = g.id;
  card.dataset.kana = g.kana;
  card.dataset.members = g.members.length;
  card.classList.toggle('gone', !g.live);
  const h3 = $('h3', card);
  setText(h3, label);
  h3.title = `${g.name}\n${g.fullId}`;
  setText($('.badge.mode', card), g.useWebSocket ? t('websocket') : t('polling'));
  const state = $('.badge.state', card);
  setText(state, g.live ? t('alive') : t('gone'));
  state.className = `badge state ${g.live ? 'ok' : 'bad'}`;
  setText($('.copy', card), t('copy'));
  setText($('.dissolve', card), t('dissolve'));
  $('.dissolve', card).setAttribute('aria-label', `${t('dissolve')} ${label}`);
  $('.copy', card).setAttribute('aria-label', `${t('copy')} ${label}`);
  setMeta(card, 'created', t('created'), fmtClock(g.createdAt));
  const ends = $('[data-meta="expires"]', card);
  ends.dataset.deadline = g.expiresAt;
  const hb = $('[data-meta="heartbeat"]', card);
  hb.dataset.deadline = g.hostDeadline;
  setText(ends.firstChild, t('expires'));
  setText(hb.firstChild, t('heartbeat'));
  setMeta(card, 'subs', t('subsShort'), g.subscriptions);
  setMeta(card, 'mps', t('mpsShort'), fmtRate(g.messagesPerSecond));
  drawSpark($('.spark', card), g.history || []);
  for (const th of card.querySelectorAll('th')) setText(th, t(th.dataset.col));

  // One row per node: the host, every member, and anyone else who reported.
  const nodes = new Map();
  nodes.set(g.hostId, { id: g.hostId, kana: g.hostKana, host: true, live: g.live, seen: null, vars: [] });
  for (const m of g.members) nodes.set(m.nodeId, { id: m.nodeId, kana: m.kana, host: m.nodeId === g.hostId, live: m.live, seen: m.lastSeen, vars: [] });
  for (const n of g.nodes) {
    const x = nodes.get(n.nodeId) || { id: n.nodeId, kana: n.kana, host: false, live: true, seen: null, vars: [] };
    x.vars = n.variables;
    x.reported = n.reported;
    nodes.set(n.nodeId, x);
  }
  const tbody = $('tbody', card);
  const keep = new Set();
  for (const n of nodes.values()) {
    keep.add(n.id);
    const tr = keyed(tbody, n.id, nodeRow);
    tr.dataset.node = n.id;
    tr.classList.toggle('dead', !n.live);
    const [kana, role, dot] = tr.firstChild.children;
    setText(kana, n.kana);
    kana.title = `${t('raw')}: ${n.id}`;
    setText(role, n.host ? t('host') : '');
    setText(dot, n.live ? `● ${t('nodeLive')}` : `○ ${t('nodeGone')}`);
    dot.className = `dot ${n.live ? 'ok' : 'bad'}`;
    const seenCell = tr.children[1];
    const seenAt = n.seen || n.reported;
    if (seenAt) seenCell.dataset.since = seenAt; else delete seenCell.dataset.since;
    const vars = $('.vars', tr);
    const vkeep = new Set();
    for (const [k, v] of n.vars) {
      vkeep.add(k);
      const chip = keyed(vars, k, () => { const c = el('span', 'var'); c.append(el('span', 'k', k), el('span', 'v')); return c; });
      chip.dataset.var = k;
      const ve = chip.lastChild;
      if (ve.textContent !== v) {
        const first = !ve.dataset.set;
        ve.textContent = v;
        ve.dataset.set = '1';
        if (!first && !force) { chip.classList.remove('changed'); void chip.offsetWidth; chip.classList.add('changed'); }
      }
    }
    prune(vars, vkeep);
  }
  prune(tbody, keep);

  setText($('.evh', card), t('events'));
  const feed = $('.feed', card);
  let seen = seenEvents.get(g.fullId);
  if (!seen) { seen = new Set(); seenEvents.set(g.fullId, seen); }
  for (const e of g.events) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    const li = el('li');
    li.dataset.event = e.id;
    const time = el('time', '', fmtClock(e.at));
    time.dateTime = e.at;
    const from = el('span', 'from', e.fromKana);
    from.title = e.from;
    li.append(time, el('span', 'ev', e.name), from);
    feed.prepend(li);
  }
  while (feed.children.length > FEED_MAX) feed.lastChild.remove();
  $('.none', feed)?.remove();
  if (!feed.children.length) feed.append(el('li', 'none', t('noEvents')));
}

function render(st, force = false) {
  status = st;
  renderServer(st);
  const root = $('#domains');
  const keepDomains = new Set();
  let groups = 0;
  for (const d of st.domains) {
    keepDomains.add(d.domain);
    const sec = keyed(root, d.domain, () => {
      const s = el('section', 'domain');
      s.append(el('h2'), el('div', 'groups'));
      return s;
    });
    setText(sec.firstChild, t('domain', d.domain));
    const list = sec.lastChild;
    const keep = new Set();
    for (const g of d.groups) {
      groups++;
      keep.add(g.fullId);
      renderGroup(keyed(list, g.fullId, makeGroupCard), g, force);
    }
    prune(list, keep);
  }
  prune(root, keepDomains);
  for (const k of seenEvents.keys()) if (!st.domains.some((d) => d.groups.some((g) => g.fullId === k))) seenEvents.delete(k);
  $('#empty').hidden = groups > 0;
  tick();
}

/** tick refreshes the countdowns and "ago" times from the local clock, between updates. */
function tick() {
  const n = now();
  for (const e of document.querySelectorAll('[data-deadline]')) {
    const left = Date.parse(e.dataset.deadline) - n;
    setText(e.lastChild, fmtDur(left));
    e.classList.toggle('soon', left < 60000);
  }
  for (const e of document.querySelectorAll('[data-since]')) setText(e, t('ago', fmtDur(n - Date.parse(e.dataset.since))));
}

// ---- actions -------------------------------------------------------------------------------

async function copyJoinName(kana) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(kana);
    } else {
      const ta = el('textarea');
      ta.value = kana;
      ta.setAttribute('readonly', '');
      ta.style.position = 'fixed';
      ta.style.opacity = '0';
      document.body.append(ta);
      ta.select();
      document.execCommand('copy');
      ta.remove();
    }
    toast(t('copied', kana));
  } catch (e) {
    toast(t('failed', e.message || e));
  }
}

function confirmDissolve(card) {
  const dlg = $('#confirm');
  const label = `【${card.dataset.kana}】`;
  setText($('#confirm-text'), t('dissolveConfirm', label, card.dataset.members));
  dlg.returnValue = '';
  dlg.onclose = async () => {
    if (dlg.returnValue !== 'ok') { $('.dissolve', card)?.focus(); return; }
    try {
      const res = await fetch('/console/api/dissolve', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
        body: JSON.stringify({ domain: card.closest('.domain').dataset.key, groupId: card.dataset.id }),
      });
      const body = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error(body.message || res.status);
      toast(t('dissolved', label));
    } catch (e) {
      toast(t('failed', e.message || e));
    }
  };
  dlg.showModal();
}

// ---- session and stream --------------------------------------------------------------------

function showLogin(msgKey) {
  if (stream) { stream.close(); stream = null; }
  $('#app').hidden = true;
  $('#logout').hidden = true;
  $('#login').hidden = false;
  setText($('#login-error'), msgKey ? t(msgKey) : '');
  $('#key').focus();
}

function start() {
  $('#login').hidden = true;
  $('#app').hidden = false;
  $('#logout').hidden = false;
  if (stream) stream.close();
  stream = new EventSource('/console/api/stream');
  const conn = $('#conn');
  stream.onopen = () => { setText(conn, t('live')); conn.classList.remove('down'); };
  stream.onmessage = (e) => {
    const st = JSON.parse(e.data);
    offset = Date.parse(st.taken) - Date.now();
    setText(conn, t('live'));
    conn.classList.remove('down');
    render(st);
  };
  stream.onerror = async () => {
    setText(conn, t('reconnecting'));
    conn.classList.add('down');
    if (stream && stream.readyState === EventSource.CLOSED) {
      const res = await fetch('/console/api/session').catch(() => null);
      if (res && res.status === 401) showLogin();
      else setTimeout(start, 2000);
    }
  };
}

async function boot() {
  applyLang();
  $('#lang').addEventListener('click', () => {
    lang = lang === 'ja' ? 'en' : 'ja';
    try { localStorage.setItem('meshd-console-lang', lang); } catch { /* storage may be off */ }
    applyLang();
  });
  $('#login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const res = await fetch('/console/login', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ key: $('#key').value }),
    }).catch(() => null);
    if (!res || !res.ok) { showLogin('loginWrong'); return; }
    csrf = (await res.json()).csrf;
    $('#key').value = '';
    start();
  });
  $('#logout').addEventListener('click', async () => {
    await fetch('/console/logout', { method: 'POST', headers: { 'X-CSRF-Token': csrf } }).catch(() => null);
    csrf = '';
    showLogin();
  });
  setInterval(tick, 1000);
  const res = await fetch('/console/api/session').catch(() => null);
  if (res && res.ok) {
    csrf = (await res.json()).csrf;
    if (location.search) history.replaceState(null, '', location.pathname);
    start();
  } else {
    showLogin(new URLSearchParams(location.search).get('login') === 'expired' ? 'loginExpired' : '');
  }
}

boot();
