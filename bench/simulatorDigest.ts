/**
 * Digests of the simulated subject's output, for checking that a refactoring of the simulator
 * leaves its data bit-identical: sha256 (first 16 hex digits) of chunk() over the first
 * --seconds for several seeds, controls, rates and options, each asked whole, in 100 ms chunks
 * and in odd-sized chunks in scrambled order (all three must agree: chunking invariance), plus a
 * far range, the ground truth (sourcePatterns, sourceWeights) and the metadata. Prints one JSON
 * object: run it before and after a change (same Node) and compare.
 *
 * Usage: node dist/bench/simulatorDigest.js [--seconds 95]
 */
import { createHash } from 'node:crypto';
import { SimulatedSubject, type SimulatorOptions } from '../adapters/simulator/simulatedSubject.js';
import { speechTiming } from '../adapters/simulator/speechTiming.js';
import { syntheticActivations } from '../adapters/simulator/syntheticActivations.js';
import { builtinWords } from '../adapters/text/builtinText.js';

const args = process.argv.slice(2);
const i = args.indexOf('--seconds');
// 95 s by default: past the first SQUID-step slot (45 s) and many blink slots (6 s).
const seconds = i >= 0 ? Number(args[i + 1]) : 95;
if (!(seconds > 0)) throw new RangeError(`--seconds must be > 0, got ${args[i + 1]}`);

const L = 9;
const D = 20;
const depths = Array.from({ length: L }, (_, l) => (l + 1) / 10);
const words = speechTiming(builtinWords(Math.ceil(seconds * 3.5) + 50), { seed: 3, startSec: 2 });

type Config = Partial<SimulatorOptions> & { seed: number; activationScale?: number };
const configs: Config[] = [
  { seed: 1 },
  { seed: 2 },
  { seed: 5, control: 'null' },
  { seed: 5, control: 'shuffle' },
  { seed: 5, control: 'flat' },
  { seed: 5, snr: 3, nSources: 2 },
  { seed: 15, nSources: 5, control: 'flat', snr: 0 },
  { seed: 7, artefacts: false },
  { seed: 14, nSources: 1, artefacts: false },
  { seed: 8, sfreqHz: 1000 },
  { seed: 9, sfreqHz: 600, control: 'shuffle' },
  { seed: 16, sfreqHz: 2400, nSources: 1, control: 'shuffle' },
  { seed: 10, sfreqHz: 1017.25 }, // mains period not a whole number of samples: no table
  { seed: 11, sfreqHz: 250, latenciesSec: [0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.7] },
  { seed: 12, words: [] },
  { seed: 13, activationScale: 37 }, // z-scoring makes the scale irrelevant
  { seed: 4294967295 },
  // The population coupling (whitened, 50 sources per stage), as planted for a language model.
  { seed: 6, coupling: 'population' },
  { seed: 6, coupling: 'population', control: 'shuffle', activationScale: 37 },
];

const digest = (parts: ArrayBufferView[]): string => {
  const h = createHash('sha256');
  for (const p of parts) h.update(new Uint8Array(p.buffer, p.byteOffset, p.byteLength));
  return h.digest('hex').slice(0, 16);
};

const out: Record<string, Record<string, string>> = {};
for (const cfg of configs) {
  const { activationScale = 1, ...o } = cfg;
  const base = syntheticActivations({ seed: o.seed, nLayers: L, nDims: D });
  const activation = activationScale === 1 ? base : (w: number, s: string): Float32Array => base(w, s).map((v) => v * activationScale);
  const make = (): SimulatedSubject => new SimulatedSubject({ words, activation, nLayers: L, nDims: D, depths, ...o });
  const sim = make();
  const C = sim.channels.length;
  const total = Math.round(seconds * sim.sfreqHz);
  const r: Record<string, string> = {};
  r.whole = digest([sim.chunk(0, total).data]);
  const by100 = make();
  const n100 = Math.round(0.1 * sim.sfreqHz);
  const parts: Float32Array[] = [];
  for (let a = 0; a < total; a += n100) parts.push(by100.chunk(a, Math.min(n100, total - a)).data);
  r.by100ms = digest(parts);
  // Odd chunk sizes (1 … 3001 samples), asked in a scrambled order and assembled.
  const odd = make();
  const cuts = [0];
  for (let k = 1; cuts[cuts.length - 1] < total; k++) cuts.push(Math.min(total, cuts[cuts.length - 1] + 1 + ((k * 7919) % 3001)));
  const order = cuts.slice(0, -1).map((_, k) => k);
  for (let k = order.length - 1; k > 0; k--) {
    const j = (k * 2654435761) % (k + 1);
    [order[k], order[j]] = [order[j], order[k]];
  }
  const assembled = new Float32Array(total * C);
  for (const k of order) assembled.set(odd.chunk(cuts[k], cuts[k + 1] - cuts[k]).data, cuts[k] * C);
  r.oddScrambled = digest([assembled]);
  r.far = digest([make().chunk(Math.round(3333.3 * sim.sfreqHz), Math.round(7 * sim.sfreqHz)).data]);
  r.sourcePatterns = digest([sim.sourcePatterns]);
  const weights: Float32Array[] = [];
  for (let w = 0; w < sim.words.length; w += 37) weights.push(sim.sourceWeights(w));
  r.sourceWeights = digest(weights);
  const meta = { latenciesSec: sim.latenciesSec, durationSec: sim.durationSec, describe: sim.describe, channels: sim.channels, nSources: sim.nSources };
  r.meta = digest([new TextEncoder().encode(JSON.stringify(meta))]);
  out[JSON.stringify(cfg)] = r;
}

process.stdout.write(`${JSON.stringify({ benchmark: 'simulatorDigest', seconds, node: process.version, digests: out })}\n`);
