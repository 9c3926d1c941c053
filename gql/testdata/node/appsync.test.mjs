// The real editor's SDK, aws-appsync 4.1.10 (aws-appsync-subscription-link 2.4.3,
// aws-appsync-auth-link 2.0.8), against meshd over plain http:// and ws://, configured exactly as
// the newest editor configures it: API_KEY auth, disableOffline, one client (= one socket) per node.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  Inbox, closeSockets, config, describe as describeErr, isoMillis, nodeId, parsedFrames,
  requireConfig, sockets, transcript, until, within,
} from './lib/harness.mjs';
import * as D from './lib/documents.mjs';

// The harness sets globalThis.WebSocket before the SDK is loaded.
const { default: appsync } = await import('aws-appsync');
const { default: gqlTag } = await import('graphql-tag');
const AWSAppSyncClient = appsync.default;
const { AUTH_TYPE } = appsync;
const { createSubscriptionHandshakeLink } = await import('aws-appsync-subscription-link');
const { execute } = await import('apollo-link');

const doc = Object.fromEntries(Object.entries(D).filter(([, v]) => typeof v === 'string').map(([k, v]) => [k, gqlTag(v)]));
// The seed-generation (G1) editor's three subscriptions, which it opens together on one socket.
const G1 = {
  data: gqlTag(D.document('g1_OnDataUpdateInGroup')),
  batch: gqlTag(D.document('g1_OnBatchEventInGroup')),
  dissolve: gqlTag(D.document('g1_OnGroupDissolve')),
};

function newClient() {
  return new AWSAppSyncClient({
    url: config.httpURL,
    region: config.region,
    auth: { type: AUTH_TYPE.API_KEY, apiKey: config.apiKey },
    disableOffline: true,
  });
}

const mutate = (client, mutation, variables, what) =>
  within(what, client.mutate({ mutation: doc[mutation], variables }));
const query = (client, q, variables, what) =>
  within(what, client.query({ query: doc[q], variables, fetchPolicy: 'network-only' }));

/** Expects a rejected mutation and returns its first GraphQL error. */
async function rejected(promise, what) {
  let err;
  try {
    const res = await within(what, promise);
    assert.fail(`${what}: expected an error, got ${JSON.stringify(res)}`);
  } catch (e) {
    err = e;
  }
  if (err.code === 'ERR_ASSERTION') throw err;
  assert.ok(err.graphQLErrors?.length, `${what}: expected GraphQL errors, got ${describeErr(err)}`);
  return err.graphQLErrors[0];
}

/** Counts start_ack frames over every socket. */
const startAcks = () => sockets.reduce((n, ws) => n + parsedFrames(ws).filter((f) => f.type === 'start_ack').length, 0);

/**
 * Subscribes like the editor does, and waits (bounded) until the server acknowledged the start,
 * so that later mutations are certainly delivered. Returns the inbox and the subscription.
 */
async function subscribe(client, name, variables) {
  const inbox = new Inbox(name);
  const before = startAcks();
  const sub = client.subscribe({ query: doc.ON_MESSAGE_IN_GROUP, variables }).subscribe(inbox.observer());
  await until(`${name}: start_ack`, () => inbox.errors.length || startAcks() > before);
  assert.equal(inbox.errors.length, 0, `${name}: subscription failed: ${describeErr(inbox.errors[0])}\n${transcript()}`);
  return { inbox, sub };
}

const onMessage = (v) => v?.data?.onMessageInGroup;

