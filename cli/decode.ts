/**
 * `lockstep decode`: the offline analysis for people who already have epochs (e.g. from MNE) and
 * layer activations as .npy files. Words stream from the epochs file in batches, so memory stays
 * at the sufficient statistics however many words there are.
 */
import { openNpyFile, writeNpyFile } from '../adapters/npyFile.js';
import { writeCheckpoint } from '../adapters/checkpointStore.js';
import { Decoder } from '../src/decoder.js';
import { defaultDepths, epochTimes } from '../src/epochGrid.js';
import type { BackendName } from '../src/linalg/backend.js';
import { createBackend } from '../src/linalg/select.js';
import type { AlphaSelection } from '../src/ridge/alphaGrid.js';
import { exactScores, type ExactScores } from '../src/snapshot.js';
import type { SkipReason } from '../src/types.js';
import { Option, type Command } from 'commander';
import { ALPHA_SELECTIONS } from '../src/ridge/alphaGrid.js';
import { ACCUMULATION_PRECISIONS, type AccumulationPrecision } from '../src/stats/statsAccumulator.js';
import { ComputePool, defaultPoolSize } from '../streams/computePool.js';
import { backendOption, nonNegativeInt, number, numberList, positiveInt } from './options.js';
import { progressReporter } from './progress.js';
import { countOf } from './format.js';

export interface DecodeArgs {
  epochs: string;
  targets: string;
  depths?: number[];
  timesStart: number;
  sfreq: number;
  folds: number;
  alphas?: number[];
  alphaSelection?: AlphaSelection;
  backend: 'auto' | BackendName;
  batchWords?: number;
  /** Accumulation arithmetic (default float64). */
  precision?: AccumulationPrecision;
  /** Compute-pool workers (default: one per core, up to 8); 0 computes in this thread. */
  workers?: number;
  out?: string;
  checkpoint?: string;
  includeFolds?: boolean;
  quiet?: boolean;
}

export interface DecodeOutput extends ExactScores {
  times: number[];
  depths: number[];
  alphas: number[];
  alphaSelection: AlphaSelection;
  backend: string;
  precision: AccumulationPrecision;
  skipped: Record<SkipReason, number>;
  /** Wall-clock seconds: reading + accumulation + refit. */
  seconds: number;
  accumulateSeconds: number;
  refitSeconds: number;
}

