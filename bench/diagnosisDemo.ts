/**
 * The coupling recommended by docs/alignment-diagnosis.md, run through the real pipeline before it
 * exists in the simulator: `lockstep demo` exactly as cli/demo.ts wires it (built-in text and
 * speech timing, the simulated subject, band-pass, 30 Hz, epochs, the decoder worker with exact
 * 5-fold refits), except that the subject is given
 *   - `--whiten`: each layer's features with every PCA dimension z-scored over the words of the
 *     feature table (the features' PCA dims are uncorrelated, so this whitens within the PCA
 *     space); the decoder still reads the original features;
 *   - `--sources S`: S latent sources per layer (SimulatedSubject's nSources);
 *   - `--gain G`: total evoked amplitude per layer G × today's, i.e. snr = G·√(3/S) per source;
 *   - `--whole`: the subject runs the whole model: every hidden state (depths 0, 0.1, …, 1.0 of
 *     the 10-block built-in model) drives a stage at defaultLatencySec(depth) (0.256 … 0.694 s),
 *     while the decoder reads the usual 9 depths 0.1 … 0.9.
 * Prints one JSON object: the final exact score, p, Tmax, planted latencies, max |Tmax − planted|.
 *
 * Usage: node dist/bench/diagnosisDemo.js [--seed 1] [--minutes 20] [--model builtin|builtin-untrained|synthetic]
 *          [--whiten] [--sources 3] [--gain 1] [--whole] [--control planted|null|shuffle|flat] [--refit-every 100000]
 * Owns: nothing the app uses; a harness. Must not: change any simulator or pipeline constant.
 */
import { from, mergeMap, share, type Observable } from 'rxjs';
import path from 'node:path';
import { runExtract } from '../adapters/llm/extract.js';
import { defaultActivationCache, modelFeatures, resolveModel, syntheticFeatures, type FeatureTable } from '../adapters/llm/features.js';
import { readNpyFile } from '../adapters/npyFile.js';
import { SimulatedSubject, type CouplingControl } from '../adapters/simulator/simulatedSubject.js';
import { speechTiming } from '../adapters/simulator/speechTiming.js';
import { builtinWords } from '../adapters/text/builtinText.js';
import { runAnalysisSession } from '../cli/session.js';
import { pacedChunks } from '../replay/pacedChunks.js';
import { PAPER_EPOCH } from '../src/epochGrid.js';
import type { SampleChunk, WordEvent } from '../src/types.js';
import { FlowControl } from '../streams/flowControl.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
};
const seed = Number(opt('seed', '1'));
const minutes = Number(opt('minutes', '20'));
const model = opt('model', 'builtin');
const whiten = args.includes('--whiten');
const whole = args.includes('--whole');
const nSources = Number(opt('sources', '3'));
const gain = Number(opt('gain', '1'));
const control = opt('control', 'planted') as CouplingControl;
const refitEveryWords = Number(opt('refit-every', '100000'));
const sfreqHz = 1200;
const t0 = performance.now();

const synthetic = model === 'synthetic';
const nWords = synthetic ? undefined : Math.ceil(minutes * 60 * 3.6) + 50;
const features: FeatureTable = synthetic ? syntheticFeatures(seed, 50, 9) : await modelFeatures([{ text: 'builtin', maxWords: nWords }], { model, mode: 'chunked' });
const text = builtinWords(nWords);
const words = speechTiming(text, { seed, startSec: 3 }).map((w) => ({ ...w, isContent: features.isContent(w.wordIndex) }));

// What the subject's stages encode: the decoded features, or (--whole) every hidden state.
let planted: { nLayers: number; nDims: number; depths: number[]; of: (i: number, w: string) => Float32Array | undefined } = features;
if (whole && !synthetic) {
  const allDepths = Array.from({ length: 11 }, (_, i) => i / 10);
  const s = await runExtract({ model: await resolveModel(model), text: 'builtin', maxWords: nWords, context: 50, mode: 'chunked', depths: allDepths, aggregate: 'mean', pca: 50, out: defaultActivationCache() });
  const acts = readNpyFile(path.join(s.cacheDir, 'activations.npy')); // [words, layers, dims]
  const [nL, nD] = [acts.shape[1], acts.shape[2]];
  const data = acts.data instanceof Float32Array ? acts.data : Float32Array.from(acts.data as ArrayLike<number>);
  planted = { nLayers: nL, nDims: nD, depths: s.depths, of: (i) => (i < acts.shape[0] ? data.subarray(i * nL * nD, (i + 1) * nL * nD) : undefined) };
}
const LD = planted.nLayers * planted.nDims;

