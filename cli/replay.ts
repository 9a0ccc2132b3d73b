/**
 * `lockstep replay`: a recorded dataset (BIDS root with CTF/FIF recordings and events.tsv word
 * onsets, as the Armeni Sherlock Holmes dataset) streamed through exactly the live pipeline, at
 * real time, ×N or as fast as the machine allows; several sessions/runs of one subject accumulate
 * into one analysis. Writes the final scores as JSON.
 *
 * Owns: resolving the recordings, the channel picks and the words of a replay. Must not: read
 * formats (adapters/meg), pace (replay/) or compute (the analysis session).
 */
import fs from 'node:fs';
import { Option, type Command } from 'commander';
import type { BidsRecordingBundle } from '../adapters/meg/openRecording.js';
import type { Speed } from '../replay/pacedChunks.js';
import type { BackendName } from '../src/linalg/backend.js';
import type { ScoreSnapshot } from '../src/snapshot.js';
import { activationLookup, type FeatureTable, type ModelFeatureTable } from '../adapters/llm/features.js';
import { modelFeaturesForBundles } from '../replay/bundleFeatures.js';
import { closeSubjectRecordings, openSubjectRecordings } from '../replay/subjectRecordings.js';
import { bidsSources } from '../replay/subjectSources.js';
import { InputError } from './errors.js';
import { addExtractionOptions, addSubjectOptions, backendOption, commaList, extractionCompute, featureSource, positiveInt } from './options.js';
import { extractReport } from './progress.js';
import type { ResumeReport } from '../streams/pipeline.js';
import { addCheckpointOptions, checkpointArgs, checkpointPlan, type CheckpointArgs } from './resume.js';
import { exactScoreStatus, runAnalysisSession } from './session.js';
import { countOf, fixed } from './format.js';


export interface ReplayArgs {
  root: string;
  subject: string;
  sessions?: string[];
  task?: string;
  run?: string;
  /** MEG channels to decode, by name (default: every good MEG channel common to the recordings). */
  channels?: string[];
  speed: Speed;
  /**
   * The words' layer activations: a table (synthetic), or a function that builds it from the
   * recordings' words (a language model through the extraction cache).
   */
  features: FeatureTable | ((bundles: BidsRecordingBundle[]) => Promise<FeatureTable>);
  allWords: boolean;
  backend: 'auto' | BackendName;
  refitEveryWords: number;
  snapshotEveryWords: number;
  foldBlockWords: number;
  dashboard?: { host: string; port: number; token?: string };
  json: boolean;
  out?: string;
  quiet: boolean;
  /** Called with each snapshot (tests). */
  onSnapshot?: (s: ScoreSnapshot) => void;
  /** Checkpoints as the replay goes, and going on from one (cli/resume.ts). */
  checkpoints?: CheckpointArgs;
}

export interface ReplayResult {
  command: 'replay';
  root: string;
  subject: string;
  recordings: { key: string; path: string; offsetSec: number; durationSec: number; words: number; droppedWords: number }[];
  channels: number;
  sfreqHz: number;
  features: string;
  wordsInEvents: number;
  wordsDecoded: number;
  wordsExcluded: Record<string, number>;
  /** Why `final.exact` is null (too few words for every fold, with the number needed), else null. */
  exactStatus: string | null;
  gaps: { startSec: number; endSec: number; why: string }[];
  sourceSeconds: number;
  wallSeconds: number;
  speedX: number;
  final: ScoreSnapshot | null;
  /** Present when the replay went on from a checkpoint: the words it held. */
  resumed?: ResumeReport;
}

