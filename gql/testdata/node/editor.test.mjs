// A prebuilt editor served by `meshd -static`: the endpoint is read out of the bundle meshd
// serves, exactly where the build compiled the AppSync endpoint in, and the editor's SDK
// (aws-appsync 4.1.10, configured as the editor configures it) runs a lesson against it.
// Run from cmd/meshd's TestPrebuiltEditorWithTheRealClient, which starts the real binary.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import vm from 'node:vm';

import { Inbox, closeSockets, describe as describeErr, nodeId, sockets, transcript, until, within } from './lib/harness.mjs';
import * as D from './lib/documents.mjs';

const { default: appsync } = await import('aws-appsync');
const { default: gqlTag } = await import('graphql-tag');
const AWSAppSyncClient = appsync.default;
const { AUTH_TYPE } = appsync;

const bundleURL = process.env.MESHD_EDITOR_BUNDLE_URL ?? '';
const doc = Object.fromEntries(Object.entries(D).filter(([, v]) => typeof v === 'string').map(([k, v]) => [k, gqlTag(v)]));

describe('a prebuilt editor served by meshd -static', { timeout: 60000 }, () => {
  let endpoint, apiKey, host, member, domain, group, hostInbox, hostSub;
  const hostId = nodeId();
  const memberId = nodeId();

  before(() => assert.ok(bundleURL, 'MESHD_EDITOR_BUNDLE_URL: run through go test ./cmd/meshd -run TestPrebuiltEditorWithTheRealClient'));
  after(async () => {
    hostSub?.unsubscribe();
    await closeSockets();
  });

  it('the served bundle carries meshd\'s endpoint where the AWS one was compiled in', async () => {
    const res = await within('the bundle', fetch(bundleURL, { headers: { 'accept-encoding': 'gzip' } }));
    assert.equal(res.status, 200);
    const js = await res.text(); // fetch decodes the gzip meshd sent
    assert.doesNotMatch(js, /appsync-api\.ap-northeast-1\.amazonaws\.com\/graphql'/, 'no AWS endpoint is left');
    // meshd writes an expression the browser evaluates to its page's origin plus /graphql.
    const m = /const GRAPHQL_ENDPOINT=""\|\|(\(self\.location\.origin\+"\/graphql"\))/.exec(js);
    assert.ok(m, 'the compiled-in endpoint literal replaced by the page-origin expression');
    endpoint = vm.runInNewContext(m[1], { self: { location: new URL(bundleURL) } });
    apiKey = /API_KEY=""\|\|"([^"]*)"/.exec(js)[1];
    assert.equal(new URL(endpoint).origin, new URL(bundleURL).origin, 'the endpoint is meshd\'s own origin');
    assert.equal(new URL(endpoint).pathname, '/graphql');
  });

  it('host creates a group and subscribes; the SDK derives /graphql/realtime itself', async () => {
    const client = () => new AWSAppSyncClient({ url: endpoint, region: 'ap-northeast-1', auth: { type: AUTH_TYPE.API_KEY, apiKey }, disableOffline: true });
    host = client();
    member = client();
    domain = (await within('createDomain', host.mutate({ mutation: doc.CREATE_DOMAIN }))).data.createDomain;
    group = (await within('createGroup', host.mutate({ mutation: doc.CREATE_GROUP, variables: { name: hostId, hostId, domain, useWebSocket: true } }))).data.createGroup;
    assert.equal(group.useWebSocket, true);
    hostInbox = new Inbox('host');
    hostSub = host.subscribe({ query: doc.ON_MESSAGE_IN_GROUP, variables: { groupId: group.id, domain } }).subscribe(hostInbox.observer());
    await until('start_ack', () => hostInbox.errors.length || sockets.some((ws) => ws.tap.frames.some((f) => f.dir === 'in' && f.data.includes('"start_ack"'))));
    assert.equal(hostInbox.errors.length, 0, describeErr(hostInbox.errors[0]));
    const url = new URL(sockets.at(-1).tap.url);
    assert.equal(`${url.host}${url.pathname}`, `${new URL(endpoint).host}/graphql/realtime`, transcript());
  });

  it('member joins and reports; the host receives it', async () => {
    const node = (await within('joinGroup', member.mutate({ mutation: doc.JOIN_GROUP, variables: { groupId: group.id, domain, nodeId: memberId, useWebSocket: true } }))).data.joinGroup;
    assert.equal(node.groupId, group.id);
    await within('reportDataByNode', member.mutate({ mutation: doc.REPORT_DATA, variables: { groupId: group.id, domain, nodeId: memberId, data: [{ key: 'score', value: '42' }] } }));
    const m = await hostInbox.take('the member\'s report', (v) => v?.data?.onMessageInGroup?.nodeStatus?.nodeId === memberId);
    assert.deepEqual(m.data.onMessageInGroup.nodeStatus.data.map(({ key, value }) => ({ key, value })), [{ key: 'score', value: '42' }]);
  });
});
