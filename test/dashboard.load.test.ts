/**
 * The dashboard under load on loopback: 50 WebSocket clients (10 of which never read) in a child
 * process, while a CPU-bound stand-in for the pipeline publishes snapshots at 4 Hz and counts fixed
 * work units. The pipeline must keep ≥ 90 % of the throughput it has with no clients, and the
 * server's buffered bytes and memory must stay bounded.
 *
 * Phases: no clients for half of LOCKSTEP_LOAD_SECONDS (default 30), 50 clients for all of it, no
 * clients for the other half (the two halves make the no-client run, and cancel slow drifts in what
 * else the machine is doing). Throughput is work units per wall-clock second; when other processes
 * took the pipeline thread's CPU in a phase (it ran < 90 % of the wall time), wall-clock rates
 * measure the machine, not the dashboard, and the test compares work units per CPU-second of the
 * pipeline thread instead (the dashboard's work runs on that thread, so it still shows there).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { describe, it } from 'node:test';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import { startDashboard, type Dashboard } from '../dashboard/server.js';
import { fakeHealth, fakeSnapshot } from './helpers/dashboardFixtures.js';

const PHASE_MS = Number(process.env.LOCKSTEP_LOAD_SECONDS ?? 30) * 1000;
const WARMUP_MS = 2000;
const CLIENTS = 50;
const NEVER_READ = 10;
const PUBLISH_EVERY_MS = 250;
const MAX_BUFFERED = 1 << 20;

/** The client fleet, as an ES module run by a child node process (its CPU is not the pipeline's). */
const FLEET = `
const { WebSocket } = await import(process.env.WS_MODULE);
const n = Number(process.env.CLIENTS), never = Number(process.env.NEVER_READ);
const counts = new Array(n).fill(0), bytes = new Array(n).fill(0), sockets = [];
let opened = 0;
for (let i = 0; i < n; i++) {
  const ws = new WebSocket(process.env.DASH_WS);
  sockets.push(ws);
  ws.on('open', () => {
    if (i < never) ws._socket.pause();
    if (++opened === n) process.send({ type: 'ready' });
  });
  ws.on('message', (d) => { counts[i]++; bytes[i] += d.length; });
  ws.on('error', (e) => process.send({ type: 'error', message: String(e) }));
}
process.on('message', (m) => {
  if (m === 'stop') process.send({ type: 'counts', counts, bytes }, () => { for (const ws of sockets) ws.terminate(); process.exit(0); });
});
`;

interface FleetCounts {
  counts: number[];
  bytes: number[];
}

function startFleet(wsUrl: string): Promise<{ child: ChildProcess; stop(): Promise<FleetCounts> }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', FLEET], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, WS_MODULE: import.meta.resolve('ws'), DASH_WS: wsUrl, CLIENTS: String(CLIENTS), NEVER_READ: String(NEVER_READ) },
  });
  // The clients stand in for browsers on other machines: lowest priority, so that on a busy machine
  // they do not take CPU time from the pipeline measured here (they still use idle cores).
  if (child.pid !== undefined) os.setPriority(child.pid, 19);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`client fleet exited early (code ${code})`)));
    child.on('message', (m: { type: string; message?: string }) => {
      if (m.type === 'error') reject(new Error(`client fleet: ${m.message}`));
      if (m.type !== 'ready') return;
      resolve({
        child,
        stop: () =>
          new Promise<FleetCounts>((res) => {
            child.removeAllListeners('exit');
            child.on('message', (r: { type: string } & FleetCounts) => r.type === 'counts' && res(r));
            child.send('stop');
          }),
      });
    });
  });
}

/** CPU seconds used so far by this process's main thread (the pipeline's), or by the whole process off Linux. */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();
function mainThreadCpuSeconds(): number {
  try {
    const stat = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS; // utime + stime
  } catch {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  }
}

/** One fixed unit of CPU work (a few tens of µs). */
function workUnit(): number {
  let acc = 0;
  for (let i = 0; i < 5000; i++) acc += Math.sqrt(i + (acc % 7));
  return acc;
}

interface PhaseResult {
  units: number;
  published: number;
  seconds: number;
  cpuSeconds: number;
  peakMemory: number;
}

function merge(a: PhaseResult, b: PhaseResult): PhaseResult {
  return { units: a.units + b.units, published: a.published + b.published, seconds: a.seconds + b.seconds, cpuSeconds: a.cpuSeconds + b.cpuSeconds, peakMemory: Math.max(a.peakMemory, b.peakMemory) };
}

/** The stand-in pipeline: work in 5 ms slices, yielding to the event loop between them, publishing every 250 ms. */
async function runPipeline(dash: Dashboard, ms: number, firstSeq: number): Promise<PhaseResult> {
  const cpu0 = mainThreadCpuSeconds();
  const t0 = performance.now();
  const end = t0 + ms;
  let next = t0;
  let seq = firstSeq;
  let units = 0;
  let published = 0;
  let sink = 0;
  let peakMemory = 0;
  for (let now = t0; now < end; now = performance.now()) {
    if (now >= next) {
      dash.publishSnapshot(fakeSnapshot(seq++));
      dash.publishHealth(fakeHealth({ wordsAccepted: seq }));
      published++;
      next += PUBLISH_EVERY_MS;
      const m = process.memoryUsage();
      peakMemory = Math.max(peakMemory, m.heapUsed + m.external);
    }
    const sliceEnd = Math.min(now + 5, end);
    while (performance.now() < sliceEnd) {
      sink += workUnit();
      units++;
    }
    await yieldToLoop();
  }
  assert.ok(Number.isFinite(sink));
  return { units, published, seconds: (performance.now() - t0) / 1000, cpuSeconds: mainThreadCpuSeconds() - cpu0, peakMemory };
}

