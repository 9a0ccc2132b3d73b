/**
 * The simulated subject: continuous CTF-275 MEG (tesla, 1200 Hz by default) of someone listening to
 * a text, in which each language-model layer's activation is planted as an evoked response at
 * that layer's latency after every word onset, under realistic noise. All of it is seeded and
 * reproducible: every random value is a hash of (seed, component's stream, index).
 *
 * The subject composes small generators, one per component of the data (constants SI, at the
 * defaults; each module owns its constants, patterns and random streams):
 *
 *   low rate (≈ 120 Hz), latent sources mixed into the channels through field patterns:
 *   - evokedResponses.ts, the signal: a cascade of processing stages, one per layer given, each
 *     nSources latent sources driven by z-scored random projections of its layer's activation, a
 *     cos² bump (150 ms wide) at the stage's latency after each word onset, focal dipolar
 *     patterns. Coupling 'projections' (synthetic features): 3 sources per stage reading the raw
 *     activation, 6 fT per unit weight × snr; 'population' (a language model's whole hidden-state
 *     stack, depths 0 … 1): 50 sources per stage reading the whitened activation, 2.94 fT each
 *     (twice the total). The control (planted, null, shuffle, flat) sets the latencies of all
 *     stages;
 *   - background.ts: 8 latent 1/f sources (≈ 0.03–30 Hz), 110 fT each, broad dipolar patterns;
 *   - alpha.ts: 2 occipito-parietal generators at 9.5–10.5 Hz, 120 fT, wandering phase and
 *     log-normal envelope;
 *   - blinks.ts (artefacts): 2.5 pT frontal bumps of 0.4 s, one per 6 s slot with probability 0.7;
 *   low rate, each channel its own:
 *   - channelNoise.ts: 60 fT pink noise (≈ 0.25–15 Hz);
 *   - drift.ts: 400 fT drift, knots every 20 s;
 *   full rate:
 *   - mains.ts: 50 Hz (60 fT) and 150 Hz (20 fT), per-channel amplitude and phase;
 *   - whiteNoise.ts: 6 fT/√Hz;
 *   - squidSteps.ts (artefacts): 1.5–6 pT offsets on one channel for 2–25 s, one per 45 s slot
 *     with probability 0.35.
 *   sensorGains.ts gives each sensor its noise level (±20 %, white and own 1/f) and drift gain;
 *   patterns.ts the dipolar field patterns.
 *
 * blocks.ts renders them in fixed blocks of 120 low-rate samples, each a pure function of (seed,
 * block index), so the same samples come out however a range is chunked or in whatever order:
 * latent sources at the low rate, one matrix product into the channels, channel noise, linear
 * interpolation to the full rate fused with mains and white noise, then steps. Measured ≈ 100–170×
 * real time for 273 channels on a 2-core machine (bench/simulator.ts).
 *
 * Owns: the composition, the options and the public face (channels, chunks, ground truth). Must
 * not: hold a signal or noise model itself (its generators do), pace output in time (replay/
 * schedulers do) or filter, resample or epoch the data (streams/ does).
 */
import type { ChannelInfo, SampleChunk, WordEvent } from '../../src/types.js';
import { ctf275Channels, ctf275Positions } from '../meg/ctf/ctf275.js';
import { Alpha, ALPHA_MODEL } from './alpha.js';
import { Background, BACKGROUND_MODEL } from './background.js';
import { Blinks, BLINK_MODEL } from './blinks.js';
import { BLOCK_MODEL, BlockRenderer, blockGrid, type MixKernel } from './blocks.js';
import { CHANNEL_NOISE_MODEL, ChannelPinkNoise } from './channelNoise.js';
import { Drift, DRIFT_MODEL } from './drift.js';
import { EVOKED_MODEL, EvokedResponses, type CouplingControl, type CouplingName, type CouplingOptions } from './evokedResponses.js';
import { Mains, MAINS_MODEL } from './mains.js';
import { sensorGains } from './sensorGains.js';
import { SquidSteps, STEP_MODEL } from './squidSteps.js';
import { WHITE_NOISE_MODEL, WhiteNoise } from './whiteNoise.js';

export { COUPLINGS, defaultLatencySec, shuffledLatencies, type CouplingControl, type CouplingName } from './evokedResponses.js';

/**
 * The signal model's options (seed, words, activation, nLayers, nDims, depths, latenciesSec,
 * control, snr, coupling, nSources; see CouplingOptions) and the subject's own.
 */
export interface SimulatorOptions extends CouplingOptions {
  /** Sampling rate, Hz (default 1200, the rate of the paper's data). */
  sfreqHz?: number;
  /** Blinks and SQUID jumps (default true). */
  artefacts?: boolean;
  /** The mixing product's kernel (default 'auto': OpenBLAS when it loads; see blocks.ts). */
  mixKernel?: MixKernel;
}