export async function runDecode(a: DecodeArgs): Promise<DecodeOutput> {
  const t0 = performance.now();
  const X = openNpyFile(a.epochs);
  const Y = openNpyFile(a.targets);
  try {
    if (X.shape.length !== 3) throw new RangeError(`${a.epochs}: epochs must be 3-D [words, channels, times], got shape (${X.shape.join(', ')})`);
    if (Y.shape.length !== 3) throw new RangeError(`${a.targets}: targets must be 3-D [layers, words, dims], got shape (${Y.shape.join(', ')})`);
    const [nWords, C, T] = X.shape;
    const [L, nWordsY, D] = Y.shape;
    if (nWords !== nWordsY) {
      throw new RangeError(`${a.epochs} has ${nWords} words but ${a.targets} has ${nWordsY} (axis 1 of [layers, words, dims]); they must describe the same words in the same order`);
    }
    const depths = a.depths ?? defaultDepths(L);
    if (depths.length !== L) throw new RangeError(`--layers-depths gives ${depths.length} depths but ${a.targets} has ${L} layers`);
    const times = epochTimes(a.timesStart, a.sfreq, T);
    const selection: AlphaSelection = a.alphaSelection ?? (a.alphas && a.alphas.length === 1 ? 'fixed' : 'gcv');
    const workers = a.workers ?? defaultPoolSize();
    const decoder = new Decoder(
      {
        dims: { nChannels: C, nTimes: T, nLayers: L, nDims: D },
        foldPlan: { kind: 'total', folds: a.folds, totalWords: nWords },
        alphas: a.alphas,
        selection,
        batchWords: a.batchWords,
        precision: a.precision,
      },
      workers > 0 ? 'shared' : 'local',
    );
    // Batches and the refit run on the pool's workers, the file is read here meanwhile.
    const pool = workers > 0 ? await ComputePool.start({ workers, backend: a.backend }) : undefined;
    const backend = await createBackend(a.backend, pool ? { threads: 1 } : {});
    decoder.engine = pool?.engine();
    const progress = progressReporter(a.quiet ? null : process.stderr, 'decode');
    try {
      const tAcc = performance.now();
      // Targets for a block of words: Y is [layers, words, dims], so gather each layer's rows.
      const block = 256;
      for (let w0 = 0; w0 < nWords; w0 += block) {
        const nb = Math.min(block, nWords - w0);
        const xs = X.read(w0 * C * T, nb * C * T);
        const ys = Array.from({ length: L }, (_, l) => Y.read((l * nWords + w0) * D, nb * D));
        for (let i = 0; i < nb; i++) {
          const act = new Float64Array(L * D);
          for (let l = 0; l < L; l++) for (let d = 0; d < D; d++) act[l * D + d] = ys[l][i * D + d];
          await decoder.add({ wordIndex: w0 + i, onsetSec: w0 + i, epoch: xs.subarray(i * C * T, (i + 1) * C * T), activations: act }, backend);
        }
        progress.update(`accumulating: ${w0 + nb}/${nWords} words`, (w0 + nb) / nWords);
      }
      await decoder.flush(backend);
      const accumulateSeconds = (performance.now() - tAcc) / 1000;
      const tFit = performance.now();
      // Offline decoding needs no prequential model: skip the all-words fit (one eigendecomposition per time sample).
      const result = await decoder.refit(backend, (done, total) => progress.update(`refitting: ${done}/${total} time samples`, done / total), { fitFull: false });
      const refitSeconds = (performance.now() - tFit) / 1000;
      progress.done();
      if (!result) throw new RangeError(`cannot decode: ${decoder.accepted} usable words for ${a.folds} folds (skipped: ${JSON.stringify(decoder.skipped)})`);
      await decoder.drain();
      if (a.checkpoint) writeCheckpoint(a.checkpoint, decoder);
      const scores = exactScores(result, decoder.accepted, refitSeconds, times, depths, a.includeFolds);
      if (a.out) writeOutputs(a.out, result.R, result.foldR, result.alphaIndex, result.alphas, { L, T, K: a.folds, P: L * D });
      return {
        ...scores,
        times,
        depths,
        alphas: [...result.alphas],
        alphaSelection: selection,
        backend: pool ? `${pool.backendDetail} × ${pool.size} workers` : backend.detail,
        precision: decoder.options.precision,
        skipped: { ...decoder.skipped },
        seconds: (performance.now() - t0) / 1000,
        accumulateSeconds,
        refitSeconds,
      };
    } finally {
      await pool?.close();
      await backend.dispose();
    }
  } finally {
    X.close();
    Y.close();
  }
}

/** R → out.npy [layers, times]; per-fold R → out.folds.npy [folds, layers, times]; chosen α → out.alphas.npy [folds, times, targets]. */
function writeOutputs(out: string, R: Float64Array, foldR: Float64Array, alphaIndex: Uint8Array, alphas: readonly number[], s: { L: number; T: number; K: number; P: number }): void {
  const base = out.endsWith('.npy') ? out.slice(0, -4) : out;
  writeNpyFile(`${base}.npy`, R, [s.L, s.T]);
  writeNpyFile(`${base}.folds.npy`, foldR, [s.K, s.L, s.T]);
  const chosen = new Float64Array(alphaIndex.length);
  for (let i = 0; i < chosen.length; i++) chosen[i] = alphas[alphaIndex[i]];
  writeNpyFile(`${base}.alphas.npy`, chosen, [s.K, s.T, s.P]);
}

