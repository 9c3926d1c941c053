// meshd console: plain JavaScript, no libraries, no build step. It receives the status once a
// second over Server-Sent Events (compressed; nothing while the tab is hidden) and updates the
// page in place (keyed elements, text changed only where it differs, a closed group only in its
// summary line), draws its charts as SVG, and ticks its countdowns and "ago" times locally.
'use strict';

const TEXT = {
  en: {
    title: 'meshd console', skip: 'Skip to the classroom', logout: 'Log out', loginTitle: 'Teacher\'s console',
    loginHelp: 'Your school\'s IT teacher or administrator gives you the admin key.',
    loginTech: 'For the administrator', loginTechText: 'The admin key is MESH_ADMIN_KEYS, or the admin-key file in meshd\'s data directory; `meshd console-link` prints a fresh login link. The pupils\' API key does not open the console.',
    adminKey: 'Admin key', login: 'Log in', loginWrong: 'That is not an admin key.', loginExpired: 'That login link was already used or has expired. Enter the admin key.',
    sessionGone: 'Your login has ended (it expired, or meshd was set up anew). Please log in again.',
    server: 'Server details', classroom: 'Classroom', noGroups: 'No groups yet. Groups appear here as soon as a host creates one.',
    chartMessages: 'traffic/s', chartRequests: 'requests/s', chartSpan: 'last 2 minutes',
    live: 'live', reconnecting: 'reconnecting…', cancel: 'Cancel', dissolve: 'Dissolve', copy: 'Copy join name',
    copied: (k) => `Copied ${k}`, dissolveConfirm: (k, n) => `Dissolve ${k}? The host and members, ${n} in all, will be disconnected. This cannot be undone.`,
    dissolved: (k) => `${k} dissolved`, failed: (m) => `Failed: ${m}`,
    version: 'Version', uptime: 'Uptime', sockets: 'Open sockets', subscriptions: 'Connections', groups: 'Groups', members: 'Pupils',
    rps: 'Requests/s', mps: 'Traffic/s', cpu: 'CPU', mem: 'Memory', heap: 'Go heap', errors: (m) => `Errors (last ${m} min)`,
    store: 'Storage', storeOK: (k, s) => `${k} · ${s} · OK`, storeErr: (e) => `last save failed: ${e}`, none: 'none',
    host: 'host', websocket: 'live connection', polling: 'polling', alive: 'in progress',
    created: 'started', expires: 'ends in', heartbeat: 'host answers within', overdue: 'overdue', subsShort: 'connected', mpsShort: 'traffic/s',
    counts: (c, j) => `connected ${c} / joined ${j}`, silentN: (n) => `${n} not answering`,
    hostLate: 'The host is not answering: the host\'s screen may have been closed.',
    node: 'Pupil', seen: 'Last activity', variables: 'Variables', events: 'Messages', noEvents: 'No messages yet.',
    ago: (ms) => { const s = Math.max(0, Math.round(ms / 1000)); return s < 60 ? `${s} s ago` : s < 3600 ? `${Math.floor(s / 60)} min ago` : `${Math.floor(s / 3600)} h ago`; },
    active: 'active', idle: 'waiting', silent: 'not answering', reloaded: 'before reload',
    raw: 'id', domain: (d) => `domain ${d}`, ended: 'Ended groups', endedAt: (at, why, n) => `${at} · ${why} · ${n} pupil(s)`,
    why: { dissolved: 'dissolved', 'host gone': 'host stopped answering', expired: 'time limit reached' },
    light: { ok: 'server OK', bad: 'server problem' }, projector: 'Projector', leaveProjector: 'Leave projector',
    search: 'Find a pupil', nameVar: 'Name from variable', nameNone: '(pupil id)', csv: 'Save record (CSV)',
  },
  ja: {
    title: 'meshd コンソール', skip: '教室の表示へ移動', logout: 'ログアウト', loginTitle: '先生用コンソール',
    loginHelp: '管理キーは情報担当の先生から受け取ってください。',
    loginTech: '管理者の方へ', loginTechText: '管理キーは MESH_ADMIN_KEYS の値、または meshd のデータディレクトリにある admin-key ファイルの中身です。`meshd console-link` で新しいログインリンクを表示できます。児童・生徒用の API キーでは開けません。',
    adminKey: '管理キー', login: 'ログイン', loginWrong: '管理キーが違います。', loginExpired: 'このログインリンクは使用済みか期限切れです。管理キーを入力してください。',
    sessionGone: 'ログインの有効期限が切れました。もう一度ログインしてください。',
    server: 'サーバーの詳細', classroom: '教室', noGroups: 'グループはまだありません。ホストが作るとすぐここに表示されます。',
    chartMessages: '通信/秒', chartRequests: 'リクエスト/秒', chartSpan: '直近2分',
    live: '接続中', reconnecting: '再接続中…', cancel: 'キャンセル', dissolve: '解散', copy: '参加名をコピー',
    copied: (k) => `${k} をコピーしました`, dissolveConfirm: (k, n) => `${k}を解散しますか？ホストとメンバー ${n} 人の接続が切れます。元に戻せません。`,
    dissolved: (k) => `${k}を解散しました`, failed: (m) => `失敗しました: ${m}`,
    version: 'バージョン', uptime: '稼働時間', sockets: '開いているソケット', subscriptions: '接続', groups: 'グループ', members: '参加者',
    rps: 'リクエスト/秒', mps: '通信/秒', cpu: 'CPU', mem: 'メモリ', heap: 'Go ヒープ', errors: (m) => `エラー（直近${m}分）`,
    store: '保存先', storeOK: (k, s) => `${k} · ${s} · 正常`, storeErr: (e) => `直近の保存に失敗: ${e}`, none: 'なし',
    host: 'ホスト', websocket: '常時接続', polling: 'ポーリング', alive: '進行中',
    created: '開始', expires: '終了まで', heartbeat: 'ホストの応答 あと', overdue: '期限切れ', subsShort: '接続', mpsShort: '通信/秒',
    counts: (c, j) => `接続 ${c} / 参加 ${j}`, silentN: (n) => `応答なし ${n} 人`,
    hostLate: 'ホストの応答がありません。ホストの画面が閉じられた可能性があります。',
    node: '参加者', seen: '最後の操作', variables: '変数', events: 'メッセージ', noEvents: 'メッセージはまだありません。',
    ago: (ms) => { const s = Math.max(0, Math.round(ms / 1000)); return s < 60 ? `${s}秒前` : s < 3600 ? `${Math.floor(s / 60)}分前` : `${Math.floor(s / 3600)}時間前`; },
    active: '活動中', idle: '待機中', silent: '応答なし', reloaded: '再読み込み前',
    raw: 'ID', domain: (d) => `ドメイン ${d}`, ended: '終了したグループ', endedAt: (at, why, n) => `${at} · ${why} · ${n} 人`,
    why: { dissolved: '解散', 'host gone': 'ホストの応答なし', expired: '時間切れ' },
    light: { ok: 'サーバー正常', bad: 'サーバーに問題' }, projector: 'プロジェクター表示', leaveProjector: '通常表示に戻る',
    search: '参加者を探す', nameVar: '名前に使う変数', nameNone: '（参加者の記号）', csv: '記録を保存（CSV）',
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
  setText($('#projector'), t(document.documentElement.classList.contains('projector') ? 'leaveProjector' : 'projector'));
  $('#search').placeholder = t('search');
  $('#search').setAttribute('aria-label', t('search'));
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
  const light = $('#light');
  setText(light, `● ${t('light')[s.light] || s.light}`);
  light.className = `light ${s.light === 'ok' ? 'ok' : 'bad'}`;
  light.title = (s.problems || []).join('\n');
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
    errs.length ? errs.map(([k, v]) => `${k} ${v}`).join(', ') : t('none'), s.light !== 'ok' && errs.length > 0);
  const store = s.store || {};
  stat(dl, 'store', t('store'), store.lastError ? t('storeErr', store.lastError) : t('storeOK', store.kind || '—', fmtBytes(store.bytes)), !!store.lastError);
  if ($('#server').open) drawServerChart(st);
}

