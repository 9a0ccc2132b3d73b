/**
 * `lockstep experiment size|context|predictability`: the paper's sweeps as one command. Every
 * subject × model × context is a cell (replay/experimentCell.ts: the same decoding as `replay`),
 * run on the embedded worker pool (default: one thread per core, nothing to install) or, with
 * `--queue redis://host:port`, as a BullMQ flow that `lockstep worker` processes on any machine that
 * sees the same data and cache paths. Finished cells are stored by their identity and reused by
 * later runs. Then the group result (mean ± SEM over subjects), the paper's figures (SVG and PNG)
 * and one self-contained HTML report that states every parameter.
 *
 * Owns: the options, the experiment's design, progress, figures and report files, printing and the
 * exit status. Must not: compute a cell (replay/) or group statistics (src/).
 */
import fs from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { Argument, InvalidArgumentError, Option, type Command } from 'commander';
import { experimentReportHtml, type ReportCell, type ReportFigure } from '../adapters/figures/htmlReport.js';
import { cellCurvesSpec, scoreByQuantileSpec, scoreVsContextSpec, scoreVsSizeSpec } from '../adapters/figures/experimentFigures.js';
import { writeFigure } from '../adapters/figures/render.js';
import type { JobProgress, JobRunner } from '../adapters/jobs/jobRunner.js';
import { BullmqRunner } from '../adapters/jobs/bullmqQueue.js';
import { defaultResultStoreDir } from '../adapters/jobs/resultStore.js';
import { WorkerPoolRunner } from '../adapters/jobs/workerPool.js';
import { defaultActivationCache, resolveModel } from '../adapters/llm/features.js';
import { bidsSubjectFingerprint } from '../adapters/meg/bids/subjectFingerprint.js';
import { modelFacts } from '../adapters/onnx/modelFacts.js';
import type { CellJobData } from '../replay/experimentCellJob.js';
import { experimentRows, runExperimentCells, type CellOutcome } from '../replay/experimentRun.js';
import { describeCell, EXPERIMENT_KINDS, experimentCells, hasScores, type CellResult, type ConditionMissing, type ConditionSpec, type DecodingSpec, type ExperimentKind, type ModelSpec, type SubjectSpec } from '../src/experiment/design.js';
import { groupRows, type CellRow, type GroupRow } from '../src/experiment/groupResults.js';
import type { BackendName } from '../src/linalg/backend.js';
import { InputError } from './errors.js';
import { countOf, fixed } from './format.js';
import { backendOption, commaList, nonNegativeInt, positive, positiveInt } from './options.js';
import { formatEta, etaSec } from './progress.js';

/** The paper's context lengths (words); cells beyond what a model's positions hold fail with the longest that fits. */
export const PAPER_CONTEXTS = [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

export interface ExperimentArgs {
  experiment: ExperimentKind;
  /** A BIDS root, or null with `simulate`. */
  root: string | null;
  subjects: string[];
  sessions?: string[];
  task?: string;
  run?: string;
  simulate?: { subjects: number; minutes: number; seed: number; brainModel: string; brainContext: number; snr: number };
  models: string[];
  contexts: number[];
  contextMode: 'exact' | 'chunked';
  quantiles: number;
  surprisalModel?: string;
  allWords: boolean;
  foldBlockWords: number;
  channels: number | null;
  backend: 'auto' | BackendName;
  queue?: string;
  threads: number;
  cacheRoot: string;
  storeDir: string;
  reuse: boolean;
  out: string;
  cellFigures: boolean;
  quiet: boolean;
  /** Progress lines go here (default stderr). */
  log?: (line: string) => void;
}

export interface ExperimentCellJson extends CellRow {
  /** A surprisal quantile's range (nats) and mean over the words assigned to it (predictability). */
  surprisal?: { low: number; high: number; mean: number };
  key: string;
  reused: boolean;
  seconds: number;
}

/** A condition of a finished cell with no exact score (a quantile with too few words), with its word count. */
export interface ExperimentMissingJson {
  subject: string;
  model: string;
  context: number;
  condition: string;
  nWords: number;
  reason: string;
}

export interface ExperimentJson {
  command: 'experiment';
  experiment: ExperimentKind;
  parameters: Record<string, unknown>;
  runner: string;
  cells: ExperimentCellJson[];
  failed: { subject: string; model: string; context: number; reason: string; attempts: number }[];
  missing: ExperimentMissingJson[];
  group: (Omit<GroupRow, 'temporalScore' | 'tmax'> & { temporalScore: { mean: number; sem: number }; tmax: { mean: number; sem: number }[] })[];
  figures: Record<string, string>;
  report: string;
  wallSeconds: number;
}

function modelSpec(name: string, resolved: string): ModelSpec {
  const f = modelFacts(resolved);
  return { name, path: path.resolve(resolved), sha256: f.sha256, parameters: f.parameters, maxPositions: f.maxPositions };
}

/** Models by the names given: their folders resolved (a twin written once) and their facts read from the graph. */
export async function resolveModels(names: string[]): Promise<Map<string, ModelSpec>> {
  const out = new Map<string, ModelSpec>();
  for (const name of names) {
    if (out.has(name)) continue;
    let resolved: string;
    try {
      resolved = await resolveModel(name);
      out.set(name, modelSpec(name, resolved));
    } catch (e) {
      throw new InputError(`--model ${name}: ${(e as Error).message}`);
    }
  }
  return out;
}

function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 60) || 'x';
}