export function registerDecodeCommand(program: Command): void {
  program
    .command('decode')
    .description('Exact K-fold ridge decoding of layer activations from MEG epochs, per time sample, with the temporal score. X.npy: float32/float64 [words, channels, times] (MNE epochs.get_data()); Y.npy: [layers, words, dims].')
    .requiredOption('--epochs <X.npy>', '(required) epochs [words, channels, times], little-endian float32/float64, C order')
    .requiredOption('--targets <Y.npy>', '(required) layer activations [layers, words, dims]')
    .option('--layers-depths <list>', 'relative depth of each layer (default 0.1,…,0.9 for 9 layers)', numberList)
    .option('--times-start <sec>', 'time of the first epoch sample, seconds', number, -2.5)
    .option('--sfreq <Hz>', 'epoch sampling rate', number, 30)
    .option('--folds <K>', 'contiguous (unshuffled) outer folds', positiveInt, 5)
    .option('--alphas <list>', 'ridge penalties; one value means a fixed α (default logspace(-4, 8, 13))', numberList)
    .addOption(new Option('--alpha-selection <how>', 'per-target α: gcv (default), kfold (inner K-fold) or fixed').choices([...ALPHA_SELECTIONS]))
    .addOption(backendOption())
    .option('--batch-words <n>', 'words per accumulation product', positiveInt)
    .addOption(new Option('--precision <p>', 'accumulation: float64 (default) or mixed (float32 products of centred blocks, float64 sums)').choices([...ACCUMULATION_PRECISIONS]))
    .option('--workers <n>', 'worker threads for accumulation and the refit (default: one per core, up to 8; 0: this thread)', nonNegativeInt)
    .option('--out <scores.npy>', 'also write R [layers, times], .folds.npy [folds, layers, times] and .alphas.npy [folds, times, targets]')
    .option('--checkpoint <file>', 'save the sufficient statistics (resumable) after accumulating')
    .option('--include-folds', 'add per-fold R curves to the JSON output')
    .option('--json', 'print one JSON object on stdout (otherwise a short summary)')
    .option('--quiet', 'no progress on stderr')
    .action(async (o) => {
      const out = await runDecode({
        epochs: o.epochs,
        targets: o.targets,
        depths: o.layersDepths,
        timesStart: o.timesStart,
        sfreq: o.sfreq,
        folds: o.folds,
        alphas: o.alphas,
        alphaSelection: o.alphaSelection as AlphaSelection | undefined,
        backend: o.backend,
        batchWords: o.batchWords,
        precision: o.precision as AccumulationPrecision | undefined,
        workers: o.workers,
        out: o.out,
        checkpoint: o.checkpoint,
        includeFolds: o.includeFolds,
        quiet: o.quiet,
      });
      if (o.json) {
        process.stdout.write(`${JSON.stringify(out)}\n`);
      } else {
        const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : String(v));
        process.stdout.write(
          `${countOf(out.nWords, 'word')}, ${countOf(out.R.length, 'layer')} × ${countOf(out.times.length, 'time')}, backend ${out.backend}\n` +
            `temporal score r = ${fmt(out.temporalScore)}, ${Math.round(out.ci.level * 100)}% CI ${fmt(out.ci.low)}…${fmt(out.ci.high)} (${out.ci.method})\n` +
            `  p = ${out.p.toPrecision(3)} (paper: t on ${out.tmax.length - 2} df, layers taken as independent); fold test p = ${out.foldTest.p.toPrecision(3)} (${out.foldTest.method})\n` +
            `alignment score ${fmt(out.alignmentScore)} at layer ${out.bestLayer} (depth ${out.depths[out.bestLayer]}), t = ${fmt(out.peakTimeSec)} s\n` +
            `Tmax per layer (s): ${out.tmax.map(fmt).join(' ')}\n` +
            `  ${Math.round(out.tmaxCI.level * 100)}% intervals: ${out.tmaxCI.low.map((lo, l) => `${fmt(lo)}…${fmt(out.tmaxCI.high[l])}`).join(' ')} (${out.tmaxCI.method})\n` +
            `took ${out.seconds.toFixed(1)} s (accumulate ${out.accumulateSeconds.toFixed(1)} s, refit ${out.refitSeconds.toFixed(1)} s)\n`,
        );
      }
    });
}