// Whitening: mean and 1/sd of every (layer, dim) over the words that have features.
const mean = new Float64Array(LD);
const invSd = new Float64Array(LD).fill(1);
if (whiten) {
  const sum2 = new Float64Array(LD);
  let n = 0;
  for (const w of words) {
    const f = planted.of(w.wordIndex, w.word);
    if (!f) continue;
    n++;
    for (let k = 0; k < LD; k++) {
      mean[k] += f[k];
      sum2[k] += f[k] * f[k];
    }
  }
  for (let k = 0; k < LD; k++) {
    mean[k] /= n;
    const v = sum2[k] / n - mean[k] * mean[k];
    invSd[k] = v > 0 ? 1 / Math.sqrt(v) : 0;
  }
}
const activation = (i: number, w: string): Float32Array => {
  const f = planted.of(i, w);
  if (!f) return new Float32Array(LD);
  if (!whiten) return f;
  const out = new Float32Array(LD);
  for (let k = 0; k < LD; k++) out[k] = (f[k] - mean[k]) * invSd[k];
  return out;
};
const snr = gain * Math.sqrt(3 / nSources);
const subject = new SimulatedSubject({ seed, words, activation, nLayers: planted.nLayers, nDims: planted.nDims, depths: planted.depths, control, snr, sfreqHz, nSources });
const lastOnset = words.at(-1)!.onsetSec;
const durationSec = Math.min(minutes * 60, subject.durationSec, lastOnset + PAPER_EPOCH.tEndSec + 1);
const totalSamples = Math.floor(durationSec * sfreqHz);

const flow = new FlowControl();
const chunks$ = pacedChunks((first, n) => subject.chunk(first, n), { sfreqHz, totalSamples, chunkSamples: sfreqHz / 10, speed: 'max', gate: () => flow.whenBelow(256) }).pipe(share());
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
  label: 'diagnosis',
  chunks$,
  words$,
  sfreqHz,
  nChannels: subject.channels.length,
  activationOf: (w) => features.of(w.wordIndex, w.word),
  nLayers: features.nLayers,
  nDims: features.nDims,
  depths: features.depths,
  contentWordsOnly: !synthetic,
  backend: 'auto',
  refitEveryWords,
  snapshotEveryWords: 100000,
  foldBlockWords: 100,
  halfLifeWords: null,
  json: false,
  quiet: true,
  sourceLabel: `simulated subject (seed ${seed}, ${control})`,
  activationsLabel: features.label,
  totalSec: totalSamples / sfreqHz,
  flow,
});
const e = r.last?.exact;
// The decoded layers' latencies (with --whole, stages 1 … 9 of the 11).
const plantedLat = planted.nLayers === features.nLayers ? subject.latenciesSec : subject.latenciesSec.slice(1, 1 + features.nLayers);
const maxErrMs = e ? Math.max(...e.tmax.map((t, l) => Math.abs(t - plantedLat[l]))) * 1000 : null;
process.stdout.write(
  JSON.stringify({
    seed,
    model,
    whiten,
    whole,
    nSources,
    gain,
    snr,
    control,
    nWords: e?.nWords,
    temporalScore: e?.temporalScore,
    p: e?.p,
    tmax: e?.tmax.map((t) => Math.round(t * 1e4) / 1e4),
    planted: plantedLat.map((t) => Math.round(t * 1e4) / 1e4),
    maxErrMs,
    alignmentScore: e?.alignmentScore,
    wallSeconds: (performance.now() - t0) / 1000,
  }) + '\n',
);