/** The experiment's parameters, as the report and the JSON state them. */
function describeParameters(a: ExperimentArgs, models: ModelSpec[], conditions: ConditionSpec, decoding: DecodingSpec, runner: string): Record<string, unknown> {
  return {
    experiment: a.experiment,
    subjects: a.simulate
      ? `${a.simulate.subjects} simulated (seeds ${a.simulate.seed}…${a.simulate.seed + a.simulate.subjects - 1}, ${a.simulate.minutes} min each, built-in text, brain runs ${a.simulate.brainModel} at context ${a.simulate.brainContext}, every hidden state a stage, population coupling, snr ${a.simulate.snr})`
      : `${a.subjects.join(', ')} of ${path.resolve(a.root!)}${a.sessions ? `, sessions ${a.sessions.join(',')}` : ''}${a.task ? `, task ${a.task}` : ''}${a.run ? `, run ${a.run}` : ''}`,
    models: models.map((m) => `${m.name} (${m.parameters.toLocaleString('en')} parameters, ${m.maxPositions ?? '?'} positions, graph ${m.sha256.slice(0, 12)}…, ${m.path})`),
    contexts: a.contexts,
    contextMode: decoding.contextMode,
    conditions: conditions.kind === 'all' ? 'all words' : `${conditions.quantiles} surprisal quantiles under ${conditions.model.name} at context ${conditions.context}`,
    words: decoding.allWords ? 'all words' : 'content words (NOUN, VERB, ADJ, ADV)',
    folds: `5 contiguous folds, blocks of ${decoding.foldBlockWords} words dealt round-robin; exact K-fold refit at the end`,
    alphas: 'logspace(-4, 8, 13), GCV per target',
    epoch: '−2.5…+3.0 s at 30 Hz (166 samples), 0.1–20 Hz band-pass',
    layers: '9 relative depths 0.1…0.9, PCA 50 per layer',
    channels: decoding.channels === null ? 'all MEG channels' : `${decoding.channels} MEG channels, evenly spread`,
    backend: decoding.backend,
    runner,
    activationCache: a.cacheRoot,
    resultStore: a.storeDir,
    reuse: a.reuse,
  };
}

function progressLine(kind: string, p: JobProgress & { reused: number }, elapsedSec: number, queue?: string): string {
  const finished = p.done + p.failed;
  const eta = formatEta(etaSec(elapsedSec, p.total ? finished / p.total : undefined));
  const waiting = queue && p.workers === 0 && finished < p.total ? ` (no worker connected: start \`lockstep worker --queue ${queue}\`)` : '';
  return `experiment ${kind}: ${finished}/${p.total} cells (${p.reused} reused, ${p.failed} failed), ${p.running} running on ${countOf(p.workers, 'worker')}${waiting}, ${elapsedSec.toFixed(0)} s${eta}`;
}