// lessons keeps, per group, node and variable, the recent values for the charts: meshd's
// record of the lesson (loaded once per group, when a chart first needs it, so that a reload
// or another laptop sees the same history), then the values this page sees.
const HIST_MAX = 40;
const lessons = new Map(); // fullId -> { vars: Map(node|var -> [[ms, value]]), loaded }
function record(g) {
  let h = lessons.get(g.fullId);
  if (!h) { h = { vars: new Map(), loaded: null }; lessons.set(g.fullId, h); }
  for (const n of g.nodes) {
    for (const [k, v] of n.variables) {
      const key = `${n.nodeId}\u0000${k}`;
      const list = h.vars.get(key) || [];
      if (!list.length || list[list.length - 1][1] !== v) {
        list.push([Date.parse(n.reported), v]);
        if (list.length > HIST_MAX) list.shift();
        h.vars.set(key, list);
      }
    }
  }
  return h;
}

/** loadRecord fetches meshd's record of a group once; its values replace what the page saw. */
function loadRecord(fullId) {
  const h = lessons.get(fullId);
  if (!h) return Promise.resolve();
  h.loaded ??= fetch(`/console/api/record?group=${encodeURIComponent(fullId)}`).then((res) => (res.ok ? res.json() : null)).then((rec) => {
    for (const v of rec?.variables || []) h.vars.set(`${v.node}\u0000${v.key}`, v.values.map(([at, x]) => [Date.parse(at), x]));
  }).catch(() => { h.loaded = null; });
  return h.loaded;
}

