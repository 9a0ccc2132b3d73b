/**
 * `lockstep simulate`: writes the simulated subject listening to the built-in text as a BIDS
 * dataset (CTF .ds like the Armeni Sherlock Holmes dataset, or FIF), with events.tsv word onsets
 * and the stimulus text, so that `lockstep replay` and MNE-Python read it like real data.
 *
 * Owns: the options of a simulated dataset. Must not: encode formats (the writers do).
 */
import { Option, type Command } from 'commander';
import { saveSimulatedDataset, type SavedDataset, type SavedFormat } from '../adapters/simulator/saveDataset.js';
import { SimulatedSubject, type CouplingControl, type CouplingName } from '../adapters/simulator/simulatedSubject.js';
import { speechTiming } from '../adapters/simulator/speechTiming.js';
import { builtinText, builtinWords, BUILTIN_TEXT_SOURCE } from '../adapters/text/builtinText.js';
import { modelFeatures, syntheticFeatures, type FeatureTable } from '../adapters/llm/features.js';
import { InputError } from './errors.js';
import { parsePcaFit } from '../adapters/llm/pcaBasis.js';
import { featureSource, nonNegativeInt, pcaFitOption, positive } from './options.js';
import { extractReport, progressReporter } from './progress.js';
import { countOf } from './format.js';
import { DEFAULT_DEPTHS } from '../src/llm/depths.js';

export interface SimulateArgs {
  out: string;
  subject: string;
  session: string;
  task: string;
  format: SavedFormat;
  minutes: number;
  seed: number;
  control: CouplingControl;
  /** Planted activations (one stage per layer): a table, or a function building it for the first `maxWords` words of the text. */
  features: FeatureTable | ((maxWords: number) => Promise<FeatureTable>);
  /** How the stages read them (default 'projections'; 'population' for a model's whole hidden-state stack). */
  coupling?: CouplingName;
  /** Depths a replay will decode, for plantedLatenciesSec (default: the planted table's). */
  decodedDepths?: readonly number[];
  /** Index of the first word of the text this session hears (sessions continue the story). */
  firstWord: number;
  quiet: boolean;
  maxFileBytes?: number;
}

export interface SimulateResult extends SavedDataset {
  command: 'simulate';
  minutes: number;
  /** Ground truth per decoded depth (decodedDepths). */
  plantedLatenciesSec: number[];
  /** Every stage's depth and latency (the same as the decoded ones unless the whole model is planted). */
  stageDepths: number[];
  stageLatenciesSec: number[];
  features: string;
  seconds: number;
}

export async function runSimulate(a: SimulateArgs): Promise<SimulateResult> {
  const t0 = performance.now();
  const all = builtinWords();
  if (a.firstWord >= all.length) throw new InputError(`--first-word ${a.firstWord} is past the end of the text (${all.length} words)`);
  // Enough words for the duration (~3 words/s), then timed from 3 s into the recording.
  const heard = all.slice(a.firstWord, a.firstWord + Math.ceil(a.minutes * 60 * 3.6) + 20);
  const words = speechTiming(heard, { seed: a.seed, startSec: 3 }).map((w) => ({ ...w, wordIndex: a.firstWord + w.wordIndex }));
  const f = typeof a.features === 'function' ? await a.features(a.firstWord + heard.length) : a.features;
  const subject = new SimulatedSubject({
    seed: a.seed,
    words,
    activation: (i, w) => f.of(i, w),
    nLayers: f.nLayers,
    nDims: f.nDims,
    depths: f.depths,
    control: a.control,
    coupling: a.coupling,
  });
  const plantedLatenciesSec = subject.latenciesAtDepthsSec(a.decodedDepths ?? f.depths);
  const text = builtinText().slice(heard[0].start, heard.at(-1)!.end);
  const progress = progressReporter(a.quiet ? null : process.stderr, 'simulate');
  const saved = await saveSimulatedDataset({
    root: a.out,
    subject: a.subject,
    session: a.session,
    task: a.task,
    format: a.format,
    subjectSim: subject,
    words,
    text,
    durationSec: a.minutes * 60,
    description: `simulated subject seed ${a.seed}, ${a.control} latencies ${subject.latenciesSec.map((l) => l.toFixed(3)).join(' ')} s at depths ${f.depths.join(',')} (${subject.coupling} coupling); features: ${f.label}; text: ${BUILTIN_TEXT_SOURCE}, words ${a.firstWord}…`,
    maxFileBytes: a.maxFileBytes,
    onProgress: (done, total) => progress.update(`${(done / 60).toFixed(1)} of ${(total / 60).toFixed(1)} min written`, done / total),
  });
  progress.done();
  return { command: 'simulate', ...saved, minutes: a.minutes, plantedLatenciesSec, stageDepths: [...subject.depths], stageLatenciesSec: subject.latenciesSec, features: f.label, seconds: (performance.now() - t0) / 1000 };
}

export function registerSimulateCommand(program: Command): void {
  program
    .command('simulate')
    .description('Write the simulated subject (CTF-275, 1200 Hz) listening to the built-in text as a BIDS dataset that `replay` and MNE-Python read.')
    .requiredOption('--out <bids-root>', '(required) dataset folder (created; other subjects/sessions in it are kept)')
    .option('--subject <label>', 'subject label', '001')
    .option('--session <label>', 'session label', '001')
    .option('--task <label>', 'task label', 'compr')
    .addOption(new Option('--format <fmt>', 'recording format: ctf (.ds, as the Armeni dataset) or fif').choices(['ctf', 'fif']).default('ctf'))
    .option('--minutes <m>', 'recording length', positive, 10)
    .option('--seed <n>', 'simulation seed', nonNegativeInt, 1)
    .addOption(new Option('--control <kind>', 'coupling: planted latencies, or a null/shuffle/flat control').choices(['planted', 'null', 'shuffle', 'flat']).default('planted'))
    .option('--model <folder|builtin>', 'plant this language model\'s activations of the text heard: every hidden state, one processing stage each, read by the population coupling (the decoded depths 0.1 … 0.9 among them)')
    .option('--pca-fit <how>', 'with --model: the PCA basis (all, sample[:N], reference[:N]; default sample, as replay decodes)', pcaFitOption, parsePcaFit('sample'))
    .option('--features <source>', 'instead of a model: synthetic[:seed] activations (the default, seed = --seed)', featureSource)
    .option('--first-word <i>', 'index in the text of the first word heard (to continue the story in a later session)', nonNegativeInt, 0)
    .option('--json', 'print one JSON object on stdout')
    .option('--quiet', 'no progress on stderr')
    .action(async (o) => {
        const result = await runSimulate({
          out: o.out,
          subject: o.subject,
          session: o.session,
          task: o.task,
          format: o.format,
          minutes: o.minutes,
          seed: o.seed,
          control: o.control,
          features: o.model ? (maxWords: number) => modelFeatures([{ text: 'builtin', maxWords }], { model: o.model, pcaFit: o.pcaFit, allLayers: true, report: extractReport(o.quiet ? null : process.stderr) }) : (o.features ?? syntheticFeatures(o.seed)),
          coupling: o.model ? 'population' : 'projections',
          decodedDepths: o.model ? DEFAULT_DEPTHS : undefined,
          firstWord: o.firstWord,
          quiet: Boolean(o.quiet),
        });
        if (o.json) process.stdout.write(`${JSON.stringify(result)}\n`);
        else process.stdout.write(`wrote ${result.recording} (${result.minutes} min, ${countOf(result.nWords, 'word')}) and ${result.events}\n`);
    });
}
