/**
 * Where a session's layer activations come from, behind one small interface: the seeded synthetic
 * generator (demo controls, tests), or a language model through the extraction cache (issue 4).
 * `simulate` plants the same features that `replay`/`live` then decode, so a simulated dataset
 * written with one feature source is analysed with the same one.
 *
 * Owns: the choice and its label. Must not: extract (adapters/llm does) or decode.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpyFile } from '../../adapters/npyFile.js';
import { syntheticActivations, describe as SYNTHETIC_DESCRIBE } from '../../adapters/simulator/syntheticActivations.js';
import type { ExtractSummary } from './extractCommand.js';
import { defaultDepths } from '../epochGrid.js';

/** Per-word features for a stimulus of known words, by stimulus index. */
export interface FeatureTable {
  /** What the dashboard and results say the features are. */
  label: string;
  nLayers: number;
  nDims: number;
  depths: number[];
  /** [layer][dim] of stimulus word `index`, or undefined when the word has none (unmatched in the text). */
  of(index: number, word: string): Float32Array | undefined;
  /** Content word (NOUN/VERB/ADJ/ADV) per the tagger; undefined when not tagged. */
  isContent(index: number): boolean | undefined;
}

/** The seeded synthetic activations of the simulator (not a language model; clearly labelled). */
export function syntheticFeatures(seed: number, nDims = 50, nLayers = 9): FeatureTable {
  const act = syntheticActivations({ seed, nLayers, nDims });
  return {
    label: `${SYNTHETIC_DESCRIBE}, seed ${seed}`,
    nLayers,
    nDims,
    depths: defaultDepths(nLayers),
    of: (i, w) => act(i, w),
    isContent: () => undefined,
  };
}

/** The built-in model shipped with lockstep (trained on the built-in text; see docs/builtin-model.md). */
export const BUILTIN_MODEL_DIR = fileURLToPath(new URL('../../../models/lockstep-moby-gpt2', import.meta.url));

/**
 * `builtin` → the shipped model's folder, `family:<xs|s|m|l>` → a model of the family
 * (docs/model-family.md); `<either>-untrained[:seed]` (`builtin-untrained`, `family:s-untrained:2`)
 * → its seeded random-weights twin (same architecture and tokenizer, written once under the cache
 * folder: what an untrained model gives); anything else is a folder or .onnx path as given.
 * The names are parsed in adapters/onnx/builder/modelFamily.ts.
 */
export async function resolveModel(model: string): Promise<string> {
  const { resolveModelName } = await import('../../adapters/onnx/builder/modelFamily.js');
  return (await resolveModelName(model, path.join(path.dirname(defaultActivationCache()), 'models'))) ?? model;
}

/** Where extracted activations are cached unless told otherwise. */
export function defaultActivationCache(): string {
  return process.env.LOCKSTEP_CACHE ? path.join(process.env.LOCKSTEP_CACHE, 'activations') : path.join(os.homedir(), '.cache', 'lockstep', 'activations');
}

/** One stimulus source: an events.tsv (with the original story texts), a text file, or `builtin`. */
export interface StimulusPart {
  text: string;
  storyText?: string[];
  maxWords?: number;
}

export interface ModelFeatureOptions {
  model: string;
  /** Previous words of context (paper: 50). */
  context?: number;
  mode?: 'exact' | 'chunked';
  cacheRoot?: string;
  quiet?: boolean;
  allowDownload?: boolean;
}

/**
 * Layer activations of a language model for the stimulus parts, in order (part k's words follow
 * part k−1's in the stimulus index), through `lockstep extract`'s cache: computed once, then read.
 * Words the text could not be matched to (reported by the extraction) have no features.
 */
export async function modelFeatures(parts: StimulusPart[], o: ModelFeatureOptions): Promise<FeatureTable & { summaries: ExtractSummary[] }> {
  const { runExtract } = await import('./extractCommand.js');
  const summaries: ExtractSummary[] = [];
  const rows: Float32Array[] = [];
  const content: (boolean | undefined)[] = [];
  let nLayers = 0;
  let nDims = 0;
  let depths: number[] = [];
  for (const part of parts) {
    const s = await runExtract(
      { model: await resolveModel(o.model), text: part.text, storyText: part.storyText, maxWords: part.maxWords, context: o.context ?? 50, mode: o.mode ?? 'exact', aggregate: 'mean', pca: 50, out: o.cacheRoot ?? defaultActivationCache(), quiet: o.quiet, allowDownload: o.allowDownload },
      o.quiet ? null : process.stderr,
    );
    summaries.push(s);
    const acts = readNpyFile(path.join(s.cacheDir, 'activations.npy')); // [words, layers, dims]
    [nLayers, nDims] = [acts.shape[1], acts.shape[2]];
    depths = s.depths;
    const per = nLayers * nDims;
    const data = acts.data instanceof Float32Array ? acts.data : Float32Array.from(acts.data as ArrayLike<number>);
    const tags = fs.readFileSync(path.join(s.cacheDir, 'words.tsv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t')[3]);
    for (let w = 0; w < acts.shape[0]; w++) {
      const row = data.subarray(w * per, (w + 1) * per);
      rows.push(row);
      content.push(tags[w] === '1' ? true : tags[w] === '0' ? false : undefined);
    }
  }
  const name = o.model === 'builtin' ? 'built-in model lockstep-moby-gpt2' : o.model.startsWith('builtin-untrained') ? `untrained twin of the built-in model (${o.model})` : path.basename(path.resolve(o.model));
  return {
    label: `${name}, ${depths.length} layers at depths ${depths.join(',')}, context ${o.context ?? 50} words (${o.mode ?? 'exact'}), PCA ${nDims}`,
    nLayers,
    nDims,
    depths,
    of: (i) => {
      const r = rows[i];
      // Unmatched words are stored as NaN rows: no features.
      return r && Number.isFinite(r[0]) ? r : undefined;
    },
    isContent: (i) => content[i],
    summaries,
  };
}
