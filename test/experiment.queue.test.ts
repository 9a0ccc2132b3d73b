/**
 * The experiment on a real job queue: Debian's redis-server started on 127.0.0.1 at a free port,
 * two real `lockstep worker` processes, and `lockstep experiment … --queue` submitting a BullMQ flow.
 * - the numbers are identical to the embedded worker pool's;
 * - a worker killed (SIGKILL) in the middle of a cell loses it, and the other worker computes it
 *   again, with the identical result;
 * - a cell on bad input (a context the model's positions cannot hold) fails once with its reason
 *   while the other cells finish.
 * - a predictability cell (four surprisal quartiles decoded in one pass) gives on the queue the
 *   embedded pool's numbers for every quartile, with the same word counts and surprisal ranges.
 * One simulated subject of 2 minutes, 16 channels, contexts 0, 5 and 200: three cells, kept small for the suite.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { CELL_QUEUE, QUEUE_PREFIX } from '../adapters/jobs/bullmqQueue.js';
import { runExperimentCommand, type ExperimentArgs } from '../cli/experiment.js';
import { CLI, tempDir } from './helpers/paths.js';
import { startRedis, type RedisServer } from './helpers/redisServer.js';

interface Worker {
  child: ChildProcess;
  log: () => string;
  exited: Promise<number | null>;
}

function startWorker(url: string, env: NodeJS.ProcessEnv): Worker {
  const child = spawn(process.execPath, [CLI, 'worker', '--queue', url, '--lock-seconds', '3'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, log: () => log, exited };
}

async function until<T>(what: string, f: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('lockstep experiment on BullMQ (real Redis, real worker processes)', () => {
  let redis: RedisServer;
  const cache = tempDir('queue-cache');
  const env = { ...process.env, LOCKSTEP_CACHE: cache };
  const workers: Worker[] = [];

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await redis?.stop();
    fs.rmSync(cache, { recursive: true, force: true });
  });

  const baseArgs = (out: string): ExperimentArgs => ({
    experiment: 'context',
    root: null,
    subjects: [],
    simulate: { subjects: 1, minutes: 2, seed: 1, brainModel: 'builtin', brainContext: 50, snr: 1 },
    models: ['builtin'],
    contexts: [0, 5, 200],
    contextMode: 'exact',
    quantiles: 4,
    allWords: false,
    foldBlockWords: 10,
    channels: 16,
    backend: 'auto',
    threads: 2,
    cacheRoot: path.join(cache, 'activations'),
    storeDir: path.join(out, 'store-embedded'),
    reuse: true,
    out: path.join(out, 'embedded'),
    cellFigures: false,
    quiet: true,
  });

  it('gives the embedded pool\'s numbers; a killed worker\'s cell is computed by the other; a bad-input cell fails once', async () => {
    const out = tempDir('queue-out');
    const base = baseArgs(out);
    const embedded = await runExperimentCommand(base);
    assert.equal(embedded.cells.length, 2);

    // Two workers; the submitter runs in this process (its own store, so nothing is reused).
    workers.push(startWorker(redis.url, env), startWorker(redis.url, env));
    await until('both workers', async () => (workers.every((w) => /waiting for cells/.test(w.log())) ? true : undefined), 60_000);
    const progress: string[] = [];
    const queued = runExperimentCommand({ ...base, queue: redis.url, storeDir: path.join(out, 'store-queue'), out: path.join(out, 'queue'), quiet: false, log: (l) => progress.push(l) });

    // Kill the worker that holds the first running cell, mid-cell.
    const cells = new Queue(CELL_QUEUE, { connection: { url: redis.url, maxRetriesPerRequest: null }, prefix: QUEUE_PREFIX });
    let killed: { label: string; pid: number };
    try {
      killed = await until(
        'a running cell',
        async () => {
          const [job] = await cells.getActive();
          if (!job?.processedBy) return undefined;
          return { label: job.name, pid: Number(/:(\d+)$/.exec(job.processedBy)![1]) };
        },
        120_000,
      );
    } finally {
      await cells.close();
    }
    const victim = workers.find((w) => w.child.pid === killed.pid)!;
    const survivor = workers.find((w) => w !== victim)!;
    assert.ok(victim, `the cell's worker (pid ${killed.pid}) is one of ours`);
    victim.child.kill('SIGKILL');
    assert.equal(await victim.exited, null);

    const q = await queued;
    // The survivor took the killed worker's cell up again (after its lock ran out) and finished it.
    const started = survivor.log().split('\n').filter((l) => l.includes(`started ${killed.label} `));
    assert.ok(started.length >= 1, `the surviving worker started "${killed.label}"\n${survivor.log()}`);
    assert.ok(survivor.log().includes(`done ${killed.label} `), survivor.log());
    assert.ok(!victim.log().includes(`done ${killed.label} `), 'the killed worker never finished it');

    // Identical numbers, cell by cell.
    assert.deepEqual(
      q.cells.map((c) => [c.subject, c.context, c.temporalScore, c.p, c.tmax, c.nWords, c.key]),
      embedded.cells.map((c) => [c.subject, c.context, c.temporalScore, c.p, c.tmax, c.nWords, c.key]),
    );
    assert.deepEqual(q.group, embedded.group);
    // Bad input: each context-200 cell failed once, with its reason; the rest finished.
    assert.deepEqual(q.failed.map((f) => [f.subject, f.context, f.attempts]), [['sim-01', 200, 1]]);
    for (const f of q.failed) assert.match(f.reason, /context 200 words does not fit/);
    assert.match(q.runner, /BullMQ on redis:\/\/127\.0\.0\.1:\d+/);
    assert.ok(progress.some((l) => /3\/3 cells \(0 reused, 1 failed\)/.test(l)), progress.join('\n'));
  });

  it('predictability: every quartile of the one-pass cell has the embedded pool\'s numbers', async () => {
    const out = tempDir('queue-predictability');
    const base: ExperimentArgs = { ...baseArgs(out), experiment: 'predictability', contexts: [50], foldBlockWords: 5, threads: 1 };
    const embedded = await runExperimentCommand(base);
    assert.deepEqual(embedded.cells.map((c) => c.condition), ['all', 'q1', 'q2', 'q3', 'q4']);
    // A worker of its own, so that this test does not depend on the one before.
    workers.push(startWorker(redis.url, env));
    await until('the worker', async () => (/waiting for cells/.test(workers.at(-1)!.log()) ? true : undefined), 60_000);
    const q = await runExperimentCommand({ ...base, queue: redis.url, storeDir: path.join(out, 'store-queue'), out: path.join(out, 'queue') });
    const numbers = (x: typeof q) => x.cells.map((c) => [c.condition, c.temporalScore, c.p, c.tmax, c.nWords, c.surprisal, c.key]);
    assert.deepEqual(numbers(q), numbers(embedded));
    assert.deepEqual(q.group, embedded.group);
    assert.deepEqual(q.missing, []);
  });
});
