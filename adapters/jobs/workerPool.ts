/**
 * The embedded job runner: a pool of worker threads in this process (one per core by default), each
 * running one job at a time through the handler module. No server, nothing to install; what
 * `lockstep experiment` uses unless told `--queue`. A `lockstep worker` process also runs its BullMQ
 * jobs through a pool, so that its main thread stays free to renew the jobs' locks on Redis.
 *
 * A thread that dies in a job (out of memory, a native crash) takes only that job with it: the job
 * runs once more on a fresh thread, then fails with the reason. A job that throws fails at once
 * (its error, with name and code, is the reason); retrying the same data would give the same error.
 *
 * Owns: threads, the queue of waiting jobs and per-job outcomes. Must not: interpret job data.
 */
import { Worker } from 'node:worker_threads';
import { deserializeError, type Job, type JobOutcome, type JobProgress, type JobRunner, type SerializedError } from './jobRunner.js';

interface Pending {
  data: unknown;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  /** Threads this job has lost so far. */
  crashes: number;
}

interface PoolThread {
  worker: Worker;
  ready: Promise<void>;
  job: Pending | null;
  seq: number;
}

export interface WorkerPoolOptions {
  /** A module exporting `runJob(data)` (file: URL). */
  handlerUrl: URL;
  /** Threads (default 2: this machine's cores). */
  threads?: number;
  /** Fresh threads a job may have after its thread died (default 1). */
  crashRetries?: number;
}

export class WorkerPool {
  readonly threads: number;
  private readonly idle: PoolThread[] = [];
  private readonly all = new Set<PoolThread>();
  private readonly queue: Pending[] = [];
  private closed = false;

  constructor(private readonly o: WorkerPoolOptions) {
    this.threads = o.threads ?? 2;
    if (!(Number.isInteger(this.threads) && this.threads >= 1)) throw new RangeError(`a worker pool needs at least one thread, got ${o.threads}`);
  }

  /** Jobs being computed now. */
  get running(): number {
    return [...this.all].filter((t) => t.job).length;
  }

  /** Runs one job on the next free thread; rejects with the job's error (name and code kept). */
  execute(data: unknown): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('the worker pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ data, resolve, reject, crashes: 0 });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let t = this.idle.pop();
      if (!t) {
        if (this.all.size >= this.threads) return;
        t = this.spawn();
      }
      const job = this.queue.shift()!;
      t.job = job;
      t.seq++;
      const thread = t;
      const seq = t.seq;
      void t.ready.then(() => {
        if (thread.job === job && thread.seq === seq) thread.worker.postMessage({ seq, data: job.data });
      });
    }
  }

  private spawn(): PoolThread {
    const worker = new Worker(new URL('./poolThread.js', import.meta.url), { workerData: { handlerUrl: this.o.handlerUrl.href } });
    let markReady!: () => void;
    const t: PoolThread = { worker, ready: new Promise((r) => (markReady = r)), job: null, seq: 0 };
    this.all.add(t);
    worker.on('message', (m: { ready?: true; seq?: number; ok?: boolean; value?: unknown; error?: SerializedError }) => {
      if (m.ready) {
        markReady();
        return;
      }
      const job = t.job;
      if (!job || m.seq !== t.seq) return;
      t.job = null;
      this.idle.push(t);
      if (m.ok) job.resolve(m.value);
      else job.reject(deserializeError(m.error!));
      this.dispatch();
    });
    const died = (why: string) => {
      if (!this.all.delete(t)) return;
      const i = this.idle.indexOf(t);
      if (i >= 0) this.idle.splice(i, 1);
      const job = t.job;
      t.job = null;
      if (job && !this.closed) {
        job.crashes++;
        if (job.crashes <= (this.o.crashRetries ?? 1)) this.queue.unshift(job);
        else job.reject(new Error(`the worker thread died ${job.crashes} times running this job (last: ${why})`));
      }
      this.dispatch();
    };
    worker.on('error', (e) => died(e.message));
    worker.on('exit', (code) => died(`exit code ${code}`));
    return t;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new Error('the worker pool closed before this job ran'));
    await Promise.all([...this.all].map((t) => t.worker.terminate()));
    this.all.clear();
    this.idle.length = 0;
  }
}

/** JobRunner over a WorkerPool: every job to its outcome, in the order given. */
export class WorkerPoolRunner<T, R> implements JobRunner<T, R> {
  readonly description: string;
  private readonly pool: WorkerPool;

  constructor(o: WorkerPoolOptions) {
    this.pool = new WorkerPool(o);
    this.description = `embedded worker pool (${this.pool.threads} thread${this.pool.threads === 1 ? '' : 's'} in this process)`;
  }

  async run(jobs: Job<T>[], onProgress?: (p: JobProgress) => void): Promise<JobOutcome<R>[]> {
    let done = 0;
    let failed = 0;
    const report = () => onProgress?.({ total: jobs.length, done, failed, running: this.pool.running, workers: this.pool.threads });
    report();
    const timer = setInterval(report, 1000);
    return Promise.all(
      jobs.map(async (j): Promise<JobOutcome<R>> => {
        try {
          const value = (await this.pool.execute(j.data)) as R;
          done++;
          return { id: j.id, ok: true, value };
        } catch (e) {
          failed++;
          return { id: j.id, ok: false, reason: (e as Error).message, attempts: 1 };
        } finally {
          report();
        }
      }),
    ).finally(() => clearInterval(timer));
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
