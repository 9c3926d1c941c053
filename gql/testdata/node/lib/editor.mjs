// EditorTab is one browser tab running the Smalruby editor's Mesh v2 extension, reduced to what
// decides what a pupil sees: it drives the real SDK (aws-appsync 4.1.10) with the editor's own
// documents (gql/testdata/documents, g4_*), at the extension's timings, with its position
// handling and its error rules, as read from smalruby/smalruby3-editor
// packages/scratch-vm/src/extensions/scratch3_mesh_v2/ (mesh-service.js, polling-client.js,
// heartbeat-manager.js, subscription-manager.js, event-sender, network-filter.js):
//
// - createGroup/joinGroup take the mode, polling interval, heartbeat interval and expiresAt from
//   the answer; the position (lastFetchTime) is set to the tab's clock before the mutation and
//   cleared again when polling starts, so the first poll sends the tab's clock at that moment.
// - Polling: pollGroupData every pollingIntervalSeconds; the tab's own events are filtered out,
//   the rest queued for playback; the position moves to the last returned event's cursor (its own
//   included). A failed poll is only logged.
// - Broadcasts are queued (no duplicate name+payload while queued, at most 100) and sent every
//   eventBatchMs: fireEventsByNode over WebSocket, recordEventsByNode when polling, after which the
//   position moves to nextSince.
// - Heartbeats: renewHeartbeat (host) or sendMemberHeartbeat (member) every interval the server
//   gave; the host re-arms its connection timer with each renewal; members keep the group's
//   expiresAt from the join. The connection timer leaves (host: dissolves) at expiresAt by the
//   tab's clock.
// - A subscription's nodeStatus updates the other node's variables (latest value per key); its
//   groupDissolve disconnects. An error disconnects only when its errorType is
//   GroupNotFound, Unauthorized or NodeNotFound, or its message says not found, expired or
//   unauthorized (heartbeats, data and event sends; never a poll).
//
// What the extension does not record, the tab records for the tests: every broadcast it plays
// (in order), what made it disconnect (cause: 'dissolve message', 'heartbeat',
// 'connection timer', 'event send', 'data send') and the dissolve message's text.
import { randomUUID } from 'node:crypto';

import { config } from './harness.mjs';
import * as D from './documents.mjs';

const { default: appsync } = await import('aws-appsync');
const { default: gqlTag } = await import('graphql-tag');
const AWSAppSyncClient = appsync.default;
const { AUTH_TYPE } = appsync;

const doc = Object.fromEntries(Object.entries(D).filter(([, v]) => typeof v === 'string').map(([k, v]) => [k, gqlTag(v)]));

/** The error types the extension disconnects on (network-filter.js). */
const DISCONNECT_ERROR_TYPES = new Set(['GroupNotFound', 'Unauthorized', 'NodeNotFound']);

/** The extension's rule: the reason to disconnect for an error, or null to carry on. */
export function disconnectReason(error) {
  const errorType = error?.graphQLErrors?.[0]?.errorType;
  if (DISCONNECT_ERROR_TYPES.has(errorType)) return errorType;
  const message = String(error?.message ?? '').toLowerCase();
  if (['not found', 'expired', 'unauthorized'].some((w) => message.includes(w))) return 'expired';
  return null;
}

export class EditorTab {
  /**
   * @param {string} name for messages
   * @param {object} options
   *   skewMs: how far the tab's clock is from the real one (the PC's clock)
   *   eventBatchMs: the extension's MESH_EVENT_BATCH_INTERVAL_MS (default 1000)
   *   manual: start no timers; the test calls pollEvents() and processBatchEvents() itself
   */
  constructor(name, { skewMs = 0, eventBatchMs = 1000, manual = false } = {}) {
    this.name = name;
    // The extension's node id: a UUID v4 without its dashes, new on every load of the editor.
    this.meshId = randomUUID().replaceAll('-', '');
    this.skewMs = skewMs;
    this.eventBatchMs = eventBatchMs;
    this.manual = manual;
    this.client = new AWSAppSyncClient({
      url: config.httpURL,
      region: config.region,
      auth: { type: AUTH_TYPE.API_KEY, apiKey: config.apiKey },
      disableOffline: true,
    });
    this.domain = null;
    this.groupId = null;
    this.expiresAt = null;
    this.isHost = false;
    this.useWebSocket = true;
    this.pollingIntervalSeconds = 2;
    this.hostHeartbeatInterval = 60;
    this.memberHeartbeatInterval = 120;
    this.lastFetchTime = '';
    this.eventQueue = [];
    this.eventSequence = 0;
    this.timers = new Set();
    this.subscriptions = [];
    // Observations for the tests.
    this.played = [];
    this.remoteData = {};
    this.sent = [];
    this.polls = 0;
    this.disconnected = null; // { reason, cause, at }
    this.log = [];
  }

