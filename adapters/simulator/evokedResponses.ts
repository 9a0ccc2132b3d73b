/**
 * The simulator's signal model: how language-model layer activations become evoked MEG responses.
 *
 * The brain it models runs the language model as a cascade of processing stages, one per layer it
 * is given: stage l responds to every word at its own latency after the word's onset, and its
 * response carries that layer's activation for the word. Stage l drives `nSources` latent sources;
 * source k's amplitude for word w is a fixed random unit-norm projection of the stage's activation
 * (whitened first under the 'population' coupling), z-scored over the first 512 words, and its
 * time course is that amplitude × a smooth bump (cos², evokedWidthSec = 150 ms wide, 75 ms at half
 * height; under 'population' wider for later stages, below) peaking at the stage's latency after the
 * word's onset, summed over words. Each source
 * reaches the sensors through its own random focal dipolar pattern. The control decides the
 * latencies: planted (each stage at its own), shuffle (permuted across stages; under 'population'
 * in runs of 3 neighbouring stages, see shuffledLatencies), flat (all at the mean) or null (no
 * evoked response at all).
 *
 * Two couplings (COUPLINGS), chosen by the caller for the features it plants:
 *   - 'projections' (default): 3 sources per stage reading the raw activation, 6 fT each: what the
 *     seeded synthetic features were calibrated with (their layers are distinct, so 3 projections
 *     of each suffice).
 *   - 'population': for a language model's hidden states, given as the whole model (every hidden
 *     state, depths 0 … 1, one stage each; docs/alignment-diagnosis.md). A real model's layers are
 *     nearly one representation (linear CKA ≈ 0.98 between neighbours; Kornblith et al. 2019), and
 *     a few high-variance dimensions run through all of them (Ethayarajh 2019; Timkey & van
 *     Schijndel 2021), so 3 raw projections per stage carry mostly what every depth shares and no
 *     depth order can be decoded. Here each stage is a population of 50 sources with random mixed
 *     selectivity (Rigotti et al. 2013) reading the *whitened* representation (every dim z-scored
 *     over the words, as encoding models standardise features), and the total evoked amplitude per
 *     stage is twice the projections' (6 fT · 2 · √(3/50) = 2.94 fT per source). Later stages
 *     respond more dispersed in time, as later evoked components are broader (timing jitter
 *     accumulates along a cascade): a stage's bump is evokedWidthSec × (latency / mean latency)^0.75
 *     wide, its peak × √(evokedWidthSec / width), so every stage keeps the same energy. Equal
 *     widths let the deep stages pull the middle depths' Tmax late on some seeds; widths growing
 *     in proportion (exponent 1) pull the deepest early; 0.75 was chosen on seeds 1–6 and does as
 *     well as equal widths on seeds 7–12 (BENCHMARKS.md, "Simulated brain"). Planting the
 *     embedding output and the last block too keeps the decoded depths 0.1 and 0.9 off the ends of
 *     the cascade, where overlapping neighbours would pull their Tmax inwards. Whitening statistics
 *     come from the planted features of the words given (known before a session), never from
 *     anything the decoder computes.
 *   Limits: this coupling is chosen so that the paper's analysis (Raugel et al. 2025) can succeed
 *   on these features; a simulated subject proves the machinery (what was planted is recovered, the
 *   controls stay null), never that brains and language models share a computational path. A brain
 *   that responds to what is new at each stage (predictive coding: Rao & Ballard 1999; Caucheteux
 *   et al. 2023) would not show this alignment to this analysis.
 *
 * Owns: the coupling of activations to latent sources (whitening, projections, z-scoring,
 * latencies, bump, patterns, amplitude) and its constants; the words, in onset order. Must not: add
 * noise or know about blocks beyond the LatentGenerator interface (a redesign of the coupling stays
 * in here).
 */
import { mulberry32, randomNormal } from '../../src/scores/prng.js';
import type { WordEvent } from '../../src/types.js';
import type { SensorPosition } from '../meg/ctf/ctf275.js';
import type { BlockGrid, LatentGenerator } from './blocks.js';
import { subKey } from './hashedNoise.js';
import { randomDipolarPattern } from './patterns.js';
import { STREAM } from './randomStreams.js';

