/**
 * Several subjects, as the paper reports them: `simulate --subjects N` writes N subjects who hear
 * the same stimulus with brains of their own; `replay --subject a,b | all` decodes each on its own
 * and summarises them as mean ± SEM (src/scores/group.ts).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { syntheticFeatures } from '../adapters/llm/features.js';
import type { GroupReplayResult } from '../cli/replay.js';
import { runSimulateSubjects, subjectLabels } from '../cli/simulate.js';
import { resolveSubjects } from '../replay/subjectRecordings.js';
import { groupScores } from '../src/scores/group.js';
import { CLI, tempDir } from './helpers/paths.js';

describe('group scores (mean ± SEM over subjects)', () => {
  it('means, standard errors and the across-subject t-test', () => {
    const g = groupScores([
      { subject: '001', temporalScore: 0.9, tmax: [0.3, 0.5], R: [[0.1, 0.2], [0.3, 0.4]] },
      { subject: '002', temporalScore: 0.7, tmax: [0.4, 0.6], R: [[0.3, 0.2], [0.1, 0.0]] },
      { subject: '003', temporalScore: 0.8, tmax: [0.2, 0.7] },
    ]);
    assert.deepEqual(g.subjects, ['001', '002', '003']);
    assert.ok(Math.abs(g.temporalScore.mean - 0.8) < 1e-12);
    // sd = 0.1 (n − 1), SEM = 0.1/√3; t = 0.8 / SEM on 2 df.
    assert.ok(Math.abs(g.temporalScore.sem - 0.1 / Math.sqrt(3)) < 1e-12);
    assert.ok(Math.abs(g.test.t - 0.8 / (0.1 / Math.sqrt(3))) < 1e-9 && g.test.df === 2);
    assert.ok(Math.abs(g.test.p - 0.005167993252386089) < 1e-9, `p ${g.test.p}`); // scipy.stats.ttest_1samp([0.9, 0.7, 0.8], 0)
    assert.ok(Math.abs(g.tmax.mean[0] - 0.3) < 1e-12 && Math.abs(g.tmax.sem[1] - 0.1 / Math.sqrt(3)) < 1e-12);
    // Curves: over the two subjects that have them.
    assert.ok(Math.abs(g.R!.mean[0][0] - 0.2) < 1e-12 && Math.abs(g.R!.sem[0][0] - 0.1) < 1e-12);
    const one = groupScores([{ subject: '001', temporalScore: 0.5, tmax: [0.3] }]);
    assert.ok(one.temporalScore.mean === 0.5 && Number.isNaN(one.temporalScore.sem) && Number.isNaN(one.test.p) && one.R === null);
    // A subject without a score is left out of the mean and counted apart.
    const missing = groupScores([{ subject: 'a', temporalScore: 1, tmax: [0.2] }, { subject: 'b', temporalScore: NaN, tmax: [0.3] }, { subject: 'c', temporalScore: 3, tmax: [0.4] }]);
    const { mean, sem, n, nonFinite } = missing.temporalScore;
    assert.deepEqual({ mean, sem, n, nonFinite }, { mean: 2, sem: 1, n: 2, nonFinite: 1 });
    assert.equal(missing.test.df, 1);
    assert.throws(() => groupScores([]), RangeError);
    assert.throws(() => groupScores([{ subject: 'a', temporalScore: 1, tmax: [1] }, { subject: 'b', temporalScore: 1, tmax: [1, 2] }]), RangeError);
  });

  it('subject labels of --subjects count up from --subject', () => {
    assert.deepEqual(subjectLabels('001', 3), ['001', '002', '003']);
    assert.deepEqual(subjectLabels('sub-09', 2), ['09', '10']);
    assert.deepEqual(subjectLabels('pilot', 2), ['pilot', 'pilot2']);
  });
});

describe('simulate --subjects 2 → replay --subject all', () => {
  const root = tempDir('subjects');
  const features = syntheticFeatures(3, 10);
  after(() => fs.rmSync(root, { recursive: true, force: true }));
  before(async () => {
    await runSimulateSubjects({ out: root, subject: '001', session: '001', task: 'compr', format: 'fif', minutes: 1, seed: 3, control: 'planted', features, firstWord: 0, quiet: true }, 2);
  });

  it('writes two subjects hearing the same stimulus, with data of their own', () => {
    const events = ['001', '002'].map((s) => fs.readFileSync(path.join(root, `sub-${s}/ses-001/meg/sub-${s}_ses-001_task-compr_events.tsv`), 'utf8'));
    assert.equal(events[0], events[1], 'same words at the same onsets');
    const fifs = ['001', '002'].map((s) => fs.readFileSync(path.join(root, `sub-${s}/ses-001/meg/sub-${s}_ses-001_task-compr_meg.fif`)));
    assert.equal(fifs[0].length, fifs[1].length);
    assert.ok(!fifs[0].equals(fifs[1]), 'different brains and noise');
    assert.deepEqual(resolveSubjects(root, 'all'), ['001', '002']);
    assert.deepEqual(resolveSubjects(root, 'sub-2,1'), ['2', '1']);
    assert.throws(() => resolveSubjects(root, '001,003'), /no MEG recording of sub-003; subjects here: sub-001, sub-002/);
  });

  it('replay --subject all --json decodes each subject on its own and reports the group as mean ± SEM', () => {
    const out = path.join(root, 'group.json');
    const run = spawnSync(process.execPath, [CLI, 'replay', root, '--subject', 'all', '--features', 'synthetic:3', '--all-words', '--fold-block', '30', '--refit-every', '1000000', '--snapshot-every', '1000000', '--json', '--quiet', '--out', out], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const r = JSON.parse(run.stdout) as GroupReplayResult;
    assert.deepEqual(r.subjects, ['001', '002']);
    assert.deepEqual(r.perSubject.map((s) => s.subject), ['001', '002']);
    const [a, b] = r.perSubject.map((s) => s.final!.exact!);
    assert.ok(a && b, 'both subjects have exact scores');
    assert.notDeepEqual(a.tmax, b.tmax);
    // Each subject's intervals say which method made them.
    assert.match(a.tmaxCI.method, /jackknife/);
    assert.match(a.ci.method, /jackknife/);
    assert.ok(r.group && r.group.nSubjects === 2 && r.excluded.length === 0);
    assert.ok(Math.abs(r.group.temporalScore.mean - (a.temporalScore + b.temporalScore) / 2) < 1e-12);
    assert.ok(Math.abs(r.group.temporalScore.sem - Math.abs(a.temporalScore - b.temporalScore) / 2) < 1e-12);
    assert.ok(Math.abs(r.group.tmax.mean[4] - (a.tmax[4] + b.tmax[4]) / 2) < 1e-12);
    assert.equal(r.group.test.df, 1);
    assert.equal(r.group.R!.mean.length, 9);
    assert.deepEqual(JSON.parse(fs.readFileSync(out, 'utf8')), r);
  });

  it('the CLI refuses a subject the dataset does not have, naming those it has', () => {
    const bad = spawnSync(process.execPath, [CLI, 'replay', root, '--subject', '001,004', '--features', 'synthetic:3'], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /no MEG recording of sub-004; subjects here: sub-001, sub-002/);
  });
});