/** nameOf is a node's label: the value of the chosen name variable, else its kana. */
function nameOf(n) {
  const v = nameVar && n.vars.find(([k]) => k === nameVar);
  return v && v[1] ? v[1] : n.kana;
}

function makeGroupCard() {
  const card = el('article', 'card group');
  const det = el('details', 'gdet');
  const sum = el('summary', 'gsum');
  const h3 = el('h3');
  h3.id = `g-${Math.random().toString(36).slice(2)}`;
  card.setAttribute('aria-labelledby', h3.id);
  sum.append(h3, el('span', 'badge state'), el('span', 'badge mode'), el('span', 'counts'), el('span', 'silentn'), el('span', 'latest'));
  const banner = el('p', 'banner');
  banner.setAttribute('role', 'alert');
  const head = el('div', 'ghead');
  const actions = el('div', 'actions');
  const copy = el('button', 'copy');
  copy.type = 'button';
  const csv = el('button', 'csv');
  csv.type = 'button';
  const dissolve = el('button', 'danger dissolve');
  dissolve.type = 'button';
  actions.append(copy, csv, dissolve);
  const meta = el('p', 'meta');
  for (const k of ['created', 'expires', 'heartbeat', 'subs', 'mps']) {
    const s = el('span');
    s.dataset.meta = k;
    s.append(el('span', 'label'), document.createTextNode(' '), el('b'));
    meta.append(s);
  }
  meta.append(svgEl('svg', { class: 'spark', viewBox: '0 0 160 34', 'aria-hidden': 'true' }));
  head.append(meta, actions);
  const table = el('table', 'nodes');
  const thead = el('thead');
  const tr = el('tr');
  for (const k of ['node', 'seen', 'variables']) { const th = el('th'); th.dataset.col = k; th.scope = 'col'; tr.append(th); }
  thead.append(tr);
  table.append(thead, el('tbody'));
  const evH = el('h4', 'evh');
  const feed = el('ul', 'feed');
  feed.tabIndex = 0;
  det.append(sum, head, table, evH, feed);
  card.append(banner, det);
  copy.addEventListener('click', () => copyJoinName(card.dataset.kana));
  csv.addEventListener('click', () => exportCSV(card.dataset.group, card.dataset.kana));
  dissolve.addEventListener('click', () => confirmDissolve(card));
  det.addEventListener('toggle', () => { if (det.open && status) render(status, true); });
  return card;
}

