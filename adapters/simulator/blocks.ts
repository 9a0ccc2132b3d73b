/**
 * The simulator's block renderer: what makes the simulated subject fast and chunking-invariant.
 *
 * Time is cut into fixed blocks of 120 low-rate samples (1 s at 1200 Hz). Each block is a pure
 * function of (seed, block index), so the same samples come out however a range is chunked or in
 * whatever order it is asked (the last two blocks are cached). A block is rendered in stages,
 * each filled by generators behind one small interface:
 *
 *   1. latent time courses at the low rate (LatentGenerator: evoked sources, 1/f background,
 *      alpha, blinks), each generator in its own columns of latent [lowSample][latent];
 *   2. one matrix product per block mixes them into the channels through the generators' field
 *      patterns: low [lowSample][channel] = latent · mixing (OpenBLAS when it loads, in tiles small
 *      enough that OpenBLAS never threads them; else a JavaScript loop: see `MixKernel`);
 *   3. each channel's own slow noise is added at the low rate (ChannelGenerator: 1/f, drift);
 *   4. the low-rate block is linearly interpolated to the full rate, in the same pass as the
 *      full-rate rows (FullRateRows: mains, as is; ScaledFullRateRows: white noise, × a gain per
 *      channel);
 *   5. sparse full-rate events are added last (FullRateEvents: SQUID steps).
 *
 * Everything below ~40 Hz is built at the low rate (sfreq / round(sfreq/120) = 120 Hz): ten times
 * fewer samples to generate and mix. Linear interpolation attenuates 10 Hz by 2 % and 20 Hz by
 * 9 %, identically for signal and noise; its images sit near 120 Hz and beyond, outside the
 * 0.1–20 Hz the analysis uses.
 *
 * Stage 4 is one fused loop on purpose: it is the hot loop (every output value), and its sum is
 * rounded to float32 once; adding mains or white noise in passes of their own would cost a pass
 * over the block each and round differently (different data for the same seed).
 *
 * Owns: the block grid, the latent layout, the mixing, the interpolation and the block cache.
 * Must not: hold any signal or noise model (the generators do) or keep generator state between
 * blocks (that would break chunking invariance).
 */

import { GEMM_SERIAL_MNK, openBlasGemm, type Dgemm } from '../../src/linalg/openblas.js';

/**
 * How the mixing product runs. 'blas': OpenBLAS dgemm (the product was half of a simulated hour's
 * time in JavaScript: 121 × 561 × 273 multiply-adds per block, ~12 ms; ~1 ms on dgemm); 'js': the
 * loop below, when no BLAS loads. The two agree to float64 rounding (the sums are taken in another
 * order), so the float32 samples they give can differ in the last bit; each is the same for a
 * given seed however the data are chunked, and the blas one whatever OpenBLAS's thread setting.
 * 'auto' takes blas when it loads.
 */
export type MixKernel = 'auto' | 'blas' | 'js';

/** Low rate and block length of the renderer. */
export const BLOCK_MODEL = {
  /** Target rate of the low-rate (smooth) components, Hz; the exact rate is sfreq / round(sfreq / this). */
  lowRateHz: 120,
  /** Low-rate samples per block. */
  lowPerBlock: 120,
} as const;

/** The block grid at one full rate. */
export interface BlockGrid {
  readonly sfreqHz: number;
  /** Full-rate samples per low-rate sample. */
  readonly decim: number;
  /** The low rate, sfreqHz / decim, Hz. */
  readonly lowRateHz: number;
  /** Low-rate samples per block. */
  readonly lowPerBlock: number;
  /** Full-rate samples per block, decim × lowPerBlock. */
  readonly blockSamples: number;
}

export function blockGrid(sfreqHz: number): BlockGrid {
  const decim = Math.max(1, Math.round(sfreqHz / BLOCK_MODEL.lowRateHz));
  return { sfreqHz, decim, lowRateHz: sfreqHz / decim, lowPerBlock: BLOCK_MODEL.lowPerBlock, blockSamples: decim * BLOCK_MODEL.lowPerBlock };
}

