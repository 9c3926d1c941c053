// The real editor's SDK, aws-appsync 4.1.10, against a meshd cluster of three processes: the
// host talks to node A only, one member to node B only, another to node C only — over HTTP and
// over each node's own WebSocket. Run by gql/cluster_realclient_test.go (go test ./gql -run TestRealClientAcrossClusterNodes).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Inbox, closeSockets, describe as describeErr, nodeId, parsedFrames, sockets, transcript, until, within } from './lib/harness.mjs';
import * as D from './lib/documents.mjs';

const { default: appsync } = await import('aws-appsync');
const { default: gqlTag } = await import('graphql-tag');
const AWSAppSyncClient = appsync.default;
const { AUTH_TYPE } = appsync;

const doc = Object.fromEntries(Object.entries(D).filter(([, v]) => typeof v === 'string').map(([k, v]) => [k, gqlTag(v)]));
const urls = (process.env.MESHD_CLUSTER_URLS ?? '').split(',').filter(Boolean);
const apiKey = process.env.MESHD_API_KEY ?? '';

const newClient = (url) => new AWSAppSyncClient({
  url, region: 'ap-northeast-1', auth: { type: AUTH_TYPE.API_KEY, apiKey }, disableOffline: true,
});
const mutate = (client, m, variables, what) => within(what, client.mutate({ mutation: doc[m], variables }));
const query = (client, q, variables, what) => within(what, client.query({ query: doc[q], variables, fetchPolicy: 'network-only' }));
const startAcks = () => sockets.reduce((n, ws) => n + parsedFrames(ws).filter((f) => f.type === 'start_ack').length, 0);
const onMessage = (v) => v?.data?.onMessageInGroup;

async function subscribe(client, name, variables) {
  const inbox = new Inbox(name);
  const before = startAcks();
  const sub = client.subscribe({ query: doc.ON_MESSAGE_IN_GROUP, variables }).subscribe(inbox.observer());
  await until(`${name}: start_ack`, () => inbox.errors.length || startAcks() > before);
  assert.equal(inbox.errors.length, 0, `${name}: subscription failed: ${describeErr(inbox.errors[0])}\n${transcript()}`);
  return { inbox, sub };
}

describe('aws-appsync 4.1.10 across a 3-node cluster: host on A, members on B and C', { timeout: 75000 }, () => {
  const hostId = nodeId();
  const m1 = nodeId();
  const m2 = nodeId();
  let host, b, c, domain, group;
  const subs = {};

  before(() => {
    assert.equal(urls.length, 3, 'MESHD_CLUSTER_URLS names three nodes: run through "go test ./gql -run TestRealClientAcrossClusterNodes"');
    host = newClient(urls[0]);
    b = newClient(urls[1]);
    c = newClient(urls[2]);
  });

  after(async () => {
    for (const s of Object.values(subs)) s.sub.unsubscribe();
    await closeSockets();
  });

  it('every node gives the same domain', async () => {
    const got = [];
    for (const client of [host, b, c]) got.push((await mutate(client, 'CREATE_DOMAIN', {}, 'createDomain')).data.createDomain);
    assert.equal(new Set(got).size, 1, `domains ${got}`);
    domain = got[0];
  });

  it('the host creates the group on A and subscribes there', async () => {
    group = (await mutate(host, 'CREATE_GROUP', { name: hostId, hostId, domain, useWebSocket: true }, 'createGroup')).data.createGroup;
    subs.host = await subscribe(host, 'host on A', { groupId: group.id, domain });
    assert.match(sockets.at(-1).tap.url, new RegExp(`^ws://${new URL(urls[0]).host}/`));
  });

  it('members join through B and C right away and subscribe there', async () => {
    const j1 = (await mutate(b, 'JOIN_GROUP', { groupId: group.id, domain, nodeId: m1, useWebSocket: true }, 'joinGroup on B')).data.joinGroup;
    assert.equal(j1.groupId, group.id);
    subs.m1 = await subscribe(b, 'member on B', { groupId: group.id, domain });
    assert.match(sockets.at(-1).tap.url, new RegExp(`^ws://${new URL(urls[1]).host}/`));
    const j2 = (await mutate(c, 'JOIN_GROUP', { groupId: group.id, domain, nodeId: m2, useWebSocket: true }, 'joinGroup on C')).data.joinGroup;
    assert.equal(j2.groupId, group.id);
    subs.m2 = await subscribe(c, 'member on C', { groupId: group.id, domain });
    assert.match(sockets.at(-1).tap.url, new RegExp(`^ws://${new URL(urls[2]).host}/`));
  });

  it('data reported through B reaches the subscribers on A, B and C', async () => {
    const data = [{ key: 'score', value: '7' }, { key: 'なまえ', value: 'さとう' }];
    await mutate(b, 'REPORT_DATA', { groupId: group.id, domain, nodeId: m1, data }, 'reportDataByNode on B');
    for (const s of Object.values(subs)) {
      const m = onMessage(await s.inbox.take('nodeStatus of the member on B', (v) => onMessage(v)?.nodeStatus));
      assert.equal(m.nodeStatus.nodeId, m1);
      assert.deepEqual(m.nodeStatus.data.map(({ key, value }) => ({ key, value })), data);
    }
  });

  it('events fired through C and A reach every subscriber in one order', async () => {
    const firedAt = new Date().toISOString();
    for (let i = 0; i < 6; i++) {
      const [client, who] = i % 2 ? [host, hostId] : [c, m2];
      await mutate(client, 'FIRE_EVENTS', { groupId: group.id, domain, nodeId: who, events: [{ eventName: `e${i}`, payload: String(i), firedAt }] }, `fireEventsByNode ${i}`);
    }
    for (const [name, s] of Object.entries(subs)) {
      const names = [];
      for (let i = 0; i < 6; i++) {
        const m = onMessage(await s.inbox.take(`event ${i}`, (v) => onMessage(v)?.batchEvent));
        names.push(m.batchEvent.events[0].name);
      }
      assert.deepEqual(names, ['e0', 'e1', 'e2', 'e3', 'e4', 'e5'], `${name} received ${names}`);
    }
  });

  it('the host on A lists both members statuses reported elsewhere', async () => {
    await mutate(c, 'REPORT_DATA', { groupId: group.id, domain, nodeId: m2, data: [{ key: 'score', value: '9' }] }, 'reportDataByNode on C');
    const { data } = await query(host, 'LIST_GROUP_STATUSES', { groupId: group.id, domain }, 'listGroupStatuses on A');
    const ids = data.listGroupStatuses.map((s) => s.nodeId).sort();
    assert.deepEqual(ids, [m1, m2].sort());
  });

  it('the host dissolves on A and the members on B and C are told', async () => {
    await mutate(host, 'DISSOLVE_GROUP', { groupId: group.id, domain, hostId }, 'dissolveGroup on A');
    for (const s of [subs.m1, subs.m2, subs.host]) {
      const m = onMessage(await s.inbox.take('groupDissolve', (v) => onMessage(v)?.groupDissolve));
      assert.match(m.groupDissolve.message, /dissolved/);
    }
    const res = await within('joinGroup after dissolve on C', c.mutate({ mutation: doc.JOIN_GROUP, variables: { groupId: group.id, domain, nodeId: nodeId() } }).then(
      () => assert.fail('join after dissolve succeeded'), (e) => e));
    assert.equal(res.graphQLErrors?.[0]?.errorType, 'GroupNotFound', describeErr(res));
  });
});
