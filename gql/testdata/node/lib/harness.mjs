// Shared plumbing for the real-client tests: configuration from the environment, a global
// WebSocket for the libraries (Node 20 has none), a tap that records every realtime frame
// (observation only: the libraries speak the protocol themselves), and bounded waits.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { WebSocket as WS } from 'ws';

/** Configuration handed over by gql/realclient_test.go. */
export const config = {
  httpURL: process.env.MESHD_HTTP_URL ?? '', // http://127.0.0.1:PORT/graphql (aws-appsync)
  httpsURL: process.env.MESHD_HTTPS_URL ?? '', // https://127.0.0.1:PORT/graphql (Amplify v6)
  apiKey: process.env.MESHD_API_KEY ?? '',
  region: 'ap-northeast-1',
  // Every wait for one expected message or result is bounded by this.
  waitMs: Number(process.env.MESHD_WAIT_MS ?? 10000),
};

// Watchdogs (unref'd: they never keep a finished file alive). node --test runs each file in a
// child process; a file whose clients leak handles must still end by itself, and a file whose
// runner was killed (the Go test's timeout) must not linger as an orphan.
const fileLimitMs = Number(process.env.MESHD_FILE_LIMIT_MS ?? 100000);
setTimeout(() => {
  console.error(`test file still running after ${fileLimitMs} ms: exiting\n${transcript()}`);
  process.exit(1);
}, fileLimitMs).unref();
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(1);
}, 1000).unref();

/** Fails at once, with a clear message, when the Go side did not pass its configuration. */
export function requireConfig(...keys) {
  for (const k of keys) {
    assert.ok(config[k], `missing configuration ${k}: run these tests through "go test ./gql -run TestRealClients"`);
  }
}

/** A fresh node id in the editor's format (32 lower-case hex digits). */
export const nodeId = () => randomBytes(16).toString('hex');

/** Every realtime socket the libraries opened, in order. */
export const sockets = [];

/**
 * TappedWebSocket is the `ws` WebSocket with a recorder: the libraries drive it exactly as they
 * would drive a browser WebSocket; the tests only read what went over it.
 */
export class TappedWebSocket extends WS {
  constructor(url, protocols, options) {
    super(url, protocols, options);
    this.tap = { n: sockets.length, url: String(url), offered: protocols, selected: undefined, frames: [], closed: undefined };
    sockets.push(this);
    this.addEventListener('open', () => { this.tap.selected = this.protocol; });
    this.addEventListener('message', (e) => this.tap.frames.push({ dir: 'in', data: String(e.data), at: Date.now() }));
    this.addEventListener('close', (e) => { this.tap.closed = { code: e.code, reason: String(e.reason ?? '') }; });
    this.addEventListener('error', (e) => this.tap.frames.push({ dir: 'error', data: String(e?.message ?? e), at: Date.now() }));
  }

  send(data, ...rest) {
    this.tap.frames.push({ dir: 'out', data: String(data), at: Date.now() });
    return super.send(data, ...rest);
  }
}
globalThis.WebSocket = TappedWebSocket;

/** Parsed frames of one direction on one socket ({} for a frame that is not JSON). */
export function parsedFrames(ws, dir = 'in') {
  return ws.tap.frames.filter((f) => f.dir === dir).map((f) => {
    try { return JSON.parse(f.data); } catch { return { unparseable: f.data }; }
  });
}

/** A readable transcript of the last few sockets, for failure reports. */
export function transcript(limit = 30, last = 3) {
  const out = [`${sockets.length} realtime socket(s) opened`];
  for (const ws of sockets.slice(-last)) {
    out.push(`socket #${ws.tap.n} ${ws.tap.url}`);
    out.push(`  offered ${JSON.stringify(ws.tap.offered)} selected ${JSON.stringify(ws.tap.selected)} closed ${JSON.stringify(ws.tap.closed)}`);
    for (const f of ws.tap.frames.slice(-limit)) {
      out.push(`  ${f.dir === 'in' ? 'S→C' : f.dir === 'out' ? 'C→S' : 'ERR'} ${f.data.length > 600 ? f.data.slice(0, 600) + '…' : f.data}`);
    }
  }
  return out.join('\n');
}

/** Resolves when check() returns a truthy value; rejects after ms with what. */
export async function until(what, check, ms = config.waitMs) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}\n${transcript()}`);
    await sleep(20);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms).unref?.());

/** Bounds a promise (a mutation, a query) by ms. */
export function within(what, promise, ms = config.waitMs) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}\n${transcript()}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Inbox collects what one subscription observer receives, and lets a test wait (bounded) for the
 * next received value that matches a predicate.
 */
export class Inbox {
  constructor(name) {
    this.name = name;
    this.values = [];
    this.errors = [];
    this.completed = false;
    this.cursor = 0;
  }

  observer() {
    return {
      next: (v) => this.values.push(v),
      error: (e) => this.errors.push(e),
      complete: () => { this.completed = true; },
    };
  }

  /** Waits for the next value after the cursor that satisfies pred, and moves the cursor past it. */
  async take(what, pred = () => true, ms = config.waitMs) {
    const found = await until(`${this.name}: ${what}`, () => {
      if (this.errors.length) {
        throw new Error(`${this.name}: subscription failed: ${describe(this.errors[0])}\n${transcript()}`);
      }
      for (let i = this.cursor; i < this.values.length; i++) {
        if (pred(this.values[i])) return { i, v: this.values[i] };
      }
      return undefined;
    }, ms);
    this.cursor = found.i + 1;
    return found.v;
  }
}

/** A short description of an error or error-shaped value. */
export function describe(e) {
  if (e instanceof Error) return `${e.name}: ${e.message}${e.graphQLErrors ? ' ' + JSON.stringify(e.graphQLErrors) : ''}${e.networkError ? ' network: ' + String(e.networkError) : ''}`;
  try { return JSON.stringify(e); } catch { return String(e); }
}

/** The editor's ISO timestamps: milliseconds and Z. */
export const isoMillis = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** Closes every socket still open (the libraries close theirs about a second after the last stop). */
export async function closeSockets(ms = 3000) {
  await until('the libraries to close their sockets', () => sockets.every((ws) => ws.readyState === WS.CLOSED), ms).catch(() => {});
  for (const ws of sockets) {
    if (ws.readyState !== WS.CLOSED) ws.terminate();
  }
}