function setMeta(card, k, label, value) {
  const s = card.querySelector(`[data-meta="${k}"]`);
  setText(s.firstChild, label);
  setText(s.lastChild, value);
}

function nodeRow() {
  const tr = el('tr');
  const who = el('td', 'who');
  who.append(el('span', 'name'), el('span', 'kana'), el('span', 'role'), el('span', 'dot'));
  tr.append(who, el('td', 'seen'), el('td', 'vars-cell'));
  tr.lastChild.append(el('div', 'vars'));
  return tr;
}

let marked = []; // the variables marked as changed by the previous update
const STATE_MARK = { active: '●', idle: '◐', silent: '○' };

function renderGroup(card, g, force) {
  const label = `【${g.kana}】`;
  card.dataset.group = g.fullId;
  card.dataset.domain = g.domain;
  card.dataset.id = g.id;
  card.dataset.kana = g.kana;
  const h3 = $('h3', card);
  setText(h3, label);
  h3.title = `${g.name}\n${g.fullId}`;
  setText($('.badge.mode', card), g.useWebSocket ? t('websocket') : t('polling'));
  const state = $('.badge.state', card);
  setText(state, t('alive'));
  state.className = 'badge state ok';
  const banner = $('.banner', card);
  banner.hidden = !g.hostLate;
  setText(banner, banner.hidden ? '' : t('hostLate'));
  card.classList.toggle('late', !banner.hidden);
  record(g);
  const last = g.events[g.events.length - 1];
  setText($('.latest', card), last ? `${t('events')}: ${last.name}` : '');

  setText($('.copy', card), t('copy'));
  setText($('.csv', card), t('csv'));
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

  // One row per node: the host, every member, and anyone else who reported.
  const nodes = new Map();
  nodes.set(g.hostId, { id: g.hostId, kana: g.hostKana, host: true, live: true, state: g.hostState, seen: g.hostLastActive, vars: [] });
  for (const m of g.members) nodes.set(m.nodeId, { id: m.nodeId, kana: m.kana, host: m.nodeId === g.hostId, live: m.live, state: m.state, seen: m.lastActive, vars: [] });
  for (const n of g.nodes) {
    const x = nodes.get(n.nodeId) || { id: n.nodeId, kana: n.kana, host: false, live: true, state: 'idle', seen: n.reported, vars: [] };
    x.vars = n.variables;
    nodes.set(n.nodeId, x);
  }
  for (const n of nodes.values()) {
    n.name = nameOf(n);
    for (const [k] of n.vars) varNames.add(k);
  }
  // A reload gives the editor a new id: the old row that stopped answering under the same
  // name is the same pupil before the reload.
  const byName = new Map();
  for (const n of nodes.values()) if (n.name !== n.kana) (byName.get(n.name) || byName.set(n.name, []).get(n.name)).push(n);
  for (const same of byName.values()) {
    if (same.length < 2 || !same.some((n) => n.state !== 'silent')) continue;
    for (const n of same) if (n.state === 'silent') n.reloaded = true;
  }
  // A pupil who reloaded is one pupil: joined once, and not one who does not answer.
  const members = [...nodes.values()].filter((n) => n.live && !n.host);
  const joined = g.joined - members.filter((n) => n.reloaded).length;
  const silent = members.filter((n) => n.state === 'silent' && !n.reloaded).length;
  card.dataset.joined = joined;
  setText($('.counts', card), t('counts', g.subscriptions, joined));
  setText($('.silentn', card), silent ? t('silentN', silent) : '');
  const rows = [...nodes.values()].sort((a, b) => (b.host - a.host) || (!!a.reloaded - !!b.reloaded) || collator.compare(a.name, b.name));
  const q = query.trim().toLowerCase();
  let found = 0;
  const det = $('.gdet', card);
  const tbody = $('tbody', card);
  const keep = new Set();
  let at = 0;
  for (const n of rows) {
    keep.add(n.id);
    const hit = !q || [n.name, n.kana, n.id].some((x) => String(x).toLowerCase().includes(q));
    if (hit) found++;
    if (!det.open && !force && !q) continue; // a closed card keeps its rows as they were
    const tr = keyed(tbody, n.id, nodeRow);
    tr.dataset.node = n.id;
    tr.dataset.state = n.state;
    tr.hidden = !hit;
    tr.classList.toggle('dead', !n.live);
    tr.classList.toggle('reloaded', !!n.reloaded);
    if (tbody.children[at] !== tr) tbody.insertBefore(tr, tbody.children[at] || null); // keeps the sorted order
    at++;
    const [name, kana, role, dot] = tr.firstChild.children;
    setText(name, n.name === n.kana ? '' : n.name);
    setText(kana, n.kana);
    kana.title = `${t('raw')}: ${n.id}`;
    setText(role, n.host ? t('host') : n.reloaded ? t('reloaded') : '');
    setText(dot, `${STATE_MARK[n.state] || '○'} ${t(n.state) || n.state}`);
    dot.className = `dot ${n.state}`;
    const seenCell = tr.children[1];
    if (n.seen) seenCell.dataset.since = n.seen; else delete seenCell.dataset.since;
    const vars = $('.vars', tr);
    const vkeep = new Set();
    for (const [k, v] of n.vars) {
      vkeep.add(k);
      const chip = keyed(vars, k, () => {
        const c = el('button', 'var');
        c.type = 'button';
        c.append(el('span', 'k', k), el('span', 'v'));
        c.addEventListener('click', async () => {
          c.classList.toggle('open');
          drawVarChart(c, g.fullId, n.id, k);
          await loadRecord(g.fullId);
          drawVarChart(c, g.fullId, n.id, k);
        });
        return c;
      });
      chip.dataset.var = k;
      const ve = chip.children[1];
      if (ve.textContent !== v) {
        const first = !ve.dataset.set;
        ve.textContent = v;
        ve.dataset.set = '1';
        if (!first && !force) { chip.classList.add('changed'); marked.push(chip); }
        if (chip.classList.contains('open')) drawVarChart(chip, g.fullId, n.id, k);
      }
    }
    prune(vars, vkeep);
  }
  prune(tbody, keep);
  card.hidden = q !== '' && found === 0;
  if (q && found && !det.open) det.open = true;
  if (!det.open && !force) return;

  drawSpark($('.spark', card), g.history || []);
  for (const th of card.querySelectorAll('th')) setText(th, t(th.dataset.col));
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

/** drawVarChart shows the recent values of one variable as a small chart inside its chip. */
function drawVarChart(chip, fullId, node, k) {
  chip.querySelector('svg')?.remove();
  if (!chip.classList.contains('open')) return;
  const list = lessons.get(fullId)?.vars.get(`${node}\u0000${k}`) || [];
  const nums = list.map(([, v]) => Number(v)).filter((v) => Number.isFinite(v));
  const svg = svgEl('svg', { class: 'vchart', viewBox: '0 0 120 30', role: 'img', 'aria-label': `${k}: ${list.map(([, v]) => v).join(', ')}` });
  if (nums.length > 1) {
    const lo = Math.min(...nums), hi = Math.max(...nums), span = hi - lo || 1;
    const p = nums.map((v, i) => `${(i / (nums.length - 1) * 118 + 1).toFixed(1)},${(28 - (v - lo) / span * 26).toFixed(1)}`).join(' ');
    svg.append(svgEl('polyline', { class: 'msg', points: p }));
  }
  chip.append(svg);
}

const collator = new Intl.Collator('ja', { numeric: true });
let nameVar = '';
let query = '';
const varNames = new Set();

function renderEnded(st) {
  const list = $('#ended-list');
  $('#ended').hidden = !st.ended.length;
  setText($('#ended-h'), t('ended'));
  const keep = new Set();
  for (const e of st.ended) {
    const k = `${e.id}@${e.domain}`;
    keep.add(k);
    const li = keyed(list, k, () => {
      const x = el('li');
      const csv = el('button', 'csv');
      csv.type = 'button';
      csv.addEventListener('click', () => exportCSV(x.dataset.key, x.dataset.kana));
      x.append(el('b'), el('span'), csv);
      return x;
    });
    li.dataset.reason = e.reason;
    li.dataset.kana = e.kana;
    const [name, when, csv] = li.children;
    setText(name, `【${e.kana}】`);
    setText(when, ` ${t('endedAt', fmtClock(e.at), t('why')[e.reason] || e.reason, e.members)}`);
    setText(csv, t('csv'));
    csv.setAttribute('aria-label', `${t('csv')} 【${e.kana}】`);
  }
  prune(list, keep);
  // Newest first, as the server sends them.
  for (const e of st.ended) list.append(keyed(list, `${e.id}@${e.domain}`, () => el('li')));
}

function renderNameChoice() {
  const sel = $('#namevar');
  const names = [...varNames].sort(collator.compare);
  if (!nameVar && !sel.dataset.chosen) nameVar = names.find((n) => ['なまえ', '名前', 'name', 'Name'].includes(n)) || '';
  const want = ['', ...names];
  if (sel.options.length !== want.length || [...sel.options].some((o, i) => o.value !== want[i])) {
    sel.replaceChildren(...want.map((v) => { const o = el('option', '', v || t('nameNone')); o.value = v; return o; }));
  }
  sel.options[0].textContent = t('nameNone');
  sel.value = nameVar;
}

function render(st, force = false) {
  status = st;
  for (const c of marked) c.classList.remove('changed');
  marked = [];
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
    sec.firstChild.hidden = st.domains.length === 1;
    const list = sec.lastChild;
    const keep = new Set();
    // Newest groups first.
    const sorted = [...d.groups].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
    for (const g of sorted) {
      groups++;
      keep.add(g.fullId);
      g.domain = d.domain;
      const card = keyed(list, g.fullId, makeGroupCard);
      renderGroup(card, g, force);
    }
    prune(list, keep);
    sorted.forEach((g, i) => { const c = keyed(list, g.fullId, makeGroupCard); if (list.children[i] !== c) list.insertBefore(c, list.children[i]); });
  }
  prune(root, keepDomains);
  const shown = new Set(st.domains.flatMap((d) => d.groups.map((g) => g.fullId)));
  for (const k of seenEvents.keys()) if (!shown.has(k)) seenEvents.delete(k);
  for (const k of lessons.keys()) if (!shown.has(k)) lessons.delete(k);
  $('#empty').hidden = groups > 0;
  renderEnded(st);
  renderNameChoice();
  tick();
}

