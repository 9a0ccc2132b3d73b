/**
 * A simulated subject who hears words as they are announced, for the closed loop: nobody knows in
 * advance which passages will be played, so words arrive one at a time (from the presenter's word
 * markers) and the MEG is rendered just behind the clock. It is the same subject as
 * SimulatedSubject (same seed: same noise, same sources, same field patterns, same coupling),
 * composed of:
 *
 *   - the noise: a SimulatedSubject with no words (every noise generator as is, its blocks cached);
 *   - the evoked responses of the words heard: the signal model (EvokedResponses) over the words
 *     whose responses can still reach samples not yet rendered, rebuilt when a word arrives, its
 *     projections z-scored on a fixed set of the stimulus's words (`calibrationWords` hook) so the
 *     scale never changes, each word scaled by its condition gain (`gainOf` hook,
 *     conditionEffects.ts); its latent sources are mixed into the channels and interpolated to the
 *     full rate as the block renderer does.
 *
 * A response starts at the earliest layer latency minus half the bump after the onset (0.225 s by
 * default), so a word heard up to then still enters the data in full; a word heard later than the
 * samples already rendered is counted in `lateWords` (the caller renders with a lag to avoid it).
 *
 * Owns: the heard words and rendering them. Must not: pace itself (the caller renders up to its
 * clock) or know about LSL or banks.
 */
import type { ChannelInfo, SampleChunk, WordEvent } from '../../src/types.js';
import { ctf275Positions } from '../meg/ctf/ctf275.js';
import { blockGrid, type BlockGrid } from './blocks.js';
import { defaultLatencySec, EVOKED_MODEL, EvokedResponses, type CouplingControl } from './evokedResponses.js';
import { SimulatedSubject } from './simulatedSubject.js';

export interface ListeningSubjectOptions {
  seed: number;
  sfreqHz?: number;
  /** Layer activations of a word, [layer][dim]. */
  activation: (wordIndex: number, word: string) => Float32Array;
  nLayers: number;
  nDims: number;
  depths: number[];
  control?: CouplingControl;
  snr?: number;
  artefacts?: boolean;
  /** Words of the stimulus to z-score the projections on (e.g. the bank's first 512). */
  calibrationWords: readonly WordEvent[];
  /** Channels to render, indices into the CTF-275 list (default all 273). */
  picks?: readonly number[];
}

interface Heard {
  event: WordEvent;
  gain: number;
}

export class ListeningSubject {
  readonly sfreqHz: number;
  /** The rendered channels (after picks). */
  readonly channels: ChannelInfo[];
  /** Words heard after part of their response had already been rendered. */
  lateWords = 0;
  /** Words heard so far. */
  heardWords = 0;

  private readonly noise: SimulatedSubject;
  private readonly picks: number[];
  private readonly grid: BlockGrid;
  private readonly opts: ListeningSubjectOptions;
  private readonly positions = ctf275Positions();
  private readonly gains = new WeakMap<WordEvent, number>();
  /** Words whose responses may still reach samples not yet rendered, in onset order. */
  private active: Heard[] = [];
  private evoked: EvokedResponses | null = null;
  private renderedUntilSec = 0;
  /** Earliest response after an onset, s (a word heard by then enters the data in full). */
  readonly responseStartSec: number;
  /** Latest response after an onset, s. */
  private readonly responseEndSec: number;

  constructor(o: ListeningSubjectOptions) {
    this.opts = o;
    this.sfreqHz = o.sfreqHz ?? 1200;
    this.noise = new SimulatedSubject({ seed: o.seed, words: [], activation: o.activation, nLayers: o.nLayers, nDims: o.nDims, depths: o.depths, control: o.control, snr: o.snr, sfreqHz: this.sfreqHz, artefacts: o.artefacts });
    this.picks = o.picks ? [...o.picks] : this.noise.channels.map((_, i) => i);
    for (const c of this.picks) if (!(Number.isInteger(c) && c >= 0 && c < this.noise.channels.length)) throw new RangeError(`ListeningSubject: channel ${c} is not in 0…${this.noise.channels.length - 1}`);
    this.channels = this.picks.map((c) => this.noise.channels[c]);
    this.grid = blockGrid(this.sfreqHz);
    const lat = o.depths.map(defaultLatencySec);
    this.responseStartSec = Math.min(...lat) - EVOKED_MODEL.evokedWidthSec / 2;
    this.responseEndSec = Math.max(...lat) + EVOKED_MODEL.evokedWidthSec / 2;
  }