  /** The tab's clock: Date.now() of a PC whose clock is skewMs off. */
  now() { return Date.now() + this.skewMs; }
  iso() { return new Date(this.now()).toISOString(); }

  get connected() { return this.groupId !== null; }

  note(line) { this.log.push(`${new Date().toISOString()} ${line}`); }

  every(ms, fn) {
    const t = setInterval(fn, ms);
    t.unref?.();
    this.timers.add(t);
    return t;
  }

  after(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    this.timers.add(t);
    return t;
  }

  async createDomain() {
    const res = await this.client.mutate({ mutation: doc.CREATE_DOMAIN });
    this.domain = res.data.createDomain;
    return this.domain;
  }

  /** The host creates its group (maxConnectionTimeSeconds only to let a test's group expire soon). */
  async createGroup(groupName, { useWebSocket, maxConnectionTimeSeconds } = {}) {
    if (!this.domain) await this.createDomain();
    this.lastFetchTime = this.iso();
    this.eventSequence = 0;
    const res = await this.client.mutate({
      mutation: doc.CREATE_GROUP,
      variables: { name: groupName, hostId: this.meshId, domain: this.domain, useWebSocket, maxConnectionTimeSeconds },
    });
    const g = res.data.createGroup;
    this.groupId = g.id;
    this.domain = g.domain;
    this.expiresAt = g.expiresAt;
    this.useWebSocket = g.useWebSocket;
    if (g.pollingIntervalSeconds) this.pollingIntervalSeconds = g.pollingIntervalSeconds;
    this.isHost = true;
    if (g.heartbeatIntervalSeconds) this.hostHeartbeatInterval = g.heartbeatIntervalSeconds;
    this.start();
    await this.sendData([{ key: 'score', value: '0' }]);
    return g;
  }

  /** A pupil joins a group. */
  async joinGroup(groupId, domain) {
    this.lastFetchTime = this.iso();
    this.eventSequence = 0;
    const res = await this.client.mutate({
      mutation: doc.JOIN_GROUP,
      variables: { groupId, domain, nodeId: this.meshId, useWebSocket: this.useWebSocket },
    });
    const node = res.data.joinGroup;
    this.groupId = groupId;
    this.domain = node.domain;
    this.expiresAt = node.expiresAt;
    this.useWebSocket = node.useWebSocket;
    if (node.pollingIntervalSeconds) this.pollingIntervalSeconds = node.pollingIntervalSeconds;
    this.isHost = false;
    if (node.heartbeatIntervalSeconds) this.memberHeartbeatInterval = node.heartbeatIntervalSeconds;
    this.joinedAt = Date.now();
    this.start();
    await this.sendData([{ key: 'score', value: '0' }]);
    await this.client.query({ query: doc.LIST_GROUP_STATUSES, variables: { groupId, domain: this.domain }, fetchPolicy: 'network-only' })
      .catch((e) => this.note(`listGroupStatuses failed: ${e}`));
    return node;
  }

  start() {
    if (this.useWebSocket) this.startSubscriptions();
    else this.startPolling();
    if (this.manual) return;
    this.startHeartbeat();
    this.every(this.eventBatchMs, () => this.processBatchEvents());
    this.startConnectionTimer();
  }