export async function runReplay(a: ReplayArgs): Promise<ReplayResult> {
  const subject = await openSubjectRecordings(a);
  const { bundles } = subject;
  const names = a.channels ?? subject.channels;
  const unknown = names.filter((n) => !subject.channels.includes(n));
  if (unknown.length > 0) throw new InputError(`--picks: ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''} ${unknown.length === 1 ? 'is not a' : 'are not'} good MEG channel${unknown.length === 1 ? '' : 's'} common to the recordings of sub-${a.subject}; run \`lockstep info\` on a recording to see its channel names`);
  const log = (line: string) => !a.quiet && process.stderr.write(`${line}\n`);
  for (const w of subject.warnings) log(`warning: ${w}`);
  const features = typeof a.features === 'function' ? await a.features(bundles) : a.features;
  const { chunks$, words$, plan, flow, wordsInEvents } = bidsSources(subject, (i) => features.isContent(i), { speed: a.speed, channels: names });
  log(`replay: ${countOf(bundles.length, 'recording')} of sub-${a.subject}, ${(plan.totalSec / 60).toFixed(1)} min, ${countOf(names.length, 'MEG channel')} at ${plan.sfreqHz} Hz, ${countOf(plan.nWords, 'word')}; features: ${features.label}`);
  // A streaming extraction is stopped if the replay fails, so that it does not hold the process.
  const extraction = 'done' in features ? (features as ModelFeatureTable) : null;
  const checkpoints = a.checkpoints ? checkpointPlan(a.checkpoints, 'replay', { nChannels: names.length, nLayers: features.nLayers, nDims: features.nDims, foldBlockWords: a.foldBlockWords }) : {};
  if (checkpoints.resume) log(`replay: resuming from ${checkpoints.resume.from} (${countOf(checkpoints.resume.position.pairs, 'word')} already decoded; the recording is read again up to there)`);
  const r = await runAnalysisSession({
    ...checkpoints,
    label: 'replay',
    chunks$,
    words$,
    sfreqHz: plan.sfreqHz,
    nChannels: names.length,
    activationOf: activationLookup(features),
    nLayers: features.nLayers,
    nDims: features.nDims,
    depths: features.depths,
    contentWordsOnly: !a.allWords,
    backend: a.backend,
    refitEveryWords: a.refitEveryWords,
    snapshotEveryWords: a.snapshotEveryWords,
    foldBlockWords: a.foldBlockWords,
    halfLifeWords: null,
    dashboard: a.dashboard,
    json: false,
    quiet: a.quiet,
    sourceLabel: `replay of ${a.root} sub-${a.subject}`,
    activationsLabel: features.label,
    totalSec: plan.totalSec,
    flow,
    onSnapshot: a.onSnapshot,
  }).catch(async (e: unknown) => {
    await extraction?.stop();
    throw e;
  });
  await closeSubjectRecordings(subject);
  // A streaming extraction finishes its last words (past the last decoded one) into the cache,
  // unless the replay was cut short (Ctrl-C): then it stops, keeping its checkpoint.
  if (r.sourceSeconds < plan.totalSec - 1) await extraction?.stop();
  else await extraction?.done;
  const result: ReplayResult = {
    command: 'replay',
    root: a.root,
    subject: a.subject,
    recordings: plan.segments.map((s) => ({ key: s.label, path: s.path, offsetSec: s.offsetSec, durationSec: s.durationSec, words: s.nWords, droppedWords: s.droppedWords })),
    channels: names.length,
    sfreqHz: plan.sfreqHz,
    features: features.label,
    wordsInEvents,
    wordsDecoded: r.last?.nWords ?? 0,
    wordsExcluded: { 'outside-recording': 0, 'overlaps-data-gap': 0, 'no-activations': 0, 'function-word': 0, ...r.wordsExcluded },
    exactStatus: exactScoreStatus(r.last, a.foldBlockWords),
    gaps: r.gaps.map((g) => ({ startSec: g.startSec, endSec: g.endSec, why: g.why })),
    sourceSeconds: r.sourceSeconds,
    wallSeconds: r.wallSeconds,
    speedX: r.sourceSeconds / r.wallSeconds,
    final: r.last,
    ...(r.resumed ? { resumed: r.resumed } : {}),
  };
  if (a.out) fs.writeFileSync(a.out, `${JSON.stringify(result)}\n`);
  return result;
}

