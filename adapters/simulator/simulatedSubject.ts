/**
 * The simulated subject: continuous CTF-275 MEG (tesla, 1200 Hz by default) of someone listening to
 * a text, in which each language-model layer's activation is planted as an evoked response at
 * that layer's latency after every word onset, under realistic noise.
 *
 * Signal. Layer l drives `nSources` latent sources; source k's amplitude for word w is a fixed
 * random projection of the layer's activation (z-scored over words), and its time course is that
 * amplitude × a smooth bump (cos², 250 ms wide, 125 ms at half height) peaking at the layer's
 * latency after the word's onset, summed over words. Each source reaches the sensors through its
 * own random smooth dipolar pattern.
 *
 * Noise (all seeded and reproducible): spatially correlated 1/f background (latent pink sources
 * through smooth patterns) plus channel-specific pink noise, an amplitude-modulated alpha rhythm
 * near 10 Hz over occipito-parietal sensors, 50 Hz mains and its 3rd harmonic, white sensor noise
 * (6 fT/√Hz), slow drift, and (unless `artefacts: false`) eye blinks on frontal sensors and SQUID
 * step jumps on single channels that last seconds.
 *
 * How it stays fast and chunking-invariant. Time is cut into fixed blocks of 120 low-rate samples
 * (1 s at 1200 Hz); each block is a pure function of (seed, block index), so the same samples come
 * out however a range is chunked or in whatever order it is asked (the last two blocks are
 * cached). Random values come from hashes of (stream, index), never from generator state.
 * Everything below ~40 Hz (evoked, background, alpha, drift, blinks) is built at a low rate
 * (sfreq / round(sfreq/120) = 120 Hz), mixed into channels with one matrix product per block, and
 * linearly interpolated to the full rate, where only mains (a one-period table), white noise
 * (each sample's channel vector a window, at a hashed offset, of a fixed 2²⁰-value table of
 * normals) and steps are added. Linear interpolation attenuates 10 Hz by 2 % and 20 Hz by 9 %,
 * identically for signal and noise; its images sit near 120 Hz and beyond, outside the 0.1–20 Hz
 * the analysis uses. Measured ≈ 100–170× real time for 273 channels on a 2-core machine
 * (bench/simulator.ts).
 *
 * Owns: the signal and noise models and their constants. Must not: pace output in time (replay/
 * schedulers do) or filter, resample or epoch the data (streams/ does).
 */
import { mulberry32, randomNormal } from '../../src/scores/prng.js';
import type { ChannelInfo, SampleChunk, WordEvent } from '../../src/types.js';
import { ctf275Channels, ctf275Positions, type SensorPosition } from '../meg/ctf/ctf275.js';
import { addPinkNoise, addValueNoise, hash32, hashedUniform, pinkOctaves, splineTable, subKey, tableNormal } from './hashedNoise.js';

/** What couples the layers to the MEG. */
export type CouplingControl = 'planted' | 'null' | 'shuffle' | 'flat';

export interface SimulatorOptions {
  seed: number;
  /** The words heard, with onsets in the simulated clock (e.g. from speechTiming). */
  words: WordEvent[];
  /** Layer activations of a word, Float32Array [layer][dim] (nLayers × nDims values). */
  activation: (wordIndex: number, word: string) => Float32Array;
  nLayers: number;
  nDims: number;
  /** Relative depth of each layer (0.1 … 0.9 in the paper). */
  depths: number[];
  /** Planted latency per layer, seconds; default defaultLatencySec(depth): 0.30 s at depth 0.1 … 0.65 s at 0.9. */
  latenciesSec?: number[];
  /**
   * planted: each layer at its latency; null: no coupling at all; shuffle: latencies permuted
   * across layers (seeded; see shuffledLatencies); flat: every layer at the mean latency.
   */
  control?: CouplingControl;
  /** Evoked amplitude relative to the default (1). */
  snr?: number;
  /** Sampling rate, Hz (default 1200, the rate of the paper's data). */
  sfreqHz?: number;
  /** Latent sources per layer (default 3). */
  nSources?: number;
  /** Blinks and SQUID jumps (default true). */
  artefacts?: boolean;
}

/** The default latency at relative depth d: 0.30 + (d − 0.1)·0.35/0.8 s (0.30 s at 0.1, 0.65 s at 0.9). */
export function defaultLatencySec(depth: number): number {
  return 0.3 + ((depth - 0.1) * 0.35) / 0.8;
}

