/**
 * A PCA basis fixed before extraction, so that every word can be projected as soon as it is
 * extracted and features stream in stimulus order (the all-words fit, method §3's choice, needs
 * every word first). Two ways to fix it (`PcaFit`):
 *
 * - `sample:N`: fit on a first pass over N words of the stimulus itself, taken from windows spread
 *   evenly over the whole stimulus (all of it when it has ≤ N words: then the basis is the
 *   all-words fit, up to float rounding). The first word streams once the sampled windows are
 *   computed; the main pass takes their words from that pass instead of computing them again.
 * - `reference:N`: fit on N words spread over the first 20,000 words of the built-in text (Moby
 *   Dick), read by the same model with the same context, layers and aggregation; computed once per
 *   setting and cached. It needs no word of the stimulus, so it is what a live session whose text
 *   is not known in advance uses.
 * - `all`: the all-words fit after extraction (activationCache.ts: pcaPasses); nothing streams.
 *
 * Signs follow the same convention in every case (scikit-learn's svd_flip, decided on the words
 * the basis was fit on). The basis files are those of a finished cache (pca_mean.npy,
 * pca_components.npy, pca_explained_variance.npy), written before the first row.
 *
 * Owns: the fit choice, the sample, basis files. Must not: run the model (the caller passes
 * a function that extracts windows) or write activation rows.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { LinalgBackend } from '../../src/linalg/backend.js';
import { componentsFor, fitLayers, type PcaFit } from '../../src/llm/pca.js';
import type { ContextWindow } from '../../src/types.js';
import { readNpyFile, writeNpyFile } from '../npyFile.js';

export type PcaFitChoice = { kind: 'all' } | { kind: 'sample'; words: number } | { kind: 'reference'; words: number };

export const DEFAULT_SAMPLE_WORDS = 1000;
/** Words of the built-in text a reference basis samples from. */
export const REFERENCE_TEXT_WORDS = 20_000;

/** `all`, `sample[:N]`, `reference[:N]` → the choice (N defaults to DEFAULT_SAMPLE_WORDS). */
export function parsePcaFit(value: string): PcaFitChoice {
  const m = /^(all|sample|reference)(?::(\d+))?$/.exec(value.trim());
  if (!m) throw new RangeError(`--pca-fit ${value}: expected all, sample[:N] or reference[:N] (N words, default ${DEFAULT_SAMPLE_WORDS})`);
  if (m[1] === 'all') {
    if (m[2] !== undefined) throw new RangeError(`--pca-fit ${value}: "all" takes no word count`);
    return { kind: 'all' };
  }
  const words = m[2] === undefined ? DEFAULT_SAMPLE_WORDS : Number(m[2]);
  if (!(words >= 2)) throw new RangeError(`--pca-fit ${value}: the basis needs at least 2 words`);
  return { kind: m[1] as 'sample' | 'reference', words };
}

export function describePcaFit(f: PcaFitChoice): string {
  return f.kind === 'all' ? 'all' : `${f.kind}:${f.words}`;
}

/** A fixed basis: one fit per layer, and where it came from. */
export interface PcaBasis {
  fits: PcaFit[];
  /** Words the basis was fit on. */
  words: number;
  /** `sample:N` or `reference:N@<hash>`: what the cache key records. */
  source: string;
}

/**
 * Windows whose targets make a sample of about `words` words spread evenly over the plan: every
 * window when the plan has no more targets than that, else ⌈words / mean targets per window⌉
 * windows at evenly spaced positions. Deterministic.
 */
export function sampleWindows(windows: readonly ContextWindow[], words: number): number[] {
  const targets = windows.reduce((n, w) => n + w.targetWords.length, 0);
  if (targets <= words) return windows.map((_, i) => i);
  const k = Math.min(windows.length, Math.ceil(words / (targets / windows.length)));
  return Array.from({ length: k }, (_, j) => Math.floor(((j + 0.5) * windows.length) / k));
}

