// A short lesson for the teacher's console test (cmd/meshd/console_browser_test.go), played by
// the editor's SDK, aws-appsync 4.1.10: a host and two members, each on its own client (= its
// own realtime socket), subscribe to onMessageInGroup, join, report variables and fire events;
// beside it a polling classroom (useWebSocket: false) whose host and member only send mutations.
// It speaks JSON lines: it prints {"ready": …} when the lesson runs, performs {"report": …}
// commands read from stdin (printing {"reported": …}), prints {"dissolved": nodeId, "message": …}
// for every member whose subscription receives the group's dissolve, and exits 0 once every
// member has received it.
import { createInterface } from 'node:readline';

import { Inbox, closeSockets, config, nodeId, parsedFrames, requireConfig, sockets, until, within } from './lib/harness.mjs';
import * as D from './lib/documents.mjs';

const { default: appsync } = await import('aws-appsync');
const { default: gqlTag } = await import('graphql-tag');
const AWSAppSyncClient = appsync.default;
const { AUTH_TYPE } = appsync;

requireConfig('httpURL', 'apiKey');
const doc = Object.fromEntries(Object.entries(D).filter(([, v]) => typeof v === 'string').map(([k, v]) => [k, gqlTag(v)]));
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const newClient = () => new AWSAppSyncClient({
  url: config.httpURL,
  region: config.region,
  auth: { type: AUTH_TYPE.API_KEY, apiKey: config.apiKey },
  disableOffline: true,
});
const mutate = (client, m, variables) => within(m, client.mutate({ mutation: doc[m], variables }));
const startAcks = () => sockets.reduce((n, ws) => n + parsedFrames(ws).filter((f) => f.type === 'start_ack').length, 0);

async function subscribe(client, name, variables) {
  const inbox = new Inbox(name);
  const before = startAcks();
  const sub = client.subscribe({ query: doc.ON_MESSAGE_IN_GROUP, variables }).subscribe(inbox.observer());
  await until(`${name}: start_ack`, () => inbox.errors.length || startAcks() > before);
  if (inbox.errors.length) throw new Error(`${name}: subscription failed: ${inbox.errors[0]}`);
  return { inbox, sub };
}

const hostId = nodeId();
const host = newClient();
const { data: { createDomain: domain } } = await mutate(host, 'CREATE_DOMAIN', {});
const { data: { createGroup: group } } = await mutate(host, 'CREATE_GROUP', { name: hostId, hostId, domain, useWebSocket: true });
const vars = { groupId: group.id, domain };
const hostSub = await subscribe(host, 'host', vars);
await mutate(host, 'REPORT_DATA', { ...vars, nodeId: hostId, data: [{ key: 'stage', value: 'intro' }] });

const members = [];
for (const name of ['m1', 'm2']) {
  const id = nodeId();
  const client = newClient();
  const s = await subscribe(client, name, vars);
  await mutate(client, 'JOIN_GROUP', { ...vars, nodeId: id, useWebSocket: true });
  await mutate(client, 'REPORT_DATA', { ...vars, nodeId: id, data: [{ key: 'score', value: String(members.length * 10) }, { key: 'x', value: '-40' }] });
  await mutate(client, 'FIRE_EVENTS', { ...vars, nodeId: id, events: [{ eventName: `hello from ${name}`, firedAt: new Date().toISOString() }] });
  members.push({ name, id, client, ...s });
}
const pollHostId = nodeId();
const pollMemberId = nodeId();
const pollHost = newClient();
const { data: { createGroup: polling } } = await mutate(pollHost, 'CREATE_GROUP', { name: pollHostId, hostId: pollHostId, domain, useWebSocket: false });
const pollMember = newClient();
await mutate(pollMember, 'JOIN_GROUP', { groupId: polling.id, domain, nodeId: pollMemberId, useWebSocket: false });
await mutate(pollMember, 'REPORT_DATA', { groupId: polling.id, domain, nodeId: pollMemberId, data: [{ key: 'lives', value: '3' }] });
out({ ready: { domain, groupId: group.id, hostId, members: members.map((m) => m.id), pollingGroupId: polling.id, pollingMember: pollMemberId } });

const dissolved = new Set();
const watch = setInterval(() => {
  for (const m of members) {
    const d = m.inbox.values.find((v) => v?.data?.onMessageInGroup?.groupDissolve)?.data.onMessageInGroup.groupDissolve;
    if (d && !dissolved.has(m.id)) {
      dissolved.add(m.id);
      out({ dissolved: m.id, message: d.message });
    }
  }
  if (dissolved.size === members.length) {
    clearInterval(watch);
    for (const s of [hostSub, ...members]) s.sub.unsubscribe();
    closeSockets().then(() => process.exit(0));
  }
}, 20);

for await (const line of createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(line);
  if (cmd.report) {
    const m = members.find((x) => x.id === cmd.report.node);
    // A report carries all of the pupil's variables, as the editor's does.
    m.vars = { ...(m.vars || { x: '-40' }), [cmd.report.key]: cmd.report.value };
    await mutate(m.client, 'REPORT_DATA', { ...vars, nodeId: m.id, data: Object.entries(m.vars).map(([key, value]) => ({ key, value })) });
    out({ reported: cmd.report });
  }
  if (cmd.fire) {
    const m = members.find((x) => x.id === cmd.fire.node);
    await mutate(m.client, 'FIRE_EVENTS', { ...vars, nodeId: m.id, events: [{ eventName: cmd.fire.name, firedAt: new Date().toISOString() }] });
    out({ fired: cmd.fire });
  }
}
