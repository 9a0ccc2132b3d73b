/**
 * Hours of the simulated subject through the whole pipeline, in this process, at maximum speed
 * (issue 12 §4): the built-in model's features of the text (extracted, or read from the cache),
 * the simulator (273 channels at 1200 Hz), band-pass and resampling, epochs, the decoder with
 * replay's default refit schedule (every 2,000 words, fold blocks of 500), content words only.
 * This is `lockstep demo --minutes M --refit-every 2000 --fold-block 500 --no-dashboard`; the text
 * is Moby Dick (209,341 words, ~18 hours at the speech-rate model), so 10 hours are distinct text.
 *
 * Reports wall time (features, then the session), × real time, peak RSS (sampled every 0.5 s
 * and the kernel's maximum) and a memory timeline (RSS, JS heap, array buffers once a minute:
 * whether memory grows with the session), CPU seconds, the refits, and the final exact result. With
 * `--check-minutes N` it first runs N minutes twice, at `--speed max` and at a slower pace, and
 * compares the final exact R bit for bit (the demo waits for the decoder, so pace must not matter).
 *
 * Usage: node dist/bench/tenHours.js [--minutes 600] [--seed 1] [--check-minutes 0] [--check-speed 20]
 * Prints one JSON object.
 */
import os from 'node:os';
import { runDemo, type DemoArgs } from '../cli/demo.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const minutes = opt('minutes', 600);
const seed = opt('seed', 1);
const checkMinutes = opt('check-minutes', 0);
const checkSpeed = opt('check-speed', 20);

const base: DemoArgs = {
  port: 0,
  host: '127.0.0.1',
  dashboard: false,
  speed: 'max',
  seed,
  control: 'planted',
  json: false,
  backend: 'auto',
  nDims: 50,
  model: 'builtin',
  refitEveryWords: 2000,
  foldBlockWords: 500,
  snapshotEveryWords: 50,
  halfLifeWords: null,
  quiet: false,
};

/** One run with its wall time, CPU time, refits and sampled peak RSS. */
async function timed(a: DemoArgs) {
  const t0 = performance.now();
  let peak = process.memoryUsage().rss;
  // Memory over the run, once a minute: whether it grows with the session, and in which part.
  const timeline: { wallSec: number; rssMb: number; heapUsedMb: number; arrayBuffersMb: number }[] = [];
  let ticks = 0;
  const mb = (b: number) => Math.round(b / 2 ** 20);
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peak = Math.max(peak, m.rss);
    if (++ticks % 120 === 0) timeline.push({ wallSec: Math.round((performance.now() - t0) / 1000), rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed), arrayBuffersMb: mb(m.arrayBuffers) });
  }, 500);
  const refits: number[] = [];
  let lastExactWords = -1;
  const cpu0 = process.cpuUsage();
  try {
    const r = await runDemo({
      ...a,
      onSnapshot: (s) => {
        if (s.exact && s.exact.nWords !== lastExactWords) {
          lastExactWords = s.exact.nWords;
          refits.push(s.exact.computeSeconds);
        }
      },
    });
    const cpu = process.cpuUsage(cpu0);
    return { r, wallSec: (performance.now() - t0) / 1000, cpuSec: (cpu.user + cpu.system) / 1e6, peakRssBytes: peak, refits, timeline };
  } finally {
    clearInterval(sampler);
  }
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
let check: Record<string, unknown> | null = null;
if (checkMinutes > 0) {
  const fast = await timed({ ...base, minutes: checkMinutes, speed: 'max' });
  const slow = await timed({ ...base, minutes: checkMinutes, speed: checkSpeed });
  const a = fast.r.last?.exact;
  const b = slow.r.last?.exact;
  // null, not false, when a run had no exact score (too few words for every fold): nothing to compare.
  const same = a && b ? a.nWords === b.nWords && JSON.stringify(a.R) === JSON.stringify(b.R) && JSON.stringify(a.tmax) === JSON.stringify(b.tmax) : null;
  check = { minutes: checkMinutes, speeds: ['max', checkSpeed], wallSec: [fast.wallSec, slow.wallSec], exactWords: [a?.nWords ?? null, b?.nWords ?? null], identicalExactR: same, temporalScore: [a?.temporalScore ?? null, b?.temporalScore ?? null] };
}

const load0 = os.loadavg();
const run = await timed({ ...base, minutes });
const exact = run.r.last?.exact ?? null;
process.stdout.write(
  `${JSON.stringify({
    benchmark: 'tenHours',
    command: `lockstep demo --minutes ${minutes} --seed ${seed} --refit-every 2000 --fold-block 500 --no-dashboard (in process)`,
    simulatedMinutes: run.r.simulatedSeconds / 60,
    wallSec: run.wallSec,
    timesRealTime: run.r.simulatedSeconds / run.wallSec,
    cpuSec: run.cpuSec,
    peakRssBytes: Math.max(run.peakRssBytes, process.resourceUsage().maxRSS * 1024),
    peakRssSampledBytes: run.peakRssBytes,
    memoryTimeline: run.timeline,
    wordsDecoded: run.r.last?.nWords ?? 0,
    wordsExcluded: run.r.wordsExcluded,
    refits: { count: run.refits.length, totalSec: sum(run.refits), maxSec: Math.max(0, ...run.refits) },
    final: exact && { nWords: exact.nWords, temporalScore: exact.temporalScore, p: exact.p, tmax: exact.tmax, alignmentScore: exact.alignmentScore, ci: exact.ci },
    plantedLatenciesSec: run.r.plantedLatenciesSec,
    check,
    loadAverage: { start: load0, end: os.loadavg() },
    cpus: os.cpus().length,
    node: process.version,
  })}\n`,
);
