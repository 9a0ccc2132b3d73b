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
import { closeSubjectRecordings, openSubjectRecordings, resolveSubjects } from '../replay/subjectRecordings.js';
import { bidsSources } from '../replay/subjectSources.js';
import { InputError } from './errors.js';
import { addExtractionOptions, addSubjectOptions, backendOption, commaList, extractionCompute, featureSource, positiveInt } from './options.js';
import { startDashboard, type Dashboard, type GroupUpdate, type SubjectSummary } from '../dashboard/server.js';
import { groupScores, type GroupScores } from '../src/scores/group.js';
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
  /** Publish to this dashboard (several subjects in turn) instead of starting one. */
  sharedDashboard?: Dashboard;
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
    sharedDashboard: a.sharedDashboard,
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

/** Several subjects (`--subject 001,002` or `all`), each decoded on its own, and their group. */
export interface GroupReplayResult {
  command: 'replay';
  root: string;
  subjects: string[];
  /** Each subject's result, as a single-subject replay gives it. */
  perSubject: ReplayResult[];
  /** Mean ± SEM over the subjects with an exact score (null when none has one). */
  group: GroupScores | null;
  /** Subjects left out of the group, and why. */
  excluded: { subject: string; why: string }[];
  wallSeconds: number;
}

/** The group summary of the subjects replayed so far (those with an exact score). */
export function groupOf(results: readonly ReplayResult[]): { group: GroupScores | null; excluded: GroupReplayResult['excluded'] } {
  const withExact = results.filter((r) => r.final?.exact);
  const excluded = results.filter((r) => !r.final?.exact).map((r) => ({ subject: r.subject, why: r.exactStatus ?? 'no exact score' }));
  const group = withExact.length ? groupScores(withExact.map((r) => ({ subject: r.subject, temporalScore: r.final!.exact!.temporalScore, tmax: r.final!.exact!.tmax, R: r.final!.exact!.R }))) : null;
  return { group, excluded };
}

/** What the dashboard shows of the subjects so far (dashboard/messages.ts GroupUpdate). */
export function groupUpdate(done: readonly ReplayResult[], group: GroupScores | null, pending: string[]): GroupUpdate {
  const shape = done.find((r) => r.final)?.final;
  return {
    depths: shape?.depths ?? [],
    times: shape?.times ?? [],
    subjects: done.map((r): SubjectSummary => {
      const e = r.final?.exact;
      return { subject: r.subject, temporalScore: e?.temporalScore ?? null, p: e?.p ?? null, foldTestP: e?.foldTest.p ?? null, tmax: e?.tmax ?? null, status: e ? null : r.exactStatus };
    }),
    group,
    pending,
  };
}

/**
 * Replays the subjects one after another (each with its own decoder statistics, so memory stays
 * that of one subject), then summarises them as the paper does. With a dashboard, one server shows
 * each subject's live scores in turn and the group after every subject.
 */
export async function runGroupReplay(a: Omit<ReplayArgs, 'subject' | 'out'> & { subjects: string[]; out?: string }): Promise<GroupReplayResult> {
  const t0 = performance.now();
  const log = (line: string) => !a.quiet && process.stderr.write(`${line}\n`);
  const dashboard = a.dashboard ? await startDashboard(a.dashboard) : undefined;
  if (dashboard) log(`dashboard: ${dashboard.url}`);
  const perSubject: ReplayResult[] = [];
  try {
    for (const [k, subject] of a.subjects.entries()) {
      log(`replay: subject ${k + 1} of ${a.subjects.length} (sub-${subject})`);
      perSubject.push(await runReplay({ ...a, subject, out: undefined, dashboard: undefined, sharedDashboard: dashboard }));
      const { group } = groupOf(perSubject);
      dashboard?.publishGroup(groupUpdate(perSubject, group, a.subjects.slice(k + 1)));
    }
  } finally {
    await dashboard?.close();
  }
  const { group, excluded } = groupOf(perSubject);
  const result: GroupReplayResult = { command: 'replay', root: a.root, subjects: a.subjects, perSubject, group, excluded, wallSeconds: (performance.now() - t0) / 1000 };
  if (a.out) fs.writeFileSync(a.out, `${JSON.stringify(result)}\n`);
  return result;
}

export function registerReplayCommand(program: Command): void {
  const cmd = program
    .command('replay')
    .description('Replay a recorded BIDS dataset (CTF .ds or FIF, words from events.tsv) through the live pipeline and write the final scores. Several sessions of one subject accumulate into one analysis.')
    .argument('<bids-root>', 'BIDS dataset root (e.g. the Armeni Sherlock Holmes dataset, or one written by `lockstep simulate`)');
  addSubjectOptions(cmd, 'max', 'subject(s): a label (with or without "sub-"), a comma-separated list, or all; several subjects are decoded one after another and summarised as mean ± SEM')
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
        const several = o.subject.trim() === 'all' || o.subject.includes(',');
        if (several && (o.checkpoint || o.resume)) throw new InputError('--checkpoint and --resume take one subject at a time: give --subject <label>');
        const args = {
          root,
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
        };
        if (several) {
          // An unknown subject is a RecordingQueryError: exit status 2, naming the subjects there are.
          const result = await runGroupReplay({ ...args, subjects: resolveSubjects(root, o.subject) });
          process.stdout.write(o.json ? `${JSON.stringify(result)}\n` : describeGroupReplay(result));
          return;
        }
        const result = await runReplay({ ...args, subject: o.subject });
        if (o.json) process.stdout.write(`${JSON.stringify(result)}\n`);
        else process.stdout.write(describeReplay(result));
    });
}

/** The terminal summary of one subject's replay. */
function describeReplay(r: ReplayResult, prefix = ''): string {
  const e = r.final?.exact;
  return (
    `${prefix}${countOf(r.wordsDecoded, 'word')} from ${countOf(r.recordings.length, 'recording')}, ${(r.sourceSeconds / 60).toFixed(1)} min at ×${r.speedX.toFixed(r.speedX < 10 ? 1 : 0)} real time\n` +
    (e ? `${prefix}temporal score r = ${fixed(e.temporalScore, 3)} (p = ${e.p.toPrecision(3)}), Tmax ${e.tmax.map((t) => fixed(t, 3)).join(' ')} s\n` : `${prefix}${r.exactStatus}\n`)
  );
}

/** Each subject, then the group as mean ± SEM. */
function describeGroupReplay(r: GroupReplayResult): string {
  const lines = r.perSubject.map((s) => describeReplay(s, `sub-${s.subject}: `));
  const g = r.group;
  if (g) {
    const ms = (v: number) => Math.round(v * 1000);
    lines.push(
      `group (${countOf(g.nSubjects, 'subject')}, mean ± SEM): temporal score ${fixed(g.temporalScore.mean, 3)} ± ${fixed(g.temporalScore.sem, 3)}` +
        `${Number.isFinite(g.test.p) ? ` (t = ${g.test.t.toFixed(2)}, ${g.test.df} df, p = ${g.test.p.toPrecision(3)})` : ''}\n` +
        `Tmax (ms) ${g.tmax.mean.map((m, l) => `${ms(m)} ± ${ms(g.tmax.sem[l])}`).join(', ')}\n`,
    );
  }
  for (const x of r.excluded) lines.push(`sub-${x.subject} left out of the group: ${x.why}\n`);
  return lines.join('');
}
