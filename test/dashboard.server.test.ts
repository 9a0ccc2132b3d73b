/**
 * The dashboard server with real `ws` clients on loopback: latest state on connect, the access
 * token on the upgrade, backpressure (a client that never reads costs neither publishing time nor
 * memory, and gets the latest state once it reads), and clients reconnecting after a restart.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, describe, it } from 'node:test';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import { WebSocket } from 'ws';
import { isLoopbackHost, sameSecret } from '../dashboard/access.js';
import { emptyHistory, HISTORY_MAX_POINTS, recordHistory } from '../dashboard/emergenceHistory.js';
import { startDashboard, type Dashboard } from '../dashboard/server.js';
import { fakeHealth, fakeSnapshot, fakeWords } from './helpers/dashboardFixtures.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

interface Received {
  type: string;
  seq?: number;
  body: string;
}

/** A real ws client that records what it receives; `waitFor` resolves when a predicate holds. */
class TestClient {
  readonly received: Received[] = [];
  private waiters: Array<() => void> = [];
  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const body = data.toString('utf8');
      // Snapshots are large: read type and seq from the head instead of parsing all of it.
      const head = /^\{"type":"(\w+)","(\w+)":(\{"schema":"[^"]*","seq":(\d+))?/.exec(body.slice(0, 200));
      // Large bodies are not kept: the test's own memory must not hide the server's.
      this.received.push({ type: head?.[1] ?? '?', seq: head?.[4] !== undefined ? Number(head[4]) : undefined, body: body.length < 100_000 ? body : '' });
      for (const w of this.waiters) w();
    });
  }
  static open(url: string, protocols?: string[]): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, protocols);
      const client = new TestClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
    });
  }
  lastSeq(): number | undefined {
    for (let i = this.received.length - 1; i >= 0; i--) if (this.received[i].type === 'snapshot') return this.received[i].seq;
    return undefined;
  }
  waitFor(pred: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
      const check = (): void => {
        if (pred()) {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== check);
          resolve();
        }
      };
      this.waiters.push(check);
    });
  }
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      this.ws.once('close', () => resolve());
      this.ws.terminate();
    });
  }
}

const wsUrl = (d: Dashboard, query = ''): string => `${d.url.replace(/^http/, 'ws').replace(/\/(\?.*)?$/, '')}/ws${query}`;

/** Status of a failed upgrade, or 101 when it succeeded. */
function upgradeStatus(url: string, options: { protocols?: string[]; headers?: Record<string, string> } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options.protocols, { headers: options.headers });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.once('open', () => {
      resolve(101);
      ws.terminate();
    });
    ws.once('error', (err) => reject(err));
  });
}

function httpGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string; body: string; setCookie: string[] }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body: Buffer.concat(chunks).toString('utf8'), setCookie: res.headers['set-cookie'] ?? [] }));
      })
      .on('error', reject);
  });
}

const retained = (): number => {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
};

