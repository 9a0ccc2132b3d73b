/**
 * A pool of worker threads that compute a decoder's heavy steps (adding a batch of words, scoring
 * it, an exact refit) on statistics in shared memory: each step is split over disjoint time
 * samples, one part per worker, each worker with a single-threaded backend (OpenBLAS at 1 thread,
 * onnxruntime at 1 intra-op thread), so two workers use two cores without oversubscribing them.
 * Every element of every result is computed by the same kernel calls as in one thread, so the
 * numbers are those of the in-thread engine, bit for bit (tested).
 *
 * One pool can serve several decoders (each decoder's jobs are self-contained messages: its
 * shared arrays travel with every job, nothing is registered); each worker runs its jobs in the
 * order received.
 *
 * Owns: the workers, splitting a step into parts and gathering them. Must not: decide when steps
 * run or in what order (the decoder and its session do), or hold a decoder's state.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { BatchJob, StatsEngine } from '../src/decoder.js';
import type { BackendName } from '../src/linalg/backend.js';
import { checkRefit, kfoldResult, refitTimeRanges, ridgeOutputs, type KFoldResult, type RidgeOptions, type RidgeOutputs } from '../src/ridge/kfoldRidge.js';
import type { PrequentialScorer } from '../src/stats/prequential.js';
import { batchParts, type AccumulationPrecision, type BatchPart, type PendingWords } from '../src/stats/statsAccumulator.js';
import type { SufficientStats } from '../src/stats/sufficientStats.js';
import type { FullModel } from '../src/ridge/kfoldRidge.js';

export interface ComputePoolOptions {
  /** Worker threads (default: the cores available, at most 8). */
  workers?: number;
  backend: 'auto' | BackendName;
  /**
   * `background`: the workers run at nice 10 (Linux), so that the threads serving a live session
   * (LSL, preprocessing, scoring, the dashboard) preempt a refit instead of waiting for it.
   */
  priority?: 'normal' | 'background';
}

/** The default number of workers: every core, up to 8. */
export function defaultPoolSize(): number {
  return Math.max(1, Math.min(8, os.availableParallelism()));
}

/** What a worker is asked to do. */
export type PoolTask =
  | {
      kind: 'addBatch';
      batch: PendingWords;
      folds: readonly SufficientStats[];
      precision: AccumulationPrecision;
      part: BatchPart;
      /** Score the part's time samples first with this model into these sums. */
      score?: { model: FullModel; sums: PrequentialScorer['sums']; halfLifeWords: number | null };
    }
  | {
      kind: 'refit';
      folds: readonly SufficientStats[];
      opts: Omit<RidgeOptions, 'onProgress' | 'fullOut'>;
      t0: number;
      t1: number;
      out: RidgeOutputs;
    };

export type PoolRequest =
  | { id: number; op: 'init'; backend: 'auto' | BackendName; priority: 'normal' | 'background' }
  | { id: number; op: 'task'; task: PoolTask };

export type PoolResponse =
  | { id: number; ok: true; value?: unknown }
  | { id: number; ok: false; error: string; errorName: string }
  | { id: number; progress: number };

interface Waiting {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  onProgress?: (done: number) => void;
}

class PoolWorker {
  private nextId = 1;
  private readonly waiting = new Map<number, Waiting>();
  private failure: Error | undefined;

  constructor(private readonly worker: Worker) {
    worker.on('message', (res: PoolResponse) => {
      const w = this.waiting.get(res.id);
      if (!w) return;
      if ('progress' in res) {
        w.onProgress?.(res.progress);
        return;
      }
      this.waiting.delete(res.id);
      if (res.ok) w.resolve(res.value);
      else w.reject(res.errorName === 'RangeError' ? new RangeError(res.error) : new Error(res.error));
    });
    worker.on('error', (e) => this.failAll(e));
    worker.on('exit', (code) => this.failAll(new Error(`compute worker exited (code ${code})`)));
  }

  private failAll(e: Error): void {
    this.failure ??= e;
    for (const w of this.waiting.values()) w.reject(e);
    this.waiting.clear();
  }

