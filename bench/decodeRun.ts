/**
 * One benchmark configuration in its own process (so peak RSS is its own): `lockstep decode`'s
 * code path on the given files and backend. Prints one JSON line.
 * Usage: node dist/bench/decodeRun.js X.npy Y.npy BACKEND [ALPHA_SELECTION] [PRECISION] [WORKERS]
 */
import { runDecode } from '../cli/decode.js';
import type { BackendName } from '../src/linalg/backend.js';
import type { AlphaSelection } from '../src/ridge/alphaGrid.js';
import type { AccumulationPrecision } from '../src/stats/statsAccumulator.js';

const [x, y, backend, selection, precision, workers] = process.argv.slice(2);
const out = await runDecode({
  epochs: x,
  targets: y,
  timesStart: -2.5,
  sfreq: 30,
  folds: 5,
  backend: backend as 'auto' | BackendName,
  alphaSelection: (selection as AlphaSelection | undefined) || 'gcv',
  precision: (precision as AccumulationPrecision | undefined) || undefined,
  workers: workers ? Number(workers) : undefined,
  quiet: true,
});
const nWords = out.nWords;
process.stdout.write(
  `${JSON.stringify({
    backend: out.backend,
    alphaSelection: out.alphaSelection,
    precision: out.precision,
    nWords,
    seconds: out.seconds,
    accumulateSeconds: out.accumulateSeconds,
    wordsPerSecond: nWords / out.accumulateSeconds,
    refitSeconds: out.refitSeconds,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    temporalScore: out.temporalScore,
    tmax: out.tmax,
    R: out.R,
  })}\n`,
);
