/**
 * Extraction on worker threads: each worker opens the surgery's modified graph in its own
 * onnxruntime session (1 intra-op thread each by default, so two workers use two cores without
 * the threads of one session waiting on each other), and computes padded batches of windows
 * (extractionWorker.ts). The main thread prepares windows, sends batches ahead (a few per worker in
 * flight) and gets the per-word vectors back in batch order.
 *
 * Which worker computes a batch never changes its numbers: every worker runs the same graph with
 * the same session options on the same padded batch, and batches are fixed by windowBatches.ts.
 *
 * Owns: the workers, dispatch and ordering. Must not: plan windows or batches, or write caches.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ContextWindow } from '../../src/types.js';
import type { ExtractionDevice, OnnxSessionRecipe } from '../onnx/batchRunner.js';
import type { BatchRequest, WorkerInit, WorkerMessage } from './extractionWorker.js';
import { prepareWindow, rawFeatures, StimulusIndex, type Aggregation, type ExtractOptions, type PreparedWindow, type RawWordFeatures, type StoryStimulus, type WordVectors } from './extractor.js';

export interface ExtractionPoolOptions {
  /** Worker threads. Default min(2, available cores). */
  workers?: number;
  /** onnxruntime intra-op threads per worker. Default max(1, ⌊cores / workers⌋). */
  threads?: number;
  device?: ExtractionDevice;
}

interface Pending {
  resolve: (v: WordVectors[][]) => void;
  reject: (e: Error) => void;
}

interface PoolWorker {
  worker: Worker;
  busy: number;
}

/** The default number of workers and threads on this machine. */
export function defaultPoolSize(o: ExtractionPoolOptions = {}): { workers: number; threads: number } {
  const cores = Math.max(1, os.availableParallelism());
  const workers = o.workers ?? (o.device === 'cuda' ? 1 : Math.min(2, cores));
  if (!(Number.isInteger(workers) && workers >= 1)) throw new RangeError(`extraction workers must be a positive integer, got ${workers}`);
  const threads = o.threads ?? Math.max(1, Math.floor(cores / workers));
  if (!(Number.isInteger(threads) && threads >= 1)) throw new RangeError(`extraction threads must be a positive integer, got ${threads}`);
  return { workers, threads };
}

export class ExtractionPool {
  private nextId = 1;
  private readonly pending = new Map<number, Pending & { worker: PoolWorker }>();
  private failure: Error | null = null;
  private closed = false;

  private constructor(
    private readonly members: PoolWorker[],
    readonly recipe: OnnxSessionRecipe,
    readonly threads: number,
    readonly device: ExtractionDevice,
  ) {
    for (const m of members) {
      m.worker.on('message', (msg: WorkerMessage) => this.onMessage(m, msg));
      m.worker.on('error', (e) => this.fail(new Error(`extraction worker failed: ${e.message}`)));
      m.worker.on('exit', (code) => {
        if (!this.closed) this.fail(new Error(`extraction worker exited (code ${code}) before the pool was closed`));
      });
    }
  }

  get workers(): number {
    return this.members.length;
  }

  /** Opens `workers` sessions on the modified graph; resolves once every one is ready. */
  static async start(recipe: OnnxSessionRecipe, o: ExtractionPoolOptions = {}): Promise<ExtractionPool> {
    const { workers, threads } = defaultPoolSize(o);
    const device = o.device ?? 'cpu';
    const init: WorkerInit = { recipe, session: { threads, device } };
    const members = Array.from({ length: workers }, () => ({ worker: new Worker(new URL('./extractionWorker.js', import.meta.url), { workerData: init }), busy: 0 }));
    try {
      await Promise.all(
        members.map(
          (m) =>
            new Promise<void>((resolve, reject) => {
              const onMessage = (msg: WorkerMessage) => {
                if (msg.kind === 'ready') done(resolve);
                else if (msg.kind === 'failed') done(() => reject(new Error(msg.error)));
              };
              const onError = (e: Error) => done(() => reject(e));
              const done = (then: () => void) => {
                m.worker.off('message', onMessage);
                m.worker.off('error', onError);
                then();
              };
              m.worker.on('message', onMessage);
              m.worker.on('error', onError);
            }),
        ),
      );
    } catch (e) {
      await Promise.all(members.map((m) => m.worker.terminate()));
      throw e;
    }
    return new ExtractionPool(members, recipe, threads, device);
  }