/** What couples the layers to the MEG. */
export type CouplingControl = 'planted' | 'null' | 'shuffle' | 'flat';

/** Amplitude and shape of the evoked responses, SI units. */
export const EVOKED_MODEL = {
  /**
   * Evoked amplitude at snr 1, tesla, per source and per unit (z-scored) word weight, at the bump's
   * peak, for a pattern of unit RMS over channels. Calibrated with the whole demo pipeline
   * (Moby Dick, 9 layers × 50 dims of synthetic activations with adjacent-layer correlation 0.5,
   * 3 sources per layer, causal 0.1–20 Hz band-pass, 30 Hz resampling, epochs −2.5…+3.0 s, 5-fold
   * ridge with GCV α): after 20 simulated minutes, seeds 1 and 2 give temporal scores 0.997 and
   * 0.998 with every layer's Tmax within 20 ms of its planted latency, peak R ≈ 0.03–0.09 (the
   * paper's range). A broader bump (0.25 s) or more correlated layers (0.8) pull the end layers'
   * Tmax towards the middle by more than one 33 ms sample.
   */
  evokedT: 6e-15,
  /** Full width of the cos² response bump, seconds (half height at half this). */
  evokedWidthSec: 0.15,
} as const;

/** How a stage's sources read its activation. */
export interface StageCoupling {
  /** Latent sources per stage. */
  nSources: number;
  /** Read the activation with every dim z-scored over the words (true), or as given. */
  whiten: boolean;
  /** Amplitude per source at nSources sources, relative to evokedT. */
  sourceGain: number;
  /**
   * When nSources is overridden: keep the stage's total amplitude (per source sourceGain ×
   * √(nSources / n)), or keep the per-source amplitude (as the projections always did).
   */
  keepTotal: boolean;
  /**
   * The `shuffle` control permutes blocks of this many neighbouring stages, keeping their order
   * inside a block (1: every stage on its own). See shuffledLatencies.
   */
  shuffleBlock: number;
  /**
   * How a stage's response widens with its latency: full width evokedWidthSec × (latency / the
   * stages' mean latency)^this, peak scaled by √(evokedWidthSec / width) so that every stage's
   * response keeps the same energy (0: every stage evokedWidthSec wide, as the projections are).
   */
  widthExponent: number;
}

/** The couplings the simulator offers (see the header). */
export const COUPLINGS = {
  /** 3 raw random projections per stage, 6 fT each: calibrated on the synthetic features. */
  projections: { nSources: 3, whiten: false, sourceGain: 1, keepTotal: false, shuffleBlock: 1, widthExponent: 0 },
  /**
   * A population of 50 sources per stage reading the whitened representation, with twice the
   * projections' total amplitude per stage (per source 2·√(3/50): 2.94 fT): for a language model's
   * whole hidden-state stack. Later stages respond later and more dispersed in time: widths
   * 0.15 s × (latency / mean latency)^0.75 (0.097 s at 0.256 s … 0.204 s at 0.694 s), the same
   * energy per stage. Measured through the demo (BENCHMARKS.md, "Simulated brain: alignment with
   * the built-in model"; the designs around it in docs/alignment-diagnosis.md).
   */
  population: { nSources: 50, whiten: true, sourceGain: 2 * Math.sqrt(3 / 50), keepTotal: true, shuffleBlock: 3, widthExponent: 0.75 },
} as const satisfies Record<string, StageCoupling>;

export type CouplingName = keyof typeof COUPLINGS;

/** Evoked sources anywhere over the array (centre within this radius), fairly focal (lobe width). */
const PATTERN_MAX_RADIUS = 0.75;
const PATTERN_WIDTH = 0.22;
/**
 * Words whose weights are kept (a ring: word i in slot i mod this). Blocks are seconds long and
 * words come ~3 per second, so a block's words stay in the cache while it is drawn.
 */
const WEIGHT_CACHE_WORDS = 1024;
/** Words over which the projections are z-scored. */
const CALIBRATION_WORDS = 512;

