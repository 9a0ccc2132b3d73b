/**
 * `lockstep demo`: the whole pipeline on a simulated subject listening to the built-in text, whose
 * brain encodes the built-in language model's layers (or seeded synthetic activations) —
 * simulated MEG (1200 Hz, 273 channels) → band-pass → resample to 30 Hz → epochs around word
 * onsets → decoder (rolling and exact K-fold) → dashboard, terminal progress and JSON lines.
 */
import type { Command } from 'commander';
import { builtinWords } from '../adapters/text/builtinText.js';
import { speechTiming } from '../adapters/simulator/speechTiming.js';
import type { Dashboard } from '../dashboard/server.js';
import type { Speed } from '../replay/pacedChunks.js';
import { simulatedSources } from '../replay/subjectSources.js';
import { modelFeatures, syntheticFeatures, tableLayers, type FeatureTable } from '../adapters/llm/features.js';
import { DEFAULT_DEPTHS, layersForDepths } from '../src/llm/depths.js';
import { InputError } from './errors.js';
import { backendOption, nonNegativeInt, number, positiveInt, speed } from './options.js';
import { extractReport } from './progress.js';
import { exactScoreStatus, runAnalysisSession } from './session.js';
import type { BackendName } from '../src/linalg/backend.js';
import type { ScoreSnapshot } from '../src/snapshot.js';
import { plantedRecovery } from '../src/scores/recovery.js';

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
  /** Decode only these of the subject's channels (indices; benchmarks: fewer channels, cheaper refits). */
  channelPicks?: number[];
  /** Exact scores carry the fold curves (benchmarks). */
  includeFoldCurves?: boolean;
  /** Planted latency per layer, seconds, instead of the default rise with depth (benchmarks). */
  latenciesSec?: number[];
  /** Called with the dashboard once it listens (tests). */
  onDashboard?: (d: Dashboard) => void;
  /** Every snapshot (tests). */
  onSnapshot?: (s: ScoreSnapshot) => void;
  /** Awaited before the dashboard closes at the end (e.g. a screenshot in progress). */
  beforeClose?: () => Promise<void>;
}

export interface DemoResult {
  last: ScoreSnapshot | null;
  /** The simulation's ground truth per layer, after the control (NaN for every layer under --null). */
  plantedLatenciesSec: number[];
  control: Control;
  seed: number;
  features: string;
  wordsOutside: number;
  /** Every word not decoded, by reason (function words, outside the recording, …). */
  wordsExcluded: Record<string, number>;
  /** Why `last.exact` is null (too few words for every fold), else null. */
  exactStatus: string | null;
  simulatedSeconds: number;
  wallSeconds: number;
}

/**
 * The last line of `lockstep demo --json`, after the snapshot lines: the final result, told apart
 * from snapshots by `command: 'demo'` (snapshots have `schema`). NaN latencies (--null) are null.
 */
export function demoResultJson(r: DemoResult): Record<string, unknown> {
  return {
    command: 'demo',
    seed: r.seed,
    control: r.control,
    features: r.features,
    plantedLatenciesSec: r.plantedLatenciesSec.map((v) => (Number.isFinite(v) ? v : null)),
    // The final exact Tmax against the planted latencies (null under --null or without an exact score).
    recovery: r.last?.exact ? plantedRecovery(r.last.exact.tmax, r.plantedLatenciesSec) : null,
    wordsDecoded: r.last?.nWords ?? 0,
    wordsExcluded: r.wordsExcluded,
    exactStatus: r.exactStatus,
    simulatedSeconds: r.simulatedSeconds,
    wallSeconds: r.wallSeconds,
    final: r.last,
  };
}

const N_LAYERS = 9;

