/**
 * A subject as the analysis pipeline's sources (MEG chunks and word events on one clock): a BIDS
 * subject's recordings played back (what `lockstep replay` decodes), or the simulated subject
 * listening to the built-in text (what `lockstep demo` decodes). The experiment cells use the same
 * two, so a cell is the same decoding as `replay` or `demo`.
 *
 * Owns: turning recordings or a simulated subject into paced, gated sources. Must not: read formats
 * (adapters/meg), simulate (adapters/simulator) or analyse (streams/pipeline).
 */
import { filter, from, map, mergeMap, share, type Observable } from 'rxjs';
import type { FeatureTable } from '../adapters/llm/features.js';
import { SimulatedSubject, type CouplingControl, type CouplingName } from '../adapters/simulator/simulatedSubject.js';
import { PAPER_EPOCH } from '../src/epochGrid.js';
import type { SampleChunk, WordEvent } from '../src/types.js';
import { FlowControl } from '../streams/flowControl.js';
import { pacedChunks, type Speed } from './pacedChunks.js';
import { recordingReplay, type ReplayItem, type ReplayPlan } from './recordingReplay.js';
import { stimulusSegments, type SubjectRecordings } from './subjectRecordings.js';

/** Words the decoder may wait for before the source is held back (bounded memory at any speed). */
const FLOW_WORDS = 256;

export interface SubjectSources {
  chunks$: Observable<SampleChunk>;
  words$: Observable<WordEvent>;
  sfreqHz: number;
  /** Channels in the chunks. */
  nChannels: number;
  /** Source seconds that will be played. */
  totalSec: number;
  /** The gate the source waits on: pass it to the pipeline. */
  flow: FlowControl;
}

export interface BidsSources extends SubjectSources {
  plan: ReplayPlan;
  /** Words of all recordings' events (before any exclusion). */
  wordsInEvents: number;
}

/**
 * A BIDS subject's recordings, in order on one clock (the reader in a worker thread).
 * @param channels channel names to play, in order (default: the subject's common MEG channels)
 */
export function bidsSources(subject: SubjectRecordings, isContent: (index: number) => boolean | undefined, o: { speed: Speed; channels?: string[] }): BidsSources {
  const { bundles } = subject;
  const names = o.channels ?? subject.channels;
  const segments = stimulusSegments(bundles, isContent);
  const flow = new FlowControl();
  const { plan, source } = recordingReplay(segments, {
    speed: o.speed,
    chunkSamples: Math.max(1, Math.round(bundles[0].recording!.header.sfreqHz / 10)),
    channels: names,
    gate: () => flow.whenBelow(FLOW_WORDS),
    threaded: true,
  });
  const items$: Observable<ReplayItem> = source.pipe(share());
  const chunks$ = items$.pipe(
    filter((i): i is Extract<ReplayItem, { kind: 'chunk' }> => i.kind === 'chunk'),
    map((i): SampleChunk => ({ ...i.chunk, segment: i.segment })),
  );
  const words$ = items$.pipe(
    filter((i): i is Extract<ReplayItem, { kind: 'word' }> => i.kind === 'word'),
    map((i): WordEvent => ({ wordIndex: i.word.wordIndex, word: i.word.word, onsetSec: i.word.onsetSec, durationSec: i.word.durationSec, isContent: i.word.isContent, segment: i.word.segment })),
  );
  return { chunks$, words$, sfreqHz: plan.sfreqHz, nChannels: names.length, totalSec: plan.totalSec, flow, plan, wordsInEvents: segments.reduce((n, s) => n + s.words.length, 0) };
}

export interface SimulatedSourcesOptions {
  seed: number;
  /** The words heard, timed (speechTiming), with their content tags. */
  words: WordEvent[];
  /** The activations the simulated brain encodes (its "brain model"), one processing stage per layer. */
  planted: FeatureTable;
  /** How the stages read them (default 'projections'; 'population' for a model's whole hidden-state stack). */
  coupling?: CouplingName;
  /** Depths of the layers the pipeline decodes, for their planted latencies (default: the planted table's). */
  decodedDepths?: readonly number[];
  control: CouplingControl;
  snr?: number;
  sfreqHz?: number;
  /** Stop after this much recording, minutes (default: when the words end). */
  minutes?: number;
  speed: Speed;
  /** Planted latency per layer, seconds (default: the simulator's 0.30 → 0.65 s by depth). */
  latenciesSec?: number[];
  /**
   * 'recycled' (default): chunks$'s data arrays are a ring of RECYCLED_CHUNKS buffers, each
   * overwritten RECYCLED_CHUNKS chunks later; 'fresh': a new array per chunk. See SimulatedSources.
   */
  chunkBuffers?: 'recycled' | 'fresh';
}

