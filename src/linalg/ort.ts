/**
 * The `ort` backend: batched float32 products through onnxruntime-node, running tiny hand-built
 * ONNX graphs (see onnxGraph.ts). Eigendecomposition has no ONNX op, so it uses the shared
 * TypeScript solver.
 *
 * Owns: one cached InferenceSession per graph kind, float64↔float32 conversion, batch chunking.
 * Must not: keep inputs alive between calls, or change the float64 accumulation contract.
 */
import { availableParallelism } from 'node:os';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { errorText } from '../errorText.js';
import { checkLength, type GemmShape, type LinalgBackend, type SymEig, matmulOutput, type MatmulOptions } from './backend.js';
import { buildMatmulModel, type MatmulGraphKind } from './onnxGraph.js';
import { symEigLoops } from './reference.js';

type Ort = typeof import('onnxruntime-node');

/** Default per-run input budget: big batches are split so one run's float32 inputs stay below this. */
export const DEFAULT_MAX_RUN_INPUT_BYTES = 256 * 1024 * 1024;

export interface OrtOptions {
  /** Split batches so one run's float32 inputs stay under this many bytes (default 256 MiB). */
  maxRunInputBytes?: number;
}

/** Loads onnxruntime-node; returns why not instead of throwing, so selection can fall back. */
export async function loadOrt(opts: OrtOptions = {}): Promise<OrtBackend | { error: string }> {
  let ort: Ort;
  try {
    ort = await import('onnxruntime-node');
  } catch (e) {
    return { error: `onnxruntime-node failed to load (${errorText(e)}); run \`npm install onnxruntime-node\`` };
  }
  const backend = new OrtBackend(ort, opts);
  try {
    // Creating one session proves the native binding works on this platform.
    await backend.session('batched');
  } catch (e) {
    return { error: `onnxruntime-node loaded but could not create a session: ${errorText(e)}` };
  }
  return backend;
}

export class OrtBackend implements LinalgBackend {
  readonly name = 'ort' as const;
  readonly precision = 'float32' as const;
  readonly detail: string;
  private readonly threads = availableParallelism();
  private readonly sessions = new Map<MatmulGraphKind, Promise<InferenceSession>>();
  private readonly maxRunInputBytes: number;
  /**
   * Reused float32 conversion buffers, one per input slot (A, B, shared B): filling warm memory is
   * several times faster than allocating a fresh array for every call. Freed by dispose().
   */
  private scratch: Float32Array[] = [];
  /** Calls run one after another, because they share `scratch` across an awaited session.run. */
  private tail: Promise<unknown> = Promise.resolve();

  /** Prefer {@link loadOrt}, which reports a missing native binding instead of throwing later. */
  constructor(
    private readonly ort: Ort,
    opts: OrtOptions = {},
  ) {
    this.maxRunInputBytes = opts.maxRunInputBytes ?? DEFAULT_MAX_RUN_INPUT_BYTES;
    this.detail = `ort (onnxruntime-node ${ort.env.versions.common ?? '?'}, cpu, ${this.threads} threads, float32)`;
  }

  /** The session for one graph kind, created on first use and reused afterwards. */
  session(kind: MatmulGraphKind): Promise<InferenceSession> {
    let s = this.sessions.get(kind);
    if (!s) {
      s = this.ort.InferenceSession.create(buildMatmulModel(kind), {
        intraOpNumThreads: this.threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        executionProviders: ['cpu'],
      });
      // A failed creation must not poison the cache: the next call retries.
      s.catch(() => this.sessions.delete(kind));
      this.sessions.set(kind, s);
    }
    return s;
  }

  async accumulateCross(a: Float32Array | Float64Array, b: Float32Array | Float64Array, shape: GemmShape, c: Float64Array): Promise<void> {
    const { batch, m, n, k } = shape;
    checkLength('accumulateCross', 'A', a, batch * k * m);
    checkLength('accumulateCross', 'B', b, batch * k * n);
    checkLength('accumulateCross', 'C', c, batch * m * n);
    if (batch * m * n === 0 || k === 0) return;
    const sameInput = a === b;
    return this.exclusive(async () => {
      const session = await this.session('batchedTransA');
      for (const [b0, b1] of batchChunks(batch, this.maxRunInputBytes, 4 * k * (m + (sameInput ? 0 : n)))) {
        const cb = b1 - b0;
        const ta = this.tensor(a, b0 * k * m, b1 * k * m, [cb, k, m], SLOT_A);
        // For a Gram matrix, feed the same tensor twice instead of converting the input again.
        const tb = sameInput ? ta : this.tensor(b, b0 * k * n, b1 * k * n, [cb, k, n], SLOT_B);
        const out = await session.run({ A: ta, B: tb });
        addInto(c, b0 * m * n, outputData(out));
      }
    });
  }

