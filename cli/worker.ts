/**
 * `lockstep worker --queue redis://host:port`: processes experiment cells from BullMQ until stopped.
 * Start one on every machine that should share the work; each must see the data, model and cache
 * paths the experiment was submitted with (the same dataset root, model folders, activation cache
 * and result store, e.g. on a shared file system mounted at the same place). Cells run on a pool of
 * `--concurrency` threads, so that this process's main thread keeps renewing the cells' locks; a
 * worker that dies mid-cell loses its lock and another worker computes the cell again.
 *
 * Owns: the worker's options, its log lines and its shutdown (Ctrl-C / SIGTERM: finish the running
 * cells, then stop; a second signal stops at once). Must not: compute (the cell job does).
 */
import type { Command } from 'commander';
import { startQueueWorker, type QueueWorkerEvent } from '../adapters/jobs/bullmqQueue.js';
import { WorkerPool } from '../adapters/jobs/workerPool.js';
import { isInputError } from './errors.js';
import { positive, positiveInt } from './options.js';

export interface WorkerArgs {
  queue: string;
  concurrency: number;
  lockSeconds: number;
  quiet: boolean;
}

function describeEvent(e: QueueWorkerEvent): string {
  switch (e.kind) {
    case 'active':
      return `started ${e.label} (job ${e.jobId})`;
    case 'completed':
      return `done ${e.label} (job ${e.jobId})${e.seconds !== undefined ? ` in ${e.seconds.toFixed(1)} s` : ''}`;
    case 'failed':
      return `failed ${e.label} (job ${e.jobId}, attempt ${e.attemptsMade}): ${e.reason}`;
    case 'gathered':
      return `gathered ${e.label} (job ${e.jobId})`;
    case 'error':
      return `queue error: ${e.reason}`;
  }
}

/** Runs until SIGINT/SIGTERM. */
export async function runWorker(a: WorkerArgs): Promise<void> {
  const log = (line: string) => !a.quiet && process.stderr.write(`worker: ${line}\n`);
  const pool = new WorkerPool({ handlerUrl: new URL('../replay/experimentCellJob.js', import.meta.url), threads: a.concurrency });
  const worker = await startQueueWorker({
    url: a.queue,
    execute: (data) => pool.execute(data),
    isPermanent: isInputError,
    concurrency: a.concurrency,
    lockMs: a.lockSeconds * 1000,
    onEvent: (e) => log(describeEvent(e)),
  });
  log(`${worker.name} waiting for cells on ${a.queue} (${a.concurrency} at a time)`);
  let signals = 0;
  await new Promise<void>((resolve) => {
    const onSignal = () => {
      signals++;
      if (signals > 1) process.exit(130);
      log('stopping after the running cells (again to stop now)');
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  await worker.close();
  await pool.close();
  log('stopped');
}

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('Process experiment cells from a BullMQ queue on Redis (submitted by `lockstep experiment … --queue`), until Ctrl-C. Every worker must see the same dataset, model, cache and result paths as the submitter.')
    .requiredOption('--queue <redis-url>', '(required) the Redis the experiment was submitted to (redis://host:port)')
    .option('--concurrency <n>', 'cells at once (each on its own thread)', positiveInt, 1)
    .option('--lock-seconds <s>', 'a cell\'s lock, renewed while it runs: a killed worker\'s cell goes to another worker after about this long', positive, 30)
    .option('--quiet', 'no log lines on stderr')
    .action(async (o) => {
      await runWorker({ queue: o.queue, concurrency: o.concurrency, lockSeconds: o.lockSeconds, quiet: Boolean(o.quiet) });
    });
}