/**
 * Chunk buffers a simulated source cycles through (0.1 s each: 0.8 s of data). The analysis
 * pipeline reads a raw chunk while it is emitted (its filters write new arrays), so one would do;
 * the ring leaves room for a consumer that looks back a few chunks. Fresh arrays for every chunk
 * (~100 MB/s at 75× real time) outlived V8's young generation often enough to start a full
 * mark-compact 4–5 times a second: −10 % CPU over one simulated hour of `bench/tenHours`, −17–21 %
 * over ten (BENCHMARKS.md, "Ten hours").
 */
export const RECYCLED_CHUNKS = 8;

/**
 * chunks$ carries recycled data arrays unless chunkBuffers is 'fresh': a chunk's data is
 * overwritten RECYCLED_CHUNKS chunks later, so a consumer that keeps samples copies them (the
 * pipeline's nonFiniteGuard and filters do; test/subjectSources.test.ts checks the decoding is the
 * same either way).
 */
export interface SimulatedSources extends SubjectSources {
  subject: SimulatedSubject;
  /** The ground truth per decoded layer (decodedDepths): its stage's latency after the control, NaN under 'null'. */
  plantedLatenciesSec: number[];
}

/** The simulated subject listening to `words`, its MEG encoding `planted`'s layers. */
export function simulatedSources(o: SimulatedSourcesOptions): SimulatedSources {
  const sfreqHz = o.sfreqHz ?? 1200;
  const f = o.planted;
  const subject = new SimulatedSubject({ seed: o.seed, words: o.words, activation: (i, w) => f.of(i, w), nLayers: f.nLayers, nDims: f.nDims, depths: f.depths, control: o.control, snr: o.snr, coupling: o.coupling, sfreqHz, latenciesSec: o.latenciesSec });
  const lastOnset = o.words.at(-1)!.onsetSec;
  const durationSec = Math.min(o.minutes !== undefined ? o.minutes * 60 : Infinity, subject.durationSec, lastOnset + PAPER_EPOCH.tEndSec + 1);
  const totalSamples = Math.floor(durationSec * sfreqHz);
  const flow = new FlowControl();
  const chunkSamples = sfreqHz / 10;
  const ring = o.chunkBuffers === 'fresh' ? [] : Array.from({ length: RECYCLED_CHUNKS }, () => new Float32Array(Math.ceil(chunkSamples) * subject.channels.length));
  let emitted = 0;
  const chunks$ = pacedChunks((first, n) => subject.chunk(first, n, ring.length > 0 ? ring[emitted++ % ring.length] : undefined), {
    sfreqHz,
    totalSamples,
    chunkSamples,
    speed: o.speed,
    // Hold the simulator back while the decoder has many words queued (bounded memory, same results at any speed).
    gate: () => flow.whenBelow(FLOW_WORDS),
  }).pipe(share());
  // Words go out with the chunk that reaches their onset, as a live word stream would.
  let nextWord = 0;
  const words = o.words;
  const words$: Observable<WordEvent> = chunks$.pipe(
    mergeMap((c: SampleChunk) => {
      const end = c.tStartSec + c.nSamples / c.sfreqHz;
      const out: WordEvent[] = [];
      while (nextWord < words.length && words[nextWord].onsetSec < end) out.push(words[nextWord++]);
      return from(out);
    }),
    share(),
  );
  const plantedLatenciesSec = o.decodedDepths ? subject.latenciesAtDepthsSec(o.decodedDepths) : subject.latenciesSec;
  return { chunks$, words$, sfreqHz, nChannels: subject.channels.length, totalSec: totalSamples / sfreqHz, flow, subject, plantedLatenciesSec };
}