/**
 * A component made of latent time courses that reach the sensors through fixed field patterns
 * (mixed in by the renderer, one matrix product for all of them).
 */
export interface LatentGenerator {
  /** How many latent sources (columns) it has. */
  readonly nLatent: number;
  /** Its sources' field patterns, [latent][channel], tesla per unit latent value. */
  readonly fieldPatterns: Float64Array;
  /**
   * Adds its latent time courses at low-rate samples j0 … j0+n−1: source k's value at sample j
   * goes to latent[(j − j0)·stride + column + k]. Those columns are its own and start at zero.
   */
  addLatent(latent: Float64Array, column: number, stride: number, j0: number, n: number): void;
}

/** A component with a time course of its own on each channel, added at the low rate. */
export interface ChannelGenerator {
  /** Adds its values at low-rate samples j0 … j0+n−1 into low[(j − j0)·nChannels + channel], tesla. */
  addLow(low: Float64Array, j0: number, n: number): void;
}

/**
 * A full-rate component given as one row of a table per sample: at the block's sample s its
 * value on channel c is table[rowOffset(s) + c], tesla.
 */
export interface FullRateRows {
  /** Prepares block b, whose first sample is firstSample (absolute), and returns the table. */
  startBlock(b: number, firstSample: number): Float32Array;
  /** Offset of the block's sample s's row in the table (called for s = 0, 1, … in order). */
  rowOffset(s: number): number;
}

/** Full-rate rows scaled per channel: the value is gain[c] · table[rowOffset(s) + c]. */
export interface ScaledFullRateRows extends FullRateRows {
  /** [channel]. */
  readonly gain: Float32Array;
}

/** Sparse full-rate events, added to the finished block. */
export interface FullRateEvents {
  /** Adds its values at samples firstSample … firstSample+n−1 into out[(s − firstSample)·nChannels + channel]. */
  addFullRate(out: Float32Array, firstSample: number, n: number): void;
}

/** The generators of a subject, by stage. */
export interface BlockGenerators {
  /** In latent-column order (the order fixes the mixing's rounding, so it is part of the data). */
  latent: readonly LatentGenerator[];
  channel: readonly ChannelGenerator[];
  /** Added as is at the full rate (mains). */
  rows: FullRateRows;
  /** Added × gain at the full rate (white noise). */
  scaledRows: ScaledFullRateRows;
  events: readonly FullRateEvents[];
}

export class BlockRenderer {
  private readonly grid: BlockGrid;
  private readonly nChannels: number;
  private readonly gen: BlockGenerators;
  /** First latent column of each latent generator. */
  private readonly columns: number[];
  private readonly nLatent: number;
  /** [latent][channel], tesla per unit latent value: the latent generators' patterns, stacked. */
  private readonly mixing: Float64Array;

  /** Work buffers, reused by every block (no per-sample allocation). */
  private readonly latent: Float64Array; // [lowSample][latent]
  private readonly low: Float64Array; // [lowSample][channel]
  private readonly interpBase: Float64Array; // [channel]
  private readonly interpSlope: Float64Array; // [channel]
  /** The last blocks generated, by block index (a chunk usually spans one or two). */
  private readonly cache = new Map<number, Float32Array>();
  /** The mixing product's kernel, resolved; `mixDetail` says which library or why not. */
  readonly mixKernel: 'blas' | 'js';
  readonly mixDetail: string;
  private readonly dgemm: Dgemm | undefined;

