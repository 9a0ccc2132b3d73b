/**
 * Material for scripts/diagnose_alignment.py (docs/alignment-diagnosis.md): the simulated subject
 * of `lockstep demo`, run through the pipeline's own preprocessing (two-stage 0.1–20 Hz band-pass
 * and resampling to 30 Hz), saved as the continuous 30 Hz stream rather than as epochs, so the
 * Python side can cut epochs exactly as streams/epochs.ts does and add prototype signals to the
 * same noise (everything after the simulator is linear, so planted − null = the evoked signal).
 *
 * Writes to --out:
 *   meg30.npy       float32 [sample][channel], the preprocessed stream (tesla), 30 Hz
 *   words.npy       float64 [word][4]: onset s, stimulus index, isContent (1/0/−1 unknown), has features (1/0)
 *   weights.npy     float32 [word][layer][source]: the z-scored source weights the subject planted
 *   patterns.npy    float32 [layer·source][channel]: each evoked source's unit-RMS field pattern
 *   features.npy    float32 [word][layer][dim]: the features planted and decoded (NaN: none)
 *   meta.json       first output sample, its time, delaySec of the chain, latencies, labels
 * and prints one JSON object (what it wrote and how long it took).
 *
 * Usage: node dist/bench/diagnosisMeg.js --out <dir> [--seed 1] [--minutes 20]
 *          [--features builtin|builtin-untrained|synthetic] [--control planted|null|shuffle|flat]
 *          [--sources 3]
 * Owns: nothing the app uses; a harness. Must not: change any simulator or pipeline constant.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Observable, lastValueFrom, tap } from 'rxjs';
import { modelFeatures, syntheticFeatures, type FeatureTable } from '../adapters/llm/features.js';
import { writeNpyFile } from '../adapters/npyFile.js';
import { SimulatedSubject, type CouplingControl } from '../adapters/simulator/simulatedSubject.js';
import { speechTiming } from '../adapters/simulator/speechTiming.js';
import { builtinWords } from '../adapters/text/builtinText.js';
import type { SampleChunk } from '../src/types.js';
import { preprocess, preprocessDelaySec } from '../streams/preprocess.js';
import { paperPreprocessing } from '../streams/segmentedEpochs.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
};
const out = opt('out', '');
if (out === '') throw new RangeError('--out <dir> is required');
const seed = Number(opt('seed', '1'));
const minutes = Number(opt('minutes', '20'));
const featureSource = opt('features', 'builtin');
const control = opt('control', 'planted') as CouplingControl;
const nSources = Number(opt('sources', '3'));
const sfreqHz = 1200;
const t0 = performance.now();

// Exactly the demo's feature table and word timing (cli/demo.ts).
const nWords = featureSource === 'synthetic' ? undefined : Math.ceil(minutes * 60 * 3.6) + 50;
const features: FeatureTable =
  featureSource === 'synthetic'
    ? syntheticFeatures(seed, 50, 9)
    : await modelFeatures([{ text: 'builtin', maxWords: nWords }], { model: featureSource, mode: 'chunked' });
const words = speechTiming(builtinWords(nWords), { seed, startSec: 3 }).map((w) => ({ ...w, isContent: features.isContent(w.wordIndex) }));
const activation = (i: number, w: string) => features.of(i, w) ?? new Float32Array(features.nLayers * features.nDims);
const subject = new SimulatedSubject({ seed, words, activation, nLayers: features.nLayers, nDims: features.nDims, depths: features.depths, control, sfreqHz, nSources });
const totalSamples = Math.floor(Math.min(minutes * 60, subject.durationSec) * sfreqHz);

const prep = paperPreprocessing();
const delaySec = preprocessDelaySec(prep, sfreqHz);
const C = subject.channels.length;
const chunkSamples = sfreqHz / 10;
const raw$ = new Observable<SampleChunk>((sub) => {
  for (let s = 0; s < totalSamples; s += chunkSamples) sub.next(subject.chunk(s, Math.min(chunkSamples, totalSamples - s)));
  sub.complete();
});
const outRows = Math.ceil((totalSamples / sfreqHz) * 30) + 2;
const meg30 = new Float32Array(outRows * C); // [sample][channel]
let firstSample = -1;
let firstTimeSec = 0;
let nOut = 0;
await lastValueFrom(
  raw$.pipe(
    preprocess(prep),
    tap((c) => {
      if (firstSample < 0) {
        firstSample = c.firstSample;
        firstTimeSec = c.tStartSec;
      }
      meg30.set(c.data, nOut * C);
      nOut += c.nSamples;
    }),
  ),
  { defaultValue: null },
);

fs.mkdirSync(out, { recursive: true });
writeNpyFile(path.join(out, 'meg30.npy'), meg30.subarray(0, nOut * C), [nOut, C]);
const L = features.nLayers;
const S = nSources;
const LD = L * features.nDims;
// The words heard in the simulated span (the synthetic demo times the whole book).
const heard = subject.words.filter((w) => w.onsetSec < totalSamples / sfreqHz);
const wordRows = new Float64Array(heard.length * 4); // [word][onset, index, content, hasFeatures]
const weights = new Float32Array(heard.length * L * S); // [word][layer][source]
const featureRows = new Float32Array(heard.length * LD).fill(Number.NaN); // [word][layer][dim]
heard.forEach((w, i) => {
  const f = features.of(w.wordIndex, w.word);
  wordRows.set([w.onsetSec, w.wordIndex, w.isContent === undefined ? -1 : w.isContent ? 1 : 0, f ? 1 : 0], i * 4);
  weights.set(subject.sourceWeights(i), i * L * S);
  if (f) featureRows.set(f, i * LD);
});
writeNpyFile(path.join(out, 'words.npy'), wordRows, [heard.length, 4]);
writeNpyFile(path.join(out, 'weights.npy'), weights, [heard.length, L, S]);
writeNpyFile(path.join(out, 'features.npy'), featureRows, [heard.length, L, features.nDims]);
writeNpyFile(path.join(out, 'patterns.npy'), subject.sourcePatterns, [L * S, C]);
const meta = {
  seed,
  minutes,
  features: features.label,
  featureSource,
  control,
  nSources,
  sfreqHz: 30,
  firstSample,
  firstTimeSec,
  delaySec,
  latenciesSec: subject.latenciesSec,
  depths: features.depths,
  describe: subject.describe,
};
fs.writeFileSync(path.join(out, 'meta.json'), JSON.stringify(meta, null, 1));
process.stdout.write(JSON.stringify({ out, samples30: nOut, channels: C, words: heard.length, seconds: (performance.now() - t0) / 1000, ...meta }) + '\n');