/** The options of the simulated subject that the signal model reads. */
export interface CouplingOptions {
  seed: number;
  /** The words heard, with onsets in the simulated clock (e.g. from speechTiming; any order). */
  words: WordEvent[];
  /**
   * Layer activations of a word, Float32Array [layer][dim] (nLayers × nDims values); undefined when
   * the word has none (it then drives the sources as an all-zero activation, or, whitened, as the
   * mean word, and is left out of the whitening statistics).
   */
  activation: (wordIndex: number, word: string) => Float32Array | undefined;
  nLayers: number;
  nDims: number;
  /** Relative depth of each layer (stage): 0.1 … 0.9 as the paper decodes, or 0, 0.1, … 1 for a whole model. */
  depths: number[];
  /** Planted latency per layer, seconds; default defaultLatencySec(depth): 0.30 s at depth 0.1 … 0.65 s at 0.9 (0.256 s at 0, 0.694 s at 1). */
  latenciesSec?: number[];
  /**
   * planted: each layer at its latency; null: no coupling at all; shuffle: latencies permuted
   * across layers (seeded; see shuffledLatencies); flat: every layer at the mean latency.
   */
  control?: CouplingControl;
  /** Evoked amplitude relative to the default (1). */
  snr?: number;
  /** How the stages read the activations (default 'projections'). */
  coupling?: CouplingName;
  /** Latent sources per layer (default: the coupling's). */
  nSources?: number;
  /**
   * Hook for condition effects (conditionEffects.ts): a factor on word w's evoked response (its
   * z-scored weights), e.g. weaker for surprising words. Default: none (every word at 1).
   */
  gainOf?: (w: WordEvent) => number;
  /**
   * Hook for a listener who hears words one at a time (listeningSubject.ts): the words whose
   * projections set the z-scoring, instead of the first 512 of `words`, so that the scale does not
   * change as words arrive. Default: the first 512 of `words`.
   */
  calibrationWords?: readonly WordEvent[];
}

/**
 * The default latency at relative depth d: 0.30 + (d − 0.1)·0.35/0.8 s (0.30 s at 0.1, 0.65 s at
 * 0.9; the same line gives 0.256 s at 0, the embedding output, and 0.694 s at 1, the last block).
 */
export function defaultLatencySec(depth: number): number {
  return 0.3 + ((depth - 0.1) * 0.35) / 0.8;
}

export class EvokedResponses implements LatentGenerator {
  /** One latent source per (layer, source): columns [layer][source]. */
  readonly nLatent: number;
  /** [layer][source][channel], tesla per unit weight (sourcePatterns × the evoked amplitude). */
  readonly fieldPatterns: Float64Array;
  /** Each source's field pattern, [layer][source][channel] (unit RMS). */
  readonly sourcePatterns: Float32Array;
  /** Latency per layer actually planted, seconds, after the control (NaN for every layer under 'null'). */
  readonly latenciesSec: number[];
  readonly control: CouplingControl;
  readonly nLayers: number;
  readonly nSources: number;
  /** Relative depth of each layer (stage). */
  readonly depths: readonly number[];
  readonly coupling: CouplingName;
  /** The words, sorted by onset (weightsOf(i) refers to words[i]). */
  readonly words: readonly WordEvent[];
  /** For the subject's description: layers, sources, control, latencies, snr. */
  readonly summary: string;

  private readonly nDims: number;
  private readonly lowRateHz: number;
  private readonly activation: CouplingOptions['activation'];
  private readonly gainOf: CouplingOptions['gainOf'];
  private readonly onsets: Float64Array;
  /** Peak amplitude of a unit weight, tesla (0 under 'null' or at snr 0: nothing is generated). */
  private readonly amplitudeT: number;
  /** Full width of each stage's response bump, seconds, and its peak relative to amplitudeT (same energy per stage). */
  private readonly widthsSec: number[];
  private readonly bumpPeaks: number[];
  /** The widest stage's width: how far from its peak any bump reaches (half of it). */
  private readonly maxWidthSec: number;
  /** Whitening of the activation, [layer][dim]: mean and 1/sd over the words (null: read as given). */
  private readonly actMean: Float64Array | null;
  private readonly actInvSd: Float64Array | null;
  /** [layer][source][dim]: random unit-norm projections of the activation. */
  private readonly projections: Float64Array;
  /** Mean and 1/sd of each projection over the first words, [layer][source]. */
  private readonly projMean: Float64Array;
  private readonly projInvSd: Float64Array;
  /** Z-scored weights of the words used last, [slot][layer][source] (see weightsOf). */
  private readonly weights: Float32Array;
  /** The word whose weights each cache slot holds (−1: none). */
  private readonly weightSlotWord: Int32Array;

