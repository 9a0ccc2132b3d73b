/**
 * Planted-latency synthetic data for tests and benchmarks (not the simulated subject, which
 * synthesises continuous MEG): each word gets random layer activations, and its epoch is the sum
 * over layers of activation × a random spatial pattern × a Gaussian response peaking at that
 * layer's planted latency, plus white noise. Decoding layer l must then peak at latency l.
 *
 * Owns: the generator. Deterministic from the seed, word by word (word i depends only on seed, i).
 */
import { mulberry32, randomNormal } from '../../src/scores/prng.js';
import type { DecoderDims, WordPair } from '../../src/types.js';

export interface PlantedOptions extends DecoderDims {
  tStartSec: number;
  sfreqHz: number;
  /** Planted response peak per layer, seconds. */
  latenciesSec: number[];
  /** Gaussian response width (sd), seconds. */
  widthSec?: number;
  /** Signal amplitude relative to unit noise. */
  signal?: number;
  /** Multiplies the whole epoch (1e-13 ≈ tesla scale of MEG). */
  scale?: number;
  seed: number;
  /** Produce float64 epochs instead of float32. */
  float64?: boolean;
  /**
   * Correlation of each layer's activations with the previous layer's, dimension by dimension
   * (default 0: independent layers). Language-model layers are strongly correlated; this lets
   * tests reproduce what that does to the temporal score's statistics.
   */
  layerCorrelation?: number;
}

export class PlantedData {
  private readonly patterns: Float64Array; // [layer][dim][channel]
  private readonly responses: Float64Array; // [layer][time]

  constructor(readonly o: PlantedOptions) {
    const { nChannels: C, nTimes: T, nLayers: L, nDims: D } = o;
    if (o.latenciesSec.length !== L) throw new RangeError(`latenciesSec has ${o.latenciesSec.length} values for ${L} layers`);
    if (o.layerCorrelation !== undefined && !(Math.abs(o.layerCorrelation) < 1)) throw new RangeError(`layerCorrelation must be in (−1, 1), got ${o.layerCorrelation}`);
    const rng = mulberry32(o.seed);
    this.patterns = new Float64Array(L * D * C);
    for (let i = 0; i < this.patterns.length; i++) this.patterns[i] = randomNormal(rng) / Math.sqrt(C);
    this.responses = new Float64Array(L * T);
    const width = o.widthSec ?? 0.05;
    for (let l = 0; l < L; l++) {
      for (let t = 0; t < T; t++) {
        const time = o.tStartSec + t / o.sfreqHz;
        this.responses[l * T + t] = Math.exp(-0.5 * ((time - o.latenciesSec[l]) / width) ** 2);
      }
    }
  }

  /** Word i: activations [layer][dim] and epoch [channel][time]. */
  word(i: number): WordPair {
    const { nChannels: C, nTimes: T, nLayers: L, nDims: D } = this.o;
    const rng = mulberry32((this.o.seed * 7919 + i * 104729 + 1) >>> 0);
    const activations = new Float64Array(L * D);
    for (let k = 0; k < L * D; k++) activations[k] = randomNormal(rng);
    const rho = this.o.layerCorrelation ?? 0;
    if (rho !== 0) {
      // AR(1) along depth: unit variance per layer, corr(layer l, layer l+1) = rho per dimension.
      const fresh = Math.sqrt(1 - rho * rho);
      for (let l = 1; l < L; l++) for (let d = 0; d < D; d++) activations[l * D + d] = rho * activations[(l - 1) * D + d] + fresh * activations[l * D + d];
    }
    const signal = this.o.signal ?? 1;
    const scale = this.o.scale ?? 1;
    const epoch = this.o.float64 ? new Float64Array(C * T) : new Float32Array(C * T);
    const drive = new Float64Array(L * C); // Σ_d y_ld · pattern_ldc
    for (let l = 0; l < L; l++) {
      for (let d = 0; d < D; d++) {
        const y = activations[l * D + d] * signal;
        const po = (l * D + d) * C;
        for (let c = 0; c < C; c++) drive[l * C + c] += y * this.patterns[po + c];
      }
    }
    for (let c = 0; c < C; c++) {
      for (let t = 0; t < T; t++) {
        let v = randomNormal(rng);
        for (let l = 0; l < L; l++) v += drive[l * C + c] * this.responses[l * T + t];
        epoch[c * T + t] = v * scale;
      }
    }
    return { wordIndex: i, onsetSec: i / 3, epoch, activations };
  }
}

/** The paper-like default: latencies rising linearly with depth from 0.30 s to 0.65 s. */
export function linearLatencies(nLayers: number, firstSec = 0.3, lastSec = 0.65): number[] {
  if (nLayers === 1) return [firstSec];
  return Array.from({ length: nLayers }, (_, l) => firstSec + ((lastSec - firstSec) * l) / (nLayers - 1));
}
