// Measures what two polling pupils lose of each other's broadcasts at the seed rate, with the
// editor's own timers (EditorTab: 1 s event batches, the polling interval meshd gives, 2 s by
// default): each pupil fires one broadcast a second (two a second in the group, the seed
// profile's rate) from a random phase, for MESHD_MEASURE_SECONDS (default 60). Not a test: run it
// against a meshd on its default lifetimes, e.g.
//   go run ./cmd/meshd -store memory -listen-addr 127.0.0.1:18080 &
//   MESHD_HTTP_URL=http://127.0.0.1:18080/graphql MESHD_API_KEY=k node measure-loss.mjs
import { config, sleep } from './lib/harness.mjs';
import { EditorTab } from './lib/editor.mjs';

const seconds = Number(process.env.MESHD_MEASURE_SECONDS ?? 60);
// The tabs' timers do not keep Node alive (as in the tests); this does until the end.
const alive = setInterval(() => {}, 1000);
const host = new EditorTab('host');
await host.createGroup('loss', { useWebSocket: false });
const pupils = [new EditorTab('A'), new EditorTab('B')];
for (const p of pupils) await p.joinGroup(host.groupId, host.domain);
const timers = [];
pupils.forEach((p, i) => {
  let n = 0;
  timers.push(setTimeout(() => timers.push(setInterval(() => p.fireEvent(`${p.name}-${++n}`), 1000)), Math.random() * 1000));
});
await sleep(seconds * 1000);
for (const t of timers) clearInterval(t);
await sleep(2000 + 3 * 1000 * pupils[0].pollingIntervalSeconds);
let fired = 0;
let lost = 0;
for (const [p, other] of [pupils, [...pupils].reverse()]) {
  const got = new Set(p.played.filter((x) => x.startsWith(`${other.name}-`)));
  fired += other.sent.length;
  lost += other.sent.filter((e) => !got.has(e.name)).length;
  console.log(`${p.name} played ${got.size} of ${other.sent.length} broadcasts of ${other.name}`);
}
console.log(`lost ${lost} of ${fired} (${(100 * lost / fired).toFixed(1)}%) in ${seconds} s at ${config.httpURL}, polling every ${pupils[0].pollingIntervalSeconds} s`);
for (const t of [host, ...pupils]) t.stopAll();
clearInterval(alive);
process.exit(0);