  /**
   * The subject hears a word (onset in the subject's clock: seconds since its sample 0), with a
   * gain on its response (condition effects; 1 = none). Words must come in onset order.
   */
  hear(word: WordEvent, gain = 1): void {
    if (word.onsetSec + this.responseStartSec < this.renderedUntilSec) this.lateWords++;
    this.gains.set(word, gain);
    this.active.push({ event: word, gain });
    this.heardWords++;
    this.evoked = null;
  }

  /** Samples [firstSample, firstSample + nSamples), [sample][channel] (picked channels), tesla. */
  chunk(firstSample: number, nSamples: number): SampleChunk {
    const full = this.noise.chunk(firstSample, nSamples);
    const C = this.noise.channels.length;
    const P = this.picks.length;
    const data = new Float32Array(nSamples * P);
    for (let s = 0; s < nSamples; s++) for (let p = 0; p < P; p++) data[s * P + p] = full.data[s * C + this.picks[p]];
    const t0 = firstSample / this.sfreqHz;
    // Words whose responses ended before this chunk no longer matter.
    const before = this.active.length;
    this.active = this.active.filter((h) => h.event.onsetSec + this.responseEndSec >= t0 - 1 / this.grid.lowRateHz);
    if (this.active.length !== before) this.evoked = null;
    if (this.active.length > 0 && nSamples > 0) this.addEvoked(data, firstSample, nSamples);
    this.renderedUntilSec = Math.max(this.renderedUntilSec, (firstSample + nSamples) / this.sfreqHz);
    return { sfreqHz: this.sfreqHz, firstSample, tStartSec: t0, nChannels: P, nSamples, data };
  }

  private addEvoked(out: Float32Array, first: number, n: number): void {
    const o = this.opts;
    this.evoked ??= new EvokedResponses(
      { seed: o.seed, words: this.active.map((h) => h.event), activation: o.activation, nLayers: o.nLayers, nDims: o.nDims, depths: o.depths, control: o.control, snr: o.snr, calibrationWords: o.calibrationWords, gainOf: (w) => this.gains.get(w) ?? 1 },
      this.positions,
      this.grid,
    );
    const ev = this.evoked;
    const R = this.grid.decim;
    const K = ev.nLatent;
    const C = this.positions.length;
    const P = this.picks.length;
    const jA = Math.floor(first / R);
    const jB = Math.floor((first + n - 1) / R) + 1;
    const nLow = jB - jA + 1;
    const latent = new Float64Array(nLow * K);
    ev.addLatent(latent, 0, K, jA, nLow);
    // Mixing into the picked channels: low[j][p] = Σ_k latent[j][k] · pattern[k][channel p].
    const low = new Float64Array(nLow * P);
    for (let j = 0; j < nLow; j++) {
      for (let k = 0; k < K; k++) {
        const v = latent[j * K + k];
        if (v === 0) continue;
        for (let p = 0; p < P; p++) low[j * P + p] += v * ev.fieldPatterns[k * C + this.picks[p]];
      }
    }
    // Linear interpolation to the full rate, as the block renderer does (sample s between low rows ⌊s/R⌋ and ⌊s/R⌋+1).
    for (let s = first; s < first + n; s++) {
      const j = Math.floor(s / R);
      const r = s - j * R;
      const a = (j - jA) * P;
      const o2 = (s - first) * P;
      for (let p = 0; p < P; p++) out[o2 + p] += low[a + p] + (r * (low[a + P + p] - low[a + p])) / R;
    }
  }
}
