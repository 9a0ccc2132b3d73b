/**
 * Simulator throughput: seconds of 273-channel, 1200 Hz simulated MEG generated per wall-clock
 * second (× real time), on the built-in text with synthetic activations (9 layers × 50 dims), in
 * chunks of the given size, after a short warm-up. Prints one JSON object. The per-word
 * activation cost is included (activations are computed lazily as words come due).
 *
 * Usage: node dist/bench/simulator.js [--seconds 120] [--chunk-ms 100] [--repeats 3]
 *          [--coupling projections|population] [--mix auto|blas|js]   (the field mixing's kernel)
 */
import os from 'node:os';
import { SimulatedSubject } from '../adapters/simulator/simulatedSubject.js';
import type { MixKernel } from '../adapters/simulator/blocks.js';
import type { CouplingName } from '../adapters/simulator/evokedResponses.js';
import { speechTiming } from '../adapters/simulator/speechTiming.js';
import { describe as activationsDescribe, syntheticActivations } from '../adapters/simulator/syntheticActivations.js';
import { builtinWords } from '../adapters/text/builtinText.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const seconds = Number(opt('seconds', '120'));
const chunkMs = Number(opt('chunk-ms', '100'));
const repeats = Number(opt('repeats', '3'));
const coupling = opt('coupling', 'projections') as CouplingName;
const mixKernel = opt('mix', 'auto') as MixKernel;
if (!(seconds >= 60)) throw new RangeError(`--seconds must be ≥ 60 (a stable estimate), got ${seconds}`);

const nLayers = 9;
const nDims = 50;
const depths = Array.from({ length: nLayers }, (_, l) => (l + 1) / (nLayers + 1));
const warmupSec = 5;
const words = speechTiming(builtinWords(Math.ceil((seconds + warmupSec) * 3.5) + 100), { seed: 1, startSec: 1 });

const runs: { wallSec: number; cpuSec: number; xRealTime: number; xRealTimeCpu: number }[] = [];
let describe = '';
let channels = 0;
let sfreqHz = 0;
for (let r = 0; r < repeats; r++) {
  const sim = new SimulatedSubject({
    seed: 1 + r,
    words,
    activation: syntheticActivations({ seed: 1 + r, nLayers, nDims }),
    nLayers,
    nDims,
    depths,
    coupling,
    mixKernel,
  });
  describe = `${sim.describe}, mixing on ${sim.mixKernel.detail}`;
  channels = sim.channels.length;
  sfreqHz = sim.sfreqHz;
  const chunk = Math.max(1, Math.round((chunkMs / 1000) * sim.sfreqHz));
  // Warm-up: let the JIT compile the block generator.
  for (let s = 0; s < warmupSec * sim.sfreqHz; s += chunk) sim.chunk(s, chunk);
  const first = warmupSec * sim.sfreqHz;
  const total = seconds * sim.sfreqHz;
  let checksum = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let s = 0; s < total; s += chunk) {
    const c = sim.chunk(first + s, Math.min(chunk, total - s));
    checksum += c.data[0];
  }
  const wallSec = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSec = (cpu.user + cpu.system) / 1e6;
  if (!Number.isFinite(checksum)) throw new Error('simulator produced non-finite data');
  runs.push({ wallSec, cpuSec, xRealTime: seconds / wallSec, xRealTimeCpu: seconds / cpuSec });
}

const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

process.stdout.write(
  `${JSON.stringify({
    benchmark: 'simulator',
    simulator: describe,
    activations: activationsDescribe,
    channels,
    sfreqHz,
    secondsOfData: seconds,
    chunkMs,
    repeats,
    xRealTime: median(runs.map((r) => r.xRealTime)),
    xRealTimeCpu: median(runs.map((r) => r.xRealTimeCpu)),
    runs,
    machine: { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', loadavg: os.loadavg() },
  })}\n`,
);