/** Amplitudes and shapes of the model, SI units. */
export const SIMULATOR_MODEL = {
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
  /** Latent 1/f background sources and the amplitude of each (unit-RMS pattern), tesla. */
  backgroundSources: 8,
  backgroundT: 110e-15,
  /** Channel-specific 1/f noise, tesla RMS. */
  channelPinkT: 60e-15,
  /** Slow drift per channel, tesla RMS, with knots every driftSpacingSec. */
  driftT: 400e-15,
  driftSpacingSec: 20,
  /** Alpha generators (left and right occipito-parietal), amplitude each, tesla; frequency range. */
  alphaSources: 2,
  alphaT: 120e-15,
  alphaHz: [9.5, 10.5] as const,
  /** White sensor noise, tesla/√Hz. */
  whiteTPerRootHz: 6e-15,
  /** Mains: frequency, amplitude of the fundamental and of the 3rd harmonic, tesla. */
  mainsHz: 50,
  mainsT: 60e-15,
  mainsHarmonicT: 20e-15,
  /** Blinks: one per slot with this probability; peak amplitude at the front sensors, tesla; duration. */
  blinkSlotSec: 6,
  blinkProbability: 0.7,
  blinkT: 2.5e-12,
  blinkSec: 0.4,
  /** SQUID jumps: one per slot with this probability; amplitude range, tesla; duration range, seconds. */
  stepSlotSec: 45,
  stepProbability: 0.35,
  stepT: [1.5e-12, 6e-12] as const,
  stepSec: [2, 25] as const,
  /** Target rate of the low-rate (smooth) components, Hz; the exact rate is sfreq / round(sfreq / this). */
  lowRateHz: 120,
  /** Low-rate samples per block. */
  lowPerBlock: 120,
} as const;

/** Sub-stream labels, so every component draws its own random numbers. */
const STREAM = {
  projection: 1,
  evokedPattern: 2,
  backgroundPattern: 3,
  background: 4,
  alphaPattern: 5,
  alphaEnvelope: 6,
  alphaPhase: 7,
  channelPink: 8,
  drift: 9,
  white: 10,
  mains: 11,
  blink: 12,
  step: 13,
  shuffle: 14,
  gain: 15,
  alphaFrequency: 16,
} as const;

/**
 * A smooth dipolar field pattern over the layout: a positive and a negative Gaussian lobe either
 * side of a centre, the shape a current dipole gives at an axial gradiometer array. Unit RMS.
 */
function dipolarPattern(pos: readonly SensorPosition[], cx: number, cy: number, angle: number, separation: number, width: number): Float64Array {
  const dx = 0.5 * separation * Math.cos(angle);
  const dy = 0.5 * separation * Math.sin(angle);
  const p = new Float64Array(pos.length);
  let ss = 0;
  for (let c = 0; c < pos.length; c++) {
    const { x, y } = pos[c];
    const a = ((x - cx - dx) ** 2 + (y - cy - dy) ** 2) / (2 * width * width);
    const b = ((x - cx + dx) ** 2 + (y - cy + dy) ** 2) / (2 * width * width);
    p[c] = Math.exp(-a) - Math.exp(-b);
    ss += p[c] * p[c];
  }
  const s = 1 / Math.sqrt(ss / pos.length);
  for (let c = 0; c < pos.length; c++) p[c] *= s;
  return p;
}

/** A random dipolar pattern with its centre inside radius `maxRadius` of the layout. */
function randomDipolarPattern(pos: readonly SensorPosition[], rng: () => number, maxRadius: number, width: number): Float64Array {
  const r = maxRadius * Math.sqrt(rng());
  const phi = 2 * Math.PI * rng();
  return dipolarPattern(pos, r * Math.cos(phi), r * Math.sin(phi), 2 * Math.PI * rng(), 0.3 + 0.2 * rng(), width);
}

/** One step artefact: a constant offset on one channel from startSample (inclusive) to endSample. */
interface StepEvent {
  channel: number;
  startSample: number;
  endSample: number;
  amplitudeT: number;
}

export class SimulatedSubject {
  readonly channels: ChannelInfo[];
  readonly sfreqHz: number;
  /** Latency per layer actually planted, seconds, after the control (NaN for every layer under 'null'). */
  readonly latenciesSec: number[];
  /** Onset of the last word + its duration + 3.5 s (room for its +3.0 s epoch), or 0 without words. */
  readonly durationSec: number;
  readonly describe: string;
  readonly control: CouplingControl;
  readonly nLayers: number;
  readonly nSources: number;
  /** The words, sorted by onset (sourceWeights(i) refers to words[i]). */
  readonly words: readonly WordEvent[];
  /** Ground truth for tests: each evoked source's field pattern, [layer][source][channel] (unit RMS). */
  readonly sourcePatterns: Float32Array;

  private readonly seed: number;
  private readonly nDims: number;
  private readonly nChannels: number;
  private readonly activation: SimulatorOptions['activation'];
  private readonly onsets: Float64Array;
  /** [layer][source][dim]: random unit-norm projections of the activation. */
  private readonly projections: Float64Array;
  /** Mean and 1/sd of each projection over the first words, [layer][source]. */
  private readonly projMean: Float64Array;
  private readonly projInvSd: Float64Array;
  /** Lazily computed z-scored word weights, [word][layer][source], and which are ready. */
  private readonly weights: Float32Array;
  private readonly weightReady: Uint8Array;

  /** Full-rate samples per low-rate sample, low rate, samples per block. */
  private readonly decim: number;
  private readonly lowRateHz: number;
  private readonly blockSamples: number;
  /** Latent sources: [evoked L×S][background][alpha][blink]. */
  private readonly nLatent: number;
  private readonly latentBackground: number;
  private readonly latentAlpha: number;
  private readonly latentBlink: number;
  /** [latent][channel], tesla per unit latent value. */
  private readonly mixing: Float64Array;
  private readonly evokedAmplitudeT: number;
  private readonly alphaHz: Float64Array;
  private readonly artefacts: boolean;

