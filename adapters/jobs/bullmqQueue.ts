/**
 * Jobs fanned out on a real job queue: BullMQ on Redis. An experiment is submitted as one BullMQ
 * flow, a parent job (queue `experiments`) whose children are the cells (queue `cells`);
 * `lockstep worker --queue redis://host:port` processes both on any machine that sees the same data
 * and cache paths. When every child has completed or failed, a worker runs the parent, which gathers
 * the children's return values and failure reasons; the submitter waits for the parent and reads
 * them from its return value.
 *
 * Failure handling, all BullMQ's own mechanisms:
 * - a worker killed in a cell stops renewing the cell's lock; after `lockMs` the stalled-job check of
 *   any live worker moves the cell back to the waiting list, and another worker computes it again
 *   (cells are deterministic: the same result). A cell may stall `maxStalledCount` = 2 times.
 * - a cell whose error a retry cannot fix (bad input: the worker's `isPermanent`) fails at once with
 *   `UnrecoverableError` and its reason; other errors get one more attempt after 2 s.
 * - failed children are "ignored dependencies" of the parent (`ignoreDependencyOnFailure`), so the
 *   other cells go on and the parent still gathers what finished, with every failure's reason.
 *
 * Owns: queue names, the flow's shape, job options, workers and the gathering. Must not: know what a
 * cell computes (the worker is given an `execute` function) or print.
 */
import { FlowProducer, Queue, QueueEvents, UnrecoverableError, Worker, type Job as BullJob } from 'bullmq';
import { hostname } from 'node:os';
import type { Job, JobOutcome, JobProgress, JobRunner } from './jobRunner.js';

export const CELL_QUEUE = 'cells';
export const GATHER_QUEUE = 'experiments';
/** Redis key prefix of lockstep's queues (BullMQ's default is "bull"). */
export const QUEUE_PREFIX = 'lockstep';

/** What the parent job returns: children's values and failures by job key ("<prefix>:cells:<id>"). */
interface Gathered<R> {
  values: Record<string, R>;
  failures: Record<string, string>;
}

/**
 * BullMQ connection options for a `redis://[user:password@]host:port[/db]` (or `rediss://`) URL.
 * @throws RangeError for anything else
 */
export function queueConnection(url: string): { url: string; maxRetriesPerRequest: null } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new RangeError(`--queue ${url}: not a URL; give redis://host:port`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new RangeError(`--queue ${url}: expected redis://host:port (or rediss:// for TLS), got ${u.protocol}//`);
  if (!u.hostname) throw new RangeError(`--queue ${url}: no host; give redis://host:port`);
  // Workers block on Redis for jobs: BullMQ requires unlimited retries per request on their connections.
  return { url, maxRetriesPerRequest: null };
}

export interface BullmqRunnerOptions {
  url: string;
  /** Shown as the parent job's name. */
  title: string;
  /** Attempts of a cell whose error is not permanent (default 2). */
  attempts?: number;
  /** How often progress is read from Redis (default 500 ms). */
  pollMs?: number;
}

/** The submitting side: one flow per run, progress from Redis, outcomes from the parent's gathering. */
export class BullmqRunner<T, R> implements JobRunner<T, R> {
  readonly description: string;

  constructor(private readonly o: BullmqRunnerOptions) {
    queueConnection(o.url);
    this.description = `BullMQ on ${o.url} (queues ${QUEUE_PREFIX}:${GATHER_QUEUE} and ${QUEUE_PREFIX}:${CELL_QUEUE}; workers: lockstep worker --queue ${o.url})`;
  }

