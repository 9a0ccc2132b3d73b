/**
 * The live pipeline under real time (issue 6's goals): the simulated subject written as a dataset
 * is played by `lockstep publish` in a child process at ×1 (real time), and a `lockstep live`
 * session in this process decodes it with the dashboard on and a WebSocket client connected.
 * Reports:
 *   - samples published vs received by the live session (lost = published − received, gaps);
 *   - latency per word, from the moment its epoch is complete (the receipt of the MEG chunk, or of
 *     the marker, that completed it: the epoch is cut while that chunk is processed) to the
 *     snapshot that includes it arriving at the WebSocket client: p50, p90, p99, max over words
 *     (live sessions refit beside the live path, on the compute pool: snapshots do not wait for
 *     refits);
 *   - the tail placed against the refits (slow words during a refit, within 3 s after one, or
 *     neither) and the main event loop's delay, so a regression says where to look;
 *   - CPU time and peak RSS.
 * Prints one JSON object. Loopback only (LOCKSTEP_LSL_LOOPBACK_ONLY=1).
 *
 * Usage: node dist/bench/live.js [--minutes 10] [--refit-every 500] [--dir /tmp]
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import { runLive } from '../cli/live.js';
import { syntheticFeatures } from '../adapters/llm/features.js';
import { runSimulate } from '../cli/simulate.js';
import type { ScoreSnapshot } from '../src/snapshot.js';

process.env.LOCKSTEP_LSL_LOOPBACK_ONLY = '1';
const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
};
const minutes = Number(opt('minutes', '10'));
const refitEvery = Number(opt('refit-every', '500'));
const baseDir = opt('dir', os.tmpdir());
const root = fs.mkdtempSync(path.join(baseDir, 'lockstep-livebench-'));
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const quantile = (s: number[], q: number) => (s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] : null);

try {
  const features = syntheticFeatures(1);
  await runSimulate({ out: root, subject: '001', session: '001', task: 'compr', format: 'fif', minutes, seed: 1, control: 'planted', features, firstWord: 0, quiet: true });
  const name = `lockstep-bench-${process.pid}`;
  const cli = path.join(path.dirname(new URL(import.meta.url).pathname), '../cli/main.js');
  const pub = spawn(process.execPath, [cli, 'publish', root, '--subject', '001', '--speed', '1', '--name', name, '--json', '--quiet'], { stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
  let pubOut = '';
  pub.stdout.on('data', (d) => (pubOut += d));
  const pubDone = new Promise<void>((r) => pub.on('exit', () => r()));

  const ready = new Map<number, number>();
  // Diagnosis of the tail: when refits ran, and how long the main event loop was held.
  const refits: { startSec: number; endSec: number | null; nWords: number }[] = [];
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const arrivals: { latency: number; index: number; readySec: number }[] = [];
  let ws: WebSocket | undefined;
  const cpu0 = process.cpuUsage();
  const loadBefore = os.loadavg();
  const live = await runLive({
    meg: name,
    words: `${name}-words`,
    features,
    allWords: true,
    resolveTimeoutSec: 20,
    backend: 'auto',
    refitEveryWords: refitEvery,
    snapshotEveryWords: 1,
    foldBlockWords: 100,
    halfLifeWords: null,
    dashboard: { host: '127.0.0.1', port: 0 },
    quiet: true,
    onWordReady: (i, t) => ready.set(i, t),
    onRefitStart: (n) => refits.push({ startSec: performance.now() / 1000, endSec: null, nWords: n }),
    onRefit: () => {
      const r = refits.at(-1);
      if (r) r.endSec = performance.now() / 1000;
    },
    onDashboard: (d) => {
      ws = new WebSocket(`${d.url.replace(/^http/, 'ws').replace(/\/(\?.*)?$/, '')}/ws`);
      ws.on('message', (raw) => {
        const now = performance.now() / 1000;
        const m = JSON.parse(String(raw)) as { type: string; snapshot?: ScoreSnapshot };
        if (m.type !== 'snapshot' || !m.snapshot?.lastWord) return;
        for (const [i, t] of ready) {
          if (i <= m.snapshot.lastWord.index) {
            arrivals.push({ latency: now - t, index: i, readySec: t });
            ready.delete(i);
          }
        }
      });
    },
  });
  const cpu = process.cpuUsage(cpu0);
  loopDelay.disable();
  // Each slow word (> 100 ms) placed against the refits: during one, within 3 s after one ended, or neither.
  const slow = arrivals.filter((a) => a.latency > 0.1);
  const where = (t: number) => {
    for (const r of refits) {
      const end = r.endSec ?? Infinity;
      if (t >= r.startSec && t <= end) return 'during-refit';
      if (t > end && t <= end + 3) return 'after-refit';
    }
    return 'no-refit';
  };
  const slowWhere: Record<string, number> = { 'during-refit': 0, 'after-refit': 0, 'no-refit': 0 };
  for (const a of slow) slowWhere[where(a.readySec)]! += 1;
  const t0 = refits[0]?.startSec ?? 0;
  ws?.close();
  await pubDone;
  const published = JSON.parse(pubOut.trim().split('\n').at(-1) ?? '{}') as { samplesPushed?: number; wordsPushed?: number };
  const lat = arrivals.map((a) => a.latency).sort((x, y) => x - y);
  process.stdout.write(
    `${JSON.stringify({
      benchmark: 'live',
      recordedMinutes: minutes,
      channels: live.meg.channelsDecoded,
      sfreqHz: live.meg.sfreqHz,
      samples: { published: published.samplesPushed ?? null, received: live.meg.samplesReceived, lost: (published.samplesPushed ?? NaN) - live.meg.samplesReceived, gaps: live.meg.gaps },
      words: { published: published.wordsPushed ?? null, received: live.words.received, decoded: live.wordsDecoded },
      latencyToWebSocketSec: { n: lat.length, p50: round(quantile(lat, 0.5) ?? NaN, 4), p90: round(quantile(lat, 0.9) ?? NaN, 4), p99: round(quantile(lat, 0.99) ?? NaN, 4), max: round(lat.at(-1) ?? NaN, 3) },
      latencyToSnapshotSec: live.latencySec,
      refitEveryWords: refitEvery,
      tail: {
        slowWords: slow.length,
        slowWhere,
        mainLoopDelayMs: { p50: round(loopDelay.percentile(50) / 1e6, 1), p99: round(loopDelay.percentile(99) / 1e6, 1), max: round(loopDelay.max / 1e6, 1) },
        refits: refits.map((r) => ({ startSec: round(r.startSec - t0, 2), seconds: r.endSec === null ? null : round(r.endSec - r.startSec, 2), nWords: r.nWords })),
        slowest: [...slow].sort((x, y) => y.latency - x.latency).slice(0, 12).map((a) => ({ index: a.index, readySec: round(a.readySec - t0, 2), latencySec: round(a.latency, 3), where: where(a.readySec) })),
      },
      finalTemporalScore: live.final?.exact?.temporalScore ?? null,
      cpuSeconds: round((cpu.user + cpu.system) / 1e6),
      wallSeconds: round(live.wallSeconds),
      peakRssMb: round(process.resourceUsage().maxRSS / 1024),
      exactRefitSeconds: live.final?.exact?.computeSeconds ?? null,
      machine: { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', loadavgBefore: loadBefore.map((x) => round(x, 2)), loadavg: os.loadavg().map((x) => round(x, 2)) },
    })}\n`,
  );
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