  /** Per channel: white sd per sample, mains sin/cos coefficients (fundamental, harmonic), pink and drift amplitudes. */
  private readonly whiteSd: Float32Array;
  private readonly mainsSin: Float32Array;
  private readonly mainsCos: Float32Array;
  private readonly harmSin: Float32Array;
  private readonly harmCos: Float32Array;
  private readonly channelPinkAmp: Float64Array;
  private readonly driftAmp: Float64Array;
  /** Mains over one period, [phase][channel], when the period is a whole number of samples (else null). */
  private readonly mainsTable: Float32Array | null;
  private readonly mainsPeriod: number;
  /** Value-noise keys of each channel, [octave][channel] (channel pink), and [channel] (drift). */
  private readonly pinkChannelKeys: Uint32Array;
  private readonly driftKeys: Uint32Array;

  private readonly pinkLatentOctaves: number[];
  private readonly pinkLatentTables: Float64Array[];
  private readonly pinkChannelOctaves: number[];
  private readonly pinkChannelTables: Float64Array[];
  private readonly driftSpacing: number;
  private readonly driftTable: Float64Array;
  private readonly alphaEnvSpacing: number;
  private readonly alphaEnvTable: Float64Array;
  private readonly alphaPhaseSpacing: number;
  private readonly alphaPhaseTable: Float64Array;

  /** Work buffers, reused by every block (no per-sample allocation). */
  private readonly latent: Float64Array; // [lowSample][latent]
  private readonly low: Float64Array; // [lowSample][channel]
  private readonly scratchA: Float64Array;
  private readonly scratchB: Float64Array;
  private readonly knots: Float64Array; // [knot][channel]
  private readonly mainsRow: Float32Array; // [channel], when there is no mains table
  private readonly interpBase: Float64Array; // [channel]
  private readonly interpSlope: Float64Array; // [channel]
  /** The last blocks generated, by block index (a chunk usually spans one or two). */
  private readonly cache = new Map<number, Float32Array>();

