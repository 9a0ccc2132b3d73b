/**
 * `lockstep demo`: the whole pipeline on a simulated subject listening to the built-in text —
 * simulated MEG (1200 Hz, 273 channels) → band-pass → resample to 30 Hz → epochs around word
 * onsets → decoder (rolling and exact K-fold) → dashboard, terminal progress and JSON lines.
 */
import { mergeMap, from, share, type Observable } from 'rxjs';
import { builtinWords } from '../../adapters/text/builtinText.js';
import { speechTiming } from '../../adapters/simulator/speechTiming.js';
import { syntheticActivations, describe as SYNTHETIC_ACTIVATIONS } from '../../adapters/simulator/syntheticActivations.js';
import { SimulatedSubject } from '../../adapters/simulator/simulatedSubject.js';
import type { Dashboard } from '../../dashboard/server.js';
import { pacedChunks, type Speed } from '../../replay/pacedChunks.js';
import { FlowControl } from '../../streams/flowControl.js';
import { defaultDepths, PAPER_EPOCH } from '../epochGrid.js';
import { runAnalysisSession } from './analysisSession.js';
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
  const depths = defaultDepths(N_LAYERS);
  const text = builtinWords();
  const words = speechTiming(text, { seed: a.seed, startSec: 3 });
  const activation = syntheticActivations({ seed: a.seed, nLayers: N_LAYERS, nDims: a.nDims });
  const subject = new SimulatedSubject({ seed: a.seed, words, activation, nLayers: N_LAYERS, nDims: a.nDims, depths, control: a.control, snr: a.snr, sfreqHz });
  const lastOnset = words.at(-1)!.onsetSec;
  const durationSec = Math.min(a.minutes !== undefined ? a.minutes * 60 : Infinity, subject.durationSec, lastOnset + PAPER_EPOCH.tEndSec + 1);
  const totalSamples = Math.floor(durationSec * sfreqHz);
  const log = (line: string) => !a.quiet && process.stderr.write(`${line}\n`);
  log(`lockstep demo: simulated subject (seed ${a.seed}, ${a.control} latencies ${subject.latenciesSec.map((l) => l.toFixed(2)).join(' ')} s), ${SYNTHETIC_ACTIVATIONS}`);

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
    activationOf: (w) => activation(w.wordIndex, w.word),
    nLayers: N_LAYERS,
    nDims: a.nDims,
    depths,
    contentWordsOnly: false,
    backend: a.backend,
    refitEveryWords: a.refitEveryWords,
    snapshotEveryWords: a.snapshotEveryWords,
    foldBlockWords: a.foldBlockWords ?? 100,
    halfLifeWords: a.halfLifeWords,
    dashboard: a.dashboard ? { host: a.host, port: a.port, token: a.token } : undefined,
    json: a.json,
    quiet: a.quiet,
    sourceLabel: `simulated subject (seed ${a.seed}, ${a.control})`,
    activationsLabel: SYNTHETIC_ACTIVATIONS,
    totalSec: totalSamples / sfreqHz,
    flow,
    onDashboard: a.onDashboard,
    onSnapshot: a.onSnapshot,
    beforeClose: a.beforeClose,
  });
  if (r.last?.exact) log(`planted latencies ${subject.latenciesSec.map((t) => t.toFixed(3)).join(' ')} s`);
  return { last: r.last, plantedLatenciesSec: subject.latenciesSec, wordsOutside: r.wordsOutside, simulatedSeconds: totalSamples / sfreqHz, wallSeconds: (performance.now() - t0) / 1000 };
}