  constructor(opts: CouplingOptions, positions: readonly SensorPosition[], grid: BlockGrid) {
    const { nLayers: L, nDims: D } = opts;
    if (!Number.isInteger(L) || L < 1) throw new RangeError(`SimulatedSubject: nLayers must be a positive integer, got ${L}`);
    if (!Number.isInteger(D) || D < 1) throw new RangeError(`SimulatedSubject: nDims must be a positive integer, got ${D}`);
    if (opts.depths.length !== L) throw new RangeError(`SimulatedSubject: depths has ${opts.depths.length} values for ${L} layers`);
    if (opts.latenciesSec !== undefined && opts.latenciesSec.length !== L) {
      throw new RangeError(`SimulatedSubject: latenciesSec has ${opts.latenciesSec.length} values for ${L} layers`);
    }
    const control = opts.control ?? 'planted';
    if (!['planted', 'null', 'shuffle', 'flat'].includes(control)) {
      throw new RangeError(`SimulatedSubject: control must be planted, null, shuffle or flat, got "${String(control)}"`);
    }
    const coupling = opts.coupling ?? 'projections';
    if (!Object.hasOwn(COUPLINGS, coupling)) throw new RangeError(`SimulatedSubject: coupling must be ${Object.keys(COUPLINGS).join(' or ')}, got "${String(coupling)}"`);
    const design: StageCoupling = COUPLINGS[coupling];
    const S = opts.nSources ?? design.nSources;
    if (!Number.isInteger(S) || S < 1) throw new RangeError(`SimulatedSubject: nSources must be a positive integer, got ${S}`);
    const snr = opts.snr ?? 1;
    if (!(snr >= 0)) throw new RangeError(`SimulatedSubject: snr must be ≥ 0, got ${snr}`);
    const seed = opts.seed >>> 0;
    this.nLayers = L;
    this.nDims = D;
    this.nSources = S;
    this.depths = [...opts.depths];
    this.coupling = coupling;
    this.nLatent = L * S;
    this.control = control;
    this.activation = opts.activation;
    this.gainOf = opts.gainOf;
    this.lowRateHz = grid.lowRateHz;

    // Words in onset order, so a block finds its words by binary search.
    const words = [...opts.words].sort((a, b) => a.onsetSec - b.onsetSec);
    for (const w of words) {
      if (!Number.isFinite(w.onsetSec)) throw new RangeError(`SimulatedSubject: word ${w.wordIndex} ("${w.word}") has a non-finite onset`);
    }
    this.words = words;
    this.onsets = Float64Array.from(words, (w) => w.onsetSec);

    // Latencies after the control.
    const planted = opts.latenciesSec ?? opts.depths.map(defaultLatencySec);
    let lat: number[];
    switch (control) {
      case 'planted':
        lat = [...planted];
        break;
      case 'null':
        lat = planted.map(() => Number.NaN);
        break;
      case 'flat': {
        const mean = planted.reduce((s, v) => s + v, 0) / L;
        lat = planted.map(() => mean);
        break;
      }
      case 'shuffle': {
        lat = shuffledLatencies(planted, subKey(seed, STREAM.shuffle), design.shuffleBlock);
        break;
      }
    }
    this.latenciesSec = lat;
    // A stage's width follows the latency it responds at (so under 'shuffle' it moves with it).
    const meanLatency = lat.reduce((a, v) => a + v, 0) / L;
    const W0 = EVOKED_MODEL.evokedWidthSec;
    this.widthsSec = lat.map((v) => (design.widthExponent === 0 || !(meanLatency > 0) ? W0 : W0 * (v / meanLatency) ** design.widthExponent));
    this.bumpPeaks = this.widthsSec.map((w) => Math.sqrt(W0 / w));
    this.maxWidthSec = Math.max(...this.widthsSec);

    // Projections of each layer's activation onto its sources: random unit vectors.
    const projRng = mulberry32(subKey(seed, STREAM.projection));
    this.projections = new Float64Array(L * S * D);
    for (let ls = 0; ls < L * S; ls++) {
      let ss = 0;
      for (let d = 0; d < D; d++) {
        const v = randomNormal(projRng);
        this.projections[ls * D + d] = v;
        ss += v * v;
      }
      const inv = 1 / Math.sqrt(ss);
      for (let d = 0; d < D; d++) this.projections[ls * D + d] *= inv;
    }
    const whitening = design.whiten ? whiteningOf(words, opts.activation, L * D) : null;
    this.actMean = whitening?.mean ?? null;
    this.actInvSd = whitening?.invSd ?? null;
    this.projMean = new Float64Array(L * S);
    this.projInvSd = new Float64Array(L * S).fill(1);
    this.weights = new Float32Array(WEIGHT_CACHE_WORDS * L * S);
    this.weightSlotWord = new Int32Array(WEIGHT_CACHE_WORDS).fill(-1);
    this.calibrateProjections(opts.calibrationWords ?? this.words);

    // Field patterns.
    const C = positions.length;
    const sourceGain = design.keepTotal ? design.sourceGain * Math.sqrt(design.nSources / S) : design.sourceGain;
    this.amplitudeT = control === 'null' ? 0 : EVOKED_MODEL.evokedT * snr * sourceGain;
    this.sourcePatterns = new Float32Array(L * S * C);
    this.fieldPatterns = new Float64Array(L * S * C);
    const rng = mulberry32(subKey(seed, STREAM.evokedPattern));
    for (let ls = 0; ls < L * S; ls++) {
      const p = randomDipolarPattern(positions, rng, PATTERN_MAX_RADIUS, PATTERN_WIDTH);
      for (let c = 0; c < C; c++) {
        this.sourcePatterns[ls * C + c] = p[c];
        this.fieldPatterns[ls * C + c] = p[c] * this.amplitudeT;
      }
    }

    const latText = control === 'null' ? 'none' : `${Math.min(...lat).toFixed(2)}–${Math.max(...lat).toFixed(2)} s`;
    const designText = coupling === 'projections' ? '' : `, ${coupling} coupling (whitened, ${((EVOKED_MODEL.evokedT * sourceGain) / 1e-15).toFixed(2)} fT per source × snr)`;
    this.summary = `${L} layers × ${S} sources${designText}, control ${control}, latencies ${latText}, snr ${snr}`;
  }