  constructor(grid: BlockGrid, nChannels: number, generators: BlockGenerators, kernel: MixKernel = 'auto') {
    this.grid = grid;
    this.nChannels = nChannels;
    this.gen = generators;
    const C = nChannels;
    this.columns = [];
    let K = 0;
    for (const g of generators.latent) {
      if (g.fieldPatterns.length !== g.nLatent * C) throw new RangeError(`BlockRenderer: a latent generator has ${g.fieldPatterns.length} pattern values for ${g.nLatent} sources × ${C} channels`);
      this.columns.push(K);
      K += g.nLatent;
    }
    this.nLatent = K;
    this.mixing = new Float64Array(K * C);
    generators.latent.forEach((g, i) => this.mixing.set(g.fieldPatterns, this.columns[i] * C));
    const nLow = grid.lowPerBlock + 1;
    this.latent = new Float64Array(nLow * K);
    this.low = new Float64Array(nLow * C);
    this.interpBase = new Float64Array(C);
    this.interpSlope = new Float64Array(C);
    if (kernel !== 'auto' && kernel !== 'blas' && kernel !== 'js') throw new RangeError(`mixing kernel must be 'auto', 'blas' or 'js', got ${String(kernel)}`);
    const lib = kernel === 'js' ? { error: '' } : openBlasGemm();
    if ('error' in lib) {
      if (kernel === 'blas') throw new Error(`simulator mixing kernel 'blas': ${lib.error}`);
      this.mixKernel = 'js';
      this.mixDetail = lib.error ? `js (no BLAS: ${lib.error})` : 'js';
    } else {
      this.dgemm = lib.dgemm;
      this.mixKernel = 'blas';
      this.mixDetail = `blas (${lib.describe})`;
    }
  }

  /**
   * Samples [firstSample, firstSample + nSamples), [sample][channel], tesla, copied out of the
   * blocks they span, into `into` (its first nSamples × nChannels values) or a new array.
   */
  samples(firstSample: number, nSamples: number, into?: Float32Array): Float32Array {
    const C = this.nChannels;
    const N = this.grid.blockSamples;
    if (into !== undefined && into.length < nSamples * C) throw new RangeError(`samples: a buffer of ${into.length} values for ${nSamples} samples × ${C} channels`);
    const data = into === undefined ? new Float32Array(nSamples * C) : into.subarray(0, nSamples * C);
    let s = firstSample;
    const end = firstSample + nSamples;
    while (s < end) {
      const b = Math.floor(s / N);
      const block = this.block(b);
      const from = s - b * N;
      const to = Math.min(N, end - b * N);
      data.set(block.subarray(from * C, to * C), (s - firstSample) * C);
      s = b * N + to;
    }
    return data;
  }

  /** Block b (samples [b·N, (b+1)·N)), from the cache or generated. */
  private block(b: number): Float32Array {
    const hit = this.cache.get(b);
    if (hit !== undefined) return hit;
    // Reuse the oldest block's memory (samples() copies out of blocks, never hands them out).
    let reuse: Float32Array | undefined;
    if (this.cache.size >= 2) {
      const oldest = this.cache.keys().next().value as number;
      reuse = this.cache.get(oldest);
      this.cache.delete(oldest);
    }
    const out = this.generateBlock(b, reuse);
    this.cache.set(b, out);
    return out;
  }

  /** Generates block b into `into` (every value is overwritten) or a new array. */
  private generateBlock(b: number, into?: Float32Array): Float32Array {
    const { decim: R, blockSamples: N, lowPerBlock } = this.grid;
    const C = this.nChannels;
    const K = this.nLatent;
    const gen = this.gen;
    const nLow = lowPerBlock + 1; // one past the block, for interpolating its last samples
    const j0 = b * lowPerBlock; // absolute low-rate index of the block's first sample
    const latent = this.latent;
    const low = this.low;
    latent.fill(0);
    low.fill(0);

    for (let i = 0; i < gen.latent.length; i++) gen.latent[i].addLatent(latent, this.columns[i], K, j0, nLow);
    if (this.dgemm) mixLatentsBlas(this.dgemm, latent, this.mixing, low, nLow, K, C);
    else mixLatents(latent, this.mixing, low, nLow, K, C);
    for (const g of gen.channel) g.addLow(low, j0, nLow);

    const out = into ?? new Float32Array(N * C);
    const first = b * N;
    const rowsTable = gen.rows.startBlock(b, first);
    const scaledTable = gen.scaledRows.startBlock(b, first);
    renderFullRate(out, low, this.interpBase, this.interpSlope, gen.rows, rowsTable, gen.scaledRows, scaledTable, N, R, C);
    for (const e of gen.events) e.addFullRate(out, first, N);
    return out;
  }
}