  constructor(opts: SimulatorOptions) {
    const M = SIMULATOR_MODEL;
    const { seed, nLayers: L, nDims: D } = opts;
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
    const sfreq = opts.sfreqHz ?? 1200;
    if (!(sfreq >= 100)) throw new RangeError(`SimulatedSubject: sfreqHz must be ≥ 100 (mains at 50 Hz must be representable), got ${sfreq}`);
    const S = opts.nSources ?? 3;
    if (!Number.isInteger(S) || S < 1) throw new RangeError(`SimulatedSubject: nSources must be a positive integer, got ${S}`);
    const snr = opts.snr ?? 1;
    if (!(snr >= 0)) throw new RangeError(`SimulatedSubject: snr must be ≥ 0, got ${snr}`);

    this.seed = seed >>> 0;
    this.nLayers = L;
    this.nDims = D;
    this.nSources = S;
    this.control = control;
    this.sfreqHz = sfreq;
    this.artefacts = opts.artefacts ?? true;
    this.activation = opts.activation;
    this.channels = ctf275Channels();
    const pos = ctf275Positions();
    const C = (this.nChannels = this.channels.length);

    // Words in onset order, so a block finds its words by binary search.
    const words = [...opts.words].sort((a, b) => a.onsetSec - b.onsetSec);
    for (const w of words) {
      if (!Number.isFinite(w.onsetSec)) throw new RangeError(`SimulatedSubject: word ${w.wordIndex} ("${w.word}") has a non-finite onset`);
    }
    this.words = words;
    this.onsets = Float64Array.from(words, (w) => w.onsetSec);
    const last = words[words.length - 1];
    this.durationSec = last === undefined ? 0 : last.onsetSec + (last.durationSec ?? 0) + 3.5;

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
        lat = shuffledLatencies(planted, subKey(this.seed, STREAM.shuffle));
        break;
      }
    }
    this.latenciesSec = lat;

    // Projections of each layer's activation onto its sources: random unit vectors.
    const projRng = mulberry32(subKey(this.seed, STREAM.projection));
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
    this.projMean = new Float64Array(L * S);
    this.projInvSd = new Float64Array(L * S).fill(1);
    this.weights = new Float32Array(words.length * L * S);
    this.weightReady = new Uint8Array(words.length);
    this.calibrateProjections();

    // Low rate and blocks.
    this.decim = Math.max(1, Math.round(sfreq / M.lowRateHz));
    this.lowRateHz = sfreq / this.decim;
    this.blockSamples = this.decim * M.lowPerBlock;

    // Latent sources and their patterns.
    const NB = M.backgroundSources;
    const NA = M.alphaSources;
    this.latentBackground = L * S;
    this.latentAlpha = this.latentBackground + NB;
    this.latentBlink = this.latentAlpha + NA;
    const K = (this.nLatent = this.latentBlink + 1);
    this.mixing = new Float64Array(K * C);
    this.sourcePatterns = new Float32Array(L * S * C);
    this.evokedAmplitudeT = control === 'null' ? 0 : M.evokedT * snr;
    const evRng = mulberry32(subKey(this.seed, STREAM.evokedPattern));
    for (let ls = 0; ls < L * S; ls++) {
      // Evoked sources anywhere over the array, fairly focal.
      const p = randomDipolarPattern(pos, evRng, 0.75, 0.22);
      for (let c = 0; c < C; c++) {
        this.sourcePatterns[ls * C + c] = p[c];
        this.mixing[ls * C + c] = p[c] * this.evokedAmplitudeT;
      }
    }
    const bgRng = mulberry32(subKey(this.seed, STREAM.backgroundPattern));
    for (let k = 0; k < NB; k++) {
      // Background generators are broader: spatially correlated noise over large regions.
      const p = randomDipolarPattern(pos, bgRng, 0.8, 0.35);
      for (let c = 0; c < C; c++) this.mixing[(this.latentBackground + k) * C + c] = p[c] * M.backgroundT;
    }
    const alphaRng = mulberry32(subKey(this.seed, STREAM.alphaPattern));
    this.alphaHz = new Float64Array(NA);
    for (let k = 0; k < NA; k++) {
      // Occipito-parietal generators, one per hemisphere, tangential-ish orientation.
      const side = k % 2 === 0 ? -1 : 1;
      const p = dipolarPattern(pos, side * (0.25 + 0.1 * alphaRng()), -0.6 - 0.15 * alphaRng(), Math.PI * alphaRng(), 0.45, 0.3);
      for (let c = 0; c < C; c++) this.mixing[(this.latentAlpha + k) * C + c] = p[c] * M.alphaT;
      this.alphaHz[k] = M.alphaHz[0] + (M.alphaHz[1] - M.alphaHz[0]) * hashedUniform(subKey(this.seed, STREAM.alphaFrequency), k);
    }
    if (this.artefacts) {
      // Blinks: the eyes sit in front of the array; the field falls off from the front sensors.
      for (let c = 0; c < C; c++) {
        const { x, y } = pos[c];
        this.mixing[this.latentBlink * C + c] = M.blinkT * Math.exp(-(x * x + (y - 1.05) ** 2) / (2 * 0.3 * 0.3));
      }
    }

    // Per-channel constants.
    const gainKey = subKey(this.seed, STREAM.gain);
    const mainsKey = subKey(this.seed, STREAM.mains);
    this.whiteSd = new Float32Array(C);
    this.mainsSin = new Float32Array(C);
    this.mainsCos = new Float32Array(C);
    this.harmSin = new Float32Array(C);
    this.harmCos = new Float32Array(C);
    this.channelPinkAmp = new Float64Array(C);
    this.driftAmp = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      // Sensors differ a little in noise level (±20 %).
      const gain = 0.8 + 0.4 * hashedUniform(gainKey, c);
      this.whiteSd[c] = M.whiteTPerRootHz * Math.sqrt(sfreq / 2) * gain;
      this.channelPinkAmp[c] = M.channelPinkT * gain;
      this.driftAmp[c] = M.driftT * (0.5 + hashedUniform(gainKey, C + c));
      const a1 = M.mainsT * (0.5 + hashedUniform(mainsKey, 4 * c));
      const p1 = 2 * Math.PI * hashedUniform(mainsKey, 4 * c + 1);
      const a3 = M.mainsHarmonicT * (0.5 + hashedUniform(mainsKey, 4 * c + 2));
      const p3 = 2 * Math.PI * hashedUniform(mainsKey, 4 * c + 3);
      this.mainsSin[c] = a1 * Math.cos(p1);
      this.mainsCos[c] = a1 * Math.sin(p1);
      this.harmSin[c] = a3 * Math.cos(p3);
      this.harmCos[c] = a3 * Math.sin(p3);
    }

    // Value-noise tables at the low rate.
    this.pinkLatentOctaves = pinkOctaves(2, 2048); // 1/f from ≈ 0.03 Hz to ≈ 30 Hz at 120 Hz
    this.pinkLatentTables = this.pinkLatentOctaves.map((s) => splineTable(s));
    // ≈ 0.25–15 Hz: above that the white sensor noise dominates each channel's own noise; the
    // slow end is the drift's. Knot spacings grow ×4 (two octaves) per level, each level carrying
    // two octaves' variance: half the work of ×2, for a 1/f spectrum with some ripple (this part
    // is ~4 % of the background power; the correlated background uses every octave).
    this.pinkChannelOctaves = [4, 16, 64, 256];
    this.pinkChannelTables = this.pinkChannelOctaves.map((s) => splineTable(s));
    const pinkKey = subKey(this.seed, STREAM.channelPink);
    const driftKey = subKey(this.seed, STREAM.drift);
    this.pinkChannelKeys = new Uint32Array(this.pinkChannelOctaves.length * C);
    this.driftKeys = new Uint32Array(C);
    for (let c = 0; c < C; c++) {
      for (let o = 0; o < this.pinkChannelOctaves.length; o++) this.pinkChannelKeys[o * C + c] = subKey(pinkKey, c, o);
      this.driftKeys[c] = hash32(driftKey, c);
    }
    this.driftSpacing = Math.max(1, Math.round(M.driftSpacingSec * this.lowRateHz));
    this.driftTable = splineTable(this.driftSpacing);
    this.alphaEnvSpacing = Math.max(1, Math.round(0.6 * this.lowRateHz));
    this.alphaEnvTable = splineTable(this.alphaEnvSpacing);
    this.alphaPhaseSpacing = Math.max(1, Math.round(0.4 * this.lowRateHz));
    this.alphaPhaseTable = splineTable(this.alphaPhaseSpacing);

    // Mains and its 3rd harmonic repeat every sfreq / gcd(sfreq, 50) samples (24 at 1200 Hz):
    // one table lookup per value instead of four products.
    this.mainsPeriod = Number.isInteger(sfreq) && Number.isInteger(M.mainsHz) ? sfreq / gcd(sfreq, M.mainsHz) : 0;
    this.mainsTable = this.mainsPeriod > 0 && this.mainsPeriod <= 4800 ? new Float32Array(this.mainsPeriod * C) : null;
    if (this.mainsTable !== null) {
      for (let s = 0; s < this.mainsPeriod; s++) this.mainsAt(s, this.mainsTable.subarray(s * C, (s + 1) * C));
    }
    this.mainsRow = new Float32Array(C);
    this.interpBase = new Float64Array(C);
    this.interpSlope = new Float64Array(C);

    const nLow = M.lowPerBlock + 1;
    this.knots = new Float64Array((Math.ceil(nLow / this.pinkChannelOctaves[0]) + 4) * C);
    this.latent = new Float64Array(nLow * K);
    this.low = new Float64Array(nLow * C);
    this.scratchA = new Float64Array(nLow);
    this.scratchB = new Float64Array(nLow);

    const latText = control === 'null' ? 'none' : `${Math.min(...lat).toFixed(2)}–${Math.max(...lat).toFixed(2)} s`;
    this.describe =
      `simulated CTF-275 subject (seed ${seed}, ${C} channels at ${sfreq} Hz, ${words.length} words, ` +
      `${L} layers × ${S} sources, control ${control}, latencies ${latText}, snr ${snr}, artefacts ${this.artefacts ? 'on' : 'off'})`;
  }

  /**
   * The z-scored source weights that drive words[i]'s evoked response, [layer][source]. The same
   * values multiply sourcePatterns in the data (ground truth for tests).
   */
  sourceWeights(i: number): Float32Array {
    if (!Number.isInteger(i) || i < 0 || i >= this.words.length) throw new RangeError(`sourceWeights: word ${i} is not in 0…${this.words.length - 1}`);
    return this.weightsOf(i).slice();
  }

  /** words[i]'s weights, computed on first use; a view into the cache. */
  private weightsOf(i: number): Float32Array {
    const LS = this.nLayers * this.nSources;
    if (this.weightReady[i] === 0) {
      const w = this.words[i];
      const raw = this.project(w);
      for (let k = 0; k < LS; k++) this.weights[i * LS + k] = (raw[k] - this.projMean[k]) * this.projInvSd[k];
      this.weightReady[i] = 1;
    }
    return this.weights.subarray(i * LS, (i + 1) * LS);
  }

  /**
   * The data of samples [firstSample, firstSample + nSamples), [sample][channel] in tesla. The
   * same range always gives the same values, however it is chunked.
   */
  chunk(firstSample: number, nSamples: number): SampleChunk {
    if (!Number.isSafeInteger(firstSample) || firstSample < 0) throw new RangeError(`chunk: firstSample must be a non-negative integer, got ${firstSample}`);
    if (!Number.isSafeInteger(nSamples) || nSamples < 0) throw new RangeError(`chunk: nSamples must be a non-negative integer, got ${nSamples}`);
    const C = this.nChannels;
    const N = this.blockSamples;
    const data = new Float32Array(nSamples * C);
    let s = firstSample;
    const end = firstSample + nSamples;
    while (s < end) {
      const b = Math.floor(s / N);
      const block = this.block(b);
      const from = s - b * N;
      const to = Math.min(N, end - b * N);
      data.set(block.subarray(from * C, to * C), (s - firstSample) * C);
      s = b * N + to;
    }
    return { sfreqHz: this.sfreqHz, firstSample, tStartSec: firstSample / this.sfreqHz, nChannels: C, nSamples, data };
  }

  /** Raw projections of a word's activation, [layer][source]. */
  private project(w: WordEvent): Float64Array {
    const { nLayers: L, nSources: S, nDims: D } = this;
    const act = this.activation(w.wordIndex, w.word);
    if (act.length !== L * D) {
      throw new RangeError(`SimulatedSubject: activation(${w.wordIndex}, "${w.word}") returned ${act.length} values; expected nLayers × nDims = ${L} × ${D}`);
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
  private calibrateProjections(): void {
    const LS = this.nLayers * this.nSources;
    const n = Math.min(512, this.words.length);
    if (n < 2) return;
    const sum = new Float64Array(LS);
    const sum2 = new Float64Array(LS);
    for (let i = 0; i < n; i++) {
      const raw = this.project(this.words[i]);
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

  /** Block b (samples [b·N, (b+1)·N)), from the cache or generated. */
  private block(b: number): Float32Array {
    const hit = this.cache.get(b);
    if (hit !== undefined) return hit;
    // Reuse the oldest block's memory (chunk() copies out of blocks, never hands them out).
    let reuse: Float32Array | undefined;
    if (this.cache.size >= 2) {
      const oldest = this.cache.keys().next().value as number;
      reuse = this.cache.get(oldest);
      this.cache.delete(oldest);
    }
    const out = this.generateBlock(b, reuse);
    this.cache.set(b, out);
    return out;
  }

  /** Generates block b into `into` (every value is overwritten) or a new array. */
  private generateBlock(b: number, into?: Float32Array): Float32Array {
    const M = SIMULATOR_MODEL;
    const C = this.nChannels;
    const K = this.nLatent;
    const R = this.decim;
    const N = this.blockSamples;
    const nLow = M.lowPerBlock + 1; // one past the block, for interpolating its last samples
    const j0 = b * M.lowPerBlock; // absolute low-rate index of the block's first sample
    const latent = this.latent;
    const low = this.low;
    latent.fill(0);
    low.fill(0);

    // Latent time courses at the low rate.
    if (this.evokedAmplitudeT !== 0) this.addEvoked(j0, nLow);
    for (let k = 0; k < M.backgroundSources; k++) {
      const key = subKey(this.seed, STREAM.background, k);
      addPinkNoise(latent, this.latentBackground + k, K, j0, nLow, this.pinkLatentOctaves, this.pinkLatentTables, key, 1);
    }
    this.addAlpha(j0, nLow);
    if (this.artefacts) this.addBlinks(j0, nLow);

    mixLatents(latent, this.mixing, low, nLow, K, C);
    // Channel-specific 1/f noise (equal-variance octaves) and drift.
    const nOct = this.pinkChannelOctaves.length;
    const octaveAmp = 1 / Math.sqrt(nOct);
    for (let o = 0; o < nOct; o++) {
      const keys = this.pinkChannelKeys.subarray(o * C, (o + 1) * C);
      this.addChannelValueNoise(j0, nLow, this.pinkChannelOctaves[o], this.pinkChannelTables[o], keys, this.channelPinkAmp, octaveAmp);
    }
    this.addChannelValueNoise(j0, nLow, this.driftSpacing, this.driftTable, this.driftKeys, this.driftAmp, 1);

    // Full rate: interpolate the smooth part, add mains and white noise. Mains phase comes from
    // the absolute sample index, not accumulated, so blocks agree exactly.
    const out = into ?? new Float32Array(N * C);
    const first = b * N;
    const whiteKey = hash32(subKey(this.seed, STREAM.white), b);
    const table = this.mainsTable;
    const period = this.mainsPeriod;
    // Where sample s's mains row is: in the one-period table, or (when the period is not a whole
    // number of samples) computed into a one-row buffer.
    const mainsRow =
      table !== null
        ? (s: number): number => ((first + s) % period) * C
        : (s: number): number => {
            this.mainsAt(first + s, this.mainsRow);
            return 0;
          };
    renderFullRate(out, low, this.interpBase, this.interpSlope, table ?? this.mainsRow, mainsRow, this.whiteSd, whiteNoiseBuffer(C), whiteKey, N, R, C);
    if (this.artefacts) this.addSteps(b, out);
    return out;
  }

  /** Mains field of every channel at absolute sample n, into row[channel]. */
  private mainsAt(n: number, row: Float32Array): void {
    const w = (2 * Math.PI * SIMULATOR_MODEL.mainsHz * n) / this.sfreqHz;
    const s1 = Math.sin(w);
    const c1 = Math.cos(w);
    const s3 = Math.sin(3 * w);
    const c3 = Math.cos(3 * w);
    for (let c = 0; c < this.nChannels; c++) {
      row[c] = s1 * this.mainsSin[c] + c1 * this.mainsCos[c] + s3 * this.harmSin[c] + c3 * this.harmCos[c];
    }
  }

  /**
   * Adds one value-noise octave of every channel (its own knots, amplitude amp[c] × scale) to the
   * low-rate block, channels innermost so the inner loop runs over contiguous memory.
   */
  private addChannelValueNoise(j0: number, nLow: number, spacing: number, table: Float64Array, keys: Uint32Array, amp: Float64Array, scale: number): void {
    const C = this.nChannels;
    const low = this.low;
    const G = this.knots;
    const mFirst = Math.floor(j0 / spacing) - 1;
    const mLast = Math.floor((j0 + nLow - 1) / spacing) + 2;
    for (let m = mFirst; m <= mLast; m++) {
      const row = (m - mFirst) * C;
      for (let c = 0; c < C; c++) G[row + c] = amp[c] * scale * tableNormal(keys[c], m);
    }
    for (let j = 0; j < nLow; j++) {
      const m = Math.floor((j0 + j) / spacing);
      const w = (j0 + j - m * spacing) * 4;
      const w0 = table[w];
      const w1 = table[w + 1];
      const w2 = table[w + 2];
      const w3 = table[w + 3];
      const g = (m - 1 - mFirst) * C;
      const lo = j * C;
      for (let c = 0; c < C; c++) {
        low[lo + c] += w0 * G[g + c] + w1 * G[g + C + c] + w2 * G[g + 2 * C + c] + w3 * G[g + 3 * C + c];
      }
    }
  }

  /** Evoked responses of every word whose bumps reach low-rate samples j0 … j0+nLow−1. */
  private addEvoked(j0: number, nLow: number): void {
    const L = this.nLayers;
    const S = this.nSources;
    const K = this.nLatent;
    const W = SIMULATOR_MODEL.evokedWidthSec;
    const rate = this.lowRateHz;
    const lat = this.latenciesSec;
    let minLat = Infinity;
    let maxLat = -Infinity;
    for (const v of lat) {
      minLat = Math.min(minLat, v);
      maxLat = Math.max(maxLat, v);
    }
    const tFirst = j0 / rate;
    const tLast = (j0 + nLow - 1) / rate;
    // Words whose onset + latency ± W/2 overlaps [tFirst, tLast].
    const fromOnset = tFirst - maxLat - W / 2;
    const toOnset = tLast - minLat + W / 2;
    let i = lowerBound(this.onsets, fromOnset);
    for (; i < this.onsets.length && this.onsets[i] <= toOnset; i++) {
      const weights = this.weightsOf(i);
      for (let l = 0; l < L; l++) {
        const peak = this.onsets[i] + lat[l];
        const ja = Math.max(j0, Math.ceil((peak - W / 2) * rate));
        const jb = Math.min(j0 + nLow - 1, Math.floor((peak + W / 2) * rate));
        for (let j = ja; j <= jb; j++) {
          const c = Math.cos((Math.PI * (j / rate - peak)) / W);
          const g = c * c;
          const row = (j - j0) * K + l * S;
          for (let k = 0; k < S; k++) this.latent[row + k] += weights[l * S + k] * g;
        }
      }
    }
  }

  /** Alpha: a ~10 Hz carrier with slowly wandering phase and a log-normal amplitude envelope. */
  private addAlpha(j0: number, nLow: number): void {
    const K = this.nLatent;
    const env = this.scratchA;
    const phase = this.scratchB;
    for (let k = 0; k < SIMULATOR_MODEL.alphaSources; k++) {
      env.fill(0);
      phase.fill(0);
      addValueNoise(env, 0, 1, j0, nLow, this.alphaEnvSpacing, this.alphaEnvTable, subKey(this.seed, STREAM.alphaEnvelope, k), 1);
      addValueNoise(phase, 0, 1, j0, nLow, this.alphaPhaseSpacing, this.alphaPhaseTable, subKey(this.seed, STREAM.alphaPhase, k), 1);
      const w = 2 * Math.PI * this.alphaHz[k];
      for (let j = 0; j < nLow; j++) {
        const t = (j0 + j) / this.lowRateHz;
        // exp(0.5·z − 0.125) has mean 1 for z ~ N(0, 1): bursts and lulls around a steady level.
        this.latent[j * K + this.latentAlpha + k] = Math.exp(0.5 * env[j] - 0.125) * Math.SQRT2 * Math.cos(w * t + 1.2 * phase[j]);
      }
    }
  }

  /** Blinks: at most one per slot, a cos² bump of blinkSec, amplitude varying ±25 %. */
  private addBlinks(j0: number, nLow: number): void {
    const M = SIMULATOR_MODEL;
    const K = this.nLatent;
    const rate = this.lowRateHz;
    const key = subKey(this.seed, STREAM.blink);
    const tFirst = j0 / rate;
    const tLast = (j0 + nLow - 1) / rate;
    const slotA = Math.floor((tFirst - M.blinkSec) / M.blinkSlotSec);
    const slotB = Math.floor(tLast / M.blinkSlotSec);
    for (let slot = Math.max(0, slotA); slot <= slotB; slot++) {
      if (hashedUniform(key, 3 * slot) >= M.blinkProbability) continue;
      const start = slot * M.blinkSlotSec + (M.blinkSlotSec - M.blinkSec) * hashedUniform(key, 3 * slot + 1);
      const amp = 1 + 0.25 * (2 * hashedUniform(key, 3 * slot + 2) - 1);
      const ja = Math.max(j0, Math.ceil(start * rate));
      const jb = Math.min(j0 + nLow - 1, Math.floor((start + M.blinkSec) * rate));
      for (let j = ja; j <= jb; j++) {
        const s = Math.sin((Math.PI * (j / rate - start)) / M.blinkSec);
        this.latent[(j - j0) * K + this.latentBlink] += amp * s * s;
      }
    }
  }

  /** SQUID jumps overlapping block b: a constant offset on one channel for a few seconds. */
  private addSteps(b: number, out: Float32Array): void {
    const M = SIMULATOR_MODEL;
    const C = this.nChannels;
    const N = this.blockSamples;
    const first = b * N;
    const slotSamples = Math.round(M.stepSlotSec * this.sfreqHz);
    const maxLen = Math.ceil(M.stepSec[1] * this.sfreqHz);
    const slotA = Math.max(0, Math.floor((first - maxLen) / slotSamples) - 1);
    const slotB = Math.floor((first + N - 1) / slotSamples);
    for (let slot = slotA; slot <= slotB; slot++) {
      const ev = this.stepEvent(slot, slotSamples);
      if (ev === undefined) continue;
      const sa = Math.max(first, ev.startSample);
      const sb = Math.min(first + N, ev.endSample);
      for (let s = sa; s < sb; s++) out[(s - first) * C + ev.channel] += ev.amplitudeT;
    }
  }

  private stepEvent(slot: number, slotSamples: number): StepEvent | undefined {
    const M = SIMULATOR_MODEL;
    const key = subKey(this.seed, STREAM.step, slot);
    if (hashedUniform(key, 0) >= M.stepProbability) return undefined;
    const channel = hash32(key, 1) % this.nChannels;
    const startSample = slot * slotSamples + Math.floor(hashedUniform(key, 2) * slotSamples);
    const len = Math.round((M.stepSec[0] + (M.stepSec[1] - M.stepSec[0]) * hashedUniform(key, 3)) * this.sfreqHz);
    const sign = hashedUniform(key, 4) < 0.5 ? -1 : 1;
    const amplitudeT = sign * (M.stepT[0] + (M.stepT[1] - M.stepT[0]) * hashedUniform(key, 5));
    return { channel, startSample, endSample: startSample + len, amplitudeT };
  }
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
 */
export function shuffledLatencies(planted: readonly number[], seed: number): number[] {
  const L = planted.length;
  const rng = mulberry32(seed);
  const perm = Array.from({ length: L }, (_, i) => i);
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
  for (let attempt = 0; attempt < 10_000; attempt++) {
    for (let i = L - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [perm[i], perm[j]] = [perm[j], perm[i]];
    }
    const changed = perm.some((p, i) => p !== i);
    if (L < 2 || (changed && (L < 5 || Math.abs(rankR()) <= 0.3))) break;
  }
  return perm.map((p) => planted[p]);
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** log2 of the number of window offsets into the white-noise table. */
const WHITE_BITS = 20;
let whiteTable: Float32Array | undefined;

/**
 * 2²⁰ + nChannels standard normals (fixed seed, built on first use, 4 MB): every sample's white
 * noise is a window of it at a hashed offset.
 */
function whiteNoiseBuffer(nChannels: number): Float32Array {
  const need = (1 << WHITE_BITS) + nChannels;
  if (whiteTable === undefined || whiteTable.length < need) {
    const rng = mulberry32(0x77686974); // "whit"
    const t = new Float32Array(need);
    for (let i = 0; i < need; i++) t[i] = randomNormal(rng);
    whiteTable = t;
  }
  return whiteTable;
}

/**
 * The mixing GEMM: low[j][c] += Σ_k latent[j][k] · mixing[k][c], for j < nLow. Four latents per
 * pass over a row: 3× faster in V8 than one at a time (fewer loads and stores of the row).
 */
function mixLatents(latent: Float64Array, mix: Float64Array, low: Float64Array, nLow: number, K: number, C: number): void {
  for (let j = 0; j < nLow; j++) {
    const lo = j * C;
    const lr = j * K;
    let k = 0;
    for (; k + 3 < K; k += 4) {
      const v0 = latent[lr + k];
      const v1 = latent[lr + k + 1];
      const v2 = latent[lr + k + 2];
      const v3 = latent[lr + k + 3];
      if (v0 === 0 && v1 === 0 && v2 === 0 && v3 === 0) continue;
      const m0 = k * C;
      const m1 = m0 + C;
      const m2 = m1 + C;
      const m3 = m2 + C;
      for (let c = 0; c < C; c++) low[lo + c] += v0 * mix[m0 + c] + v1 * mix[m1 + c] + v2 * mix[m2 + c] + v3 * mix[m3 + c];
    }
    for (; k < K; k++) {
      const v = latent[lr + k];
      if (v === 0) continue;
      const mo = k * C;
      for (let c = 0; c < C; c++) low[lo + c] += v * mix[mo + c];
    }
  }
}

/**
 * The full-rate samples of one block: out[s][c] = linear interpolation of low between rows ⌊s/R⌋
 * and ⌊s/R⌋+1, + mains[mainsRow(s) + c], + whiteSd[c] · white[window of sample s][c]. Each
 * sample's white-noise vector is a window of a large table of normals at an offset hashed from
 * (whiteKey, s): independent across samples at one hash per sample rather than per value.
 */
function renderFullRate(
  out: Float32Array,
  low: Float64Array,
  base: Float64Array,
  slope: Float64Array,
  mains: Float32Array,
  mainsRow: (s: number) => number,
  whiteSd: Float32Array,
  white: Float32Array,
  whiteKey: number,
  n: number,
  R: number,
  C: number,
): void {
  for (let s = 0; s < n; s++) {
    const j = Math.floor(s / R);
    const r = s - j * R;
    if (r === 0) {
      const lo = j * C;
      for (let c = 0; c < C; c++) {
        base[c] = low[lo + c];
        slope[c] = (low[lo + C + c] - low[lo + c]) / R;
      }
    }
    const mo = mainsRow(s);
    const wo = hash32(whiteKey, s) >>> (32 - WHITE_BITS);
    const o = s * C;
    for (let c = 0; c < C; c++) out[o + c] = base[c] + r * slope[c] + mains[mo + c] + whiteSd[c] * white[wo + c];
  }
}