  /**
   * The latency planted for a decoded layer at relative depth `depth`: that of the stage nearest in
   * depth (the stage itself when the decoded depths are among the stages; for a whole-model stack,
   * depths i / L, the hidden state round(depth · L) that the depth reads, halves rounded up). NaN
   * under 'null'.
   */
  latencyAtDepthSec(depth: number): number {
    let best = 0;
    for (let l = 1; l < this.depths.length; l++) {
      const dBest = Math.abs(this.depths[best] - depth);
      const d = Math.abs(this.depths[l] - depth);
      if (d < dBest - 1e-9 || (Math.abs(d - dBest) <= 1e-9 && this.depths[l] > this.depths[best])) best = l;
    }
    return this.latenciesSec[best];
  }

  /**
   * words[i]'s z-scored weights, [layer][source]: a view into a cache of the words used last, valid
   * until the next call (copy it to keep it). The weights depend on the word only, so a word that
   * left the cache is recomputed to the same values; the cache is sized to the words that
   * overlap a block, so memory stays flat over hours of words (a whole-session cache grew to
   * 0.29 GB over 10 hours).
   */
  weightsOf(i: number): Float32Array {
    const LS = this.nLayers * this.nSources;
    const slot = i % WEIGHT_CACHE_WORDS;
    const o = slot * LS;
    if (this.weightSlotWord[slot] !== i) {
      const w = this.words[i];
      const raw = this.project(w);
      for (let k = 0; k < LS; k++) this.weights[o + k] = (raw[k] - this.projMean[k]) * this.projInvSd[k];
      if (this.gainOf) {
        const gain = this.gainOf(w);
        for (let k = 0; k < LS; k++) this.weights[o + k] *= gain;
      }
      this.weightSlotWord[slot] = i;
    }
    return this.weights.subarray(o, o + LS);
  }