/** Components a basis fit on `words` words of `hidden` dimensions has (as scikit-learn allows). */
export function basisComponents(requested: number, words: number, hidden: number): number {
  return componentsFor(requested, words, hidden);
}

/**
 * Fits the basis on sample rows.
 * @param rows [word][layer][hidden] raw activations of the sample, in sample order
 */
export async function fitBasis(rows: Float32Array, n: number, nLayers: number, hidden: number, nComponents: number, backend: LinalgBackend, source: string): Promise<PcaBasis> {
  return { fits: await fitLayers(rows, n, nLayers, hidden, nComponents, backend), words: n, source };
}

const FILES = { mean: 'pca_mean.npy', components: 'pca_components.npy', explainedVariance: 'pca_explained_variance.npy', info: 'pca_basis.json' };

/** Writes the basis files into a folder (the cache folder, or a reference-basis folder). */
export function writeBasis(dir: string, basis: PcaBasis): void {
  const nL = basis.fits.length;
  const H = basis.fits[0]!.nFeatures;
  const k = basis.fits[0]!.nComponents;
  const means = new Float64Array(nL * H);
  const comps = new Float64Array(nL * k * H);
  const ev = new Float64Array(nL * k);
  basis.fits.forEach((f, l) => {
    means.set(f.mean, l * H);
    comps.set(f.components, l * k * H);
    ev.set(f.explainedVariance, l * k);
  });
  fs.mkdirSync(dir, { recursive: true });
  writeNpyFile(path.join(dir, FILES.mean), means, [nL, H]);
  writeNpyFile(path.join(dir, FILES.components), comps, [nL, k, H]);
  writeNpyFile(path.join(dir, FILES.explainedVariance), ev, [nL, k]);
  const ratio = basis.fits.map((f) => Array.from(f.explainedVarianceRatio));
  fs.writeFileSync(path.join(dir, FILES.info), `${JSON.stringify({ source: basis.source, words: basis.words, explainedVarianceRatio: ratio })}\n`);
}

/** Reads a basis written by `writeBasis`, or null when the folder has none. */
export function readBasis(dir: string): PcaBasis | null {
  if (!Object.values(FILES).every((f) => fs.existsSync(path.join(dir, f)))) return null;
  const info = JSON.parse(fs.readFileSync(path.join(dir, FILES.info), 'utf8')) as { source: string; words: number; explainedVarianceRatio: number[][] };
  const mean = readNpyFile(path.join(dir, FILES.mean));
  const comps = readNpyFile(path.join(dir, FILES.components));
  const ev = readNpyFile(path.join(dir, FILES.explainedVariance));
  const [nL, H] = mean.shape as [number, number];
  const k = comps.shape[1]!;
  if (comps.shape.join(',') !== [nL, k, H].join(',') || ev.shape.join(',') !== [nL, k].join(',')) throw new Error(`${dir}: the PCA basis files disagree in shape; delete the folder to recompute it`);
  const md = mean.data as Float64Array;
  const cd = comps.data as Float64Array;
  const ed = ev.data as Float64Array;
  const fits: PcaFit[] = Array.from({ length: nL }, (_, l) => ({
    nFeatures: H,
    nComponents: k,
    nSamples: info.words,
    mean: md.slice(l * H, (l + 1) * H),
    components: cd.slice(l * k * H, (l + 1) * k * H),
    explainedVariance: ed.slice(l * k, (l + 1) * k),
    explainedVarianceRatio: Float64Array.from(info.explainedVarianceRatio[l] ?? []),
  }));
  return { fits, words: info.words, source: info.source };
}

/** A short content hash of a basis (what a reference choice puts in the cache key). */
export function basisHash(basis: PcaBasis): string {
  const h = createHash('sha256');
  for (const f of basis.fits) {
    h.update(new Uint8Array(f.mean.buffer, f.mean.byteOffset, f.mean.byteLength));
    h.update(new Uint8Array(f.components.buffer, f.components.byteOffset, f.components.byteLength));
  }
  return h.digest('hex').slice(0, 16);
}