describe('dashboard server', () => {
  const open: Dashboard[] = [];
  after(async () => {
    await Promise.all(open.map((d) => d.close()));
  });

  it('serves the page and uPlot on loopback by default, with no token', async () => {
    const dash = await startDashboard({ port: 0 });
    open.push(dash);
    assert.match(dash.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.equal(dash.token, undefined);
    const page = await httpGet(dash.url);
    assert.equal(page.status, 200);
    assert.match(page.type, /text\/html/);
    assert.match(page.body, /id="temporal-score"/);
    for (const p of ['app.js', 'emergenceHistory.js', 'style.css', 'vendor/uplot/uPlot.iife.min.js', 'vendor/uplot/uPlot.min.css']) {
      assert.equal((await httpGet(dash.url + p)).status, 200, p);
    }
    // The page's history module is the server's own, compiled: one implementation.
    const shared = await httpGet(`${dash.url}emergenceHistory.js`);
    assert.match(shared.type, /text\/javascript/);
    assert.match(shared.body, /export function recordHistory\(/);
    assert.doesNotMatch(shared.body, /^import /m, 'no run-time imports: the browser loads it as it is');
    assert.equal((await httpGet(`${dash.url}../package.json`)).status, 404, 'only the fixed routes are served');
    assert.equal((await httpGet(dash.url, { Host: 'evil.example:80' })).status, 403, 'a non-loopback Host is refused (DNS rebinding)');
    assert.equal(await upgradeStatus(wsUrl(dash).replace('/ws', '/other')), 404);
    assert.equal(await upgradeStatus(wsUrl(dash), { headers: { Origin: 'http://evil.example' } }), 403, 'cross-site pages may not connect');
    assert.equal(await upgradeStatus(wsUrl(dash)), 101);
    await dash.close();
  });

  it('sends a new client the latest snapshot, health and words at once, then live updates', async () => {
    const dash = await startDashboard({ port: 0 });
    open.push(dash);
    dash.publishSnapshot(fakeSnapshot(1));
    dash.publishSnapshot(fakeSnapshot(2));
    dash.publishHealth(fakeHealth({ state: 'live' }));
    dash.publishWords(fakeWords(5));
    const c = await TestClient.open(wsUrl(dash));
    await c.waitFor(() => c.received.length >= 4, 5000, 'the initial state');
    const byType = new Map(c.received.map((r) => [r.type, JSON.parse(r.body) as Record<string, unknown>]));
    assert.deepEqual([...byType.keys()].sort(), ['health', 'history', 'snapshot', 'words']);
    // A late client still gets the emergence curve: one point per snapshot published so far.
    const history = (byType.get('history') as { history: { sourceTimeSec: number[]; exact: (number | null)[] } }).history;
    assert.deepEqual(history.sourceTimeSec, [fakeSnapshot(1).sourceTimeSec, fakeSnapshot(2).sourceTimeSec]);
    assert.deepEqual(history.exact, [fakeSnapshot(1).exact?.temporalScore ?? null, fakeSnapshot(2).exact?.temporalScore ?? null]);
    assert.deepEqual(byType.get('snapshot'), JSON.parse(JSON.stringify({ type: 'snapshot', snapshot: fakeSnapshot(2) })), 'the latest snapshot, as published');
    assert.deepEqual(byType.get('health'), { type: 'health', health: fakeHealth({ state: 'live' }) });
    assert.deepEqual(byType.get('words'), JSON.parse(JSON.stringify({ type: 'words', words: fakeWords(5) })));
    assert.equal(dash.clientCount(), 1);

    dash.publishSnapshot(fakeSnapshot(3));
    dash.publishHealth(fakeHealth({ state: 'ended' }));
    await c.waitFor(() => c.lastSeq() === 3 && c.received.some((r) => r.body.includes('"ended"')), 5000, 'live updates');
    assert.throws(() => dash.publishSnapshot({ ...fakeSnapshot(4), schema: 'other/2' } as never), /lockstep\.snapshot\/1/);

    await c.close();
    for (let i = 0; i < 50 && dash.clientCount() > 0; i++) await sleep(20);
    assert.equal(dash.clientCount(), 0, 'a closed client is forgotten');
    dash.publishSnapshot(fakeSnapshot(5)); // publishing with no clients is fine
    await dash.close();
  });

  it('requires the token on the upgrade when one is set (401 without, ok with ?token= or the subprotocol)', async () => {
    const token = 'test-token_123';
    const dash = await startDashboard({ port: 0, token });
    open.push(dash);
    assert.equal(dash.token, token);
    assert.ok(dash.url.endsWith(`/?token=${token}`), dash.url);
    dash.publishSnapshot(fakeSnapshot(9));
    const base = wsUrl(dash).replace(/\?.*$/, '');
    assert.equal(await upgradeStatus(base), 401);
    assert.equal(await upgradeStatus(`${base}?token=wrong`), 401);
    assert.equal(await upgradeStatus(base, { protocols: ['lockstep.v1', 'lockstep.token.wrong'] }), 401);
    assert.equal(dash.clientCount(), 0);

    const byQuery = await TestClient.open(`${base}?token=${token}`);
    await byQuery.waitFor(() => byQuery.lastSeq() === 9, 5000, 'snapshot via ?token=');
    const byProtocol = await TestClient.open(base, ['lockstep.v1', `lockstep.token.${token}`]);
    assert.equal(byProtocol.ws.protocol, 'lockstep.v1', 'the server answers with its protocol, not the token');
    await byProtocol.waitFor(() => byProtocol.lastSeq() === 9, 5000, 'snapshot via subprotocol');
    await Promise.all([byQuery.close(), byProtocol.close()]);
    await dash.close();

    // Beyond loopback a token is always required; which hosts count as loopback:
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost']) assert.ok(isLoopbackHost(h), h);
    for (const h of ['0.0.0.0', '::', '192.168.1.10', 'example.org', '10.0.0.1']) assert.ok(!isLoopbackHost(h), h);
  });

  it('beyond loopback every client presents the token, loopback clients included: page, scripts and WebSocket', async () => {
    // Listening on 0.0.0.0; the test connects over 127.0.0.1 only (loopback is no exemption).
    const dash = await startDashboard({ host: '0.0.0.0', port: 0 });
    open.push(dash);
    const token = dash.token;
    assert.ok(token && token.length >= 32, 'a token is generated');
    const port = Number(new URL(dash.url).port);
    assert.equal(dash.url, `http://127.0.0.1:${port}/?token=${token}`);
    dash.publishSnapshot(fakeSnapshot(4));
    const base = `http://127.0.0.1:${port}/`;
    const ws = `ws://127.0.0.1:${port}/ws`;
    for (const p of ['', 'index.html', 'app.js', 'emergenceHistory.js', 'vendor/uplot/uPlot.iife.min.js']) {
      const r = await httpGet(base + p);
      assert.equal(r.status, 401, `/${p} without the token`);
      assert.match(r.body, /token/);
      assert.equal((await httpGet(`${base}${p}?token=wrong`)).status, 401, `/${p} with a wrong token`);
    }
    assert.equal(await upgradeStatus(ws), 401, 'the WebSocket without the token');
    assert.equal(await upgradeStatus(`${ws}?token=wrong`), 401);
    assert.equal(await upgradeStatus(ws, { protocols: ['lockstep.v1', `lockstep.token.${token}x`] }), 401);

    // With it: the page (the URL printed at start-up) sets a cookie that the page's own requests carry.
    const page = await httpGet(dash.url);
    assert.equal(page.status, 200);
    assert.match(page.body, /id="temporal-score"/);
    const cookie = page.setCookie.map((c) => c.split(';')[0]).find((c) => c.startsWith(`lockstep-token-${port}=`));
    assert.ok(cookie, `a per-port token cookie is set (${page.setCookie.join(' | ')})`);
    assert.match(page.setCookie.join(';'), /HttpOnly/);
    assert.match(page.setCookie.join(';'), /SameSite=Strict/);
    for (const p of ['app.js', 'emergenceHistory.js', 'style.css', 'vendor/uplot/uPlot.iife.min.js']) assert.equal((await httpGet(base + p, { Cookie: cookie })).status, 200, `/${p} with the cookie`);
    assert.equal((await httpGet(`${base}app.js`, { Cookie: `lockstep-token-${port}=wrong` })).status, 401, 'a wrong cookie');
    assert.equal((await httpGet(`${base}app.js`, { Cookie: `lockstep-token-${port + 1}=${token}` })).status, 401, "another port's cookie name");
    assert.equal(await upgradeStatus(`${ws}?token=${encodeURIComponent(token)}`), 101);
    assert.equal(await upgradeStatus(ws, { protocols: ['lockstep.v1', `lockstep.token.${token}`] }), 101);
    assert.equal(await upgradeStatus(ws, { headers: { Cookie: cookie } }), 101);
    const c = await TestClient.open(ws, ['lockstep.v1', `lockstep.token.${token}`]);
    await c.waitFor(() => c.lastSeq() === 4, 5000, 'the snapshot, with the token');
    await c.close();
    await dash.close();

    // An explicit token on loopback is required too; without one, loopback needs none (first test).
    const guarded = await startDashboard({ port: 0, token: 'given' });
    open.push(guarded);
    assert.equal((await httpGet(guarded.url.replace(/\?.*$/, ''))).status, 401);
    assert.equal((await httpGet(guarded.url)).status, 200);
    await guarded.close();
  });

  it('compares tokens through equal-length digests (any lengths, no exception)', () => {
    assert.equal(sameSecret('abc', 'abc'), true);
    assert.equal(sameSecret('abc', 'abd'), false);
    assert.equal(sameSecret('', 'abc'), false);
    assert.equal(sameSecret('a'.repeat(10_000), 'abc'), false);
    assert.equal(sameSecret('é', 'é'), true);
  });

  it('the emergence history: a new recording restarts it, a repeated source time replaces its point, thinning keeps it bounded with its span', () => {
    const h = emptyHistory();
    const snap = (t: number | null, exact: number | null, rolling: number | null = 0.5) => ({
      sourceTimeSec: t,
      rolling: rolling === null ? null : { temporalScore: rolling },
      exact: exact === null ? null : { temporalScore: exact },
    }) as unknown as Parameters<typeof recordHistory>[1];
    assert.equal(recordHistory(h, snap(null, 0.1)), false, 'no source time, no point');
    recordHistory(h, snap(1, null));
    recordHistory(h, snap(2, 0.3));
    recordHistory(h, snap(2, 0.4, Number.NaN));
    assert.deepEqual(h, { sourceTimeSec: [1, 2], rolling: [0.5, null], exact: [null, 0.4] });
    recordHistory(h, snap(0.5, 0.2));
    assert.deepEqual(h.sourceTimeSec, [0.5], 'source time went back: a new curve');
    for (let i = 1; i <= 3 * HISTORY_MAX_POINTS; i++) recordHistory(h, snap(0.5 + i, i));
    assert.ok(h.sourceTimeSec.length <= HISTORY_MAX_POINTS && h.sourceTimeSec.length > HISTORY_MAX_POINTS / 2, `${h.sourceTimeSec.length} points`);
    assert.equal(h.sourceTimeSec[0], 0.5);
    assert.equal(h.sourceTimeSec.at(-1), 0.5 + 3 * HISTORY_MAX_POINTS);
    assert.equal(h.exact.at(-1), 3 * HISTORY_MAX_POINTS);
    assert.equal(h.rolling.length, h.sourceTimeSec.length);
  });

  it('a client that never reads neither blocks publishing 2000 large snapshots nor grows memory, and gets the latest when it reads', async () => {
    const maxBufferedBytes = 1 << 20;
    const dash = await startDashboard({ port: 0, maxBufferedBytes, heartbeatMs: 0 });
    open.push(dash);
    const reader = await TestClient.open(wsUrl(dash));
    const stalled = await TestClient.open(wsUrl(dash));
    (stalled.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();

    const base = fakeSnapshot(1, { folds: 5 });
    const size = Buffer.byteLength(JSON.stringify({ type: 'snapshot', snapshot: base }));
    assert.ok(size > 150_000, `snapshots are large (${size} bytes)`);
    // Warm up, then measure what stays allocated.
    for (let s = 1; s <= 20; s++) dash.publishSnapshot({ ...base, seq: s });
    await reader.waitFor(() => reader.lastSeq() === 20, 10_000, 'warm-up');
    const before = retained();

    const N = 2000;
    let slowest = 0;
    let peak = 0;
    const t0 = performance.now();
    for (let s = 21; s <= N; s++) {
      const t = performance.now();
      dash.publishSnapshot({ ...base, seq: s });
      slowest = Math.max(slowest, performance.now() - t);
      if (s % 20 === 0) {
        await yieldToLoop();
        const m = process.memoryUsage();
        peak = Math.max(peak, m.heapUsed + m.external);
      }
    }
    const publishSeconds = (performance.now() - t0) / 1000;
    await reader.waitFor(() => reader.lastSeq() === N, 20_000, 'the reading client to get the last snapshot');
    const after = retained();
    const stats = dash.stats();

    assert.ok(slowest < 250, `one publish took ${slowest.toFixed(1)} ms`);
    assert.ok(stats.coalesced >= N / 2, `the stalled client's snapshots were coalesced (${stats.coalesced})`);
    assert.ok(stats.bufferedBytesMax <= maxBufferedBytes + size, `buffered bytes stayed bounded: ${stats.bufferedBytesMax} ≤ ${maxBufferedBytes} + ${size}`);
    const grown = after - before;
    assert.ok(grown < 64 * 2 ** 20, `retained memory grew by ${(grown / 2 ** 20).toFixed(1)} MiB (queued snapshots would be ${((N * size) / 2 ** 20).toFixed(0)} MiB)`);
    assert.ok(peak - before < 256 * 2 ** 20, `peak memory grew by ${((peak - before) / 2 ** 20).toFixed(1)} MiB`);
    const stalledBefore = stalled.received.filter((r) => r.type === 'snapshot').length;

    // Once it reads again, the stalled client drains what its socket held and then gets the latest snapshot.
    (stalled.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    await stalled.waitFor(() => stalled.lastSeq() === N, 20_000, 'the stalled client to catch up with the latest snapshot');
    const stalledSnapshots = stalled.received.filter((r) => r.type === 'snapshot').length;
    assert.ok(stalledSnapshots < 100, `the stalled client got ${stalledSnapshots} snapshots (${stalledBefore} before resuming), not ${N}`);
    const seqs = stalled.received.filter((r) => r.type === 'snapshot').map((r) => r.seq!);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'in order');
    console.log(
      `# backpressure: ${N} × ${(size / 1024).toFixed(0)} KiB snapshots published in ${publishSeconds.toFixed(1)} s (slowest ${slowest.toFixed(1)} ms); stats ${JSON.stringify(dash.stats())}; ` +
        `retained +${(grown / 2 ** 20).toFixed(1)} MiB, peak +${((peak - before) / 2 ** 20).toFixed(1)} MiB; stalled client got ${stalledSnapshots} snapshots`,
    );
    await Promise.all([reader.close(), stalled.close()]);
    await dash.close();
  });

  it('clients reconnect after the server restarts on the same port; close() does not wait for stalled clients', async () => {
    const first = await startDashboard({ port: 0 });
    open.push(first);
    const port = Number(new URL(first.url).port);
    first.publishSnapshot(fakeSnapshot(1));
    const c = await TestClient.open(wsUrl(first));
    const stalled = await TestClient.open(wsUrl(first));
    (stalled.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    await c.waitFor(() => c.lastSeq() === 1, 5000, 'first snapshot');
    const closedCode = new Promise<number>((resolve) => c.ws.once('close', (code: number) => resolve(code)));
    const t0 = performance.now();
    await first.close();
    assert.ok(performance.now() - t0 < 3000, `close() took ${(performance.now() - t0).toFixed(0)} ms`);
    assert.equal(await closedCode, 1001, 'clients are told the server is going away');
    await stalled.close();

    const second = await startDashboard({ port });
    open.push(second);
    assert.equal(second.url, first.url);
    second.publishSnapshot(fakeSnapshot(42));
    let again: TestClient | null = null;
    for (let attempt = 0; attempt < 50 && !again; attempt++) {
      again = await TestClient.open(wsUrl(second)).catch(() => null);
      if (!again) await sleep(100);
    }
    assert.ok(again, 'reconnected');
    await again.waitFor(() => again!.lastSeq() === 42, 5000, 'the new server state');
    await again.close();
    await second.close();
  });
});