  /** Evoked responses of every word whose bumps reach low-rate samples j0 … j0+n−1. */
  addLatent(latent: Float64Array, column: number, stride: number, j0: number, n: number): void {
    if (this.amplitudeT === 0) return;
    const L = this.nLayers;
    const S = this.nSources;
    const rate = this.lowRateHz;
    const lat = this.latenciesSec;
    const widths = this.widthsSec;
    const peaks = this.bumpPeaks;
    const W = this.maxWidthSec;
    let minLat = Infinity;
    let maxLat = -Infinity;
    for (const v of lat) {
      minLat = Math.min(minLat, v);
      maxLat = Math.max(maxLat, v);
    }
    const tFirst = j0 / rate;
    const tLast = (j0 + n - 1) / rate;
    // Words whose onset + latency ± W/2 overlaps [tFirst, tLast].
    const fromOnset = tFirst - maxLat - W / 2;
    const toOnset = tLast - minLat + W / 2;
    let i = lowerBound(this.onsets, fromOnset);
    for (; i < this.onsets.length && this.onsets[i] <= toOnset; i++) {
      const weights = this.weightsOf(i);
      for (let l = 0; l < L; l++) {
        const peak = this.onsets[i] + lat[l];
        const wl = widths[l];
        const ja = Math.max(j0, Math.ceil((peak - wl / 2) * rate));
        const jb = Math.min(j0 + n - 1, Math.floor((peak + wl / 2) * rate));
        for (let j = ja; j <= jb; j++) {
          const c = Math.cos((Math.PI * (j / rate - peak)) / wl);
          const g = c * c * peaks[l]; // × 1 (exact) where every stage has the standard width
          const row = (j - j0) * stride + column + l * S;
          for (let k = 0; k < S; k++) latent[row + k] += weights[l * S + k] * g;
        }
      }
    }
  }

  /** Raw projections of a word's activation, [layer][source]. */
  private project(w: WordEvent): Float64Array {
    const { nLayers: L, nSources: S, nDims: D } = this;
    const given = this.activation(w.wordIndex, w.word);
    if (given !== undefined && given.length !== L * D) {
      throw new RangeError(`SimulatedSubject: activation(${w.wordIndex}, "${w.word}") returned ${given.length} values; expected nLayers × nDims = ${L} × ${D}`);
    }
    let act: ArrayLike<number> = given ?? new Float32Array(L * D);
    if (this.actMean !== null && this.actInvSd !== null) {
      // Whitened: a word without features reads as the mean word (all zeros).
      const white = new Float64Array(L * D);
      if (given !== undefined) for (let k = 0; k < L * D; k++) white[k] = (given[k] - this.actMean[k]) * this.actInvSd[k];
      act = white;
    }
    const out = new Float64Array(L * S);
    for (let l = 0; l < L; l++) {
      for (let k = 0; k < S; k++) {
        const p = (l * S + k) * D;
        let v = 0;
        for (let d = 0; d < D; d++) v += this.projections[p + d] * act[l * D + d];
        out[l * S + k] = v;
      }
    }
    return out;
  }

  /**
   * z-scoring of the projections, estimated on the first 512 words (all of them if fewer): any
   * activation scale (synthetic unit variance, or a real model's) gives the same evoked size.
   */
  private calibrateProjections(words: readonly WordEvent[]): void {
    const LS = this.nLayers * this.nSources;
    const n = Math.min(CALIBRATION_WORDS, words.length);
    if (n < 2) return;
    const sum = new Float64Array(LS);
    const sum2 = new Float64Array(LS);
    for (let i = 0; i < n; i++) {
      const raw = this.project(words[i]);
      for (let k = 0; k < LS; k++) {
        sum[k] += raw[k];
        sum2[k] += raw[k] * raw[k];
      }
    }
    for (let k = 0; k < LS; k++) {
      const mean = sum[k] / n;
      const variance = sum2[k] / n - mean * mean;
      this.projMean[k] = mean;
      // A constant projection carries no word information: plant nothing rather than divide by 0.
      this.projInvSd[k] = variance > 1e-12 * (sum2[k] / n + 1e-300) ? 1 / Math.sqrt(variance) : 0;
    }
  }
}

