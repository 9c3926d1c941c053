// The editor's Mesh extension through a lesson's ends and its polling edge cases, against a
// meshd with short intervals (host heartbeat every 1 s, dead after 4 s without one; polling every
// 1 s; WebSocket members' heartbeat every 60 s, so that only meshd's dissolve message can end a
// WebSocket pupil's session within a test; sweeps every 250 ms). Each tab is an EditorTab: the
// real SDK driven as the extension drives it. Run from gql/editor_realclient_test.go.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';

import { closeSockets, parsedFrames, requireConfig, sleep, sockets, until } from './lib/harness.mjs';
import { EditorTab } from './lib/editor.mjs';

// Every wait for a state is bounded by this: generous, never a budget.
const deadline = 30000;

const tabs = [];
function tab(name, options) {
  const t = new EditorTab(name, options);
  tabs.push(t);
  return t;
}

const startAcks = () => sockets.reduce((n, ws) => n + parsedFrames(ws).filter((f) => f.type === 'start_ack').length, 0);

/** Waits until every tab is disconnected and returns a readable account of them. */
async function allDisconnected(what, group) {
  await until(what, () => group.every((t) => t.disconnected), deadline).catch((e) => {
    throw new Error(`${e.message}\n${group.map((t) => `${t.name}: ${JSON.stringify(t.disconnected)}\n  ${t.log.join('\n  ')}`).join('\n')}`);
  });
}

/** A WebSocket group and a polling group, each with a host and two pupils, subscriptions started. */
async function twoClassrooms(prefix, { skewMs = 0, maxConnectionTimeSeconds } = {}) {
  const ws = { host: tab(`${prefix} WebSocket host`, { skewMs }), pupils: [tab(`${prefix} WebSocket pupil 1`, { skewMs }), tab(`${prefix} WebSocket pupil 2`, { skewMs })] };
  const poll = { host: tab(`${prefix} polling host`, { skewMs }), pupils: [tab(`${prefix} polling pupil 1`, { skewMs }), tab(`${prefix} polling pupil 2`, { skewMs })] };
  const acks = startAcks();
  await ws.host.createGroup(`${prefix}-ws`, { useWebSocket: true, maxConnectionTimeSeconds });
  await poll.host.createGroup(`${prefix}-poll`, { useWebSocket: false, maxConnectionTimeSeconds });
  for (const p of ws.pupils) await p.joinGroup(ws.host.groupId, ws.host.domain);
  for (const p of poll.pupils) await p.joinGroup(poll.host.groupId, poll.host.domain);
  for (const p of ws.pupils) assert.equal(p.useWebSocket, true, `${p.name} subscribes`);
  for (const p of poll.pupils) {
    assert.equal(p.useWebSocket, false, `${p.name} polls`);
    assert.equal(p.memberHeartbeatInterval, 3, `${p.name} is told to send heartbeats every three polling intervals`);
  }
  await until('the WebSocket tabs\' start_ack', () => startAcks() >= acks + 3, deadline);
  return { ws, poll };
}

function checkEnds(ws, poll, endedAt, polledAnswer) {
  for (const p of ws.pupils) {
    assert.equal(p.disconnected.cause, 'dissolve message', `${p.name} learnt from meshd's dissolve message: ${JSON.stringify(p.disconnected)}`);
  }
  for (const p of poll.pupils) {
    assert.deepEqual([p.disconnected.cause, p.disconnected.reason], ['heartbeat', 'GroupNotFound'], `${p.name} learnt from its heartbeat's GroupNotFound: ${JSON.stringify(p.disconnected)}`);
    assert.ok(p.log.some((l) => l.includes(polledAnswer)), `${p.name}'s heartbeat was answered ${polledAnswer}:\n${p.log.join('\n')}`);
  }
  for (const p of [...ws.pupils, ...poll.pupils]) console.log(`${p.name}: disconnected ${p.disconnected.at - endedAt} ms after the group's end (${p.disconnected.cause})`);
}