  async run(jobs: Job<T>[], onProgress?: (p: JobProgress) => void): Promise<JobOutcome<R>[]> {
    const connection = queueConnection(this.o.url);
    const flow = new FlowProducer({ connection, prefix: QUEUE_PREFIX });
    const cells = new Queue(CELL_QUEUE, { connection, prefix: QUEUE_PREFIX });
    const events = new QueueEvents(GATHER_QUEUE, { connection, prefix: QUEUE_PREFIX });
    let timer: NodeJS.Timeout | undefined;
    try {
      await events.waitUntilReady();
      const node = await flow.add({
        name: this.o.title,
        queueName: GATHER_QUEUE,
        data: { title: this.o.title, cells: jobs.length },
        children: jobs.map((j) => ({
          name: j.label,
          queueName: CELL_QUEUE,
          data: j.data,
          opts: { ignoreDependencyOnFailure: true, attempts: this.o.attempts ?? 2, backoff: { type: 'fixed', delay: 2000 } },
        })),
      });
      const parent = node.job;
      const children = node.children ?? [];
      const parentKey = `${parent.queueQualifiedName}:${parent.id}`;
      const ourId = new Map(children.map((c, i) => [`${c.job.queueQualifiedName}:${c.job.id}`, jobs[i].id]));
      const poll = async () => {
        const [deps, active, workers] = await Promise.all([parent.getDependenciesCount(), cells.getActive(), cells.getWorkersCount()]);
        const failed = (deps.failed ?? 0) + (deps.ignored ?? 0);
        onProgress?.({ total: jobs.length, done: deps.processed ?? 0, failed, running: active.filter((j) => j.parentKey === parentKey).length, workers });
      };
      if (onProgress) {
        await poll();
        timer = setInterval(() => void poll().catch(() => undefined), this.o.pollMs ?? 500);
      }
      const gathered = (await parent.waitUntilFinished(events)) as Gathered<R>;
      clearInterval(timer);
      const byId = new Map<string, JobOutcome<R>>();
      for (const [key, value] of Object.entries(gathered.values ?? {})) {
        const id = ourId.get(key);
        if (id !== undefined) byId.set(id, { id, ok: true, value });
      }
      for (const [key, reason] of Object.entries(gathered.failures ?? {})) {
        const id = ourId.get(key);
        if (id === undefined) continue;
        const child = children.find((c) => `${c.job.queueQualifiedName}:${c.job.id}` === key)!;
        const fresh = await cells.getJob(child.job.id!);
        byId.set(id, { id, ok: false, reason, attempts: fresh?.attemptsMade ?? 1 });
      }
      if (onProgress) await poll().catch(() => undefined);
      // The results are the caller's now (and in the result store): leave Redis clean.
      await parent.remove({ removeChildren: true }).catch(() => undefined);
      return jobs.map((j) => byId.get(j.id) ?? { id: j.id, ok: false, reason: 'the queue returned no result for this cell', attempts: 0 });
    } finally {
      clearInterval(timer);
      await Promise.allSettled([flow.close(), cells.close(), events.close()]);
    }
  }

  async close(): Promise<void> {
    // Each run opens and closes its own connections.
  }
}

export interface QueueWorkerEvent {
  kind: 'active' | 'completed' | 'failed' | 'gathered' | 'error';
  label: string;
  jobId?: string;
  seconds?: number;
  reason?: string;
  attemptsMade?: number;
}

export interface QueueWorkerOptions {
  url: string;
  /** Computes one cell (e.g. on a worker pool thread); its return value is the cell's value. */
  execute: (data: unknown) => Promise<unknown>;
  /** An error no retry can fix (bad input): the cell fails at once with its reason. */
  isPermanent: (e: Error) => boolean;
  /** Cells at once (default 1). */
  concurrency?: number;
  /** Lock on a cell, renewed while it runs; a killed worker's cell is taken up again after about this long (default 30 s). */
  lockMs?: number;
  onEvent?: (e: QueueWorkerEvent) => void;
}

export interface QueueWorker {
  /** Stored on every job it processes (BullMQ's `processedBy`): lockstep-worker@host:pid. */
  name: string;
  /** Waits for the running cells to finish, then disconnects. */
  close(): Promise<void>;
}

/** The working side: processes cells and gathers experiments until closed. */
export async function startQueueWorker(o: QueueWorkerOptions): Promise<QueueWorker> {
  const connection = queueConnection(o.url);
  // Redis client names (CLIENT SETNAME, how BullMQ counts workers) allow no spaces.
  const name = `lockstep-worker@${hostname().replace(/\s+/g, '-')}:${process.pid}`;
  const lockMs = o.lockMs ?? 30_000;
  const emit = (e: QueueWorkerEvent) => o.onEvent?.(e);
  const cellWorker = new Worker(
    CELL_QUEUE,
    async (job: BullJob) => {
      emit({ kind: 'active', label: job.name, jobId: job.id });
      try {
        return await o.execute(job.data);
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        if (o.isPermanent(err)) throw new UnrecoverableError(err.message);
        throw err;
      }
    },
    { connection, prefix: QUEUE_PREFIX, name, concurrency: o.concurrency ?? 1, lockDuration: lockMs, stalledInterval: lockMs, maxStalledCount: 2 },
  );
  const gatherWorker = new Worker(
    GATHER_QUEUE,
    async (job: BullJob): Promise<Gathered<unknown>> => {
      const gathered = { values: await job.getChildrenValues(), failures: await job.getIgnoredChildrenFailures() };
      emit({ kind: 'gathered', label: job.name, jobId: job.id });
      return gathered;
    },
    { connection, prefix: QUEUE_PREFIX, name, concurrency: 4 },
  );
  cellWorker.on('completed', (job) => emit({ kind: 'completed', label: job.name, jobId: job.id, seconds: job.finishedOn && job.processedOn ? (job.finishedOn - job.processedOn) / 1000 : undefined }));
  cellWorker.on('failed', (job, err) => emit({ kind: 'failed', label: job?.name ?? '?', jobId: job?.id, reason: err.message, attemptsMade: job?.attemptsMade }));
  for (const w of [cellWorker, gatherWorker]) w.on('error', (err) => emit({ kind: 'error', label: '', reason: err.message }));
  await Promise.all([cellWorker.waitUntilReady(), gatherWorker.waitUntilReady()]);
  return {
    name,
    async close() {
      await Promise.all([cellWorker.close(), gatherWorker.close()]);
    },
  };
}