/**
 * The mixing GEMM on dgemm, low[j][c] += Σ_k latent[j][k] · mixing[k][c], in tiles of rows × channels
 * with rows·channels·K ≤ GEMM_SERIAL_MNK, near-square (each call packs its operands: square tiles
 * pack least per product). Below that size OpenBLAS computes on the calling thread, so the tiles'
 * rounding never depends on its thread count; the tiling depends on the shapes only.
 */
export function mixLatentsBlas(dgemm: Dgemm, latent: Float64Array, mix: Float64Array, low: Float64Array, nLow: number, K: number, C: number): void {
  const area = Math.max(1, Math.floor(GEMM_SERIAL_MNK / Math.max(1, K)));
  const rowGroups = Math.ceil(nLow / Math.max(1, Math.min(nLow, Math.floor(Math.sqrt(area)))));
  const maxRows = Math.ceil(nLow / rowGroups);
  const colGroups = Math.ceil(C / Math.max(1, Math.floor(area / maxRows)));
  for (let i = 0; i < rowGroups; i++) {
    const j0 = Math.round((nLow * i) / rowGroups);
    const j1 = Math.round((nLow * (i + 1)) / rowGroups);
    for (let g = 0; g < colGroups; g++) {
      const c0 = Math.round((C * g) / colGroups);
      const c1 = Math.round((C * (g + 1)) / colGroups);
      dgemm('row', false, false, j1 - j0, c1 - c0, K, 1, latent.subarray(j0 * K), K, mix.subarray(c0), C, 1, low.subarray(j0 * C + c0), C);
    }
  }
}

/**
 * The mixing GEMM in JavaScript: low[j][c] += Σ_k latent[j][k] · mixing[k][c], for j < nLow. Four latents per
 * pass over a row: 3× faster in V8 than one at a time (fewer loads and stores of the row).
 */
export function mixLatents(latent: Float64Array, mix: Float64Array, low: Float64Array, nLow: number, K: number, C: number): void {
  for (let j = 0; j < nLow; j++) {
    const lo = j * C;
    const lr = j * K;
    let k = 0;
    for (; k + 3 < K; k += 4) {
      const v0 = latent[lr + k];
      const v1 = latent[lr + k + 1];
      const v2 = latent[lr + k + 2];
      const v3 = latent[lr + k + 3];
      if (v0 === 0 && v1 === 0 && v2 === 0 && v3 === 0) continue;
      const m0 = k * C;
      const m1 = m0 + C;
      const m2 = m1 + C;
      const m3 = m2 + C;
      for (let c = 0; c < C; c++) low[lo + c] += v0 * mix[m0 + c] + v1 * mix[m1 + c] + v2 * mix[m2 + c] + v3 * mix[m3 + c];
    }
    for (; k < K; k++) {
      const v = latent[lr + k];
      if (v === 0) continue;
      const mo = k * C;
      for (let c = 0; c < C; c++) low[lo + c] += v * mix[mo + c];
    }
  }
}

/**
 * The full-rate samples of one block: out[s][c] = linear interpolation of low between rows ⌊s/R⌋
 * and ⌊s/R⌋+1, + rowsTable[rows.rowOffset(s) + c], + gain[c] · scaledTable[scaled.rowOffset(s) + c].
 */
function renderFullRate(
  out: Float32Array,
  low: Float64Array,
  base: Float64Array,
  slope: Float64Array,
  rows: FullRateRows,
  rowsTable: Float32Array,
  scaled: ScaledFullRateRows,
  scaledTable: Float32Array,
  n: number,
  R: number,
  C: number,
): void {
  const gain = scaled.gain;
  for (let s = 0; s < n; s++) {
    const j = Math.floor(s / R);
    const r = s - j * R;
    if (r === 0) {
      const lo = j * C;
      for (let c = 0; c < C; c++) {
        base[c] = low[lo + c];
        slope[c] = (low[lo + C + c] - low[lo + c]) / R;
      }
    }
    const mo = rows.rowOffset(s);
    const wo = scaled.rowOffset(s);
    const o = s * C;
    for (let c = 0; c < C; c++) out[o + c] = base[c] + r * slope[c] + rowsTable[mo + c] + gain[c] * scaledTable[wo + c];
  }
}
