// One pupil's editor behind a load balancer whose meshd nodes fail, run by broker/cluster's
// TestProcessClusterFailures: an EditorTab (the real aws-appsync client, driven as the Mesh
// extension drives it) joins the test's group through haproxy and stays in it while the test
// kills, freezes and stops nodes. Whatever reconnecting happens is the SDK's own, as in the
// editor (the extension only logs a subscription's errors). It reports on stdout, one JSON
// object a line, what the editor sees: each realtime socket it opens (open), each start_ack
// (ack), each socket's end with its close code (close), each broadcast it plays (played), each
// change of the watched variable it receives (status), and what the extension logs (note).
// It leaves the group and ends when its stdin closes.
import { TappedWebSocket } from './lib/harness.mjs';
import { EditorTab } from './lib/editor.mjs';

const emit = (ev, fields = {}) => process.stdout.write(`${JSON.stringify({ at: Date.now(), ev, ...fields })}\n`);

/** The harness's socket, also reporting its life on stdout. */
class ReportedWebSocket extends TappedWebSocket {
  constructor(...args) {
    super(...args);
    const socket = this.tap.n;
    this.addEventListener('open', () => emit('open', { socket }));
    this.addEventListener('message', (e) => {
      try {
        if (JSON.parse(String(e.data)).type === 'start_ack') emit('ack', { socket });
      } catch { /* the harness records it; not a start_ack */ }
    });
    this.addEventListener('close', (e) => emit('close', { socket, code: e.code }));
  }
}
globalThis.WebSocket = ReportedWebSocket;

const { MESHD_GROUP: group, MESHD_DOMAIN: domain, MESHD_WATCH_KEY: watchKey } = process.env;
const tab = new EditorTab('pupil');

const note = tab.note.bind(tab);
tab.note = (msg) => {
  note(msg);
  emit('note', { msg });
};
const play = tab.queuePlayback.bind(tab);
tab.queuePlayback = (events) => {
  play(events);
  for (const e of events) emit('played', { name: e.name });
};
const update = tab.handleDataUpdate.bind(tab);
tab.handleDataUpdate = (status) => {
  update(status);
  for (const { key, value } of status.data ?? []) {
    if (key === watchKey) emit('status', { node: status.nodeId, value });
  }
};

await tab.joinGroup(group, domain);
emit('joined', { node: tab.meshId });
process.stdin.resume();
process.stdin.on('end', async () => {
  await tab.leaveGroup('user');
  process.exit(0);
});
