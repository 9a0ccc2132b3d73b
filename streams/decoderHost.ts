/**
 * Where the decoder runs: `WorkerDecoderHost` (a worker thread; the default for streams, so the
 * main event loop never waits on a refit) or `InProcessDecoderHost` (same thread; for tests).
 * Both expose the same async requests, answered as the session's mode says (decoderSession.ts).
 */
import { Worker } from 'node:worker_threads';
import type { StreamPosition } from '../adapters/checkpointStore.js';
import type { ScoreSnapshot } from '../src/snapshot.js';
import type { WordPair } from '../src/types.js';
import { DecoderSession, type AddSummary, type DecoderSessionOptions, type RefitSummary } from './decoderSession.js';

export type HostRequest =
  | { id: number; op: 'init'; options: DecoderSessionOptions }
  | { id: number; op: 'add'; words: WordPair[] }
  | { id: number; op: 'refit' }
  | { id: number; op: 'snapshot'; seq: number }
  | { id: number; op: 'checkpoint'; path: string; stream?: StreamPosition }
  | { id: number; op: 'close' };

export type HostResponse = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string; errorName: string };

export interface DecoderHost {
  readonly backend: string;
  add(words: WordPair[]): Promise<AddSummary>;
  refit(): Promise<RefitSummary>;
  snapshot(seq: number): Promise<ScoreSnapshot>;
  checkpoint(path: string, stream?: StreamPosition): Promise<number>;
  close(): Promise<void>;
  /** Requests sent and not yet answered (ingest lag, in requests). */
  readonly inFlight: number;
}

export class InProcessDecoderHost implements DecoderHost {
  inFlight = 0;
  private constructor(readonly session: DecoderSession) {}
  static async start(options: DecoderSessionOptions): Promise<InProcessDecoderHost> {
    return new InProcessDecoderHost(await DecoderSession.create(options));
  }
  get backend(): string {
    return this.session.backendDetail;
  }
  /** Counts requests in flight; the session keeps their order, so callers may fire without awaiting. */
  private run<T>(op: () => Promise<T>): Promise<T> {
    this.inFlight += 1;
    return op().finally(() => (this.inFlight -= 1));
  }
  add(words: WordPair[]): Promise<AddSummary> {
    return this.run(() => this.session.add(words));
  }
  refit(): Promise<RefitSummary> {
    return this.run(() => this.session.refit());
  }
  snapshot(seq: number): Promise<ScoreSnapshot> {
    return this.run(() => this.session.snapshot(seq));
  }
  checkpoint(path: string, stream?: StreamPosition): Promise<number> {
    return this.run(() => this.session.checkpoint(path, stream));
  }
  close(): Promise<void> {
    return this.run(() => this.session.close());
  }
}

/** Starts the decoder in a worker thread (default) or in this thread. */
export function startDecoderHost(options: DecoderSessionOptions, where: 'worker' | 'in-process' = 'worker'): Promise<DecoderHost> {
  return where === 'worker' ? WorkerDecoderHost.start(options) : InProcessDecoderHost.start(options);
}

export class WorkerDecoderHost implements DecoderHost {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  backend = '';
  private failure: Error | undefined;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (res: HostResponse) => {
      const w = this.waiting.get(res.id);
      if (!w) return;
      this.waiting.delete(res.id);
      if (res.ok) w.resolve(res.value);
      else {
        const err = res.errorName === 'RangeError' ? new RangeError(res.error) : new Error(res.error);
        w.reject(err);
      }
    });
    worker.on('error', (e) => this.failAll(e));
    worker.on('exit', (code) => {
      if (this.waiting.size > 0) this.failAll(new Error(`decoder worker exited (code ${code}) with ${this.waiting.size} requests unanswered`));
    });
  }

  static async start(options: DecoderSessionOptions): Promise<WorkerDecoderHost> {
    const worker = new Worker(new URL('./decoderWorker.js', import.meta.url));
    const host = new WorkerDecoderHost(worker);
    const { backend } = (await host.request({ op: 'init', options })) as { backend: string };
    host.backend = backend;
    return host;
  }

  get inFlight(): number {
    return this.waiting.size;
  }

  private failAll(e: Error): void {
    this.failure = e;
    for (const w of this.waiting.values()) w.reject(e);
    this.waiting.clear();
  }

  private request(req: DistributiveOmit<HostRequest, 'id'>, transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ ...req, id }, transfer);
    });
  }

  add(words: WordPair[]): Promise<AddSummary> {
    // Copy each word's arrays into their own buffers and transfer them: a view on a larger buffer
    // would otherwise clone the whole buffer.
    const transfer: ArrayBuffer[] = [];
    const own = words.map((w) => {
      const epoch = w.epoch.slice();
      const activations = w.activations.slice();
      transfer.push(epoch.buffer as ArrayBuffer, activations.buffer as ArrayBuffer);
      return { ...w, epoch, activations };
    });
    return this.request({ op: 'add', words: own }, transfer) as Promise<AddSummary>;
  }
  refit(): Promise<RefitSummary> {
    return this.request({ op: 'refit' }) as Promise<RefitSummary>;
  }
  snapshot(seq: number): Promise<ScoreSnapshot> {
    return this.request({ op: 'snapshot', seq }) as Promise<ScoreSnapshot>;
  }
  checkpoint(path: string, stream?: StreamPosition): Promise<number> {
    return this.request({ op: 'checkpoint', path, stream }) as Promise<number>;
  }
  async close(): Promise<void> {
    try {
      await this.request({ op: 'close' });
    } finally {
      await this.worker.terminate();
    }
  }
}

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;