  request(req: Omit<Extract<PoolRequest, { op: 'init' }>, 'id'> | Omit<Extract<PoolRequest, { op: 'task' }>, 'id'>, onProgress?: (done: number) => void): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, onProgress });
      this.worker.postMessage({ ...req, id });
    });
  }

  terminate(): Promise<number> {
    this.failure ??= new Error('compute pool closed');
    return this.worker.terminate();
  }
}

export class ComputePool {
  private closed = false;

  private constructor(
    private readonly workers: PoolWorker[],
    /** The workers' backend, as they describe it. */
    readonly backendDetail: string,
  ) {}

  /** Starts the workers (one after another: OpenBLAS's thread setting is process-wide and set once). */
  static async start(o: ComputePoolOptions): Promise<ComputePool> {
    const n = o.workers ?? defaultPoolSize();
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`compute pool: workers must be a positive integer, got ${n}`);
    const workers: PoolWorker[] = [];
    let detail = '';
    try {
      for (let i = 0; i < n; i++) {
        const w = new PoolWorker(new Worker(new URL('./computeWorker.js', import.meta.url)));
        workers.push(w);
        detail = (await w.request({ op: 'init', backend: o.backend, priority: o.priority ?? 'normal' })) as string;
      }
    } catch (e) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw e;
    }
    return new ComputePool(workers, detail);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Runs one task per worker (task i on worker i), all at once; resolves when every one is done. */
  private runParts(tasks: (PoolTask | null)[], onProgress?: (workerIndex: number, done: number) => void): Promise<unknown[]> {
    if (this.closed) return Promise.reject(new Error('compute pool closed'));
    return Promise.all(tasks.map((task, i) => (task ? this.workers[i].request({ op: 'task', task }, (d) => onProgress?.(i, d)) : null)));
  }

  /** The engine a decoder with statistics in shared memory uses to compute on this pool. */
  engine(): StatsEngine {
    return {
      addBatch: (job) => this.addBatch(job),
      refit: (folds, opts) => this.refit(folds, opts),
    };
  }

  private async addBatch(job: BatchJob): Promise<void> {
    const { batch, folds, precision, model, prequential } = job;
    requireShared('batch', batch.x, batch.y, batch.fold);
    requireShared('statistics', ...folds.flatMap((f) => [f.sx, f.sxx, f.sy, f.syy, f.sxy]));
    if (model) requireShared('model and rolling sums', model.weights, model.intercept, ...Object.values(prequential.sums));
    const parts = batchParts(folds[0].dims, this.size);
    await this.runParts(
      parts.map((part) => ({
        kind: 'addBatch' as const,
        batch,
        folds,
        precision,
        part,
        score: model ? { model, sums: prequential.sums, halfLifeWords: prequential.halfLifeWords } : undefined,
      })),
    );
  }

  private async refit(folds: readonly SufficientStats[], opts: RidgeOptions): Promise<KFoldResult> {
    requireShared('statistics', ...folds.flatMap((f) => [f.sx, f.sxx, f.sy, f.syy, f.sxy]));
    const evaluate = opts.evaluateFolds ?? true;
    checkRefit(folds, evaluate, opts.fitFull);
    if (opts.fullOut) requireShared('model', opts.fullOut.weights, opts.fullOut.intercept, opts.fullOut.alphaIndex);
    const out = ridgeOutputs(folds, opts.fitFull, opts.fullOut, 'shared');
    const T = folds[0].dims.nTimes;
    const ranges = refitTimeRanges(T, opts.timeChunk ?? 2, this.size);
    const { onProgress, fullOut: _fullOut, ...plain } = opts;
    const done = ranges.map(() => 0);
    await this.runParts(
      ranges.map(([t0, t1]) => (t1 > t0 ? { kind: 'refit' as const, folds, opts: plain, t0, t1, out } : null)),
      onProgress
        ? (i, d) => {
            done[i] = d;
            void onProgress(
              done.reduce((a, b) => a + b, 0),
              T,
            );
          }
        : undefined,
    );
    return kfoldResult(folds, opts, out);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Arrays handed to workers must be in shared memory: a copy would be computed on and thrown away. */
function requireShared(what: string, ...arrays: ArrayBufferView[]): void {
  if (arrays.some((a) => !(a.buffer instanceof SharedArrayBuffer))) {
    throw new Error(`compute pool: the ${what} must be in shared memory (create the decoder with memory 'shared')`);
  }
}