describe('the editor through a lesson\'s ends and its polling edge cases', { timeout: 150000 }, () => {
  after(async () => {
    for (const t of tabs) t.stopAll();
    await closeSockets();
  });

  it('the host\'s tab closes mid-lesson: every WebSocket and polling pupil is disconnected', async () => {
    requireConfig('httpURL', 'apiKey');
    const { ws, poll } = await twoClassrooms('closed');
    ws.pupils[0].fireEvent('hello');
    poll.pupils[0].fireEvent('hello');
    await until('the hosts\' heartbeats', () => ws.host.lastRenewal && poll.host.lastRenewal, deadline);
    ws.host.closeTab();
    poll.host.closeTab();
    // The group dies when the host's heartbeat TTL (4 s) has passed since its last renewal.
    const died = Math.max(ws.host.lastRenewal, poll.host.lastRenewal) + 4000;
    await allDisconnected('every pupil to be disconnected', [...ws.pupils, ...poll.pupils]);
    checkEnds(ws, poll, died, '(heartbeat expired)');
  });

  it('a group expires: every WebSocket and polling pupil is disconnected, even with clocks behind', async () => {
    // The tabs' clocks are a minute behind, so their own connection timers are still far off
    // at expiresAt: only meshd can end their sessions.
    const { ws, poll } = await twoClassrooms('expired', { skewMs: -60000, maxConnectionTimeSeconds: 5 });
    const expiresAt = new Date(ws.host.expiresAt).getTime();
    await allDisconnected('every pupil to be disconnected', [...ws.pupils, ...poll.pupils]);
    checkEnds(ws, poll, expiresAt, 'Group expired');
  });

  it('polling pupils join while others broadcast: every broadcast fired after a join is played exactly once', async () => {
    const host = tab('broadcasting host');
    await host.createGroup('busy', { useWebSocket: false });
    const other = tab('broadcasting pupil');
    await other.joinGroup(host.groupId, host.domain);
    let n = 0;
    const fire = setInterval(() => {
      n += 1;
      host.fireEvent(`host-${n}`);
      other.fireEvent(`pupil-${n}`);
    }, 100);
    const joiners = [tab('joiner, right clock'), tab('joiner, clock 30 s ahead', { skewMs: 30000 }), tab('joiner, clock 1.5 s behind', { skewMs: -1500 })];
    try {
      for (const j of joiners) {
        await sleep(700);
        await j.joinGroup(host.groupId, host.domain);
      }
      await sleep(3000);
    } finally {
      clearInterval(fire);
    }
    const fired = 2 * n;
    await until('every broadcast to be sent', () => host.sent.length + other.sent.length === fired, deadline);
    const polls = joiners.map((j) => j.polls);
    await until('two more polls by every joiner', () => joiners.every((j, i) => j.polls >= polls[i] + 2), deadline);
    const sent = [...host.sent, ...other.sent];
    for (const j of joiners) {
      const times = new Map();
      for (const name of j.played) times.set(name, (times.get(name) ?? 0) + 1);
      const twice = [...times].filter(([, c]) => c > 1);
      assert.deepEqual(twice, [], `${j.name} played broadcasts twice`);
      const afterJoin = sent.filter((e) => e.sentAt > j.joinedAt).map((e) => e.name);
      assert.ok(afterJoin.length > 10, `${j.name}: ${afterJoin.length} broadcasts after the join`);
      const missed = afterJoin.filter((name) => !times.has(name));
      assert.deepEqual(missed, [], `${j.name} lost broadcasts fired after its join`);
      const before = sent.filter((e) => e.answeredAt < j.joinedAt).filter((e) => times.has(e.name)).length;
      console.log(`${j.name}: played all ${afterJoin.length} broadcasts fired after its join once; ${before} from before it`);
    }
  });

  it('two polling pupils broadcast at once: the count meshd cannot save', async () => {
    // The extension's timers, stepped by hand in one order so that the count is exact: in every
    // two-second polling round each pupil polls once and sends two one-broadcast batches, the
    // seed rate of two broadcasts a second in the group, each batch sent right after the other
    // pupil's.
    const host = tab('silent host');
    await host.createGroup('pair', { useWebSocket: false });
    const a = tab('pupil A', { manual: true });
    const b = tab('pupil B', { manual: true });
    await a.joinGroup(host.groupId, host.domain);
    await b.joinGroup(host.groupId, host.domain);
    const rounds = 5;
    for (let r = 1; r <= rounds; r++) {
      await a.pollEvents();
      await b.pollEvents();
      for (const k of [1, 2]) {
        a.fireEvent(`a-${r}-${k}`);
        b.fireEvent(`b-${r}-${k}`);
        await a.processBatchEvents();
        await b.processBatchEvents();
      }
    }
    await a.pollEvents();
    await b.pollEvents();
    const fromB = a.played.filter((x) => x.startsWith('b-'));
    const fromA = b.played.filter((x) => x.startsWith('a-'));
    assert.equal(new Set(fromB).size, fromB.length, 'A played nothing twice');
    assert.equal(new Set(fromA).size, fromA.length, 'B played nothing twice');
    const lost = 4 * rounds - fromA.length - fromB.length;
    console.log(`two polling pupils at the seed rate: ${lost} of ${4 * rounds} broadcasts lost (A played ${fromB.join(',')}; B played ${fromA.join(',') || 'none'})`);
    // A's second batch skips B's first broadcast of the round; each of B's batches skips A's.
    assert.deepEqual(fromB, Array.from({ length: rounds }, (_, i) => `b-${i + 1}-2`));
    assert.deepEqual(fromA, []);
    assert.equal(lost, 3 * rounds);
  });
});