export async function runDemo(a: DemoArgs): Promise<DemoResult> {
  const t0 = performance.now();
  const sfreqHz = 1200;
  // With a model, features exist for the first hour of the text unless --minutes says otherwise
  // (~3.6 words/s at most); the chunked context (50–99 previous words) keeps extraction to seconds.
  const nWords = a.model ? Math.ceil((a.minutes ?? 60) * 60 * 3.6) + 50 : undefined;
  const report = extractReport(a.quiet ? null : process.stderr);
  // With a model, the simulated brain runs the whole model (every hidden state, one stage each,
  // read by the 'population' coupling: adapters/simulator/evokedResponses.ts), while the decoder
  // reads the paper's nine depths: the same extraction's rows at those depths (each layer's PCA is
  // its own, so they equal an extraction of the nine depths alone).
  const parts = [{ text: 'builtin', maxWords: nWords }];
  const [features, stages]: [FeatureTable, FeatureTable] = a.model
    ? await (async () => {
        const whole = await modelFeatures(parts, { model: a.model!, mode: 'chunked', allLayers: true, report });
        const nBlocks = whole.nLayers - 1;
        return [tableLayers(whole, layersForDepths(DEFAULT_DEPTHS, nBlocks).layers), whole] as [FeatureTable, FeatureTable];
      })().finally(() => report.done())
    : ((t) => [t, t] as [FeatureTable, FeatureTable])(syntheticFeatures(a.seed, a.nDims, N_LAYERS));
  const depths = features.depths;
  const text = builtinWords(nWords);
  const words = speechTiming(text, { seed: a.seed, startSec: 3 }).map((w) => ({ ...w, isContent: features.isContent(w.wordIndex) }));
  const { subject, chunks$, words$, totalSec, flow, plantedLatenciesSec } = simulatedSources({
    seed: a.seed,
    words,
    planted: stages,
    coupling: a.model ? 'population' : 'projections',
    decodedDepths: depths,
    control: a.control,
    snr: a.snr,
    sfreqHz,
    minutes: a.minutes,
    speed: a.speed,
  });
  const log = (line: string) => !a.quiet && process.stderr.write(`${line}\n`);
  const stageText = a.model ? `, ${subject.nLayers} stages at depths ${subject.depths.join(',')}, ${subject.coupling} coupling` : '';
  log(`lockstep demo: simulated subject (seed ${a.seed}, ${a.control} latencies ${subject.latenciesSec.map((l) => l.toFixed(2)).join(' ')} s${stageText}), features: ${features.label}`);

  const r = await runAnalysisSession({
    label: 'demo',
    chunks$,
    words$,
    sfreqHz,
    nChannels: a.channelPicks?.length ?? subject.channels.length,
    preprocess: a.channelPicks ? { picks: a.channelPicks } : undefined,
    includeFoldCurves: a.includeFoldCurves,
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
    plantedLatenciesSec,
    totalSec,
    flow,
    onDashboard: a.onDashboard,
    onSnapshot: a.onSnapshot,
    beforeClose: a.beforeClose,
  });
  if (r.last?.exact) log(`planted latencies ${plantedLatenciesSec.map((t) => t.toFixed(3)).join(' ')} s`);
  return {
    last: r.last,
    plantedLatenciesSec,
    control: a.control,
    seed: a.seed,
    features: features.label,
    wordsOutside: r.wordsOutside,
    wordsExcluded: r.wordsExcluded,
    exactStatus: exactScoreStatus(r.last, a.foldBlockWords ?? 100),
    simulatedSeconds: totalSec,
    wallSeconds: (performance.now() - t0) / 1000,
  };
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('Run the whole pipeline on a simulated subject listening to the built-in text (Moby Dick), whose MEG encodes the built-in language model\'s layers (or --synthetic activations), and serve the live dashboard. Planted latencies rise with layer depth (0.30 s → 0.65 s). With the built-in model it plays the book\'s first hour of words (about 69 simulated minutes; --minutes sets the length, up to the whole book, about 18 hours); --synthetic plays the whole book unless --minutes says when to stop; Ctrl-C stops at any time.')
    .option('--port <n>', 'dashboard port', positiveInt, 8080)
    .option('--host <addr>', 'dashboard address; anything but loopback requires a token from every client, loopback clients included', '127.0.0.1')
    .option('--token <secret>', 'require this token from every dashboard client (generated and printed with the URL when --host is not loopback)')
    .option('--no-dashboard', 'do not serve the dashboard')
    .option('--speed <x|max>', 'pace: 1 = real time, N = N× real time, max = as fast as the decoder allows', speed, 'max')
    .option('--minutes <m>', 'stop after this much simulated recording and exit 0', number)
    .option('--seed <s>', 'simulation seed', nonNegativeInt, 1)
    .option('--null', 'control: no coupling between layers and MEG')
    .option('--shuffle', 'control: planted latencies shuffled across layers')
    .option('--flat', 'control: every layer at the same latency')
    .option('--snr <x>', 'evoked amplitude relative to the default (1 decodes within ~10–20 simulated minutes)', number, 1)
    .option('--model <folder|builtin>', 'language model whose layers the subject encodes and lockstep decodes', 'builtin')
    .option('--synthetic', 'use seeded synthetic activations instead of a language model (all words decoded)')
    .option('--all-words', 'with a model, decode every word (default: content words, as the paper)')
    .option('--dims <n>', 'synthetic activation dimensions per layer', positiveInt, 50)
    .option('--refit-every <words>', 'exact K-fold refit (and new rolling model) every N words', positiveInt, 500)
    .option('--fold-block <words>', 'words per contiguous fold block, assigned round-robin to the 5 folds (exact scores need 2 words in each: 4 blocks + 2 words, then the next refit)', positiveInt, 100)
    .option('--snapshot-every <words>', 'snapshot every N words', positiveInt, 10)
    .option('--half-life <words>', 'rolling score forgets with this half-life (default: cumulative)', positiveInt)
    .addOption(backendOption())
    .option('--json', 'write one JSON line per snapshot to stdout (schema lockstep.snapshot/1), then one line with the final result (command "demo": planted latencies, words excluded by reason, the last snapshot)')
    .option('--quiet', 'no progress on stderr')
    .action(async (o) => {
      const controls = (['null', 'shuffle', 'flat'] as const).filter((c) => o[c]);
      if (controls.length > 1) throw new InputError(`choose one of --null, --shuffle, --flat (got ${controls.map((c) => `--${c}`).join(' ')})`);
      const control: Control = controls[0] ?? 'planted';
      const r = await runDemo({
        port: o.port,
        host: o.host,
        token: o.token,
        dashboard: o.dashboard,
        speed: o.speed,
        minutes: o.minutes,
        seed: o.seed,
        control,
        snr: o.snr,
        json: Boolean(o.json),
        backend: o.backend,
        nDims: o.dims,
        model: o.synthetic ? undefined : o.model,
        allWords: Boolean(o.allWords),
        refitEveryWords: o.refitEvery,
        foldBlockWords: o.foldBlock,
        snapshotEveryWords: o.snapshotEvery,
        halfLifeWords: o.halfLife ?? null,
        quiet: Boolean(o.quiet),
      });
      if (o.json) process.stdout.write(`${JSON.stringify(demoResultJson(r))}\n`);
    });
}