  private onMessage(m: PoolWorker, msg: WorkerMessage): void {
    if (msg.kind !== 'batch' && msg.kind !== 'batch-error') return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    m.busy--;
    if (msg.kind === 'batch-error') p.reject(new Error(msg.error));
    else p.resolve(msg.activations.map((acts, b) => acts.map((a, k) => ({ activations: a, surprisalNats: msg.surprisal[b]![k]! }))));
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  /** Computes one batch of prepared windows on the least busy worker. */
  computeBatch(prepared: readonly PreparedWindow[], layers: readonly number[], aggregate: Aggregation): Promise<WordVectors[][]> {
    return this.send(prepared, layers, aggregate, false);
  }

  /** Benchmarks: the same batch's forward pass alone (same feeds and fetches, nothing read back). */
  async forwardOnly(prepared: readonly PreparedWindow[], layers: readonly number[]): Promise<void> {
    await this.send(prepared, layers, 'mean', true);
  }

  private send(prepared: readonly PreparedWindow[], layers: readonly number[], aggregate: Aggregation, forwardOnly: boolean): Promise<WordVectors[][]> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('the extraction pool is closed'));
    const m = this.members.reduce((a, b) => (b.busy < a.busy ? b : a));
    const id = this.nextId++;
    const req: BatchRequest = { id, rows: prepared.map((p) => p.ids), targets: prepared.map((p) => p.targets.map((t) => ({ first: t.first, stop: t.stop }))), layers: [...layers], aggregate, forwardOnly };
    return new Promise<WordVectors[][]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker: m });
      m.busy++;
      m.worker.postMessage(req);
    });
  }

  /** Batches sent and not yet answered. */
  get inFlight(): number {
    return this.pending.size;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fail(new Error('the extraction pool was closed'));
    await Promise.all(this.members.map((m) => m.worker.terminate()));
  }
}

/**
 * `extractWords` through a pool: the batches (a fixed partition of the windows, windowBatches.ts)
 * are computed on the workers, up to `ahead` at a time, and the windows come back in order. A batch
 * holding `startWindow` is computed whole; its windows before `startWindow` are dropped.
 */
export async function* poolExtractWords(
  pool: ExtractionPool,
  stories: readonly StoryStimulus[],
  windows: readonly ContextWindow[],
  opts: ExtractOptions,
  batches: readonly (readonly number[])[],
  startWindow = 0,
  ahead = 2 * pool.workers,
): AsyncGenerator<{ windowIndex: number; words: RawWordFeatures[] }> {
  const index = new StimulusIndex(stories);
  const todo = batches.filter((b) => b[b.length - 1]! >= startWindow);
  const queue: { batch: readonly number[]; prepared: PreparedWindow[]; result: Promise<WordVectors[][]> }[] = [];
  let next = 0;
  const send = () => {
    while (queue.length < ahead && next < todo.length) {
      const batch = todo[next++]!;
      const prepared = batch.map((i) => prepareWindow(index, windows[i]!, opts, pool.recipe.vocabSize));
      const result = pool.computeBatch(prepared, opts.layers, opts.aggregate);
      // A rejection is handled when the batch reaches the head of the queue.
      result.catch(() => undefined);
      queue.push({ batch, prepared, result });
    }
  };
  send();
  while (queue.length > 0) {
    const head = queue.shift()!;
    const vectors = await head.result;
    send();
    for (let k = 0; k < head.batch.length; k++) {
      if (head.batch[k]! >= startWindow) yield { windowIndex: head.batch[k]!, words: rawFeatures(head.prepared[k]!, vectors[k]!) };
    }
  }
}