export async function runExperimentCommand(a: ExperimentArgs): Promise<ExperimentJson> {
  const t0 = performance.now();
  const log = a.log ?? ((line: string) => !a.quiet && process.stderr.write(`${line}\n`));
  if (a.experiment === 'size' && a.models.length < 2) throw new InputError('a size experiment compares models: give several with --model a,b,c');
  const models = await resolveModels([...a.models, ...(a.simulate ? [a.simulate.brainModel] : []), ...(a.surprisalModel ? [a.surprisalModel] : [])]);
  const decoding: DecodingSpec = { allWords: a.allWords, foldBlockWords: a.foldBlockWords, channels: a.channels, backend: a.backend, contextMode: a.contextMode };
  const conditions: ConditionSpec =
    a.experiment === 'predictability' ? { kind: 'surprisal-quantiles', quantiles: a.quantiles, model: models.get(a.surprisalModel ?? a.models[0])!, context: a.contexts[0] } : { kind: 'all' };
  let subjects: SubjectSpec[];
  if (a.simulate) {
    const s = a.simulate;
    const brain = { model: models.get(s.brainModel)!, context: s.brainContext, mode: a.contextMode };
    subjects = Array.from({ length: s.subjects }, (_, k) => ({ kind: 'simulated', label: `sim-${String(k + 1).padStart(2, '0')}`, seed: s.seed + k, minutes: s.minutes, brain, snr: s.snr }));
  } else {
    const root = path.resolve(a.root!);
    subjects = a.subjects.map((label) => ({ kind: 'bids', label, root, subject: label.replace(/^sub-/, ''), sessions: a.sessions, task: a.task, run: a.run, fingerprint: bidsSubjectFingerprint(root, label.replace(/^sub-/, '')) }));
  }
  const cells = experimentCells({ experiment: a.experiment, subjects, models: a.models.map((m) => models.get(m)!), contexts: a.contexts, conditions, decoding });
  const runner: JobRunner<CellJobData, CellResult> = a.queue
    ? new BullmqRunner<CellJobData, CellResult>({ url: a.queue, title: `lockstep experiment ${a.experiment} (${cells.length} cells)` })
    : new WorkerPoolRunner<CellJobData, CellResult>({ handlerUrl: new URL('../replay/experimentCellJob.js', import.meta.url), threads: Math.min(a.threads, cells.length) });
  const parameters = describeParameters(a, a.models.map((m) => models.get(m)!), conditions, decoding, runner.description);
  log(`experiment ${a.experiment}: ${countOf(cells.length, 'cell')} (${countOf(subjects.length, 'subject')} × ${countOf(a.models.length, 'model')} × ${countOf(a.contexts.length, 'context')}) on ${runner.description}`);
  if (a.simulate) log(`experiment ${a.experiment}: simulated subjects follow ${a.simulate.brainModel} at context ${a.simulate.brainContext}: this tests the machinery; conclusions need real recordings and real models`);

  let lastLine = '';
  let lastLogMs = 0;
  let outcomes: CellOutcome[];
  try {
    outcomes = await runExperimentCells(cells, {
      runner,
      cacheRoot: a.cacheRoot,
      storeDir: a.storeDir,
      reuse: a.reuse,
      onProgress: (p) => {
        const elapsed = (performance.now() - t0) / 1000;
        const line = progressLine(a.experiment, p, elapsed, a.queue);
        const key = line.replace(/, \d+ s.*$/, '');
        const now = performance.now();
        if (key !== lastLine || now - lastLogMs > 10_000) {
          log(line);
          lastLine = key;
          lastLogMs = now;
        }
      },
    });
  } finally {
    await runner.close();
  }
  for (const o of outcomes) if (!o.ok) log(`experiment ${a.experiment}: failed: ${describeCell(o.cell)}: ${o.reason}`);
  for (const o of outcomes) if (o.ok) for (const c of o.result.conditions) if (!hasScores(c)) log(`experiment ${a.experiment}: ${describeCell(o.cell)}, ${c.condition}: ${c.missing}`);

  // What `auto` resolved to, where the cells ran.
  parameters.backendUsed = [...new Set(outcomes.flatMap((o) => (o.ok ? [o.result.backend] : [])))].join('; ') || '—';
  const rows = experimentRows(outcomes);
  const groups = groupRows(rows);
  const out = path.resolve(a.out);
  fs.mkdirSync(out, { recursive: true });
  const { figures, reportFigures, cellFigure } = await drawFigures(a, out, outcomes, rows, groups);
  const json: ExperimentJson = {
    command: 'experiment',
    experiment: a.experiment,
    parameters,
    runner: runner.description,
    cells: experimentRows(outcomes, (o, c) => ({
      ...(c.surprisal && { surprisal: { low: c.surprisal.low, high: c.surprisal.high, mean: c.surprisal.mean } }),
      key: o.result.key,
      reused: o.reused,
      seconds: o.result.seconds,
    })),
    failed: outcomes.flatMap((o) => (o.ok ? [] : [{ subject: o.cell.subject.label, model: o.cell.model.name, context: o.cell.context, reason: o.reason, attempts: o.attempts }])),
    missing: outcomes.flatMap((o) => (o.ok ? o.result.conditions.filter((c) => !hasScores(c)).map((c) => ({ subject: o.cell.subject.label, model: o.cell.model.name, context: o.cell.context, condition: c.condition, nWords: c.nWords, reason: (c as ConditionMissing).missing })) : [])),
    group: groups.map((g) => ({ ...g, temporalScore: { mean: g.temporalScore.mean, sem: g.temporalScore.sem }, tmax: g.tmax.map((t) => ({ mean: t.mean, sem: t.sem })) })),
    figures,
    report: path.join(out, 'report.html'),
    wallSeconds: (performance.now() - t0) / 1000,
  };
  const reportCells: ReportCell[] = json.cells.map((c) => ({ ...c, figure: cellFigure.get(`${c.key}/${c.condition}`) }));
  const notes = a.simulate
    ? [`Simulated subjects: their MEG follows one chosen model (${a.simulate.brainModel} at context ${a.simulate.brainContext}), so this sweep tests the machinery, not the science. Scientific conclusions need real recordings and real models, which the same command takes (a BIDS root and model folders).`]
    : [];
  fs.writeFileSync(json.report, experimentReportHtml({ title: `lockstep experiment ${a.experiment}`, parameters: { ...parameters, wallSeconds: json.wallSeconds.toFixed(1) }, notes, figures: reportFigures, groups, cells: reportCells, failed: json.failed.map((f) => ({ label: `subject ${f.subject}, model ${f.model}, context ${f.context}`, reason: f.reason, attempts: f.attempts })), missing: json.missing.map((m) => ({ label: `subject ${m.subject}, model ${m.model}, context ${m.context}, ${m.condition}`, nWords: m.nWords, reason: m.reason })) }));
  fs.writeFileSync(path.join(out, 'results.json'), `${JSON.stringify(json, null, 1)}\n`);
  log(`experiment ${a.experiment}: ${countOf(json.cells.length, 'result')}, ${json.failed.length} failed${json.missing.length ? `, ${countOf(json.missing.length, 'condition')} without an exact score` : ''}, in ${json.wallSeconds.toFixed(1)} s; report ${json.report}`);
  return json;
}

