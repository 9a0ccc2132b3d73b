/**
 * LSL throughput on loopback: a lockstep outlet (child process) publishes the counting signal
 * (value = channel × 1000 + sample index) as float32, 300 channels × 1200 Hz by default, in
 * real time; a lockstep inlet (this process) receives it through `fromInlet` and checks every
 * value of every sample. Prints one JSON object: samples pushed/received, lost (index gaps + never
 * arrived), values that did not match, inlet lag (local arrival − sample timestamp − time
 * correction; max, p99, mean), CPU time of each side, and throughput.
 *
 * Loopback only (127.0.0.1). The goal is 10 minutes with zero lost samples:
 *   node dist/bench/lslThroughput.js --seconds 600
 * Usage: node dist/bench/lslThroughput.js [--seconds 60] [--channels 300] [--rate 1200] [--chunk-ms 10]
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { localClock } from '../adapters/lsl/clock.js';
import { StreamInlet } from '../adapters/lsl/inlet.js';
import { StreamOutlet } from '../adapters/lsl/outlet.js';
import { resolveByProp } from '../adapters/lsl/resolver.js';
import { StreamInfo } from '../adapters/lsl/streamInfo.js';
import { fromInlet } from '../streams/fromInlet.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : dflt;
};
const seconds = Number(opt('seconds', '60'));
const nChannels = Number(opt('channels', '300'));
const rate = Number(opt('rate', '1200'));
const chunkMs = Number(opt('chunk-ms', '10'));
const role = opt('role', 'inlet');
const name = opt('name', `lslThroughput-${process.pid}`);
for (const [k, v] of Object.entries({ seconds, channels: nChannels, rate, 'chunk-ms': chunkMs })) {
  if (!(v > 0)) throw new RangeError(`--${k} must be a positive number, got ${v}`);
}
process.env.LOCKSTEP_LSL_LOOPBACK_ONLY = '1';

async function runOutlet(): Promise<void> {
  const info = new StreamInfo({ name, type: 'MEG', channelCount: nChannels, nominalSrate: rate, channelFormat: 'float32', sourceId: name });
  const outlet = await StreamOutlet.open(info);
  process.stdout.write(`${JSON.stringify({ ready: true, port: outlet.info.v4dataPort })}\n`);
  if (!(await outlet.waitForConsumers(30))) throw new Error('bench outlet: no inlet connected within 30 s');
  const cpu0 = process.cpuUsage();
  const t0 = localClock();
  const total = Math.round(seconds * rate);
  let pushed = 0;
  let maxLateMs = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = localClock();
      const due = Math.min(total, Math.floor((now - t0) * rate) + 1);
      const n = due - pushed;
      if (n > 0) {
        // The sample due most recently should have been pushed at t0 + (due−1)/rate.
        maxLateMs = Math.max(maxLateMs, (now - (t0 + (due - 1) / rate)) * 1000);
        const data = new Float32Array(n * nChannels);
        for (let s = 0; s < n; s++) for (let k = 0; k < nChannels; k++) data[s * nChannels + k] = k * 1000 + pushed + s;
        outlet.pushChunk(data, t0 + (pushed + n - 1) / rate);
        pushed += n;
      }
      if (pushed >= total) {
        clearInterval(timer);
        resolve();
      }
    }, chunkMs);
  });
  const cpu = process.cpuUsage(cpu0);
  await new Promise((r) => setTimeout(r, 500));
  process.stdout.write(`${JSON.stringify({ pushed, droppedForSlowInlet: outlet.droppedSamples, outletUserSec: cpu.user / 1e6, outletSystemSec: cpu.system / 1e6, pushMaxLateMs: maxLateMs })}\n`);
  await outlet.close();
}

async function runInlet(): Promise<void> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--role', 'outlet', '--name', name, '--seconds', String(seconds), '--channels', String(nChannels), '--rate', String(rate), '--chunk-ms', String(chunkMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  let buf = '';
  child.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  const exited = new Promise<number | null>((r) => child.on('close', r));
  const [info] = await resolveByProp('name', name, { timeoutSec: 30 });
  if (!info) throw new Error(`bench: the outlet ${name} did not appear`);
  const inlet = new StreamInlet(info);
  const cpu0 = process.cpuUsage();
  let received = 0;
  let nextIndex = 0;
  let lostInGaps = 0;
  let mismatches = 0;
  let chunks = 0;
  const lags: number[] = [];
  let maxLag = 0;
  let lagSum = 0;
  let tc = 0;
  const states: string[] = [];
  const sub = fromInlet(inlet).subscribe((e) => {
    if (e.kind === 'state') {
      states.push(e.state);
      return;
    }
    const c = e.chunk;
    const d = c.data as Float32Array;
    const now = localClock();
    if (e.timeCorrection !== null) tc = e.timeCorrection;
    const lag = now - (c.timestamps[c.nSamples - 1]! + tc);
    maxLag = Math.max(maxLag, lag);
    lagSum += lag;
    lags.push(lag);
    chunks++;
    for (let s = 0; s < c.nSamples; s++) {
      const idx = d[s * c.nChannels]!;
      if (idx > nextIndex) lostInGaps += idx - nextIndex;
      for (let k = 1; k < c.nChannels; k++) if (d[s * c.nChannels + k] !== k * 1000 + idx) mismatches++;
      nextIndex = idx + 1;
    }
    received += c.nSamples;
  });
  const code = await exited;
  await new Promise((r) => setTimeout(r, 200));
  const cpu = process.cpuUsage(cpu0);
  sub.unsubscribe();
  if (code !== 0) throw new Error(`bench outlet exited with ${code}`);
  const outletReport = JSON.parse(lines.find((l) => l.includes('"pushed"')) ?? '{}') as { pushed: number; droppedForSlowInlet: number; outletUserSec: number; outletSystemSec: number; pushMaxLateMs: number };
  lags.sort((a, b) => a - b);
  const bytesPerSample = 1 + nChannels * 4 + 9 / 12; // tag + values; one 8-byte timestamp per chunk of ~12
  process.stdout.write(
    `${JSON.stringify({
      benchmark: 'lslThroughput',
      channels: nChannels,
      rateHz: rate,
      format: 'float32',
      seconds,
      chunkMs,
      pushed: outletReport.pushed,
      received,
      lost: outletReport.pushed - received,
      lostInGaps,
      valueMismatches: mismatches,
      droppedForSlowInlet: outletReport.droppedForSlowInlet,
      chunks,
      inletLagMs: { max: maxLag * 1000, p99: lags[Math.floor(lags.length * 0.99)]! * 1000, mean: (lagSum / Math.max(1, chunks)) * 1000 },
      timeCorrectionSec: tc,
      states,
      cpu: { inletUserSec: cpu.user / 1e6, inletSystemSec: cpu.system / 1e6, outletUserSec: outletReport.outletUserSec, outletSystemSec: outletReport.outletSystemSec },
      cpuPercentOfOneCore: { inlet: ((cpu.user + cpu.system) / 1e6 / seconds) * 100, outlet: ((outletReport.outletUserSec + outletReport.outletSystemSec) / seconds) * 100 },
      pushMaxLateMs: outletReport.pushMaxLateMs,
      throughputMBps: (received * bytesPerSample) / seconds / 1e6,
      machine: { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', loadavg: os.loadavg() },
    })}\n`,
  );
}

if (role === 'outlet') await runOutlet();
else await runInlet();