/** Amplitudes and shapes of the model, SI units: every generator's constants in one object. */
export const SIMULATOR_MODEL = {
  ...EVOKED_MODEL,
  ...BACKGROUND_MODEL,
  ...CHANNEL_NOISE_MODEL,
  ...DRIFT_MODEL,
  ...ALPHA_MODEL,
  ...WHITE_NOISE_MODEL,
  ...MAINS_MODEL,
  ...BLINK_MODEL,
  ...STEP_MODEL,
  ...BLOCK_MODEL,
} as const;

export class SimulatedSubject {
  readonly channels: ChannelInfo[];
  readonly sfreqHz: number;
  /** Latency per layer (stage) actually planted, seconds, after the control (NaN for every layer under 'null'). */
  readonly latenciesSec: number[];
  /** Relative depth of each layer (stage). */
  readonly depths: readonly number[];
  readonly coupling: CouplingName;
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

  private readonly evoked: EvokedResponses;
  private readonly renderer: BlockRenderer;

  constructor(opts: SimulatorOptions) {
    const sfreq = opts.sfreqHz ?? 1200;
    if (!(sfreq >= 100)) throw new RangeError(`SimulatedSubject: sfreqHz must be ≥ 100 (mains at 50 Hz must be representable), got ${sfreq}`);
    const seed = opts.seed >>> 0;
    const artefacts = opts.artefacts ?? true;
    const grid = blockGrid(sfreq);
    this.sfreqHz = sfreq;
    this.channels = ctf275Channels();
    const pos = ctf275Positions();
    const C = this.channels.length;

    const evoked = (this.evoked = new EvokedResponses(opts, pos, grid));
    this.words = evoked.words;
    this.latenciesSec = evoked.latenciesSec;
    this.sourcePatterns = evoked.sourcePatterns;
    this.control = evoked.control;
    this.nLayers = evoked.nLayers;
    this.nSources = evoked.nSources;
    this.depths = evoked.depths;
    this.coupling = evoked.coupling;
    const last = this.words[this.words.length - 1];
    this.durationSec = last === undefined ? 0 : last.onsetSec + (last.durationSec ?? 0) + 3.5;

    const gains = sensorGains(seed, C);
    this.renderer = new BlockRenderer(grid, C, {
      latent: [evoked, new Background(seed, pos), new Alpha(seed, pos, grid), new Blinks(seed, pos, grid, artefacts)],
      channel: [new ChannelPinkNoise(seed, gains.noise, grid), new Drift(seed, gains.drift, grid)],
      rows: new Mains(seed, C, sfreq),
      scaledRows: new WhiteNoise(seed, gains.noise, sfreq),
      events: artefacts ? [new SquidSteps(seed, C, sfreq)] : [],
    }, opts.mixKernel);

    this.describe =
      `simulated CTF-275 subject (seed ${opts.seed}, ${C} channels at ${sfreq} Hz, ${this.words.length} words, ` +
      `${evoked.summary}, artefacts ${artefacts ? 'on' : 'off'})`;
  }

  /** The kernel the field mixing runs on ('blas' or 'js') and, for 'js' under 'auto', why. */
  get mixKernel(): { kernel: 'blas' | 'js'; detail: string } {
    return { kernel: this.renderer.mixKernel, detail: this.renderer.mixDetail };
  }

  /**
   * The planted latency of each decoded layer, by relative depth: the stage nearest in depth (for a
   * whole-model stack, the hidden state the depth reads). NaN under 'null'.
   */
  latenciesAtDepthsSec(depths: readonly number[]): number[] {
    return depths.map((d) => this.evoked.latencyAtDepthSec(d));
  }

  /**
   * The z-scored source weights that drive words[i]'s evoked response, [layer][source]. The same
   * values multiply sourcePatterns in the data (ground truth for tests).
   */
  sourceWeights(i: number): Float32Array {
    if (!Number.isInteger(i) || i < 0 || i >= this.words.length) throw new RangeError(`sourceWeights: word ${i} is not in 0…${this.words.length - 1}`);
    return this.evoked.weightsOf(i).slice();
  }

  /**
   * The data of samples [firstSample, firstSample + nSamples), [sample][channel] in tesla. The
   * same range always gives the same values, however it is chunked. With `into`, the data are
   * written there (its first nSamples × nChannels values) instead of a new array: a source that
   * recycles a few buffers spares the garbage collector ~100 MB/s at 75× real time.
   */
  chunk(firstSample: number, nSamples: number, into?: Float32Array): SampleChunk {
    if (!Number.isSafeInteger(firstSample) || firstSample < 0) throw new RangeError(`chunk: firstSample must be a non-negative integer, got ${firstSample}`);
    if (!Number.isSafeInteger(nSamples) || nSamples < 0) throw new RangeError(`chunk: nSamples must be a non-negative integer, got ${nSamples}`);
    const data = this.renderer.samples(firstSample, nSamples, into);
    return { sfreqHz: this.sfreqHz, firstSample, tStartSec: firstSample / this.sfreqHz, nChannels: this.channels.length, nSamples, data };
  }
}