async function drawFigures(a: ExperimentArgs, out: string, outcomes: CellOutcome[], rows: CellRow[], groups: GroupRow[]) {
  const figures: Record<string, string> = {};
  const reportFigures: ReportFigure[] = [];
  const cellFigure = new Map<string, string>();
  const main = async (name: string, title: string, spec: Parameters<typeof writeFigure>[0]) => {
    const f = await writeFigure(spec, path.join(out, name));
    figures[`${name}Svg`] = f.svg;
    figures[`${name}Png`] = f.png;
    reportFigures.push({ title, svgText: f.svgText, svg: path.relative(out, f.svg), png: path.relative(out, f.png) });
  };
  if (rows.length > 0) {
    if (a.experiment === 'size') await main('size', 'Temporal score vs model size', scoreVsSizeSpec(rows, groups));
    if (a.experiment === 'context') await main('context', 'Temporal score vs context length', scoreVsContextSpec(rows, groups));
    if (a.experiment === 'predictability') {
      const ranges: Record<string, { low: number; high: number }> = {};
      for (const o of outcomes) if (o.ok) for (const c of o.result.conditions) if (c.surprisal) ranges[c.condition] = { low: Math.min(ranges[c.condition]?.low ?? Infinity, c.surprisal.low), high: Math.max(ranges[c.condition]?.high ?? -Infinity, c.surprisal.high) };
      const quantile = (r: { condition: string }) => r.condition !== 'all';
      const missing = [...new Set(outcomes.flatMap((o) => (o.ok ? o.result.conditions.filter((c) => !hasScores(c)).map((c) => c.condition) : [])))];
      await main('predictability', 'Temporal score by surprisal quantile', scoreByQuantileSpec(rows.filter(quantile), groups.filter(quantile), ranges, missing));
    }
  }
  if (a.cellFigures) {
    for (const o of outcomes) {
      if (!o.ok) continue;
      for (const c of o.result.conditions) {
        if (!hasScores(c)) continue;
        const name = `cells/${safeName(o.cell.subject.label)}_${safeName(o.cell.model.name)}_ctx${o.cell.context}_${safeName(c.condition)}`;
        const f = await writeFigure(cellCurvesSpec(`${describeCell(o.cell)}, ${c.condition}`, c, o.result.times, o.result.depths), path.join(out, name));
        cellFigure.set(`${o.result.key}/${c.condition}`, path.relative(out, f.png));
      }
    }
    figures.cells = path.join(out, 'cells');
  }
  return { figures, reportFigures, cellFigure };
}

