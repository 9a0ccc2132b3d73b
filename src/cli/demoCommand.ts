/**
 * `lockstep demo`: the whole pipeline on a simulated subject listening to the built-in text, whose
 * brain encodes the built-in language model's layers (or seeded synthetic activations) —
 * simulated MEG (1200 Hz, 273 channels) → band-pass → resample to 30 Hz → epochs around word
 * onsets → decoder (rolling and exact K-fold) → dashboard, terminal progress and JSON lines.
 */
import { mergeMap, from, share, type Observable } from 'rxjs';
import { builtinWords } from '../../adapters/text/builtinText.js';
import { speechTiming } from '../../adapters/simulator/speechTiming.js';
import { SimulatedSubject } from '../../adapters/simulator/simulatedSubject.js';
import type { Dashboard } from '../../dashboard/server.js';
import { pacedChunks, type Speed } from '../../replay/pacedChunks.js';
import { FlowControl } from '../../streams/flowControl.js';
import { PAPER_EPOCH } from '../epochGrid.js';
import { runAnalysisSession } from './analysisSession.js';
import { modelFeatures, syntheticFeatures, type FeatureTable } from './features.js';
import type { BackendName } from '../linalg/backend.js';
import type { ScoreSnapshot } from '../snapshot.js';
import type { SampleChunk, WordEvent } from '../types.js';

export type Control = 'planted' | 'null' | 'shuffle' | 'flat';

export interface DemoArgs {
  port: number;
  host: string;
  token?: string;
  dashboard: boolean;
  speed: Speed;
  /** Stop after this much simulated recording (minutes); undefined = until the text ends. */
  minutes?: number;
  seed: number;
  control: Control;
  /** Evoked amplitude relative to the simulator's default. */
  snr?: number;
  json: boolean;
  backend: 'auto' | BackendName;
  nDims: number;
  /**
   * Language model whose activations the simulated subject encodes and the decoder reads
   * (`builtin` = the shipped model); undefined = the seeded synthetic activations.
   */
  model?: string;
  /** With a model: decode every word rather than content words only (paper default). */
  allWords?: boolean;
  refitEveryWords: number;
  /** Words per contiguous fold block (round-robin over 5 folds); exact scores need every fold filled. */
  foldBlockWords?: number;
  snapshotEveryWords: number;
  halfLifeWords: number | null;
  quiet: boolean;
  /** Called with the dashboard once it listens (tests). */
  onDashboard?: (d: Dashboard) => void;
  /** Every snapshot (tests). */
  onSnapshot?: (s: ScoreSnapshot) => void;
  /** Awaited before the dashboard closes at the end (e.g. a screenshot in progress). */
  beforeClose?: () => Promise<void>;
}

export interface DemoResult {
  last: ScoreSnapshot | null;
  plantedLatenciesSec: number[];
  wordsOutside: number;
  simulatedSeconds: number;
  wallSeconds: number;
}

const N_LAYERS = 9;

export async function runDemo(a: DemoArgs): Promise<DemoResult> {
  const t0 = performance.now();
  const sfreqHz = 1200;
  // With a model, features exist for the first hour of the text unless --minutes says otherwise
  // (~3.6 words/s at most); the chunked context (50–99 previous words) keeps extraction to seconds.
  const nWords = a.model ? Math.ceil((a.minutes ?? 60) * 60 * 3.6) + 50 : undefined;
  const features: FeatureTable = a.model
    ? await modelFeatures([{ text: 'builtin', maxWords: nWords }], { model: a.model, mode: 'chunked', quiet: a.quiet })
    : syntheticFeatures(a.seed, a.nDims, N_LAYERS);
  const depths = features.depths;
  const text = builtinWords(nWords);
  const words = speechTiming(text, { seed: a.seed, startSec: 3 }).map((w) => ({ ...w, isContent: features.isContent(w.wordIndex) }));
  const activation = (i: number, w: string) => features.of(i, w) ?? new Float32Array(features.nLayers * features.nDims);
  const subject = new SimulatedSubject({ seed: a.seed, words, activation, nLayers: features.nLayers, nDims: features.nDims, depths, control: a.control, snr: a.snr, sfreqHz });
  const lastOnset = words.at(-1)!.onsetSec;
  const durationSec = Math.min(a.minutes !== undefined ? a.minutes * 60 : Infinity, subject.durationSec, lastOnset + PAPER_EPOCH.tEndSec + 1);
  const totalSamples = Math.floor(durationSec * sfreqHz);
  const log = (line: string) => !a.quiet && process.stderr.write(`${line}\n`);
  log(`lockstep demo: simulated subject (seed ${a.seed}, ${a.control} latencies ${subject.latenciesSec.map((l) => l.toFixed(2)).join(' ')} s), features: ${features.label}`);

  const flow = new FlowControl();
  const chunks$ = pacedChunks((first, n) => subject.chunk(first, n), {
    sfreqHz,
    totalSamples,
    chunkSamples: sfreqHz / 10,
    speed: a.speed,
    // Hold the simulator back while the decoder has many words queued (bounded memory, same results at any speed).
    gate: () => flow.whenBelow(256),
  }).pipe(share());
  let nextWord = 0;
  const words$: Observable<WordEvent> = chunks$.pipe(
    mergeMap((c: SampleChunk) => {
      const end = c.tStartSec + c.nSamples / c.sfreqHz;
      const out: WordEvent[] = [];
      while (nextWord < words.length && words[nextWord].onsetSec < end) out.push(words[nextWord++]);
      return from(out);
    }),
    share(),
  );
  const r = await runAnalysisSession({
    label: 'demo',
    chunks$,
    words$,
    sfreqHz,
    nChannels: subject.channels.length,
    activationOf: (w) => features.of(w.wordIndex, w.word),
    nLayers: features.nLayers,
    nDims: features.nDims,
    depths,
    contentWordsOnly: a.model !== undefined && !a.allWords,
    backend: a.backend,
    refitEveryWords: a.refitEveryWords,
    snapshotEveryWords: a.snapshotEveryWords,
    foldBlockWords: a.foldBlockWords ?? 100,
    halfLifeWords: a.halfLifeWords,
    dashboard: a.dashboard ? { host: a.host, port: a.port, token: a.token } : undefined,
    json: a.json,
    quiet: a.quiet,
    sourceLabel: `simulated subject (seed ${a.seed}, ${a.control})`,
    activationsLabel: features.label,
    totalSec: totalSamples / sfreqHz,
    flow,
    onDashboard: a.onDashboard,
    onSnapshot: a.onSnapshot,
    beforeClose: a.beforeClose,
  });
  if (r.last?.exact) log(`planted latencies ${subject.latenciesSec.map((t) => t.toFixed(3)).join(' ')} s`);
  return { last: r.last, plantedLatenciesSec: subject.latenciesSec, wordsOutside: r.wordsOutside, simulatedSeconds: totalSamples / sfreqHz, wallSeconds: (performance.now() - t0) / 1000 };
}
