/**
 * Preprocessing throughput: seconds of 273-channel, 1200 Hz MEG processed per wall-clock second
 * (× real time) by `resample` alone (1200 → 30 Hz, the 1521-tap anti-alias FIR), `bandpass` alone
 * (0.1–20 Hz, order 4) and the whole `preprocess` chain (default two stages: decimate to 120 Hz,
 * band-pass there, FIR to 30 Hz; and the single-stage chain: band-pass at 1200 Hz + FIR), each through the
 * RxJS operator on pre-cut chunks, for every resample kernel available here ('js' always, 'blas'
 * when OpenBLAS/BLAS loads). Also checks that the kernels agree (max |js − blas| / max |js|).
 * Prints one JSON object; each figure is the median of the repeats, after a warm-up run.
 *
 * Usage: node dist/bench/preprocess.js [--seconds 60] [--chunk-ms 100] [--repeats 3]
 *          [--channels 273] [--source random|simulator]
 */
import os from 'node:os';
import { from, lastValueFrom, reduce, type OperatorFunction } from 'rxjs';

import { SimulatedSubject } from '../adapters/simulator/simulatedSubject.js';
import { speechTiming } from '../adapters/simulator/speechTiming.js';
import { syntheticActivations } from '../adapters/simulator/syntheticActivations.js';
import { builtinWords } from '../adapters/text/builtinText.js';
import { loadResampleGemm } from '../src/filters/polyphase.js';
import { mulberry32, randomNormal } from '../src/scores/prng.js';
import type { SampleChunk } from '../src/types.js';
import { bandpass } from '../streams/bandpass.js';
import { preprocess } from '../streams/preprocess.js';
import { resample } from '../streams/resample.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const seconds = Number(opt('seconds', '60'));
const chunkMs = Number(opt('chunk-ms', '100'));
const repeats = Number(opt('repeats', '3'));
const source = opt('source', 'random');
const nChannelsOpt = Number(opt('channels', '273'));
const sfreqHz = 1200;
if (!(seconds > 0 && chunkMs > 0 && repeats >= 1)) throw new RangeError('--seconds, --chunk-ms must be > 0 and --repeats ≥ 1');
if (source !== 'random' && source !== 'simulator') throw new RangeError(`--source must be random or simulator, got ${source}`);

/** `seconds` of data cut into chunks of chunkMs, file-like clocks. */
function makeChunks(): SampleChunk[] {
  const chunkLen = Math.max(1, Math.round((chunkMs / 1000) * sfreqHz));
  const total = Math.round(seconds * sfreqHz);
  const chunks: SampleChunk[] = [];
  if (source === 'simulator') {
    const nLayers = 9;
    const nDims = 50;
    const sim = new SimulatedSubject({
      seed: 1,
      words: speechTiming(builtinWords(Math.ceil(seconds * 3.5) + 100), { seed: 1, startSec: 1 }),
      activation: syntheticActivations({ seed: 1, nLayers, nDims }),
      nLayers,
      nDims,
      depths: Array.from({ length: nLayers }, (_, l) => (l + 1) / (nLayers + 1)),
    });
    if (sim.sfreqHz !== sfreqHz) throw new Error(`simulator runs at ${sim.sfreqHz} Hz, expected ${sfreqHz}`);
    for (let s = 0; s < total; s += chunkLen) chunks.push(sim.chunk(s, Math.min(chunkLen, total - s)));
    return chunks;
  }
  // MEG-like scale: 1e-10 T offsets, 1e-12 T noise plus a 3 Hz and a 50 Hz line.
  const rng = mulberry32(7);
  const nChannels = nChannelsOpt;
  const dc = Float64Array.from({ length: nChannels }, () => 1e-10 * randomNormal(rng));
  for (let s = 0; s < total; s += chunkLen) {
    const n = Math.min(chunkLen, total - s);
    const data = new Float32Array(n * nChannels);
    for (let t = 0; t < n; t++) {
      const sec = (s + t) / sfreqHz;
      const common = Math.sin(2 * Math.PI * 3 * sec) + 2 * Math.sin(2 * Math.PI * 50 * sec);
      for (let c = 0; c < nChannels; c++) data[t * nChannels + c] = dc[c] + 1e-12 * (randomNormal(rng) + common);
    }
    chunks.push({ sfreqHz, firstSample: s, tStartSec: s / sfreqHz, nChannels, nSamples: n, data });
  }
  return chunks;
}