function quantileCount(v: string): number {
  const q = positiveInt(v);
  if (q < 2) throw new InvalidArgumentError(`expected 2 or more quantiles, got "${v}"`);
  return q;
}

function contextList(v: string): number[] {
  const out = commaList(v).map((s) => Number(s));
  if (out.length === 0 || out.some((c) => !Number.isInteger(c) || c < 0)) throw new InputError(`--contexts ${v}: expected whole numbers of words ≥ 0, comma-separated`);
  return out;
}

export function registerExperimentCommand(program: Command): void {
  program
    .command('experiment')
    .description('The paper\'s sweeps: temporal score vs model size, vs context length, or per surprisal quantile, over subjects (a BIDS dataset, or --simulate). One cell per subject × model × context, each the same decoding as `replay`, stored by its identity and reused; run on an embedded worker pool, or on BullMQ/Redis with --queue (start `lockstep worker --queue …` on any machine that sees the same data and cache paths). Writes the figures (SVG, PNG), results.json and report.html to --out.')
    .addArgument(new Argument('<kind>', 'the sweep').choices([...EXPERIMENT_KINDS]))
    .argument('[bids-root]', 'BIDS dataset root (omit with --simulate)')
    .option('--subject <labels>', 'BIDS subjects, comma-separated (e.g. 001,002,003)', commaList)
    .option('--session <labels>', 'session(s), comma-separated (default: all)', commaList)
    .option('--task <label>', 'task (default: all)')
    .option('--run <label>', 'run (default: all)')
    .option('--simulate', 'simulated subjects listening to the built-in text instead of a dataset (tests the machinery)')
    .option('--subjects <n>', 'with --simulate: how many subjects', positiveInt, 3)
    .option('--minutes <m>', 'with --simulate: minutes of recording per subject', positive, 10)
    .option('--seed <s>', 'with --simulate: seed of the first subject (subject k has seed s + k)', nonNegativeInt, 1)
    .option('--brain-model <m>', 'with --simulate: the model whose layers the simulated MEG encodes', 'builtin')
    .option('--brain-context <words>', 'with --simulate: the context of the brain model', nonNegativeInt, 50)
    .option('--snr <x>', 'with --simulate: evoked amplitude relative to the simulator\'s default', positive, 1)
    .option('--model <list>', 'models (transformers.js folders, builtin, family:<xs|s|m|l>, <name>-untrained[:seed]), comma-separated', commaList, ['builtin'])
    .option('--contexts <list>', `context lengths in words (context experiment; default ${PAPER_CONTEXTS.join(',')})`, contextList)
    .option('--context <words>', 'context length for size and predictability experiments', nonNegativeInt, 50)
    .addOption(new Option('--context-mode <mode>', 'exact: each word gets exactly N previous words (the paper); chunked: shared windows (N…2N−1 words, ~20× faster)').choices(['exact', 'chunked']).default('exact'))
    .option('--quartiles <q>', 'predictability: number of surprisal quantiles (≥ 2)', quantileCount, 4)
    .option('--surprisal-model <m>', 'predictability: the model whose surprisal splits the words (default: the first --model)')
    .option('--all-words', 'decode every word (default: content words, as the paper)')
    .option('--fold-block <words>', 'words per contiguous fold block, dealt round-robin to 5 folds', positiveInt, 100)
    .option('--channels <n>', 'decode this many MEG channels, evenly spread (default: all)', positiveInt)
    .addOption(backendOption())
    .option('--queue <redis-url>', 'run the cells on BullMQ at this Redis (redis://host:port) instead of the embedded pool')
    .option('--threads <n>', 'embedded pool threads (default: the cores)', positiveInt, availableParallelism())
    .option('--cache <dir>', 'activation cache (default ~/.cache/lockstep/activations or $LOCKSTEP_CACHE/activations)')
    .option('--results <dir>', 'result store (default ~/.cache/lockstep/experiments or $LOCKSTEP_CACHE/experiments)')
    .option('--no-reuse', 'compute every cell again even when a stored result exists')
    .option('--out <dir>', 'folder for figures, results.json and report.html (default ./lockstep-<kind>)')
    .option('--no-cell-figures', 'skip the R(t)/Tmax figure of every cell')
    .option('--json', 'print the result as one JSON object on stdout')
    .option('--quiet', 'no progress on stderr')
    .action(async (kind: ExperimentKind, root: string | undefined, o) => {
      if (o.simulate && root) throw new InputError('give a BIDS root or --simulate, not both');
      if (!o.simulate && !root) throw new InputError('give a BIDS root (with --subject) or --simulate');
      if (root && !fs.existsSync(root)) throw new InputError(`${root}: no such dataset folder`);
      if (root && !o.subject?.length) throw new InputError('say which subjects: --subject 001,002,003');
      if (kind !== 'context' && o.contexts) throw new InputError(`--contexts is for the context experiment; a ${kind} experiment uses one --context`);
      const contexts: number[] = kind === 'context' ? (o.contexts ?? PAPER_CONTEXTS) : [o.context];
      const result = await runExperimentCommand({
        experiment: kind,
        root: root ?? null,
        subjects: o.subject ?? [],
        sessions: o.session,
        task: o.task,
        run: o.run,
        simulate: o.simulate ? { subjects: o.subjects, minutes: o.minutes, seed: o.seed, brainModel: o.brainModel, brainContext: o.brainContext, snr: o.snr } : undefined,
        models: o.model,
        contexts,
        contextMode: o.contextMode,
        quantiles: o.quartiles,
        surprisalModel: o.surprisalModel,
        allWords: Boolean(o.allWords),
        foldBlockWords: o.foldBlock,
        channels: o.channels ?? null,
        backend: o.backend,
        queue: o.queue,
        threads: o.threads,
        cacheRoot: path.resolve(o.cache ?? defaultActivationCache()),
        storeDir: path.resolve(o.results ?? defaultResultStoreDir()),
        reuse: o.reuse !== false,
        out: o.out ?? `lockstep-${kind}`,
        cellFigures: o.cellFigures !== false,
        quiet: Boolean(o.quiet),
      });
      if (o.json) process.stdout.write(`${JSON.stringify({ cells: result.cells, group: result.group, figures: { ...result.figures, report: result.report }, failed: result.failed, missing: result.missing, parameters: result.parameters, runner: result.runner, wallSeconds: result.wallSeconds })}\n`);
      else {
        for (const g of result.group) process.stdout.write(`${g.model} context ${g.context} ${g.condition}: temporal score ${fixed(g.temporalScore.mean, 3)} ± ${Number.isFinite(g.temporalScore.sem) ? fixed(g.temporalScore.sem, 3) : '—'} (SEM, ${countOf(g.nSubjects, 'subject')}, ${countOf(g.nWords, 'word')})\n`);
        process.stdout.write(`report: ${result.report}\n`);
      }
      if (result.failed.length > 0) process.exitCode = 1;
    });
}
