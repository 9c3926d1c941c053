// Amplify v6 (generateClient from aws-amplify/api, API_KEY auth) against meshd over https:// and
// wss://. Amplify always derives wss:// for its realtime URL and carries the key in a
// `header-<base64url>` subprotocol entry, so this runs against meshd's TLS listener; the test CA
// comes in through NODE_EXTRA_CA_CERTS.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  Inbox, closeSockets, config, isoMillis, nodeId, parsedFrames, requireConfig, sockets, transcript, until, within,
} from './lib/harness.mjs';
import * as D from './lib/documents.mjs';

// The harness sets globalThis.WebSocket before Amplify is loaded.
const { Amplify } = await import('aws-amplify');
const { generateClient } = await import('aws-amplify/api');
const { Hub } = await import('aws-amplify/utils');

/** Expects a rejected client.graphql() and returns the rejection value (Amplify rejects with the response). */
async function rejected(promise, what) {
  try {
    const res = await within(what, promise);
    assert.fail(`${what}: expected an error, got ${JSON.stringify(res)}`);
  } catch (e) {
    if (e?.code === 'ERR_ASSERTION') throw e;
    return e;
  }
}

describe('aws-amplify v6 over https:// and wss://', { timeout: 75000 }, () => {
  const hostId = nodeId();
  const memberId = nodeId();
  let client, domain, group, sub, inbox;
  const acks = [];
  let stopHub;

  before(() => {
    requireConfig('httpsURL', 'apiKey');
    assert.ok(process.env.NODE_EXTRA_CA_CERTS, 'NODE_EXTRA_CA_CERTS must name the test server\'s CA');
    Amplify.configure({
      API: {
        GraphQL: {
          endpoint: config.httpsURL,
          region: config.region,
          defaultAuthMode: 'apiKey',
          apiKey: config.apiKey,
        },
      },
    });
    client = generateClient();
    stopHub = Hub.listen('api', ({ payload }) => {
      if (payload.event === 'Subscription ack') acks.push(payload.data);
    });
  });

  after(async () => {
    sub?.unsubscribe();
    stopHub?.();
    await closeSockets();
  });

  it('createDomain, createGroup and joinGroup over https', async () => {
    const d = await within('createDomain', client.graphql({ query: D.CREATE_DOMAIN }));
    domain = d.data.createDomain;
    assert.match(domain, /^[0-9a-f]{1,8}$/);
    const g = await within('createGroup', client.graphql({ query: D.CREATE_GROUP, variables: { name: hostId, hostId, domain, useWebSocket: true } }));
    group = g.data.createGroup;
    assert.equal(group.domain, domain);
    assert.equal(group.useWebSocket, true);
    const j = await within('joinGroup', client.graphql({ query: D.JOIN_GROUP, variables: { groupId: group.id, domain, nodeId: memberId, useWebSocket: true } }));
    assert.equal(j.data.joinGroup.id, memberId);
  });

  it('subscribes to onMessageInGroup on wss://…/graphql/realtime with the header-… subprotocol', async () => {
    inbox = new Inbox('amplify subscriber');
    sub = client.graphql({ query: D.ON_MESSAGE_IN_GROUP, variables: { groupId: group.id, domain } }).subscribe(inbox.observer());
    await until('Amplify\'s "Subscription ack" hub event', () => inbox.errors.length || acks.some((a) => a?.variables?.groupId === group.id));
    assert.deepEqual(inbox.errors, [], transcript());
    const ws = sockets.at(-1);
    const url = new URL(ws.tap.url);
    assert.equal(url.protocol, 'wss:');
    assert.equal(url.host, new URL(config.httpsURL).host);
    assert.equal(url.pathname, '/graphql/realtime');
    assert.ok(Array.isArray(ws.tap.offered) && ws.tap.offered[0] === 'graphql-ws' && ws.tap.offered[1].startsWith('header-'),
      `offered subprotocols: ${JSON.stringify(ws.tap.offered)}`);
    const header = JSON.parse(Buffer.from(ws.tap.offered[1].slice('header-'.length), 'base64url').toString());
    assert.equal(header['x-api-key'], config.apiKey);
    assert.equal(header.host, url.host);
    assert.equal(ws.tap.selected, 'graphql-ws', 'the server must select graphql-ws, never echo header-…');
  });

  it('a mutation through client.graphql reaches the subscriber', async () => {
    const data = [{ key: 'temperature', value: '23.5' }, { key: 'へや', value: 'りか室' }];
    const res = await within('reportDataByNode', client.graphql({ query: D.REPORT_DATA, variables: { groupId: group.id, domain, nodeId: memberId, data } }));
    assert.equal(res.data.reportDataByNode.nodeStatus.nodeId, memberId);
    const v = await inbox.take('nodeStatus', (x) => x?.data?.onMessageInGroup?.nodeStatus);
    const m = v.data.onMessageInGroup;
    assert.equal(m.groupId, group.id);
    assert.equal(m.domain, domain);
    assert.equal(m.batchEvent, null);
    assert.equal(m.groupDissolve, null);
    assert.equal(m.nodeStatus.nodeId, memberId);
    assert.deepEqual(m.nodeStatus.data, data);
    assert.match(m.nodeStatus.timestamp, isoMillis);
  });

  it('GroupNotFound is visible in the rejected result\'s errors[0].errorType', async () => {
    const res = await rejected(client.graphql({ query: D.JOIN_GROUP, variables: { groupId: 'no-such-group', domain, nodeId: memberId, useWebSocket: true } }), 'joinGroup of an unknown group');
    assert.ok(Array.isArray(res?.errors), `rejection carries errors: ${JSON.stringify(res)}`);
    assert.equal(res.errors[0].errorType, 'GroupNotFound', JSON.stringify(res.errors[0]));
    assert.match(res.errors[0].message.toLowerCase(), /not found/);
  });

  it('dissolveGroup reaches the subscriber', async () => {
    await within('dissolveGroup', client.graphql({ query: D.DISSOLVE_GROUP, variables: { groupId: group.id, domain, hostId } }));
    const v = await inbox.take('groupDissolve', (x) => x?.data?.onMessageInGroup?.groupDissolve);
    assert.match(v.data.onMessageInGroup.groupDissolve.message, /dissolved/);
    assert.deepEqual(inbox.errors, []);
  });

  it('unsubscribing sends stop and meshd answers complete', async () => {
    const ws = sockets.findLast((w) => w.tap.frames.some((f) => f.dir === 'out' && f.data.includes('"start"')));
    sub.unsubscribe();
    sub = undefined;
    const stop = await until('stop', () => parsedFrames(ws, 'out').find((f) => f.type === 'stop'));
    await until(`complete for ${stop.id}`, () => parsedFrames(ws).some((f) => f.type === 'complete' && f.id === stop.id));
  });
});