describe('aws-appsync 4.1.10 (the editor SDK) over http:// and ws://', { timeout: 75000 }, () => {
  const hostId = nodeId();
  const memberId = nodeId();
  let host, member, g1, domain, group, hostSub, memberSub;
  let g1Subs; // { data, batch, dissolve }: { inbox, sub }

  before(() => {
    requireConfig('httpURL', 'apiKey');
    host = newClient();
    member = newClient();
    g1 = newClient();
  });

  after(async () => {
    hostSub?.sub.unsubscribe();
    memberSub?.sub.unsubscribe();
    for (const s of Object.values(g1Subs ?? {})) s.sub.unsubscribe();
    await closeSockets();
  });

  it('createDomain', async () => {
    const { data } = await mutate(host, 'CREATE_DOMAIN', {}, 'createDomain');
    domain = data.createDomain;
    assert.match(domain, /^[0-9a-f]{1,8}$/);
  });

  it('createGroup with useWebSocket', async () => {
    const { data } = await mutate(host, 'CREATE_GROUP', { name: hostId, hostId, domain, useWebSocket: true }, 'createGroup');
    group = data.createGroup;
    assert.equal(group.__typename, 'Group', 'Apollo adds __typename to every selection set');
    assert.ok(group.id);
    assert.equal(group.domain, domain);
    assert.equal(group.fullId, `${group.id}@${domain}`);
    assert.equal(group.name, hostId);
    assert.equal(group.hostId, hostId);
    assert.match(group.expiresAt, isoMillis);
    assert.equal(group.useWebSocket, true);
    assert.equal(typeof group.heartbeatIntervalSeconds, 'number');
  });

  it('host subscribes to onMessageInGroup on /graphql/realtime with the key in the header parameter', async () => {
    hostSub = await subscribe(host, 'host', { groupId: group.id, domain });
    const ws = sockets.at(-1);
    const url = new URL(ws.tap.url);
    assert.equal(url.protocol, 'ws:');
    assert.equal(url.pathname, '/graphql/realtime');
    assert.equal(url.searchParams.get('payload'), 'e30=');
    // The SDK puts standard base64 (with '+' and '/') into the query string unescaped; the Go
    // test's API key makes sure both characters occur.
    const rawHeader = /[?&]header=([^&]*)/.exec(url.search)?.[1];
    assert.ok(rawHeader, 'header query parameter');
    assert.match(rawHeader, /\+/, 'the raw header parameter contains a +');
    assert.match(rawHeader, /\//, 'the raw header parameter contains a /');
    assert.equal(JSON.parse(Buffer.from(rawHeader, 'base64').toString())['x-api-key'], config.apiKey);
    assert.equal(ws.tap.selected, 'graphql-ws', 'selected subprotocol');
    // What went over the wire is the editor's document as Apollo rewrites it (__typename added);
    // gql/testdata/documents keeps that form next to the original.
    const start = parsedFrames(ws, 'out').find((f) => f.type === 'start');
    const sent = JSON.parse(start.payload.data);
    assert.equal(sent.query.trim(), D.wire('OnMessageInGroup').trim(), 'the start frame carries the document as Apollo prints it');
    assert.deepEqual(sent.variables, { groupId: group.id, domain });
    assert.ok(start.payload.extensions?.authorization?.['x-api-key'] === config.apiKey, `start carries the key: ${JSON.stringify(start.payload.extensions)}`);
    const ack = parsedFrames(ws).find((f) => f.type === 'connection_ack');
    assert.equal(typeof ack?.payload?.connectionTimeoutMs, 'number', `connection_ack carries connectionTimeoutMs: ${JSON.stringify(ack)}`);
  });

  it('member joins and subscribes on a socket of its own', async () => {
    const { data } = await mutate(member, 'JOIN_GROUP', { groupId: group.id, domain, nodeId: memberId, useWebSocket: true }, 'joinGroup');
    const node = data.joinGroup;
    assert.equal(node.__typename, 'Node');
    assert.equal(node.id, memberId);
    assert.equal(node.groupId, group.id);
    assert.equal(node.domain, domain);
    assert.equal(node.useWebSocket, true, 'the editor falls back to polling when useWebSocket is missing');
    assert.equal(Date.parse(node.expiresAt), Date.parse(group.expiresAt));
    const socketsBefore = sockets.length;
    memberSub = await subscribe(member, 'member', { groupId: group.id, domain });
    assert.equal(sockets.length, socketsBefore + 1, 'a second client opens a second socket');
  });

  it('a G1 editor opens its three subscriptions at once on one socket', async () => {
    const before = startAcks();
    const socketsBefore = sockets.length;
    g1Subs = {};
    for (const [kind, query] of Object.entries(G1)) {
      const inbox = new Inbox(`G1 ${kind}`);
      g1Subs[kind] = { inbox, sub: g1.subscribe({ query, variables: { groupId: group.id, domain } }).subscribe(inbox.observer()) };
    }
    await until('three start_acks', () => Object.values(g1Subs).some((s) => s.inbox.errors.length) || startAcks() >= before + 3);
    for (const { inbox } of Object.values(g1Subs)) assert.deepEqual(inbox.errors, [], transcript());
    assert.equal(sockets.length, socketsBefore + 1, 'one socket for the three subscriptions');
    const ids = parsedFrames(sockets.at(-1), 'out').filter((f) => f.type === 'start').map((f) => f.id);
    assert.equal(new Set(ids).size, 3);
  });

  it('reportDataByNode reaches both subscribers, the sender included', async () => {
    const data = [{ key: 'score', value: '12' }, { key: 'なまえ', value: 'すずき🍣' }];
    const res = await mutate(member, 'REPORT_DATA', { groupId: group.id, domain, nodeId: memberId, data }, 'reportDataByNode');
    assert.equal(res.data.reportDataByNode.__typename, 'MeshMessage');
    assert.equal(res.data.reportDataByNode.nodeStatus.nodeId, memberId);
    for (const { inbox } of [hostSub, memberSub]) {
      const v = await inbox.take('nodeStatus from the member', (x) => onMessage(x)?.nodeStatus);
      const m = onMessage(v);
      assert.equal(m.__typename, 'MeshMessage');
      assert.equal(m.groupId, group.id);
      assert.equal(m.domain, domain);
      assert.equal(m.batchEvent, null);
      assert.equal(m.groupDissolve, null);
      assert.equal(m.nodeStatus.__typename, 'NodeStatus');
      assert.equal(m.nodeStatus.nodeId, memberId);
      assert.equal(m.nodeStatus.groupId, group.id);
      assert.equal(m.nodeStatus.domain, domain);
      assert.deepEqual(m.nodeStatus.data.map(({ key, value }) => ({ key, value })), data);
      assert.match(m.nodeStatus.timestamp, isoMillis);
    }
    const g1v = (await g1Subs.data.inbox.take('G1 onDataUpdateInGroup')).data.onDataUpdateInGroup;
    assert.equal(g1v.__typename, 'NodeStatus');
    assert.equal(g1v.nodeId, memberId);
    assert.deepEqual(g1v.data.map(({ key, value }) => ({ key, value })), data);
  });

  it('fireEventsByNode with orderKey reaches both subscribers in order', async () => {
    const firedAt = new Date().toISOString();
    const events = [
      { eventName: 'start', payload: '', firedAt, orderKey: '00000001' },
      { eventName: 'move', payload: '10', firedAt, orderKey: '00000002' },
      { eventName: 'ゴール', payload: 'はい', firedAt, orderKey: '00000003' },
    ];
    const res = await mutate(host, 'FIRE_EVENTS', { groupId: group.id, domain, nodeId: hostId, events }, 'fireEventsByNode');
    assert.equal(res.data.fireEventsByNode.batchEvent.events.length, 3);
    for (const { inbox } of [hostSub, memberSub]) {
      const v = await inbox.take('batchEvent from the host', (x) => onMessage(x)?.batchEvent);
      const b = onMessage(v).batchEvent;
      assert.equal(onMessage(v).nodeStatus, null);
      assert.equal(b.__typename, 'BatchEvent');
      assert.equal(b.firedByNodeId, hostId);
      assert.equal(b.groupId, group.id);
      assert.equal(b.domain, domain);
      assert.match(b.timestamp, isoMillis);
      assert.deepEqual(b.events.map((e) => e.name), ['start', 'move', 'ゴール']);
      assert.deepEqual(b.events.map((e) => e.orderKey), ['00000001', '00000002', '00000003']);
      assert.deepEqual(b.events.map((e) => e.payload), [null, '10', 'はい'], 'an empty payload becomes null');
      for (const e of b.events) {
        assert.equal(e.__typename, 'Event');
        assert.equal(e.firedByNodeId, hostId);
        assert.equal(e.timestamp, firedAt);
      }
    }
    const g1b = (await g1Subs.batch.inbox.take('G1 onBatchEventInGroup')).data.onBatchEventInGroup;
    assert.equal(g1b.__typename, 'BatchEvent');
    assert.equal(g1b.firedByNodeId, hostId);
    assert.deepEqual(g1b.events.map((e) => e.name), ['start', 'move', 'ゴール']);
  });

  it('listGroupStatuses', async () => {
    const { data } = await query(member, 'LIST_GROUP_STATUSES', { groupId: group.id, domain }, 'listGroupStatuses');
    const mine = data.listGroupStatuses.find((s) => s.nodeId === memberId);
    assert.ok(mine, `member status listed: ${JSON.stringify(data)}`);
    assert.equal(mine.__typename, 'NodeStatus');
    assert.deepEqual(mine.data.map((d) => d.key), ['score', 'なまえ']);
  });

  it('renewHeartbeat by the host', async () => {
    const { data } = await mutate(host, 'RENEW_HEARTBEAT', { groupId: group.id, domain, hostId }, 'renewHeartbeat');
    const hb = data.renewHeartbeat;
    assert.equal(hb.__typename, 'HeartbeatPayload');
    assert.equal(hb.groupId, group.id);
    assert.equal(hb.expiresAt, group.expiresAt);
    assert.equal(typeof hb.heartbeatIntervalSeconds, 'number');
  });

  it('sendMemberHeartbeat by the member', async () => {
    const { data } = await mutate(member, 'SEND_MEMBER_HEARTBEAT', { groupId: group.id, domain, nodeId: memberId }, 'sendMemberHeartbeat');
    const hb = data.sendMemberHeartbeat;
    assert.equal(hb.__typename, 'MemberHeartbeatPayload');
    assert.equal(hb.nodeId, memberId);
    assert.match(hb.expiresAt, isoMillis);
    assert.equal(typeof hb.heartbeatIntervalSeconds, 'number');
  });

  it('recordEventsByNode, then pollGroupData', async () => {
    const firedAt = new Date().toISOString();
    const events = [
      { eventName: 'polled-1', payload: 'a', firedAt, orderKey: '00000010' },
      { eventName: 'polled-2', payload: '', firedAt, orderKey: '00000011' },
    ];
    const { data } = await mutate(member, 'RECORD_EVENTS', { groupId: group.id, domain, nodeId: memberId, events }, 'recordEventsByNode');
    const rec = data.recordEventsByNode;
    assert.equal(rec.__typename, 'RecordEventsPayload');
    assert.equal(rec.recordedCount, 2);
    assert.match(rec.nextSince, /^EVENT#/);

    const poll = await query(member, 'POLL_GROUP_DATA', { groupId: group.id, domain, since: '' }, 'pollGroupData');
    const { events: got, nodeStatuses } = poll.data.pollGroupData;
    const recorded = got.filter((e) => e.name.startsWith('polled-'));
    assert.deepEqual(recorded.map((e) => e.name), ['polled-1', 'polled-2'], `polled events: ${JSON.stringify(got)}`);
    assert.deepEqual(recorded.map((e) => e.orderKey), ['00000010', '00000011']);
    assert.equal(got.at(-1).cursor, rec.nextSince, 'nextSince is the last stored event\'s cursor');
    for (const e of got) {
      assert.equal(e.__typename, 'Event');
      assert.match(e.cursor, /^EVENT#/);
    }
    assert.ok(nodeStatuses.some((s) => s.nodeId === memberId), 'pollGroupData carries the statuses');

    const again = await query(member, 'POLL_GROUP_DATA', { groupId: group.id, domain, since: rec.nextSince }, 'pollGroupData since nextSince');
    assert.deepEqual(again.data.pollGroupData.events, []);
  });

  it('renewHeartbeat by a non-host rejects with errorType Unauthorized', async () => {
    const e = await rejected(member.mutate({ mutation: doc.RENEW_HEARTBEAT, variables: { groupId: group.id, domain, hostId: memberId } }), 'renewHeartbeat by a member');
    assert.equal(e.errorType, 'Unauthorized', JSON.stringify(e));
    assert.match(e.message, /Only the host/);
  });

  it('joinGroup of an unknown group rejects with errorType GroupNotFound', async () => {
    const e = await rejected(member.mutate({ mutation: doc.JOIN_GROUP, variables: { groupId: 'no-such-group', domain, nodeId: memberId, useWebSocket: true } }), 'joinGroup of an unknown group');
    assert.equal(e.errorType, 'GroupNotFound', JSON.stringify(e));
    assert.match(e.message.toLowerCase(), /not found/);
  });

  it('dissolveGroup reaches both subscribers', async () => {
    const { data } = await mutate(host, 'DISSOLVE_GROUP', { groupId: group.id, domain, hostId }, 'dissolveGroup');
    assert.match(data.dissolveGroup.groupDissolve.message, /dissolved/);
    for (const { inbox } of [hostSub, memberSub]) {
      const v = await inbox.take('groupDissolve', (x) => onMessage(x)?.groupDissolve);
      const m = onMessage(v);
      assert.equal(m.nodeStatus, null);
      assert.equal(m.batchEvent, null);
      assert.equal(m.groupDissolve.__typename, 'GroupDissolvePayload');
      assert.equal(m.groupDissolve.groupId, group.id);
      assert.equal(m.groupDissolve.domain, domain);
      assert.match(m.groupDissolve.message, /dissolved/);
    }
    const g1d = (await g1Subs.dissolve.inbox.take('G1 onGroupDissolve')).data.onGroupDissolve;
    assert.equal(g1d.__typename, 'GroupDissolvePayload');
    assert.equal(g1d.groupId, group.id);
    assert.match(g1d.message, /dissolved/);
  });

  it('no subscriber received a message twice or an error', () => {
    for (const { inbox } of [hostSub, memberSub]) {
      assert.deepEqual(inbox.errors, []);
      const kinds = inbox.values.map((v) => {
        const m = onMessage(v);
        return m?.nodeStatus ? 'data' : m?.batchEvent ? `batch:${m.batchEvent.events.map((e) => e.name).join(',')}` : m?.groupDissolve ? 'dissolve' : JSON.stringify(v);
      });
      // meshd publishes recordEventsByNode to WebSocket subscribers too (spec §8.11).
      assert.deepEqual(kinds, ['data', 'batch:start,move,ゴール', 'batch:polled-1,polled-2', 'dissolve'], inbox.name);
    }
    const counts = Object.fromEntries(Object.entries(g1Subs).map(([k, { inbox }]) => [k, [inbox.values.length, inbox.errors.length]]));
    assert.deepEqual(counts, { data: [1, 0], batch: [2, 0], dissolve: [1, 0] }, 'G1 subscriptions: [messages, errors]');
  });

  it('a wrong key on the realtime socket: connection_error 401, which the subscription link does not retry', async () => {
    // AWSAppSyncClient wraps the subscription link in its retry link, which retries a failed
    // subscription for minutes (2^n·100 ms) whatever the server says, and its '@@skipRetry'
    // escape does not work in 4.1.10 (the variable is stripped before the retry link reads it).
    // What meshd decides is whether the subscription link itself gives up: it must after a
    // connection_error whose errorCode is the number 400, 401 or 403. So this drives the real
    // aws-appsync-subscription-link 2.4.3 directly, through Apollo's execute().
    const link = createSubscriptionHandshakeLink({
      url: config.httpURL,
      region: config.region,
      auth: { type: AUTH_TYPE.API_KEY, apiKey: 'da2-not-the-key' },
    });
    const inbox = new Inbox('wrong-key subscriber');
    const before = sockets.length;
    const sub = execute(link, { query: doc.ON_MESSAGE_IN_GROUP, variables: { groupId: group.id, domain } }).subscribe(inbox.observer());
    try {
      await until('the subscription to fail', () => inbox.errors.length);
      const opened = sockets.slice(before);
      assert.equal(opened.length, 1, `errorCode 401 is not retried: one socket only\n${transcript()}`);
      const err = parsedFrames(opened[0]).find((f) => f.type === 'connection_error');
      assert.ok(err, `connection_error frame\n${transcript()}`);
      assert.equal(err.payload.errors[0].errorType, 'UnauthorizedException');
      assert.equal(err.payload.errors[0].errorCode, 401, 'a number: the SDK compares with indexOf');
      assert.match(describeErr(inbox.errors[0]), /UnauthorizedException/);
      await until('the refused socket to close', () => opened[0].tap.closed);
      assert.ok(!parsedFrames(opened[0], 'out').some((f) => f.type === 'start'), 'no start after a refused connection_init');
    } finally {
      sub.unsubscribe();
    }
  });

  it('a start that fails validation gets an error frame the subscription link reports', async () => {
    const link = createSubscriptionHandshakeLink({
      url: config.httpURL,
      region: config.region,
      auth: { type: AUTH_TYPE.API_KEY, apiKey: config.apiKey },
    });
    const bad = gqlTag(`subscription Bad($groupId: ID!, $domain: String!) {
      onMessageInGroup(groupId: $groupId, domain: $domain) { groupId nodeStatus { nodeId createdAt } }
    }`);
    const inbox = new Inbox('invalid subscriber');
    const before = sockets.length;
    const sub = execute(link, { query: bad, variables: { groupId: group.id, domain } }).subscribe(inbox.observer());
    try {
      await until('the subscription to fail', () => inbox.errors.length);
      const ws = sockets.at(-1);
      assert.equal(sockets.length, before + 1);
      const start = parsedFrames(ws, 'out').find((f) => f.type === 'start');
      const err = parsedFrames(ws).find((f) => f.type === 'error');
      assert.ok(start && err, `start and error frames\n${transcript()}`);
      assert.equal(err.id, start.id);
      assert.match(err.payload.errors[0].message, /^Validation error/);
      assert.match(describeErr(inbox.errors[0]), /Validation error/);
    } finally {
      sub.unsubscribe();
    }
  });

  it('unsubscribing sends stop, meshd answers complete, and the SDK closes its sockets with 1000', async () => {
    const mine = sockets.filter((ws) => parsedFrames(ws).some((f) => f.type === 'start_ack'));
    assert.equal(mine.length, 3);
    hostSub.sub.unsubscribe();
    memberSub.sub.unsubscribe();
    for (const s of Object.values(g1Subs)) s.sub.unsubscribe();
    for (const ws of mine) {
      const starts = parsedFrames(ws, 'out').filter((f) => f.type === 'start').map((f) => f.id);
      for (const id of starts) {
        await until(`socket #${ws.tap.n}: stop ${id}`, () => parsedFrames(ws, 'out').some((f) => f.type === 'stop' && f.id === id));
        await until(`socket #${ws.tap.n}: complete for ${id}`, () => parsedFrames(ws).some((f) => f.type === 'complete' && f.id === id));
      }
      await until(`socket #${ws.tap.n}: closed by the SDK`, () => ws.tap.closed);
      assert.equal(ws.tap.closed.code, 1000, JSON.stringify(ws.tap.closed));
    }
    hostSub = memberSub = g1Subs = undefined;
  });

  it('meshd sent only frame types the SDK knows', () => {
    const known = new Set(['connection_ack', 'connection_error', 'ka', 'start_ack', 'data', 'error', 'complete']);
    for (const ws of sockets) {
      const kinds = parsedFrames(ws).map((f) => f.type);
      assert.deepEqual(kinds.filter((k) => !known.has(k)), [], `socket #${ws.tap.n}: ${kinds.join(' ')}`);
      assert.ok(['connection_ack', 'connection_error'].includes(kinds[0]), `socket #${ws.tap.n} starts with connection_ack or connection_error: ${kinds.join(' ')}`);
      if (kinds[0] === 'connection_ack') {
        // The SDK's keep-alive watchdog starts at the first ka; meshd sends one right after the ack.
        assert.equal(kinds[1], 'ka', `socket #${ws.tap.n}: ${kinds.join(' ')}`);
      }
    }
  });
});