const rate = (p: PhaseResult): string => `${(p.units / p.seconds).toFixed(0)} units/s (${((100 * p.cpuSeconds) / p.seconds).toFixed(0)} % CPU, ${p.published} snapshots in ${p.seconds.toFixed(1)} s)`;

describe('dashboard under load', () => {
  it(`50 clients (10 never reading) cost the pipeline < 10 % of its throughput; buffers stay bounded`, { timeout: 2 * PHASE_MS + 60_000 }, async () => {
    const dash = await startDashboard({ port: 0, maxBufferedBytes: MAX_BUFFERED });
    try {
      const snapshotBytes = Buffer.byteLength(JSON.stringify({ type: 'snapshot', snapshot: fakeSnapshot(1) }));
      await runPipeline(dash, WARMUP_MS, 1);
      const m0 = process.memoryUsage();

      const before = await runPipeline(dash, PHASE_MS / 2, 1000);
      const wsUrl = `${dash.url.replace(/^http/, 'ws').replace(/\/$/, '')}/ws`;
      const fleet = await startFleet(wsUrl);
      for (let i = 0; i < 100 && dash.clientCount() < CLIENTS; i++) await sleep(20);
      assert.equal(dash.clientCount(), CLIENTS);
      const loaded = await runPipeline(dash, PHASE_MS, 100_000);
      const stats = dash.stats();
      await sleep(300); // the last snapshot reaches the readers
      const fleetCounts = await fleet.stop();
      for (let i = 0; i < 100 && dash.clientCount() > 0; i++) await sleep(20);
      assert.equal(dash.clientCount(), 0);
      const afterRun = await runPipeline(dash, PHASE_MS / 2, 200_000);
      const baseline = merge(before, afterRun);

      const wallRatio = loaded.units / loaded.seconds / (baseline.units / baseline.seconds);
      const cpuRatio = loaded.units / loaded.cpuSeconds / (baseline.units / baseline.cpuSeconds);
      const contended = [before, loaded, afterRun].some((p) => p.cpuSeconds < 0.9 * p.seconds);
      const readers = fleetCounts.counts.slice(NEVER_READ);
      const stalled = fleetCounts.counts.slice(0, NEVER_READ);
      const deliveredMiB = fleetCounts.bytes.reduce((a, b) => a + b, 0) / 2 ** 20;
      console.log(
        `# load: no clients ${rate(baseline)} [${rate(before)} before, ${rate(afterRun)} after]; with ${CLIENTS} clients ${rate(loaded)}; ` +
          `ratio ${wallRatio.toFixed(3)} per wall second, ${cpuRatio.toFixed(3)} per pipeline CPU second${contended ? ' (machine busy: CPU-second ratio used)' : ''}; ` +
          `snapshot ${(snapshotBytes / 1024).toFixed(0)} KiB, ${deliveredMiB.toFixed(0)} MiB delivered; readers got ${Math.min(...readers)}…${Math.max(...readers)} messages, ` +
          `never-reading clients ${Math.min(...stalled)}…${Math.max(...stalled)}; stats ${JSON.stringify(stats)}; ` +
          `peak memory +${((loaded.peakMemory - (m0.heapUsed + m0.external)) / 2 ** 20).toFixed(1)} MiB`,
      );

      for (const p of [before, loaded, afterRun]) assert.ok(p.published / p.seconds >= 3.9, `snapshots were published at ≥ 4 Hz (${p.published} in ${p.seconds.toFixed(1)} s)`);
      const ratio = contended ? cpuRatio : wallRatio;
      assert.ok(ratio >= 0.9, `pipeline throughput with clients is ${(ratio * 100).toFixed(1)} % of the no-client run (${contended ? 'per CPU second' : 'per wall second'})`);
      assert.ok(stats.bufferedBytesMax <= MAX_BUFFERED + snapshotBytes, `server-side buffered bytes bounded: ${stats.bufferedBytesMax} ≤ ${MAX_BUFFERED} + ${snapshotBytes}`);
      // Until the kernel's socket buffers are full, a never-reading client's messages wait there; once
      // they are, the server's buffer reaches the threshold and newer messages replace pending ones.
      if (stats.bufferedBytesMax >= MAX_BUFFERED) assert.ok(stats.coalesced > 0, 'messages for never-reading clients were coalesced');
      assert.ok(Math.max(...stalled) < 0.5 * loaded.published, 'never-reading clients did not get everything');
      // Readers run at the lowest priority: on a busy machine they may fall behind and be coalesced too.
      assert.ok(Math.min(...readers) >= (contended ? 0.5 : 0.9) * 2 * loaded.published, `every reading client kept up (fewest messages: ${Math.min(...readers)} of ${2 * loaded.published})`);
      assert.ok(loaded.peakMemory - (m0.heapUsed + m0.external) < 200 * 2 ** 20, 'memory stayed bounded');
    } finally {
      await dash.close();
    }
  });
});
