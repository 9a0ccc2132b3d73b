/**
 * The bank a simulated closed loop uses when no bank folder is given: the first words of the
 * built-in text (Moby Dick) cut into passages as `bank build` cuts them, annotated by the built-in
 * language model (content tags, surprisal, activations, extracted once and cached), and timed by
 * the simulator's speech-rate model instead of audio (a silent schedule: no WAVs, so only
 * `--no-audio` presentation). With `synthetic` features the subject encodes, and the decoder reads,
 * the simulator's seeded synthetic activations; tags and surprisal still come from the model.
 *
 * Owns: that default bank. Must not: write a bank folder (buildBank.ts does).
 */
import path from 'node:path';
import { quartileOf, summarizePassage, surprisalQuartileEdges, type BankWord } from '../../src/closedLoop/bank.js';
import { cutPassages } from '../../src/text/passages.js';
import { openActivationCache } from '../llm/activationCache.js';
import { runExtract, type ExtractReport } from '../llm/extract.js';
import { resolveModel } from '../llm/features.js';
import { readNpyFile } from '../npyFile.js';
import { speechTiming } from '../simulator/speechTiming.js';
import { syntheticActivations, describe as SYNTHETIC_DESCRIBE } from '../simulator/syntheticActivations.js';
import { builtinWords } from '../text/builtinText.js';
import type { PassageBank } from './passageBank.js';

export interface SimulatedBankOptions {
  /** Words of the built-in text. */
  words: number;
  passageWords: number;
  /** Language model for tags and surprisal (and activations unless synthetic). */
  model: string;
  cacheRoot: string;
  /** Seeds the speech timing (and synthetic activations). */
  seed: number;
  /** Decode the simulator's synthetic activations (this seed) instead of the model's. */
  syntheticSeed?: number;
  /** Dimensions per layer of the synthetic activations (default 50). */
  syntheticDims?: number;
  report?: ExtractReport;
}

/** Silence before a passage's first word and after its last, s (as bank build's speech). */
const LEAD_SEC = 0.1;
const TAIL_SEC = 0.3;

export async function simulatedBank(o: SimulatedBankOptions): Promise<PassageBank> {
  const text = builtinWords(o.words);
  const ex = await runExtract({ model: await resolveModel(o.model), text: 'builtin', maxWords: o.words, context: 50, mode: 'chunked', aggregate: 'mean', pca: 50, out: o.cacheRoot }, o.report);
  const cache = openActivationCache(ex.cacheDir);
  if (cache.words.length !== text.length) throw new Error(`the extraction has ${cache.words.length} words, the built-in text's first ${o.words} are ${text.length}`);
  const surprisal = Array.from(cache.surprisal, (v) => (Number.isNaN(v) ? null : v));
  const edges = surprisalQuartileEdges(cache.words.map((w, i) => ({ isContent: w.isContent, surprisalNats: surprisal[i] })));
  const words: BankWord[] = [];
  const passages = cutPassages(text, { targetWords: o.passageWords }).map(([a, b], ordinal) => {
    const timed = speechTiming(text.slice(a, b), { seed: o.seed * 7919 + ordinal, startSec: LEAD_SEC });
    const pw: BankWord[] = timed.map((t, k) => {
      const i = a + k;
      return { index: i, word: text[i].word, passage: ordinal, onsetSec: t.onsetSec, offsetSec: t.onsetSec + (t.durationSec ?? 0), isContent: cache.words[i].isContent, surprisalNats: surprisal[i], quartile: quartileOf(surprisal[i], edges) };
    });
    words.push(...pw);
    return summarizePassage(`p${String(ordinal + 1).padStart(4, '0')}`, ordinal, pw, pw.at(-1)!.offsetSec + TAIL_SEC);
  });
  let activations: Float32Array;
  let nLayers: number;
  let nDims: number;
  let depths = ex.depths;
  let featuresLabel: string;
  if (o.syntheticSeed !== undefined) {
    [nLayers, nDims] = [9, o.syntheticDims ?? 50];
    const act = syntheticActivations({ seed: o.syntheticSeed, nLayers, nDims });
    activations = new Float32Array(words.length * nLayers * nDims);
    words.forEach((w, i) => activations.set(act(w.index, w.word), i * nLayers * nDims));
    depths = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
    featuresLabel = `${SYNTHETIC_DESCRIBE}, seed ${o.syntheticSeed}`;
  } else {
    const acts = readNpyFile(path.join(ex.cacheDir, cache.manifest.files.activations));
    [, nLayers, nDims] = acts.shape;
    activations = acts.data instanceof Float32Array ? acts.data : Float32Array.from(acts.data);
    featuresLabel = `${o.model === 'builtin' ? 'built-in model lockstep-moby-gpt2' : path.basename(o.model)}, ${depths.length} layers, context 50 words (chunked), PCA ${nDims}`;
  }
  return {
    dir: null,
    label: `simulated bank: the built-in text's first ${words.length} words in ${passages.length} passages (speech-rate model, no audio)`,
    summary: { passages, words, quartileEdgesNats: edges },
    nLayers,
    nDims,
    depths,
    activations,
    featuresLabel,
    audioPath: () => null,
    manifestSha256: null,
  };
}
