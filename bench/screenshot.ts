/**
 * `npm run screenshot`: runs the default demo (the built-in model, seed 1) with the dashboard on an
 * ephemeral loopback port and writes docs/dashboard.png once an exact K-fold result over at least
 * 650 content words (~10.5 simulated minutes) has arrived (the README shows it).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { screenshotDashboard } from '../dashboard/screenshot.js';
import type { Dashboard } from '../dashboard/server.js';
import { runDemo } from '../cli/demo.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const out = path.join(root, 'docs/dashboard.png');
let dashboard: Dashboard | undefined;
let shot: Promise<void> | undefined;
await runDemo({
  port: 0,
  host: '127.0.0.1',
  dashboard: true,
  speed: 'max',
  minutes: 12,
  model: 'builtin',
  seed: 1,
  control: 'planted',
  json: false,
  backend: 'auto',
  nDims: 50,
  refitEveryWords: 350,
  snapshotEveryWords: 20,
  halfLifeWords: null,
  quiet: false,
  onDashboard: (d) => (dashboard = d),
  onSnapshot: (s) => {
    // The last refit of a 12-minute run happens near its end: take the picture then, while the
    // server still runs, with emergence history on the page.
    if (!shot && s.exact && s.exact.nWords >= 650 && dashboard) {
      shot = screenshotDashboard(dashboard.url, out, { minSeq: s.seq, timeoutMs: 60_000 });
    }
  },
  beforeClose: () => shot ?? Promise.resolve(),
});
if (!shot) throw new Error('no exact K-fold snapshot arrived; no screenshot taken');
process.stderr.write(`wrote ${out}\n`);
