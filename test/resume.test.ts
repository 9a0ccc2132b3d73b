/**
 * Nothing lost on a crash: `replay --checkpoint` killed with SIGKILL half-way and run again with
 * `--resume` ends with the numbers of an uninterrupted run (exact scores and the rolling score, bit
 * for bit); `live` killed the same way and resumed goes on accumulating from the next data and reports
 * the gap; a checkpoint that does not fit the session is refused before it starts (exit 2, one line).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readCheckpointInfo } from '../adapters/checkpointStore.js';
import { readTsv } from '../adapters/meg/bids/sidecars.js';
import { syntheticFeatures } from '../adapters/llm/features.js';
import type { LiveResult } from '../cli/live.js';
import { runPublish } from '../cli/publish.js';
import type { ReplayResult } from '../cli/replay.js';
import { runSimulate } from '../cli/simulate.js';
import { CLI, tempDir } from './helpers/paths.js';

const SEED = 6;
// 2.5 simulated minutes (~500 words), refits at 150, 300 and 450 words: the kill comes after the
// first refit, so the checkpoint holds a rolling model, and the resumed run goes through two more.
const MINUTES = 2.5;
// 32 of the 273 channels keep each refit small; the claim does not depend on the channel count.
const OPTIONS = ['--features', `synthetic:${SEED}:10`, '--all-words', '--refit-every', '150', '--snapshot-every', '50', '--fold-block', '20', '--checkpoint-every', '50', '--quiet', '--json'];
let picks: string[] = [];

function replay(root: string, extra: string[]): ReplayResult {
  const res = spawnSync(process.execPath, [CLI, 'replay', root, '--subject', '001', '--picks', picks.join(','), ...OPTIONS, ...extra], { encoding: 'utf8' });
  assert.equal(res.status, 0, res.stderr);
  return JSON.parse(res.stdout) as ReplayResult;
}

describe('checkpoints and --resume', () => {
  const root = tempDir('resume');
  after(() => fs.rmSync(root, { recursive: true, force: true }));
  before(async () => {
    await runSimulate({ out: root, subject: '001', session: '001', task: 'compr', format: 'fif', minutes: MINUTES, seed: SEED, control: 'planted', features: syntheticFeatures(SEED, 10), firstWord: 0, quiet: true });
    const channels = readTsv(path.join(root, 'sub-001/ses-001/meg/sub-001_ses-001_task-compr_channels.tsv'));
    const name = channels.columns.indexOf('name');
    const type = channels.columns.indexOf('type');
    picks = channels.rows.filter((r) => r[type] === 'MEGGRADAXIAL' || r[type] === 'MEGMAG').map((r) => r[name]).filter((_, i) => i % 8 === 0).slice(0, 32);
    assert.equal(picks.length, 32);
  });

  it('a replay killed half-way and resumed ends with the numbers of an uninterrupted run', async () => {
    const whole = replay(root, ['--checkpoint', path.join(root, 'whole.ckpt')]);
    assert.ok(whole.final?.exact, 'the uninterrupted run has exact scores');

    // Killed (SIGKILL: no handler runs) once a checkpoint past the first refit is on disk.
    const ckpt = path.join(root, 'killed.ckpt');
    const child = spawn(process.execPath, [CLI, 'replay', root, '--subject', '001', '--picks', picks.join(','), ...OPTIONS, '--checkpoint', ckpt], { stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    let heldAtKill = 0;
    for (let i = 0; i < 6000; i++) {
      await new Promise((ok) => setTimeout(ok, 20));
      if (child.exitCode !== null) break;
      if (!fs.existsSync(ckpt)) continue;
      heldAtKill = readCheckpointInfo(ckpt).stream?.pairs ?? 0;
      if (heldAtKill >= 200) {
        child.kill('SIGKILL');
        break;
      }
    }
    assert.equal(await exited, 'SIGKILL', 'the replay was killed before it finished');
    const held = readCheckpointInfo(ckpt).stream!.pairs;
    assert.ok(held >= 200 && held < whole.wordsDecoded, `the checkpoint holds ${held} of ${whole.wordsDecoded} words`);

    const resumed = replay(root, ['--resume', ckpt]);
    assert.equal(resumed.resumed?.words, held);
    assert.equal(resumed.wordsDecoded, whole.wordsDecoded);
    const a = whole.final!;
    const b = resumed.final!;
    assert.deepEqual(b.exact!.R, a.exact!.R, 'identical R(t) per layer');
    assert.deepEqual(b.exact!.tmax, a.exact!.tmax);
    assert.equal(b.exact!.temporalScore, a.exact!.temporalScore);
    assert.deepEqual(b.rolling, a.rolling, 'identical rolling score');
    assert.equal(b.nWords, a.nWords);
  });

  it('refuses a checkpoint that does not fit the session, before it starts', () => {
    const ckpt = path.join(root, 'whole.ckpt');
    const res = spawnSync(process.execPath, [CLI, 'replay', root, '--subject', '001', '--picks', picks.join(','), ...OPTIONS.map((o) => (o === '20' ? '30' : o)), '--resume', ckpt], { encoding: 'utf8' });
    assert.equal(res.status, 2, res.stderr);
    const lines = res.stderr.trim().split('\n');
    assert.equal(lines.length, 1, res.stderr);
    assert.match(lines[0], /whole\.ckpt.*blocks of 20 words.*30/);
    const bad = path.join(root, 'not-a-checkpoint');
    fs.writeFileSync(bad, 'hello, this is not a checkpoint file at all; it is long enough to have a header');
    const res2 = spawnSync(process.execPath, [CLI, 'replay', root, '--subject', '001', '--picks', picks.join(','), ...OPTIONS, '--resume', bad], { encoding: 'utf8' });
    assert.equal(res2.status, 2, res2.stderr);
    assert.match(res2.stderr.trim(), /not-a-checkpoint.*bad magic/);
  });
});

describe('live --resume after a crash', () => {
  const root = tempDir('resume-live');
  after(() => fs.rmSync(root, { recursive: true, force: true }));
  before(async () => {
    await runSimulate({ out: root, subject: '001', session: '001', task: 'compr', format: 'fif', minutes: 1.5, seed: SEED, control: 'planted', features: syntheticFeatures(SEED, 10), firstWord: 0, quiet: true });
  });

  it('goes on accumulating from the next data and reports the gap', async () => {
    const name = `lockstep-resume-${process.pid}`;
    const env = { ...process.env, LOCKSTEP_LSL_LOOPBACK_ONLY: '1' };
    const ckpt = path.join(root, 'live.ckpt');
    const liveArgs = ['live', '--meg', name, '--words', `${name}-words`, '--features', `synthetic:${SEED}:10`, '--all-words', '--refit-every', '1000000', '--snapshot-every', '20', '--fold-block', '20', '--checkpoint', ckpt, '--checkpoint-every', '20', '--quiet', '--json'];
    // The publisher waits for the first live session, then plays at 3× real time to its end marker.
    const published = runPublish({ root, subject: '001', speed: 3, name, waitSec: 30, quiet: true, network: { unicastHosts: ['127.0.0.1'] } });
    const first = spawn(process.execPath, [CLI, ...liveArgs], { stdio: 'ignore', env });
    const killed = new Promise<NodeJS.Signals | null>((resolve) => first.once('exit', (_code, signal) => resolve(signal)));
    for (let i = 0; i < 3000; i++) {
      await new Promise((ok) => setTimeout(ok, 20));
      if (first.exitCode !== null) break;
      if (fs.existsSync(ckpt) && (readCheckpointInfo(ckpt).stream?.pairs ?? 0) >= 20) {
        first.kill('SIGKILL');
        break;
      }
    }
    assert.equal(await killed, 'SIGKILL', 'the live session was killed mid-way');
    const held = readCheckpointInfo(ckpt).stream!;
    // The crashed session's successor, started while the publisher (in this process: no spawnSync) goes on.
    const second = spawn(process.execPath, [CLI, ...liveArgs, '--resume', ckpt], { env });
    let pubDone = false;
    void published.then(() => (pubDone = true));
    let stdout = '';
    let stderr = '';
    second.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    second.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const status = await new Promise<number | null>((resolve) => second.once('exit', (code) => resolve(code)));
    const pub = await published;
    assert.equal(status, 0, `${stderr} (publisher done: ${pubDone})`);
    const r = JSON.parse(stdout) as LiveResult;
    assert.equal(r.resumed?.words, held.pairs);
    assert.equal(r.resumed?.lastWordOnsetSec, held.lastWord!.onsetSec);
    assert.ok(r.resumed!.gapSec! > 0, `gap ${r.resumed!.gapSec} s`);
    assert.ok(r.resumed!.firstWordOnsetSec! > held.lastWord!.onsetSec);
    // It accumulated on top of the checkpoint: more words than it received itself would give.
    assert.ok(r.wordsDecoded > held.pairs, `${r.wordsDecoded} words decoded after resuming from ${held.pairs}`);
    assert.ok(r.wordsDecoded < pub.wordsPushed, 'the gap\'s words are missing, not invented');
    assert.ok(r.final?.exact, 'an exact score over the words before and after the crash');
  });
});
