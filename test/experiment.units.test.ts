/**
 * The parts of the experiments that need no recording: group mean ± SEM and surprisal quantiles
 * against SciPy/NumPy (Debian's python3), the cell grid and its identity, the parameter count read
 * from a real model graph (the built-in model, the family and its twins: the size experiment's axis),
 * the size figure's series (trained models apart from their twins), the result store, the file lock shared by concurrent workers, and the
 * embedded worker pool on real threads (values, a bad-input error that keeps its class, a thread
 * that dies once and a thread that always dies).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { withFileLock } from '../adapters/fileLock.js';
import { canonicalJson, identityKey, ResultStore } from '../adapters/jobs/resultStore.js';
import { WorkerPool, WorkerPoolRunner } from '../adapters/jobs/workerPool.js';
import { cellCurvesSpec, scoreVsSizeSpec } from '../adapters/figures/experimentFigures.js';
import { vegaLiteToSvg } from '../adapters/figures/render.js';
import { BUILTIN_MODEL_DIR } from '../adapters/llm/features.js';
import { FAMILY_SIZES, familyMembers } from '../adapters/onnx/builder/modelFamily.js';
import { resolveModels } from '../cli/experiment.js';
import { modelFacts } from '../adapters/onnx/modelFacts.js';
import { cellIdentity, experimentCells, type DecodingSpec, type ModelSpec, type SubjectSpec } from '../src/experiment/design.js';
import { groupRows, type CellRow } from '../src/experiment/groupResults.js';
import { quantileBin, quantileEdges } from '../src/experiment/quantiles.js';
import { groupMeanSem, groupMeanSemOfVectors } from '../src/stats/groupMean.js';
import { mulberry32 } from '../src/scores/prng.js';
import { tempDir } from './helpers/paths.js';

const PYTHON = '/usr/bin/python3';

function python(body: string, input: unknown): unknown {
  const script = ['import json, sys', 'import numpy as np', 'from scipy import stats', 'data = json.loads(sys.stdin.read())', body, 'print(json.dumps(out))'].join('\n');
  return JSON.parse(execFileSync(PYTHON, ['-c', script], { input: JSON.stringify(input), stdio: ['pipe', 'pipe', 'inherit'] }).toString());
}

const model = (name: string, sha: string, parameters = 1000): ModelSpec => ({ name, path: `/models/${name}`, sha256: sha, parameters, maxPositions: 128 });
const decoding: DecodingSpec = { allWords: false, foldBlockWords: 100, channels: null, backend: 'auto', contextMode: 'exact' };

describe('group statistics (mean ± SEM over subjects)', () => {
  it('equals numpy mean and scipy.stats.sem (ddof 1) on random samples', () => {
    const rng = mulberry32(7);
    const samples = [2, 3, 5, 12, 40].map((n) => Array.from({ length: n }, () => 0.5 + rng() * 0.5));
    const expected = python('out = [[float(np.mean(s)), float(stats.sem(s))] for s in data]', samples) as [number, number][];
    samples.forEach((s, i) => {
      const g = groupMeanSem(s);
      assert.ok(Math.abs(g.mean - expected[i][0]) <= 1e-15, `mean of ${s.length}`);
      assert.ok(Math.abs(g.sem - expected[i][1]) <= 1e-15, `SEM of ${s.length}: ${g.sem} vs ${expected[i][1]}`);
      assert.equal(g.n, s.length);
    });
  });

  it('counts non-finite values apart, and has no SEM for one subject', () => {
    assert.deepEqual(groupMeanSem([0.5, NaN, 0.7]), { mean: 0.6, sem: 0.09999999999999998, n: 2, nonFinite: 1 });
    const one = groupMeanSem([0.9]);
    assert.equal(one.mean, 0.9);
    assert.ok(Number.isNaN(one.sem));
    assert.ok(Number.isNaN(groupMeanSem([]).mean));
    assert.throws(() => groupMeanSemOfVectors([[1, 2], [1]]), RangeError);
  });

  it('groups rows by model, context and condition, per layer for Tmax', () => {
    const row = (subject: string, context: number, temporalScore: number, tmax: number[]) => ({ subject, model: 'm', parameters: 1, context, condition: 'all', temporalScore, p: 0.01, tmax, nWords: 100 });
    const g = groupRows([row('a', 0, 0.2, [0.3, 0.5]), row('b', 0, 0.4, [0.4, 0.6]), row('a', 5, 0.9, [0.3, 0.6])]);
    assert.equal(g.length, 2);
    assert.equal(g[0].nSubjects, 2);
    assert.ok(Math.abs(g[0].temporalScore.mean - 0.3) < 1e-15);
    assert.ok(Math.abs(g[0].temporalScore.sem - 0.1) < 1e-15);
    assert.ok(Math.abs(g[0].tmax[1].mean - 0.55) < 1e-15);
    assert.equal(g[0].nWords, 200);
    assert.equal(g[1].nSubjects, 1);
  });
});

describe('surprisal quantiles', () => {
  it('edges equal numpy.quantile (linear), ties go to the lower bin', () => {
    const rng = mulberry32(3);
    for (const n of [5, 17, 400]) {
      const v = Array.from({ length: n }, () => rng() * 12);
      const expected = python('out = [float(x) for x in np.quantile(np.array(data), [0.25, 0.5, 0.75])]', v) as number[];
      const e = quantileEdges(v, 4);
      e.forEach((x, k) => assert.ok(Math.abs(x - expected[k]) < 1e-12, `n ${n} edge ${k}: ${x} vs ${expected[k]}`));
      const counts = [0, 0, 0, 0];
      for (const x of v) counts[quantileBin(x, e)]++;
      if (n === 400) counts.forEach((c) => assert.ok(c >= 99 && c <= 101, `bins ${counts}`));
    }
    assert.deepEqual(quantileEdges([1, 2, 3, 4, 5], 4), [2, 3, 4]);
    assert.equal(quantileBin(2, [2, 3, 4]), 0);
    assert.equal(quantileBin(2.0001, [2, 3, 4]), 1);
    assert.equal(quantileBin(NaN, [2, 3, 4]), -1);
    assert.throws(() => quantileEdges([NaN], 4), RangeError);
  });
});

describe('experiment cells', () => {
  const sim = (label: string, seed: number): SubjectSpec => ({ kind: 'simulated', label, seed, minutes: 2, brain: { model: model('builtin', 'b'), context: 50, mode: 'exact' }, snr: 1 });

  it('one cell per subject × model × context, subject-major', () => {
    const cells = experimentCells({ experiment: 'context', subjects: [sim('s1', 1), sim('s2', 2)], models: [model('a', 'x'), model('b', 'y')], contexts: [0, 5, 50], conditions: { kind: 'all' }, decoding });
    assert.equal(cells.length, 12);
    assert.deepEqual(cells.slice(0, 4).map((c) => [c.subject.label, c.model.name, c.context]), [['s1', 'a', 0], ['s1', 'a', 5], ['s1', 'a', 50], ['s1', 'b', 0]]);
    assert.throws(() => experimentCells({ experiment: 'context', subjects: [sim('s', 1)], models: [model('a', 'x')], contexts: [2.5], conditions: { kind: 'all' }, decoding }), RangeError);
  });

  it('identity: everything that defines the numbers, nothing else', () => {
    const [c] = experimentCells({ experiment: 'context', subjects: [sim('s1', 1)], models: [model('a', 'x')], contexts: [5], conditions: { kind: 'all' }, decoding });
    const key = identityKey(cellIdentity(c));
    // The same decoding asked for by another experiment, under another name or path, is the same cell.
    assert.equal(identityKey(cellIdentity({ ...c, experiment: 'size', model: { ...c.model, name: 'other', path: '/elsewhere' } })), key);
    assert.equal(identityKey(cellIdentity({ ...c, subject: { ...c.subject, label: 'renamed' } })), key);
    for (const changed of [{ ...c, context: 6 }, { ...c, model: { ...c.model, sha256: 'z' } }, { ...c, decoding: { ...decoding, foldBlockWords: 50 } }, { ...c, subject: sim('s1', 2) }]) {
      assert.notEqual(identityKey(cellIdentity(changed)), key);
    }
    // A simulated subject is its seed, length, SNR and brain: the model it runs and how (so results of another simulated brain are never reused).
    assert.deepEqual((cellIdentity(c) as { subject: { brain: unknown } }).subject.brain, { model: { sha256: 'b' }, context: 50, mode: 'exact', stages: 'every hidden state', coupling: 'population' });
    assert.equal(canonicalJson({ b: 1, a: { d: 2, c: [3, { f: 1, e: 2 }] } }), '{"a":{"c":[3,{"e":2,"f":1}],"d":2},"b":1}');
  });

  it('the result store returns a result only for its own identity', () => {
    const store = new ResultStore(tempDir('store'));
    const id = { cell: 1, x: [1, 2] };
    assert.equal(store.get(id), null);
    const file = store.put(id, { r: 0.5 });
    assert.deepEqual(store.get({ x: [1, 2], cell: 1 }), { r: 0.5 });
    // A file that claims the key but holds another identity is not used.
    fs.writeFileSync(file, JSON.stringify({ identity: { cell: 2 }, result: { r: 1 } }));
    assert.equal(store.get(id), null);
  });

  it('reads the parameter count and positions from the model graph (built-in: 1,327,488, as its training script counted)', () => {
    const f = modelFacts(BUILTIN_MODEL_DIR);
    const training = JSON.parse(fs.readFileSync(path.join(BUILTIN_MODEL_DIR, 'training.json'), 'utf8')) as { parameters: number };
    assert.equal(f.parameters, training.parameters);
    assert.equal(f.parameters, 1_327_488);
    assert.equal(f.maxPositions, 128);
    assert.match(f.sha256, /^[0-9a-f]{64}$/);
  });

  it('the family as a size axis: family:<size> and their twins resolve, with the parameter counts of their training records; a twin has its model\'s count and another graph', async () => {
    const cache = tempDir('family-twins');
    const saved = process.env.LOCKSTEP_CACHE;
    process.env.LOCKSTEP_CACHE = cache; // twins are written under $LOCKSTEP_CACHE/models
    try {
      const names = [...FAMILY_SIZES.map((s) => `family:${s}`), 'family:xs-untrained', 'family:l-untrained:2'];
      const specs = await resolveModels(names);
      const records = new Map(familyMembers().map((m) => [`family:${m.size}`, m]));
      for (const s of FAMILY_SIZES) {
        const m = specs.get(`family:${s}`)!;
        assert.equal(m.parameters, records.get(m.name)!.parameters, m.name);
        assert.equal(m.maxPositions, 1024, m.name);
      }
      const p = FAMILY_SIZES.map((s) => specs.get(`family:${s}`)!.parameters);
      assert.deepEqual(p, [...p].sort((a, b) => a - b), 'sizes in increasing order');
      assert.ok(p.at(-1)! / p[0] >= 20, `a ≥ 20× axis: ${p.join(', ')}`);
      for (const [twin, trained] of [['family:xs-untrained', 'family:xs'], ['family:l-untrained:2', 'family:l']]) {
        assert.equal(specs.get(twin)!.parameters, specs.get(trained)!.parameters, twin);
        assert.notEqual(specs.get(twin)!.sha256, specs.get(trained)!.sha256, twin);
        assert.ok(specs.get(twin)!.path.startsWith(cache), specs.get(twin)!.path);
      }
    } finally {
      if (saved === undefined) delete process.env.LOCKSTEP_CACHE;
      else process.env.LOCKSTEP_CACHE = saved;
      fs.rmSync(cache, { recursive: true, force: true });
    }
  });

  it('the size figure draws trained models and their twins (same parameter counts) as two series', async () => {
    const row = (model: string, parameters: number, subject: string, temporalScore: number): CellRow => ({ subject, model, parameters, context: 50, condition: 'all', temporalScore, p: 0.5, tmax: [0, 0.1], nWords: 100 });
    const rows = ['a', 'b'].flatMap((subj, k) => [row('family:xs', 55_744, subj, 0.2 + k / 10), row('family:l', 1_189_824, subj, 0.8 - k / 10), row('family:xs-untrained', 55_744, subj, 0.1), row('family:l-untrained', 1_189_824, subj, -0.1 + k / 10)]);
    const svg = await vegaLiteToSvg(scoreVsSizeSpec(rows, groupRows(rows)));
    assert.match(svg, />weights</);
    assert.match(svg, />trained</);
    assert.match(svg, />untrained twins</);
    // Without twins, the series stay the contexts (one here: no legend).
    const trained = rows.filter((r) => !r.model.includes('untrained'));
    assert.doesNotMatch(await vegaLiteToSvg(scoreVsSizeSpec(trained, groupRows(trained))), /untrained twins|>weights</);
  });

  it('a cell figure with an undefined score (every Tmax equal; null once stored as JSON) says so', async () => {
    const times = [0, 0.5];
    const flat = { condition: 'all', nWords: 100, temporalScore: null as unknown as number, p: null as unknown as number, tmax: [0.5, 0.5], R: [[0.1, 0.2], [0.1, 0.2]], alignmentScore: 0, ci: { method: 'bootstrap', level: 0.95, low: 0, high: 0 } };
    assert.match(await vegaLiteToSvg(cellCurvesSpec('flat', flat, times, [0.1, 0.9])), /temporal score r = undefined/);
  });
});

describe('file lock', () => {
  it('serialises holders, and takes over a lock whose holder stopped touching it', async () => {
    const dir = tempDir('lock');
    const lock = path.join(dir, 'locks', 'x');
    const order: string[] = [];
    const hold = (name: string) =>
      withFileLock(lock, async () => {
        order.push(`${name}+`);
        await new Promise((r) => setTimeout(r, 150));
        order.push(`${name}-`);
      }, { pollMs: 20 });
    await Promise.all([hold('a'), hold('b'), hold('c')]);
    for (let i = 0; i < order.length; i += 2) assert.equal(order[i].slice(0, 1), order[i + 1].slice(0, 1), `overlap: ${order.join(' ')}`);
    assert.equal(fs.existsSync(lock), false);
    // A lock left behind by a holder that died (not touched for longer than staleMs) is taken over.
    fs.mkdirSync(lock);
    const old = new Date(Date.now() - 10_000);
    fs.utimesSync(lock, old, old);
    let waited = false;
    assert.equal(await withFileLock(lock, async () => 42, { staleMs: 5_000, pollMs: 20, onWait: () => (waited = true) }), 42);
    assert.equal(waited, false);
  });
});

describe('embedded worker pool (real threads)', () => {
  const handlerUrl = new URL('./helpers/poolJobs.js', import.meta.url);

  it('runs jobs on both threads; a job that throws fails with its reason, the others go on', async () => {
    const runner = new WorkerPoolRunner<unknown, { square: number; threadId: number }>({ handlerUrl, threads: 2 });
    try {
      const progress: number[] = [];
      const out = await runner.run(
        [1, 2, 3, 4, 5, 6].map((x) => ({ id: String(x), label: `x${x}`, data: { kind: x === 4 ? 'bad' : 'square', x } })),
        (p) => progress.push(p.done + p.failed),
      );
      assert.deepEqual(out.map((o) => (o.ok ? o.value.square : o.reason)), [1, 4, 9, 'bad input 4', 25, 36]);
      assert.equal(new Set(out.flatMap((o) => (o.ok ? [o.value.threadId] : []))).size, 2);
      assert.equal(Math.max(...progress), 6);
    } finally {
      await runner.close();
    }
  });

  it('keeps the error class across the thread (bad input stays a RangeError), retries a job whose thread died once', async () => {
    const pool = new WorkerPool({ handlerUrl, threads: 1 });
    try {
      const e = await pool.execute({ kind: 'bad', x: 1 }).then(() => null, (err: Error) => err);
      assert.ok(e instanceof RangeError);
      assert.equal(e.name, 'FakeQueryError');
      const marker = path.join(tempDir('pool'), 'crashed');
      assert.deepEqual(((await pool.execute({ kind: 'crash-once', x: 3, marker })) as { square: number }).square, 9);
      assert.ok(fs.existsSync(marker));
      await assert.rejects(pool.execute({ kind: 'crash', x: 0 }), /worker thread died 2 times/);
      // The pool still works after losing threads.
      assert.equal(((await pool.execute({ kind: 'square', x: 5 })) as { square: number }).square, 25);
    } finally {
      await pool.close();
    }
  });
});