/** tick refreshes the countdowns and "ago" times from the local clock, between updates. */
function tick() {
  const n = now();
  for (const e of document.querySelectorAll('[data-deadline]')) {
    const left = Date.parse(e.dataset.deadline) - n;
    setText(e.lastChild, left < 0 ? t('overdue') : fmtDur(left));
    e.classList.toggle('soon', left < 60000);
  }
  for (const e of document.querySelectorAll('[data-since]')) setText(e, t('ago', n - Date.parse(e.dataset.since)));
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

/** fetchCSV asks meshd for its record of a group as CSV, named by the chosen name variable:
 * the same after a reload and on every laptop. */
async function fetchCSV(fullId) {
  const res = await fetch(`/console/api/record.csv?group=${encodeURIComponent(fullId)}&name=${encodeURIComponent(nameVar)}`);
  if (!res.ok) throw new Error((await res.json().catch(() => ({}))).message || res.status);
  return res;
}

/** lessonCSV is a group's record as text (members, variables over time, messages). */
const lessonCSV = async (fullId) => (await fetchCSV(fullId)).text();

/** exportCSV saves the record as meshd sent it, its BOM included (spreadsheet programs then
 * read UTF-8). */
async function exportCSV(fullId, kana) {
  try {
    const a = el('a');
    a.href = URL.createObjectURL(await (await fetchCSV(fullId)).blob());
    a.download = `meshd-${kana || 'group'}-${new Date(now()).toISOString().slice(0, 16).replace(':', '')}.csv`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  } catch (e) {
    toast(t('failed', e.message || e));
  }
}

function confirmDissolve(card) {
  const dlg = $('#confirm');
  const label = `【${card.dataset.kana}】`;
  setText($('#confirm-text'), t('dissolveConfirm', label, card.dataset.joined));
  dlg.returnValue = '';
  dlg.onclose = async () => {
    if (dlg.returnValue !== 'ok') { $('.dissolve', card)?.focus(); return; }
    try {
      const res = await fetch('/console/api/dissolve', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
        body: JSON.stringify({ domain: card.dataset.domain, groupId: card.dataset.id }),
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

let loggedIn = false;

function showLogin(msgKey) {
  loggedIn = false;
  if (stream) { stream.close(); stream = null; }
  $('#app').hidden = true;
  $('#logout').hidden = true;
  $('#login').hidden = false;
  setText($('#login-error'), msgKey ? t(msgKey) : '');
  $('#key').focus();
}

function start() {
  loggedIn = true;
  $('#login').hidden = true;
  $('#app').hidden = false;
  $('#logout').hidden = false;
  if (stream) stream.close();
  stream = null;
  if (document.hidden) return; // nothing is streamed to a hidden tab
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
    const res = await fetch('/console/api/session').catch(() => null);
    if (res && res.status === 401) { showLogin('sessionGone'); return; }
    if (stream && stream.readyState === EventSource.CLOSED) setTimeout(start, 2000);
  };
}

function setProjector(on) {
  document.documentElement.classList.toggle('projector', on);
  setText($('#projector'), t(on ? 'leaveProjector' : 'projector'));
  const u = new URL(location.href);
  if (on) u.searchParams.set('projector', '1'); else u.searchParams.delete('projector');
  history.replaceState(null, '', u);
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
  $('#projector').addEventListener('click', () => setProjector(!document.documentElement.classList.contains('projector')));
  $('#search').addEventListener('input', (e) => { query = e.target.value; if (status) render(status, true); });
  $('#namevar').addEventListener('change', (e) => {
    nameVar = e.target.value;
    e.target.dataset.chosen = '1';
    if (status) render(status, true);
  });
  $('#server').addEventListener('toggle', () => { if (status && $('#server').open) drawServerChart(status); });
  document.addEventListener('visibilitychange', () => {
    if (!loggedIn) return;
    if (document.hidden) { if (stream) { stream.close(); stream = null; } } else if (!stream) start();
  });
  setInterval(tick, 1000);
  const params = new URLSearchParams(location.search);
  const res = await fetch('/console/api/session').catch(() => null);
  if (res && res.ok) {
    csrf = (await res.json()).csrf;
    if (params.has('login')) history.replaceState(null, '', location.pathname);
    setProjector(params.get('projector') === '1');
    start();
  } else {
    showLogin(params.get('login') === 'expired' ? 'loginExpired' : '');
  }
}

boot();