export function registerReplayCommand(program: Command): void {
  const cmd = program
    .command('replay')
    .description('Replay a recorded BIDS dataset (CTF .ds or FIF, words from events.tsv) through the live pipeline and write the final scores. Several sessions of one subject accumulate into one analysis.')
    .argument('<bids-root>', 'BIDS dataset root (e.g. the Armeni Sherlock Holmes dataset, or one written by `lockstep simulate`)');
  addSubjectOptions(cmd, 'max')
    .option('--model <folder|builtin>', 'language model (transformers.js folder, or builtin): activations of the events.tsv words, extracted once and cached')
    .option('--text <files>', 'original story text(s) the events.tsv words come from, one per recording in replay order (default: <root>/stimuli/task-<task>.txt when present)', (v: string) => v.split(','))
    .option('--context <words>', 'previous words of context', (v: string) => Number(v), 50)
    .addOption(new Option('--context-mode <mode>', 'exact: one window per word; chunked: shared windows (50–99 words of context, ~20× fewer tokens)').choices(['exact', 'chunked']).default('exact'))
    .option('--cache <dir>', 'activation cache (default ~/.cache/lockstep/activations or $LOCKSTEP_CACHE)');
  addExtractionOptions(cmd, 'sample', 'default sample: the replay starts at once and waits only for words not yet extracted')
    .option('--features <source>', 'instead of a model: synthetic[:seed[:dims]] (the simulator\'s planted features)', featureSource)
    .option('--all-words', 'decode every word (default: content words when the words are tagged)')
    .option('--picks <names>', 'MEG channels to decode, comma-separated names (default: every good MEG channel common to the recordings)', commaList)
    .addOption(backendOption())
    .option('--refit-every <words>', 'exact K-fold refit every N words', positiveInt, 2000)
    .option('--snapshot-every <words>', 'snapshot every N words', positiveInt, 50)
    .option('--fold-block <words>', 'words per contiguous fold block', positiveInt, 500)
    .option('--dashboard', 'serve the dashboard while replaying')
    .option('--port <n>', 'dashboard port', positiveInt, 8080)
    .option('--host <addr>', 'dashboard address; beyond loopback every client must present the token printed with the URL', '127.0.0.1')
    .option('--out <file>', 'write the final result JSON here')
    .option('--json', 'print the final result as one JSON object on stdout')
    .option('--quiet', 'no progress on stderr');
  addCheckpointOptions(cmd, 'the recording is read again and the words the checkpoint holds are skipped: the final numbers equal an uninterrupted run\'s')
    .action(async (root: string, o) => {
        if (!fs.existsSync(root)) throw new InputError(`${root}: no such dataset folder`);
        if (!o.model && !o.features) throw new InputError('say where the layer activations come from: --model <folder|builtin> (a language model), or --features synthetic[:seed[:dims]] (a dataset written by `lockstep simulate` with that seed)');
        const result = await runReplay({
          root,
          subject: o.subject,
          sessions: o.session,
          task: o.task,
          run: o.run,
          speed: o.speed,
          channels: o.picks,
          features: o.model ? modelFeaturesForBundles(root, { model: o.model, text: o.text, context: o.context, mode: o.contextMode, cacheRoot: o.cache, pcaFit: o.pcaFit, stream: true, ...extractionCompute(o), report: extractReport(o.quiet ? null : process.stderr) }) : o.features,
          allWords: Boolean(o.allWords),
          backend: o.backend,
          refitEveryWords: o.refitEvery,
          snapshotEveryWords: o.snapshotEvery,
          foldBlockWords: o.foldBlock,
          dashboard: o.dashboard ? { host: o.host, port: o.port } : undefined,
          json: Boolean(o.json),
          out: o.out,
          quiet: Boolean(o.quiet),
          checkpoints: checkpointArgs(o),
        });
        if (o.json) process.stdout.write(`${JSON.stringify(result)}\n`);
        else {
          const e = result.final?.exact;
          process.stdout.write(
            `${countOf(result.wordsDecoded, 'word')} from ${countOf(result.recordings.length, 'recording')}, ${(result.sourceSeconds / 60).toFixed(1)} min at ×${result.speedX.toFixed(0)} real time\n` +
              (e ? `temporal score r = ${fixed(e.temporalScore, 3)} (p = ${e.p.toPrecision(3)}), Tmax ${e.tmax.map((t) => fixed(t, 3)).join(' ')} s\n` : `${result.exactStatus}\n`),
          );
        }
    });
}
