/**
 * Refit and accumulation benchmark on the paper-sized problem (273 channels × 166 times × 9 layers
 * × 50 dims, 5 folds, 13 α), in memory: each configuration (backend × compute-pool workers ×
 * accumulation precision) in its own process (bench/refitRun.ts), one after another, repeated
 * `--rounds` times so that ratios can be read within a round on a shared machine. Workers 0 is the
 * decoder as it was: everything in one thread, OpenBLAS with its default threads. Prints one JSON
 * object (with the load average around every run).
 *
 * Usage: node dist/bench/refit.js [--words 2560] [--steady-words 2560] [--repeats 2] [--rounds 1]
 *          [--configs auto:0:float64,auto:2:float64,auto:2:mixed,ort:2:float64] [--no-beside]
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const words = Number(opt('words', '2560'));
const steadyWords = Number(opt('steady-words', String(words)));
const repeats = Number(opt('repeats', '2'));
const rounds = Number(opt('rounds', '1'));
const configs = opt('configs', 'auto:0:float64,auto:1:float64,auto:2:float64,auto:2:mixed').split(',');
const log = (m: string) => process.stderr.write(`bench: ${m}\n`);

const runs: unknown[] = [];
for (let round = 1; round <= rounds; round++) {
  for (const c of configs) {
    const [backend, workers, precision] = c.split(':');
    log(`round ${round}: ${backend}, ${workers} workers, ${precision} (load ${os.loadavg()[0].toFixed(1)})`);
    const out = execFileSync(process.execPath, [path.join(here, 'refitRun.js'), JSON.stringify({ backend, workers: Number(workers), precision, words, steadyWords, repeats, noBeside: args.includes('--no-beside') })], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 1 << 24,
    });
    const r = { round, ...(JSON.parse(out) as Record<string, unknown>) };
    runs.push(r);
  }
}
const cpu = os.cpus();
process.stdout.write(
  `${JSON.stringify({
    benchmark: 'refit',
    date: new Date().toISOString(),
    machine: { cpu: cpu[0]?.model, cores: cpu.length, memoryGB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
    runs,
  })}\n`,
);
