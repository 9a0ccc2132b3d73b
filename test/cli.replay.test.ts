/**
 * `lockstep simulate` → `lockstep replay`: the simulated subject written as a BIDS dataset (FIF and
 * CTF, like the Armeni dataset) and replayed through the readers gives the same analysis as the same
 * simulated data fed to the pipeline directly: bit-identical for float32 FIF, within the int32
 * quantisation of CTF. Also: the CLI's one-JSON-object output and its errors.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { from, share, mergeMap } from 'rxjs';
import { readTsv } from '../adapters/meg/bids/sidecars.js';
import { openBidsRuns } from '../adapters/meg/openRecording.js';
import { wordEvents } from '../adapters/meg/bids/events.js';
import { SimulatedSubject } from '../adapters/simulator/simulatedSubject.js';
import { speechTiming } from '../adapters/simulator/speechTiming.js';
import { builtinWords } from '../adapters/text/builtinText.js';
import { runAnalysisSession } from '../cli/session.js';
import { syntheticFeatures } from '../adapters/llm/features.js';
import { runReplay } from '../cli/replay.js';
import { runSimulate } from '../cli/simulate.js';
import type { ScoreSnapshot } from '../src/snapshot.js';
import type { SampleChunk, WordEvent } from '../src/types.js';
import { CLI, tempDir } from './helpers/paths.js';

const MINUTES = 3;
const SEED = 4;
const features = syntheticFeatures(SEED, 10);
const session = { backend: 'auto' as const, refitEveryWords: 1_000_000, snapshotEveryWords: 100, foldBlockWords: 100 };

describe('simulate → replay', () => {
  const root = tempDir('replay');
  const ctfRoot = tempDir('replay-ctf');
  after(() => {
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(ctfRoot, { recursive: true, force: true });
  });
  let direct: ScoreSnapshot | null = null;
  let fifResult: Awaited<ReturnType<typeof runReplay>>;

  before(async () => {
    await runSimulate({ out: root, subject: '001', session: '001', task: 'compr', format: 'fif', minutes: MINUTES, seed: SEED, control: 'planted', features, firstWord: 0, quiet: true });
    await runSimulate({ out: ctfRoot, subject: '001', session: '001', task: 'compr', format: 'ctf', minutes: MINUTES, seed: SEED, control: 'planted', features, firstWord: 0, quiet: true });
  });

  it('the FIF dataset replays to exactly the scores of the same data fed directly', async () => {
    fifResult = await runReplay({ root, subject: '001', speed: 'max', features, allWords: true, ...session, json: false, quiet: true });
    // Direct: the simulator's own chunks, and the words as the events file states them (4 decimals).
    const eventsFile = path.join(root, 'sub-001/ses-001/meg/sub-001_ses-001_task-compr_events.tsv');
    const words: WordEvent[] = wordEvents(readTsv(eventsFile)).words.map((w, i) => ({ wordIndex: i, word: w.word, onsetSec: w.onsetSec, durationSec: w.durationSec }));
    const heard = builtinWords(Math.ceil(MINUTES * 60 * 3.6) + 20);
    const sim = new SimulatedSubject({ seed: SEED, words: speechTiming(heard, { seed: SEED, startSec: 3 }), activation: (i, w) => features.of(i, w)!, nLayers: 9, nDims: features.nDims, depths: features.depths, control: 'planted' });
    const total = MINUTES * 60 * 1200;
    const chunks: SampleChunk[] = [];
    for (let s = 0; s < total; s += 120) chunks.push(sim.chunk(s, Math.min(120, total - s)));
    const chunks$ = from(chunks).pipe(share());
    let next = 0;
    const words$ = chunks$.pipe(
      mergeMap((c) => {
        const out: WordEvent[] = [];
        const end = c.tStartSec + c.nSamples / c.sfreqHz;
        while (next < words.length && words[next].onsetSec < end) out.push(words[next++]);
        return from(out);
      }),
    );
    const r = await runAnalysisSession({
      label: 'direct', chunks$, words$, sfreqHz: 1200, nChannels: 273, activationOf: (w) => features.of(w.wordIndex, w.word),
      nLayers: 9, nDims: features.nDims, depths: features.depths, contentWordsOnly: false, ...session, halfLifeWords: null,
      json: false, quiet: true, sourceLabel: 'direct', activationsLabel: features.label,
    });
    direct = r.last;
    assert.ok(direct?.exact && fifResult.final?.exact, 'both runs have exact scores');
    assert.equal(fifResult.wordsDecoded, direct.nWords);
    assert.ok(fifResult.wordsDecoded > 450, `${fifResult.wordsDecoded} words decoded`);
    assert.deepEqual(fifResult.final.exact.R, direct.exact.R, 'identical R(t) per layer');
    assert.deepEqual(fifResult.final.exact.tmax, direct.exact.tmax);
    assert.equal(fifResult.channels, 273);
    assert.equal(fifResult.recordings.length, 1);
  });

  it('the CTF dataset (int32 as CTF stores it) holds the same data within half a stored unit and replays to nearly the same scores', async () => {
    // Data: every MEG sample of the first 10 s within half a quantisation step (cal) of the FIF's float32.
    const [fifBundle] = await openBidsRuns({ root, subject: '001' });
    const [ctfBundle] = await openBidsRuns({ root: ctfRoot, subject: '001' });
    const [fifRec, ctfRec] = [fifBundle.recording!, ctfBundle.recording!];
    // channels.tsv lists exactly the recording's channels, in order, with matching types, so the
    // replay has nothing to warn about (CTF: 273 gradiometers + 28 references + trigger, clock, ADC).
    for (const b of [fifBundle, ctfBundle]) {
      assert.deepEqual(b.warnings, [], `${b.entry.key}: no warnings`);
      const rec = b.recording!.header.channels;
      assert.deepEqual(b.channels!.channels.map((c) => [c.name, c.mneType]), rec.map((c) => [c.name, c.type]), `${b.entry.channelsTsv} matches the recording`);
    }
    assert.equal(ctfRec.header.channels.length, 304);
    assert.deepEqual(
      Object.entries(ctfBundle.channels!.channels.reduce<Record<string, number>>((m, c) => ((m[c.type] = (m[c.type] ?? 0) + 1), m), {})).sort(),
      [['ADC', 1], ['MEGGRADAXIAL', 273], ['MEGREFGRADAXIAL', 20], ['MEGREFMAG', 8], ['SYSCLOCK', 1], ['TRIG', 1]],
    );
    const names = fifRec.header.channels.filter((c) => c.type === 'mag').map((c) => c.name);
    const pf = names.map((n) => fifRec.header.channels.findIndex((c) => c.name === n));
    const pc = names.map((n) => ctfRec.header.channels.findIndex((c) => c.name.split('-')[0] === n));
    assert.ok(pc.every((i) => i >= 0), 'every MEG channel in the CTF file');
    const [xf, xc] = [await fifRec.readSI(0, 12000, pf), await ctfRec.readSI(0, 12000, pc)];
    for (let i = 0; i < xf.length; i++) {
      const half = Math.abs(ctfRec.header.channels[pc[i % pc.length]].cal) / 2;
      if (Math.abs(xf[i] - xc[i]) > half * (1 + 1e-9)) assert.fail(`sample ${Math.floor(i / pc.length)}, ${names[i % pc.length]}: FIF ${xf[i]}, CTF ${xc[i]}`);
    }
    await fifRec.close();
    await ctfRec.close();
    const ctf = await runReplay({ root: ctfRoot, subject: '001', speed: 'max', features, allWords: true, ...session, json: false, quiet: true });
    assert.ok(ctf.final?.exact && fifResult.final?.exact);
    assert.equal(ctf.wordsDecoded, fifResult.wordsDecoded);
    let worst = 0;
    ctf.final.exact.R.forEach((row, l) => row.forEach((v, t) => (worst = Math.max(worst, Math.abs(v - fifResult.final!.exact!.R[l][t])))));
    // Ridge at the small α that GCV picks amplifies the ~1e-16 T rounding a little (measured 0.0016).
    assert.ok(worst < 5e-3, `max |ΔR| ${worst}`);
  });

  it('the CLI prints one JSON object and rejects a missing subject with exit 2', () => {
    const out = execFileSync(process.execPath, [CLI, 'replay', root, '--subject', '001', '--all-words', '--features', `synthetic:${SEED}`, '--json', '--quiet', '--refit-every', '1000000', '--fold-block', '100'], { encoding: 'utf8' });
    const lines = out.trim().split('\n');
    assert.equal(lines.length, 1);
    const j = JSON.parse(lines[0]);
    assert.equal(j.command, 'replay');
    assert.equal(j.sfreqHz, 1200);
    assert.ok(j.final.exact.temporalScore !== undefined);
    // Counts read as words: one recording is "1 MEG recording", not "1 MEG recordings".
    const info = execFileSync(process.execPath, [CLI, 'info', ctfRoot], { encoding: 'utf8' });
    assert.match(info, /^1 MEG recording:$/m);
    const text = spawnSync(process.execPath, [CLI, 'replay', ctfRoot, '--subject', '001', '--all-words', '--features', `synthetic:${SEED}`, '--refit-every', '1000000', '--fold-block', '100'], { encoding: 'utf8' });
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^\d+ words from 1 recording, /m);
    assert.match(text.stderr, /replay: 1 recording of sub-001, /);
    assert.doesNotMatch(text.stderr, /warning/, 'the simulated CTF dataset (304 channels, all in channels.tsv) replays without warnings');
    const bad = spawnSync(process.execPath, [CLI, 'replay', root, '--subject', '999', '--features', 'synthetic'], { encoding: 'utf8' });
    const noFeatures = spawnSync(process.execPath, [CLI, 'replay', root, '--subject', '001'], { encoding: 'utf8' });
    assert.equal(noFeatures.status, 2);
    assert.match(noFeatures.stderr, /--model <folder\|builtin>/);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /no recording of sub-999/);
    assert.match(bad.stderr, /sub-001/);
  });
});
