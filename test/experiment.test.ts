/**
 * `lockstep experiment` end to end on the embedded worker pool (no Redis), small enough for the
 * suite: 2-minute subjects, 16 channels, folds of 10-word blocks.
 * - context on 2 simulated subjects: the JSON (cells, group mean ± SEM, figures), the figures
 *   (SVG and PNG files), the HTML report; a context the built-in model's 128 positions cannot hold
 *   fails once with its reason while the others finish; a rerun reuses every finished cell;
 * - predictability on a simulated subject: one cell decodes the overall words and each surprisal
 *   quartile in one pass; every quartile is reported with its words and surprisal range (ordered,
 *   q1 the most predictable), with a figure; a quartile's numbers equal decoding its words alone;
 * - size on a BIDS dataset written by `simulate`: a cell gives exactly the numbers `replay` gives for
 *   the same subject, model and channels; a subject that is not in the dataset fails with its reason.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { identityKey } from '../adapters/jobs/resultStore.js';
import { resolveModels } from '../cli/experiment.js';
import { runReplay } from '../cli/replay.js';
import { modelFeaturesForBundles } from '../replay/bundleFeatures.js';
import { decodeConditionAlone, evenlySpread } from '../replay/experimentCell.js';
import { closeSubjectRecordings, openSubjectRecordings } from '../replay/subjectRecordings.js';
import { cellIdentity, hasScores, type CellResult, type CellSpec, type ConditionScores } from '../src/experiment/design.js';
import { CLI, tempDir } from './helpers/paths.js';

interface CellJson {
  subject: string;
  model: string;
  parameters: number;
  context: number;
  condition: string;
  temporalScore: number;
  p: number;
  tmax: number[];
  nWords: number;
  surprisal?: { low: number; high: number; mean: number };
  key: string;
  reused: boolean;
}
interface ExperimentOut {
  cells: CellJson[];
  group: { model: string; context: number; condition: string; nSubjects: number; temporalScore: { mean: number; sem: number }; nWords: number }[];
  figures: Record<string, string>;
  failed: { subject: string; model: string; context: number; reason: string; attempts: number }[];
  missing: { subject: string; condition: string; nWords: number; reason: string }[];
  parameters: Record<string, unknown>;
}

const cacheDir = tempDir('experiment-cache');
const env = { ...process.env, LOCKSTEP_CACHE: cacheDir };

function lockstep(args: string[]): { status: number | null; out: ExperimentOut | null; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  return { status: r.status, out: r.stdout.trim() ? (JSON.parse(r.stdout) as ExperimentOut) : null, stderr: r.stderr };
}

function storedResult(storeDir: string, key: string): CellResult {
  return (JSON.parse(fs.readFileSync(path.join(storeDir, key.slice(0, 2), `${key}.json`), 'utf8')) as { result: CellResult }).result;
}

const SMALL = ['--channels', '16', '--fold-block', '10', '--json'];

describe('lockstep experiment (embedded worker pool)', () => {
  after(() => fs.rmSync(cacheDir, { recursive: true, force: true }));

  it('context on 2 simulated subjects: cells, group, figures and report; a context too long for the model fails with its reason; a rerun reuses every cell', async () => {
    const out = tempDir('experiment-out');
    const store = path.join(out, 'store');
    const args = ['experiment', 'context', '--simulate', '--subjects', '2', '--contexts', '0,5,200', '--minutes', '2', ...SMALL, '--out', out, '--results', store];
    const r = lockstep(args);
    assert.equal(r.status, 1, `exit status 1 when a cell failed\n${r.stderr}`);
    const x = r.out!;
    assert.deepEqual(x.cells.map((c) => [c.subject, c.context]), [['sim-01', 0], ['sim-01', 5], ['sim-02', 0], ['sim-02', 5]]);
    for (const c of x.cells) {
      assert.equal(c.model, 'builtin');
      assert.equal(c.parameters, 1_327_488);
      assert.equal(c.condition, 'all');
      assert.ok(c.temporalScore >= -1 && c.temporalScore <= 1 && c.p >= 0 && c.p <= 1, JSON.stringify(c));
      assert.equal(c.tmax.length, 9);
      assert.ok(c.nWords >= 4 * 10 + 2, `${c.nWords} words`);
      assert.equal(c.reused, false);
    }
    // Context 200 does not fit 128 positions: both subjects' cells fail once, saying what fits.
    assert.deepEqual(x.failed.map((f) => [f.subject, f.context, f.attempts]), [['sim-01', 200, 1], ['sim-02', 200, 1]]);
    for (const f of x.failed) assert.match(f.reason, /context 200 words does not fit .*128 positions.*longest context that fits every word of this text is \d+ words/);
    // Group: mean ± SEM over the two subjects, per context.
    assert.equal(x.group.length, 2);
    for (const g of x.group) {
      const [a, b] = x.cells.filter((c) => c.context === g.context).map((c) => c.temporalScore);
      assert.equal(g.nSubjects, 2);
      assert.ok(Math.abs(g.temporalScore.mean - (a + b) / 2) < 1e-15);
      assert.ok(Math.abs(g.temporalScore.sem - Math.abs(a - b) / 2) < 1e-12, `SEM of two values is half their distance: ${g.temporalScore.sem}`);
    }
    // Figures: SVG and PNG of the sweep, one per cell, and the report that links them.
    const svg = fs.readFileSync(x.figures.contextSvg, 'utf8');
    assert.match(svg, /^<svg[^>]*width="\d+"/);
    assert.match(svg, /Temporal alignment vs context length/);
    const png = fs.readFileSync(x.figures.contextPng);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.ok(png.readUInt32BE(16) >= 800, `PNG width ${png.readUInt32BE(16)}`);
    assert.equal(fs.readdirSync(path.join(out, 'cells')).filter((f) => f.endsWith('.png')).length, 4);
    const html = fs.readFileSync(x.figures.report, 'utf8');
    assert.match(html, /href="context\.svg"/);
    assert.match(html, /href="context\.png"/);
    assert.match(html, /<svg/);
    assert.match(html, /tests the machinery/);
    for (const k of Object.keys(x.parameters)) assert.ok(html.includes(`<th>${k}</th>`), `report states ${k}`);
    assert.match(html, /does not fit/);

    // The same experiment again: every finished cell comes from the store, with the same numbers.
    const again = lockstep([...args, '--no-cell-figures']);
    assert.equal(again.status, 1);
    assert.deepEqual(again.out!.cells.map((c) => c.reused), [true, true, true, true]);
    assert.deepEqual(again.out!.cells.map((c) => [c.temporalScore, c.tmax]), x.cells.map((c) => [c.temporalScore, c.tmax]));
    assert.match(again.stderr, /4\/6 cells \(4 reused, 0 failed\)/);
  });

  it('predictability on a simulated subject: each quartile decoded in the same pass, with its words and surprisal range, equal to decoding its words alone', async () => {
    const out = tempDir('experiment-predictability');
    const store = path.join(out, 'store');
    // 2 minutes give ~40 content words per quartile: folds of 5-word blocks give each an exact score.
    const r = lockstep(['experiment', 'predictability', '--simulate', '--subjects', '1', '--minutes', '2', '--channels', '16', '--fold-block', '5', '--json', '--out', out, '--results', store, '--no-cell-figures']);
    assert.equal(r.status, 0, r.stderr);
    const x = r.out!;
    assert.deepEqual(x.cells.map((c) => c.condition), ['all', 'q1', 'q2', 'q3', 'q4']);
    assert.equal(new Set(x.cells.map((c) => c.key)).size, 1, 'one cell, one pass, five decoders');
    assert.deepEqual(x.missing, []);
    const [all, ...quartiles] = x.cells;
    // Every decoded word has a surprisal here, so the quartiles partition the overall words.
    assert.equal(quartiles.reduce((n, q) => n + q.nWords, 0), all.nWords);
    // Edges are cut on the words heard; the last few (whose epoch the recording does not cover) are not decoded.
    for (const q of quartiles) assert.ok(Math.abs(q.nWords - all.nWords / 4) <= all.nWords * 0.05, `${q.condition}: ${q.nWords} of ${all.nWords} words`);
    assert.equal(all.surprisal, undefined);
    for (let k = 1; k < quartiles.length; k++) {
      const [lo, hi] = [quartiles[k - 1].surprisal!, quartiles[k].surprisal!];
      assert.ok(lo.low <= lo.mean && lo.mean <= lo.high && lo.high < hi.low, `q${k} ${JSON.stringify(lo)} below q${k + 1} ${JSON.stringify(hi)}`);
    }
    // The scores differ between quartiles: each decoder saw other words.
    assert.equal(new Set(x.cells.map((c) => c.temporalScore)).size, 5);
    assert.deepEqual(x.group.map((g) => [g.condition, g.nWords]), x.cells.map((c) => [c.condition, c.nWords]));
    const svg = fs.readFileSync(x.figures.predictabilitySvg, 'utf8');
    assert.match(svg, /Temporal alignment by word predictability/);
    for (const q of quartiles) assert.ok(svg.includes(`${q.nWords} words`) && svg.includes(`${q.condition} (${q.surprisal!.low.toFixed(1)}`), `the figure labels ${q.condition}`);
    assert.ok(fs.existsSync(x.figures.predictabilityPng));
    assert.match(fs.readFileSync(x.figures.report, 'utf8'), /<th>surprisal \(nats\)<\/th>/);

    // The same cell in this process: its spec names the stored result, and a quartile decoded alone
    // (the cell's pipeline fed only that quartile's words) gives exactly the one-pass numbers.
    const builtin = (await resolveModels(['builtin'])).get('builtin')!;
    const cell: CellSpec = {
      experiment: 'predictability',
      subject: { kind: 'simulated', label: 'sim-01', seed: 1, minutes: 2, brain: { model: builtin, context: 50, mode: 'exact' }, snr: 1 },
      model: builtin,
      context: 50,
      conditions: { kind: 'surprisal-quantiles', quantiles: 4, model: builtin, context: 50 },
      decoding: { allWords: false, foldBlockWords: 5, channels: 16, backend: 'auto', contextMode: 'exact' },
    };
    assert.equal(identityKey(cellIdentity(cell)), all.key);
    const onePass = storedResult(store, all.key).conditions.find((c) => c.condition === 'q4')!;
    const alone = await decodeConditionAlone(cell, path.join(cacheDir, 'activations'), 'q4');
    assert.ok(hasScores(onePass) && hasScores(alone));
    assert.equal(alone.nWords, onePass.nWords);
    assert.equal(alone.temporalScore, onePass.temporalScore);
    assert.equal(alone.p, onePass.p);
    assert.deepEqual(alone.tmax, onePass.tmax);
    assert.deepEqual(alone.R, onePass.R);
    assert.deepEqual(alone.surprisal, onePass.surprisal);
  });

  describe('on a BIDS dataset', () => {
    let root: string;
    before(() => {
      root = tempDir('experiment-bids');
      const r = spawnSync(process.execPath, [CLI, 'simulate', '--out', root, '--minutes', '2', '--format', 'fif', '--model', 'builtin', '--quiet'], { env, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    });
    after(() => fs.rmSync(root, { recursive: true, force: true }));

    it('size: a cell is the same decoding as replay; a subject missing from the dataset fails with its reason', async () => {
      const out = tempDir('experiment-size');
      const store = path.join(out, 'store');
      const r = lockstep(['experiment', 'size', root, '--subject', '001,999', '--model', 'builtin,builtin-untrained', ...SMALL, '--out', out, '--results', store, '--no-cell-figures']);
      assert.equal(r.status, 1, r.stderr);
      const x = r.out!;
      assert.deepEqual(x.cells.map((c) => [c.subject, c.model, c.parameters]), [['001', 'builtin', 1_327_488], ['001', 'builtin-untrained', 1_327_488]]);
      assert.deepEqual(x.failed.map((f) => [f.subject, f.model, f.attempts]), [['999', 'builtin', 1], ['999', 'builtin-untrained', 1]]);
      for (const f of x.failed) assert.match(f.reason, /sub-999/);
      assert.ok(fs.existsSync(x.figures.sizeSvg) && fs.existsSync(x.figures.sizePng));

      // replay of the same subject with the same model, context, channels and folds.
      const subject = await openSubjectRecordings({ root, subject: '001' });
      const channels = evenlySpread(subject.channels.length, 16).map((i) => subject.channels[i]);
      await closeSubjectRecordings(subject);
      const replay = await runReplay({
        root,
        subject: '001',
        channels,
        speed: 'max',
        features: modelFeaturesForBundles(root, { model: 'builtin', context: 50, mode: 'exact', cacheRoot: path.join(cacheDir, 'activations') }),
        allWords: false,
        backend: 'auto',
        refitEveryWords: 2000,
        snapshotEveryWords: 50,
        foldBlockWords: 10,
        json: false,
        quiet: true,
      });
      const e = replay.final!.exact!;
      const cell = storedResult(store, x.cells[0].key).conditions[0] as ConditionScores;
      assert.equal(cell.nWords, e.nWords);
      assert.equal(cell.temporalScore, e.temporalScore);
      assert.deepEqual(cell.tmax, e.tmax);
      assert.deepEqual(cell.R, e.R);
    });
  });
});