interface Run {
  wallSec: number;
  cpuSec: number;
}

/** Push every chunk through the operator; returns the wall and CPU time and the joined output. */
async function timeOperator(chunks: SampleChunk[], make: () => OperatorFunction<SampleChunk, SampleChunk>): Promise<Run & { out: Float32Array }> {
  const nOut = { v: 0 };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const parts = await lastValueFrom(
    from(chunks).pipe(
      make(),
      reduce((acc: Float32Array[], c) => {
        acc.push(c.data);
        nOut.v += c.data.length;
        return acc;
      }, []),
    ),
  );
  const wallSec = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const out = new Float32Array(nOut.v);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  if (!out.every(Number.isFinite)) throw new Error('non-finite output');
  return { wallSec, cpuSec: (cpu.user + cpu.system) / 1e6, out };
}

const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function measure(chunks: SampleChunk[], make: () => OperatorFunction<SampleChunk, SampleChunk>) {
  // Warm-up on the first ~5 s: JIT, library load, first allocations.
  await timeOperator(chunks.slice(0, Math.max(1, Math.ceil((5000 / chunkMs)))), make);
  const runs: Run[] = [];
  let out: Float32Array = new Float32Array(0);
  for (let r = 0; r < repeats; r++) {
    const res = await timeOperator(chunks, make);
    runs.push({ wallSec: res.wallSec, cpuSec: res.cpuSec });
    out = res.out;
  }
  const wallSec = median(runs.map((r) => r.wallSec));
  return {
    result: {
      xRealTime: round(seconds / wallSec),
      xRealTimeCpu: round(seconds / median(runs.map((r) => r.cpuSec))),
      wallSec: round(wallSec, 4),
      runs: runs.map((r) => ({ wallSec: round(r.wallSec, 4), cpuSec: round(r.cpuSec, 4) })),
    },
    out,
  };
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let d = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(a[i]));
  }
  return s > 0 ? d / s : d;
}

const chunks = makeChunks();
const nChannels = chunks[0].nChannels;
const gemm = loadResampleGemm();
const kernels: ('js' | 'blas')[] = 'error' in gemm ? ['js'] : ['js', 'blas'];

const resampleResults: Record<string, unknown> = {};
const preprocessResults: Record<string, unknown> = {};
const resampleOut: Record<string, Float32Array> = {};
const preprocessOut: Record<string, Float32Array> = {};
for (const kernel of kernels) {
  const r = await measure(chunks, () => resample({ toHz: 30, kernel }));
  resampleResults[kernel] = r.result;
  resampleOut[kernel] = r.out;
  const p = await measure(chunks, () => preprocess({ toHz: 30, resample: { kernel } }));
  preprocessResults[kernel] = p.result;
  preprocessOut[kernel] = p.out;
  const single = await measure(chunks, () => preprocess({ toHz: 30, resample: { kernel }, stages: 'single' }));
  preprocessResults[`${kernel}-single-stage`] = single.result;
}
const bp = await measure(chunks, () => bandpass());

process.stdout.write(
  `${JSON.stringify({
    benchmark: 'preprocess',
    source,
    channels: nChannels,
    sfreqHz,
    secondsOfData: seconds,
    chunkMs,
    repeats,
    blas: 'error' in gemm ? `unavailable: ${gemm.error}` : gemm.describe,
    resample: resampleResults,
    bandpass: bp.result,
    preprocess: preprocessResults,
    ...(kernels.includes('blas')
      ? {
          jsVsBlasMaxRelDiff: {
            resample: maxRelDiff(resampleOut.js, resampleOut.blas),
            preprocess: maxRelDiff(preprocessOut.js, preprocessOut.blas),
          },
        }
      : {}),
    machine: { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', loadavg: os.loadavg().map((x) => round(x, 2)) },
  })}\n`,
);