  startSubscriptions() {
    const sub = this.client.subscribe({ query: doc.ON_MESSAGE_IN_GROUP, variables: { groupId: this.groupId, domain: this.domain } }).subscribe({
      next: (result) => {
        const m = result?.data?.onMessageInGroup;
        if (!m) return;
        if (m.nodeStatus) this.handleDataUpdate(m.nodeStatus);
        else if (m.batchEvent) this.queuePlayback((m.batchEvent.events ?? []).filter((e) => e.firedByNodeId !== this.meshId));
        else if (m.groupDissolve) {
          this.dissolveMessage = m.groupDissolve.message;
          this.cleanupAndDisconnect('unknown', 'dissolve message');
        }
      },
      error: (e) => this.note(`subscription error: ${e}`),
    });
    this.subscriptions.push(sub);
  }

  startPolling() {
    this.lastFetchTime = '';
    if (this.manual) return;
    this.pollTimer = this.every(this.pollingIntervalSeconds * 1000, () => this.pollEvents());
  }

  async pollEvents() {
    if (!this.groupId || this.useWebSocket) return;
    if (!this.lastFetchTime) this.lastFetchTime = this.iso();
    try {
      const res = await this.client.query({
        query: doc.POLL_GROUP_DATA,
        variables: { groupId: this.groupId, domain: this.domain, since: this.lastFetchTime },
        fetchPolicy: 'network-only',
      });
      this.polls += 1;
      const events = res?.data?.pollGroupData?.events ?? [];
      if (events.length > 0) {
        this.queuePlayback(events.filter((e) => e.firedByNodeId !== this.meshId));
        const last = events[events.length - 1];
        if (last.cursor) this.lastFetchTime = last.cursor;
      }
    } catch (e) {
      this.note(`poll failed (only logged): ${e}`);
    }
  }

  queuePlayback(events) {
    for (const e of events) this.played.push(e.name);
  }

  /** Another node's variables, as the extension keeps them (latest value per node and key). */
  handleDataUpdate(status) {
    const vars = (this.remoteData[status.nodeId] ??= {});
    for (const { key, value } of status.data ?? []) vars[key] = value;
  }

  /** A broadcast block: queued, sent with the next batch. */
  fireEvent(eventName, payload = '') {
    if (!this.groupId) return;
    if (this.eventQueue.some((q) => q.eventName === eventName && q.payload === payload)) return;
    if (this.eventQueue.length >= 100) this.eventQueue.shift();
    const firedAt = new Date(this.now());
    this.eventSequence += 1;
    const p = (n, w = 2) => String(n).padStart(w, '0');
    const orderKey = `${firedAt.getFullYear()}${p(firedAt.getMonth() + 1)}${p(firedAt.getDate())}${p(firedAt.getHours())}${p(firedAt.getMinutes())}${p(firedAt.getSeconds())}-${p(this.eventSequence, 7)}`;
    this.eventQueue.push({ eventName, payload, firedAt: firedAt.toISOString(), orderKey });
  }

  async processBatchEvents() {
    if (this.eventQueue.length === 0) return;
    const events = this.eventQueue.splice(0);
    while (events.length > 0) await this.fireEventsBatch(events.splice(0, 1000));
  }

  async fireEventsBatch(events) {
    if (!this.groupId) return;
    const sentAt = Date.now();
    try {
      if (this.useWebSocket) {
        await this.client.mutate({ mutation: doc.FIRE_EVENTS, variables: { groupId: this.groupId, domain: this.domain, nodeId: this.meshId, events } });
      } else {
        const res = await this.client.mutate({ mutation: doc.RECORD_EVENTS, variables: { groupId: this.groupId, domain: this.domain, nodeId: this.meshId, events } });
        const next = res?.data?.recordEventsByNode?.nextSince;
        if (next) this.lastFetchTime = next;
      }
      for (const e of events) this.sent.push({ name: e.eventName, sentAt, answeredAt: Date.now() });
    } catch (e) {
      this.note(`event send failed: ${e}`);
      const reason = disconnectReason(e);
      if (reason) this.cleanupAndDisconnect(reason, 'event send');
    }
  }

  async sendData(data) {
    if (!this.groupId) return;
    try {
      await this.client.mutate({ mutation: doc.REPORT_DATA, variables: { groupId: this.groupId, domain: this.domain, nodeId: this.meshId, data } });
    } catch (e) {
      this.note(`data send failed: ${e}`);
      const reason = disconnectReason(e);
      if (reason) this.cleanupAndDisconnect(reason, 'data send');
    }
  }

