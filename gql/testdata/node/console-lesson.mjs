// A lesson for the teacher's console test (cmd/meshd/console_browser_test.go). Every pupil and
// host is an EditorTab (lib/editor.mjs): the editor's SDK, aws-appsync 4.1.10, driven as the
// editor's Mesh extension drives it — a node id made from a UUID v4 on every load, heartbeats at
// the interval meshd hands out, polling at the interval meshd hands out, the group named by its
// host's id. Three groups in one domain:
//   - the class, over WebSockets: a host and four pupils; the test reports and fires for the
//     first two, the third's tab closes, the fourth reloads;
//   - the leaving class, over WebSockets: a host and one pupil; the host's tab closes;
//   - the polling class (useWebSocket: false): a host and two pupils, the second's tab closes.
// It speaks JSON lines: it prints {"ready": …} when the lesson runs and then performs commands
// read from stdin — {"report": {node, key, value}} (printing {"reported": …}), {"fire": {node,
// name}} ({"fired": …}), {"close": node} (the tab closes: its socket closes, its timers stop,
// nothing more is sent; {"closed": node}), {"reload": node} (the tab closes and the editor
// loads again: a new node id joins the same group and sends the pupil's variables;
// {"reloaded": node, "as": newId}). It prints {"dissolved": nodeId, "message": …} for every
// open pupil of the class whose subscription receives the group's dissolve, and exits 0 once
// every one has.
import { createInterface } from 'node:readline';

import { closeSockets, parsedFrames, requireConfig, sockets, until } from './lib/harness.mjs';
import { EditorTab } from './lib/editor.mjs';

requireConfig('httpURL', 'apiKey');
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const tabs = new Map(); // node id -> its tab

function open(name) {
  const t = new EditorTab(name);
  tabs.set(t.meshId, t);
  return t;
}

/**
 * subscribed waits until a WebSocket tab's subscription is acknowledged and keeps its socket:
 * the one opened since before (tabs are opened one at a time, each on its own client).
 */
async function subscribed(t, before) {
  if (!t.useWebSocket) return;
  t.socket = await until(`${t.name}: its socket`, () => sockets.length > before && sockets[sockets.length - 1]);
  await until(`${t.name}: start_ack`, () => parsedFrames(t.socket).some((f) => f.type === 'start_ack'));
}

/** A host's tab creates its group, named by its id as the editor names it, and reports vars. */
async function host(name, domain, useWebSocket, vars) {
  const t = open(name);
  t.domain = domain;
  const before = sockets.length;
  await t.createGroup(t.meshId, { useWebSocket });
  await subscribed(t, before);
  t.vars = vars;
  if (Object.keys(vars).length) await t.sendData(Object.entries(vars).map(([key, value]) => ({ key, value })));
  return t;
}

/** A pupil's tab joins the host's group and reports vars. */
async function pupil(name, h, vars) {
  const t = open(name);
  t.group = h;
  const before = sockets.length;
  await t.joinGroup(h.groupId, h.domain);
  await subscribed(t, before);
  t.vars = vars;
  await t.sendData(Object.entries(vars).map(([key, value]) => ({ key, value })));
  return t;
}

/** A broadcast block, sent with its batch at once rather than at the batch timer's next tick. */
async function broadcast(t, name) {
  t.fireEvent(name);
  await t.processBatchEvents();
}

const classHost = await host('host', null, true, { stage: 'intro' });
const domain = classHost.domain;
const members = [];
for (const [name, vars] of [['m1', { score: '0', x: '-40' }], ['m2', { score: '10', x: '-40' }]]) {
  const m = await pupil(name, classHost, vars);
  await broadcast(m, `hello from ${name}`);
  members.push(m);
}
const closing = await pupil('closing', classHost, { なまえ: 'じろう', score: '5' });
const reloading = await pupil('reloading', classHost, { なまえ: 'さくら', score: '7' });
const leavingHost = await host('leaving host', domain, true, { stage: 'quiz' });
const leavingMember = await pupil('leaving member', leavingHost, { score: '1' });
const pollHost = await host('polling host', domain, false, {});
const pollMember = await pupil('polling member', pollHost, { lives: '3' });
const pollClosing = await pupil('polling closing', pollHost, { lives: '1' });
out({
  ready: {
    domain,
    groupId: classHost.groupId,
    hostId: classHost.meshId,
    members: members.map((m) => m.meshId),
    closing: closing.meshId,
    reloading: reloading.meshId,
    leavingGroupId: leavingHost.groupId,
    leavingHostId: leavingHost.meshId,
    leavingMember: leavingMember.meshId,
    pollingGroupId: pollHost.groupId,
    pollingMember: pollMember.meshId,
    pollingClosing: pollClosing.meshId,
    memberHeartbeatSeconds: members[0].memberHeartbeatInterval,
    pollingHeartbeatSeconds: pollMember.memberHeartbeatInterval,
  },
});

// The class's pupils whose tabs are open when the teacher dissolves it.
const openPupils = () => [...tabs.values()].filter((t) => t.group === classHost && !t.closed);
const dissolved = new Set();
const watch = setInterval(() => {
  const pupils = openPupils();
  for (const m of pupils) {
    if (m.dissolveMessage !== undefined && !dissolved.has(m.meshId)) {
      dissolved.add(m.meshId);
      out({ dissolved: m.meshId, message: m.dissolveMessage });
    }
  }
  if (pupils.length && pupils.every((m) => dissolved.has(m.meshId))) {
    clearInterval(watch);
    for (const t of tabs.values()) t.stopAll();
    closeSockets().then(() => process.exit(0));
  }
}, 20);

/**
 * The tab closes: the browser closes its socket (1001, going away) without stopping the
 * subscription first, and its timers stop: no heartbeat, poll or report any more.
 */
function close(t) {
  t.socket?.close(1001, 'tab closed');
  t.closeTab();
  t.closed = true;
  if (t.socket && parsedFrames(t.socket, 'out').some((f) => f.type === 'stop')) {
    throw new Error(`${t.name}: the closing tab sent stop; a closed tab's socket just goes away`);
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(line);
  if (cmd.report) {
    const m = tabs.get(cmd.report.node);
    // A report carries all of the pupil's variables, as the editor's does.
    m.vars = { ...m.vars, [cmd.report.key]: cmd.report.value };
    await m.sendData(Object.entries(m.vars).map(([key, value]) => ({ key, value })));
    out({ reported: cmd.report });
  }
  if (cmd.fire) {
    const m = tabs.get(cmd.fire.node);
    await broadcast(m, cmd.fire.name);
    out({ fired: cmd.fire });
  }
  if (cmd.close) {
    close(tabs.get(cmd.close));
    out({ closed: cmd.close });
  }
  if (cmd.reload) {
    const old = tabs.get(cmd.reload);
    close(old);
    const again = await pupil(`${old.name} reloaded`, old.group, old.vars);
    out({ reloaded: cmd.reload, as: again.meshId });
  }
}