/**
 * Mean and 1/sd of every (layer, dim) of the activation over the words that have one. A constant
 * dim gets 1/sd = 0 (it carries nothing); without two such words, nothing is whitened (mean 0, 1/sd 1).
 */
function whiteningOf(words: readonly WordEvent[], activation: CouplingOptions['activation'], LD: number): { mean: Float64Array; invSd: Float64Array } {
  const mean = new Float64Array(LD);
  const sum2 = new Float64Array(LD);
  const invSd = new Float64Array(LD).fill(1);
  let n = 0;
  for (const w of words) {
    const a = activation(w.wordIndex, w.word);
    if (a === undefined || a.length !== LD) continue;
    n++;
    for (let k = 0; k < LD; k++) {
      mean[k] += a[k];
      sum2[k] += a[k] * a[k];
    }
  }
  if (n < 2) return { mean: mean.fill(0), invSd };
  for (let k = 0; k < LD; k++) {
    mean[k] /= n;
    const variance = sum2[k] / n - mean[k] * mean[k];
    invSd[k] = variance > 1e-12 * (sum2[k] / n + 1e-300) ? 1 / Math.sqrt(variance) : 0;
  }
  return { mean, invSd };
}

/** First index i with a[i] ≥ v (a sorted ascending). */
function lowerBound(a: Float64Array, v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The planted latencies permuted across layers, seeded. A random permutation of 9 layers often
 * keeps much of the depth order (and so a temporal score), which defeats a control: permutations
 * are drawn until their rank correlation with the original order is within ±0.3 (with 5 or more
 * layers; with fewer, until the order changes at all).
 *
 * `block` > 1 permutes runs of that many neighbouring layers as wholes (the last run may be
 * shorter), keeping the order inside each run. That is the shuffle a language model's hidden states
 * can show: neighbouring depths are nearly one representation (docs/alignment-diagnosis.md), so a
 * layer's R(t) is the sum of its neighbours' responses, and a layer planted far in time from both
 * of its neighbours is decoded where they are, by any decoder of the paper's design. Keeping
 * neighbours together in time lets the decoded Tmax follow the shuffled latencies, which is what the
 * control has to show (and still breaks the depth order). With runs, every boundary must also be a
 * jump: no run is followed by the run that followed it before (else two runs act as one longer run
 * and a rotation such as 9 10 0 1 … 8 would keep most of the depth order among the decoded layers).
 */
export function shuffledLatencies(planted: readonly number[], seed: number, block = 1): number[] {
  const L = planted.length;
  if (!Number.isInteger(block) || block < 1) throw new RangeError(`shuffledLatencies: block must be a positive integer, got ${block}`);
  const rng = mulberry32(seed);
  const runs: number[][] = [];
  for (let i = 0; i < L; i += block) runs.push(Array.from({ length: Math.min(block, L - i) }, (_, j) => i + j));
  const order = runs.map((_, i) => i);
  let perm = order.flatMap((r) => runs[r]);
  const mean = (L - 1) / 2;
  const rankR = (): number => {
    let num = 0;
    let den = 0;
    for (let i = 0; i < L; i++) {
      num += (i - mean) * (perm[i] - mean);
      den += (i - mean) ** 2;
    }
    return num / den;
  };
  const R = runs.length;
  for (let attempt = 0; attempt < 10_000; attempt++) {
    for (let i = R - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    perm = order.flatMap((r) => runs[r]);
    const changed = perm.some((p, i) => p !== i);
    const jumps = block === 1 || R < 3 || order.every((r, i) => i === 0 || r !== order[i - 1] + 1);
    if (R < 2 || (changed && jumps && (L < 5 || Math.abs(rankR()) <= 0.3))) break;
  }
  return perm.map((p) => planted[p]);
}
