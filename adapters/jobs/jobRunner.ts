/**
 * One interface for running many independent jobs (experiment cells) and getting each one's
 * outcome, whatever runs them: the in-process worker pool (workerPool.ts, the default: one thread
 * per core, no server needed) or BullMQ on Redis (bullmqRunner.ts: a flow whose children are the
 * jobs, processed by `lockstep worker` processes on any machine that sees the same paths).
 *
 * A job is plain JSON data handed to a handler module (a file exporting `runJob(data)`), so that
 * the same code runs in a thread, in another process or on another machine. A job that throws
 * fails with its reason; the others go on. What counts as a failure no retry can fix (bad input) is
 * decided by the caller (`isPermanent`), never here.
 *
 * Owns: the interface and the handler contract. Must not: know what a job computes.
 */

export interface Job<T> {
  /** Unique within one run (results come back under it). */
  id: string;
  /** For progress lines and failures. */
  label: string;
  data: T;
}

export type JobOutcome<R> = { id: string; ok: true; value: R } | { id: string; ok: false; reason: string; attempts: number };

export interface JobProgress {
  total: number;
  done: number;
  failed: number;
  /** Being computed now. */
  running: number;
  /** Workers seen processing (BullMQ), or threads (pool). */
  workers: number;
}

export interface JobRunner<T, R> {
  /** Says how and where jobs run (for reports). */
  readonly description: string;
  /**
   * Runs every job to an outcome (success or failure with its reason), in the order given;
   * `onProgress` is called on every change and at least every second while jobs run.
   */
  run(jobs: Job<T>[], onProgress?: (p: JobProgress) => void): Promise<JobOutcome<R>[]>;
  close(): Promise<void>;
}

/** What a handler module exports: the job's computation, on plain JSON data. */
export interface JobHandlerModule {
  runJob(data: unknown): Promise<unknown>;
}

/** An error that crossed a thread or process boundary: its class is gone, its name and code stay. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  /** The built-in class it derives from, when not Error itself. */
  base?: 'RangeError' | 'TypeError';
}

export function serializeError(e: unknown): SerializedError {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e) };
  const base = e instanceof RangeError ? 'RangeError' : e instanceof TypeError ? 'TypeError' : undefined;
  return { name: e.name, message: e.message, code: (e as NodeJS.ErrnoException).code, base };
}

/** Rebuilds an error with its name, code and built-in base (a ContextLengthError is still a RangeError). */
export function deserializeError(s: SerializedError): Error {
  const Ctor = s.base === 'RangeError' ? RangeError : s.base === 'TypeError' ? TypeError : Error;
  const e = new Ctor(s.message);
  e.name = s.name;
  if (s.code !== undefined) (e as NodeJS.ErrnoException).code = s.code;
  return e;
}