  async matmul(a: Float64Array, b: Float64Array, shape: GemmShape, opts: MatmulOptions = {}): Promise<Float64Array> {
    const { batch, m, n, k } = shape;
    const transA = opts.transA ?? false;
    const bBatched = opts.bBatched ?? true;
    checkLength('matmul', 'A', a, batch * m * k);
    checkLength('matmul', 'B', b, (bBatched ? batch : 1) * k * n);
    const result = matmulOutput(opts.out, batch * m * n);
    if (result.length === 0 || k === 0) return result.fill(0);
    const kind: MatmulGraphKind = bBatched ? (transA ? 'batchedTransA' : 'batched') : transA ? 'sharedBTransA' : 'sharedB';
    const aDims = transA ? [k, m] : [m, k];
    return this.exclusive(async () => {
      const session = await this.session(kind);
      // A shared B is converted once and reused by every chunk.
      const sharedB = bBatched ? undefined : this.tensor(b, 0, k * n, [k, n], SLOT_SHARED_B);
      for (const [b0, b1] of batchChunks(batch, this.maxRunInputBytes, 4 * (m * k + (bBatched ? k * n : 0)))) {
        const cb = b1 - b0;
        const ta = this.tensor(a, b0 * m * k, b1 * m * k, [cb, ...aDims], SLOT_A);
        const tb = sharedB ?? this.tensor(b, b0 * k * n, b1 * k * n, [cb, k, n], SLOT_B);
        const out = await session.run({ A: ta, B: tb });
        result.set(outputData(out), b0 * m * n);
      }
      return result;
    });
  }

  async symEig(a: Float64Array, n: number, batch: number, out?: SymEig): Promise<SymEig> {
    return symEigLoops(a, n, batch, out);
  }

  async dispose(): Promise<void> {
    await this.tail;
    this.scratch = [];
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of sessions) {
      try {
        await (await s).release();
      } catch {
        // A session that never got created has nothing to release.
      }
    }
  }

  /**
   * A float32 tensor over elements [from, to) of `src`: Float32 input is viewed (onnxruntime
   * honours a subarray's offset), Float64 input is narrowed into the scratch buffer of `slot`.
   */
  private tensor(src: Float32Array | Float64Array, from: number, to: number, dims: number[], slot: number): Tensor {
    if (src instanceof Float32Array) return new this.ort.Tensor('float32', src.subarray(from, to), dims);
    const len = to - from;
    let buf = this.scratch[slot];
    if (!buf || buf.length < len) this.scratch[slot] = buf = new Float32Array(len);
    const data = buf.subarray(0, len);
    data.set(src.subarray(from, to));
    return new this.ort.Tensor('float32', data, dims);
  }

  /** Runs `fn` after every earlier call has finished, whether it succeeded or not. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }
}

const SLOT_A = 0;
const SLOT_B = 1;
const SLOT_SHARED_B = 2;

/** Splits [0, batch) so each chunk's inputs take at most `budget` bytes (at least one item per chunk). */
function batchChunks(batch: number, budget: number, bytesPerItem: number): Array<[number, number]> {
  const per = Math.max(1, Math.floor(budget / Math.max(1, bytesPerItem)));
  const chunks: Array<[number, number]> = [];
  for (let b0 = 0; b0 < batch; b0 += per) chunks.push([b0, Math.min(batch, b0 + per)]);
  return chunks;
}

function outputData(out: InferenceSession.OnnxValueMapType): Float32Array {
  const c = out['C'] as Tensor | undefined;
  if (!c || !(c.data instanceof Float32Array)) throw new Error('ort: session returned no float32 output "C"');
  return c.data;
}

function addInto(dst: Float64Array, offset: number, src: Float32Array): void {
  for (let i = 0; i < src.length; i++) dst[offset + i] += src[i];
}
