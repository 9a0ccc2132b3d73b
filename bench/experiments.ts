/**
 * Benchmarks of `lockstep experiment` (print JSON):
 *
 *   node dist/bench/experiments.js throughput [--subjects 2] [--contexts 0,5,20,40] [--minutes 5] [--channels 273] [--fold-block 100]
 *     The same cells on the embedded pool (2 threads) and on BullMQ with two `lockstep worker`
 *     processes (a redis-server on 127.0.0.1 at a free port), after one run that fills the
 *     activation cache, each with an empty result store. Reports wall times, throughput ratio
 *     (queue / embedded) and the queue's overhead per cell: (wall × 2 − Σ cell seconds) / cells,
 *     the time the two workers were not computing a cell, against the same figure for the pool.
 *
 *   node dist/bench/experiments.js run -- <lockstep experiment arguments>
 *     Times one experiment as the command runs it (cells, figures, report) and prints its JSON
 *     summary with the machine's load.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runExperimentCommand, type ExperimentArgs } from '../cli/experiment.js';
import { CLI, tempDir } from '../test/helpers/paths.js';
import { startRedis } from '../test/helpers/redisServer.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

function machine() {
  return { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))) };
}

async function throughput(): Promise<unknown> {
  const cache = tempDir('bench-exp-cache');
  const out = tempDir('bench-exp-out');
  const channels = Number(arg('channels', '273'));
  const base: ExperimentArgs = {
    experiment: 'context',
    root: null,
    subjects: [],
    simulate: { subjects: Number(arg('subjects', '2')), minutes: Number(arg('minutes', '5')), seed: 1, brainModel: 'builtin', brainContext: 50, snr: 1 },
    models: ['builtin'],
    contexts: arg('contexts', '0,5,20,40').split(',').map(Number),
    contextMode: 'exact',
    quantiles: 4,
    allWords: false,
    foldBlockWords: Number(arg('fold-block', '100')),
    channels: channels >= 273 ? null : channels,
    backend: 'auto',
    threads: 2,
    cacheRoot: path.join(cache, 'activations'),
    storeDir: path.join(out, 'warm'),
    reuse: true,
    out: path.join(out, 'warm'),
    cellFigures: false,
    quiet: true,
  };
  const load0 = os.loadavg()[0];
  // Fill the activation cache first, so that neither timed run extracts.
  const warm = await runExperimentCommand(base);
  const embedded = await runExperimentCommand({ ...base, storeDir: path.join(out, 'store-embedded'), out: path.join(out, 'embedded') });
  const redis = await startRedis();
  const env = { ...process.env, LOCKSTEP_CACHE: cache };
  const workers: ChildProcess[] = [0, 1].map(() => spawn(process.execPath, [CLI, 'worker', '--queue', redis.url, '--quiet'], { env, stdio: 'ignore' }));
  let queued;
  try {
    await new Promise((r) => setTimeout(r, 1500));
    queued = await runExperimentCommand({ ...base, queue: redis.url, storeDir: path.join(out, 'store-queue'), out: path.join(out, 'queue') });
  } finally {
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(workers.map((w) => new Promise((r) => (w.exitCode !== null ? r(null) : w.once('exit', r)))));
    await redis.stop();
  }
  if (embedded.failed.length || queued.failed.length) throw new Error(`cells failed: ${[...embedded.failed, ...queued.failed].map((f) => f.reason).join('; ')}`);
  const sum = (x: typeof embedded) => x.cells.reduce((s, c) => s + c.seconds, 0);
  const n = embedded.cells.length;
  const idlePerCell = (x: typeof embedded) => (x.wallSeconds * 2 - sum(x)) / n;
  const same = JSON.stringify(embedded.cells.map((c) => [c.temporalScore, c.tmax])) === JSON.stringify(queued.cells.map((c) => [c.temporalScore, c.tmax]));
  fs.rmSync(cache, { recursive: true, force: true });
  fs.rmSync(out, { recursive: true, force: true });
  return {
    benchmark: 'experiment throughput: embedded pool (2 threads) vs BullMQ (2 worker processes)',
    cells: n,
    setup: { subjects: base.simulate!.subjects, minutes: base.simulate!.minutes, contexts: base.contexts, channels: channels >= 273 ? 'all (273)' : channels, foldBlockWords: base.foldBlockWords, model: 'builtin' },
    warmupSeconds: Number(warm.wallSeconds.toFixed(1)),
    embedded: { wallSeconds: Number(embedded.wallSeconds.toFixed(1)), cellSecondsSum: Number(sum(embedded).toFixed(1)), idleSecondsPerCell: Number(idlePerCell(embedded).toFixed(2)) },
    queue: { wallSeconds: Number(queued.wallSeconds.toFixed(1)), cellSecondsSum: Number(sum(queued).toFixed(1)), idleSecondsPerCell: Number(idlePerCell(queued).toFixed(2)) },
    throughputRatioQueueOverEmbedded: Number((embedded.wallSeconds / queued.wallSeconds).toFixed(3)),
    meanCellSeconds: Number((sum(queued) / n).toFixed(2)),
    queueOverheadPerCellSeconds: Number((idlePerCell(queued) - idlePerCell(embedded)).toFixed(2)),
    queueOverheadPercentOfCell: Number((((idlePerCell(queued) - idlePerCell(embedded)) / (sum(queued) / n)) * 100).toFixed(2)),
    identicalNumbers: same,
    loadAverageAtStart: Number(load0.toFixed(2)),
    machine: machine(),
  };
}

function run(): unknown {
  const i = process.argv.indexOf('--');
  const args = i >= 0 ? process.argv.slice(i + 1) : [];
  const t0 = performance.now();
  const load0 = os.loadavg();
  const r = spawnSync(process.execPath, [CLI, 'experiment', ...args, '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 256 * 2 ** 20 });
  const wall = (performance.now() - t0) / 1000;
  const j = JSON.parse(r.stdout) as { cells: { temporalScore: number }[]; failed: unknown[]; group: unknown[]; figures: Record<string, string>; runner: string; wallSeconds: number };
  return {
    benchmark: `lockstep experiment ${args.join(' ')}`,
    exitStatus: r.status,
    wallSeconds: Number(wall.toFixed(1)),
    cells: j.cells.length,
    failed: j.failed.length,
    group: j.group,
    figures: j.figures,
    runner: j.runner,
    loadAverageAtStart: load0.map((l) => Number(l.toFixed(2))),
    loadAverageAtEnd: os.loadavg().map((l) => Number(l.toFixed(2))),
    machine: machine(),
  };
}

const mode = process.argv[2];
if (mode === 'throughput') process.stdout.write(`${JSON.stringify(await throughput(), null, 1)}\n`);
else if (mode === 'run') process.stdout.write(`${JSON.stringify(run(), null, 1)}\n`);
else {
  process.stderr.write('usage: node dist/bench/experiments.js throughput [--subjects N --contexts a,b --minutes M --channels C] | run -- <experiment arguments>\n');
  process.exitCode = 2;
}