  startHeartbeat() {
    if (this.heartbeatTimer) {
      clearInterval(this.heartbeatTimer);
      this.timers.delete(this.heartbeatTimer);
    }
    const seconds = this.isHost ? this.hostHeartbeatInterval : this.memberHeartbeatInterval;
    this.heartbeatTimer = this.every(seconds * 1000, () => (this.isHost ? this.renewHeartbeat() : this.sendMemberHeartbeat()));
  }

  async renewHeartbeat() {
    if (!this.groupId || !this.isHost) return;
    try {
      const res = await this.client.mutate({ mutation: doc.RENEW_HEARTBEAT, variables: { groupId: this.groupId, domain: this.domain, hostId: this.meshId } });
      const hb = res.data.renewHeartbeat;
      this.expiresAt = hb.expiresAt;
      this.lastRenewal = Date.now();
      if (hb.heartbeatIntervalSeconds && hb.heartbeatIntervalSeconds !== this.hostHeartbeatInterval) {
        this.hostHeartbeatInterval = hb.heartbeatIntervalSeconds;
        this.startHeartbeat();
      }
      this.startConnectionTimer();
    } catch (e) {
      this.note(`heartbeat failed: ${e}`);
      const reason = disconnectReason(e);
      if (reason) this.cleanupAndDisconnect(reason, 'heartbeat');
    }
  }

  async sendMemberHeartbeat() {
    if (!this.groupId || this.isHost) return;
    try {
      const res = await this.client.mutate({ mutation: doc.SEND_MEMBER_HEARTBEAT, variables: { groupId: this.groupId, domain: this.domain, nodeId: this.meshId } });
      if (res.data.sendMemberHeartbeat.expiresAt) this.expiresAt = res.data.sendMemberHeartbeat.expiresAt;
    } catch (e) {
      this.note(`member heartbeat failed: ${e}`);
      const reason = disconnectReason(e);
      if (reason) this.cleanupAndDisconnect(reason, 'heartbeat');
    }
  }

  startConnectionTimer() {
    if (this.connectionTimer) {
      clearTimeout(this.connectionTimer);
      this.timers.delete(this.connectionTimer);
    }
    if (!this.expiresAt) return;
    const timeout = new Date(this.expiresAt).getTime() - this.now();
    if (timeout <= 0) {
      this.leaveGroup('connection timer');
      return;
    }
    this.connectionTimer = this.after(timeout, () => this.leaveGroup('connection timer'));
  }

  /** The user disconnects (or the connection timer fires): the host dissolves, a member leaves. */
  async leaveGroup(cause = 'user') {
    if (!this.groupId) return;
    const { groupId, domain, isHost } = this;
    this.cleanupAndDisconnect('unknown', cause);
    try {
      if (isHost) await this.client.mutate({ mutation: doc.DISSOLVE_GROUP, variables: { groupId, domain, hostId: this.meshId } });
      else await this.client.mutate({ mutation: doc.LEAVE_GROUP, variables: { groupId, domain, nodeId: this.meshId } });
    } catch (e) {
      this.note(`leave/dissolve failed (background): ${e}`);
    }
  }

  cleanupAndDisconnect(reason, cause) {
    if (!this.groupId) return;
    this.stopAll();
    this.disconnected = { reason, cause, at: Date.now() };
    this.note(`disconnected: ${reason} (${cause})`);
  }

  /** The tab is closed: everything stops, nothing is sent. */
  closeTab() {
    this.stopAll();
    this.disconnected = { reason: 'tab closed', cause: 'tab closed', at: Date.now() };
  }

  stopAll() {
    for (const t of this.timers) {
      clearInterval(t);
      clearTimeout(t);
    }
    this.timers.clear();
    this.heartbeatTimer = this.connectionTimer = this.pollTimer = null;
    for (const s of this.subscriptions) s.unsubscribe();
    this.subscriptions = [];
    this.groupId = null;
    this.eventQueue = [];
    this.lastFetchTime = '';
  }
}
