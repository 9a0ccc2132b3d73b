/**
 * Passage banks end to end with the real tools: `lockstep bank build` on a text (Debian's espeak-ng
 * speaking word by word, the built-in model annotating), every word's onset checked against its
 * own synthesised audio sample by sample; a bank rebuilt from those files as "your own recordings"
 * keeps them as they are; a bank drives a short simulated session over LSL; and damaged banks (a missing WAV, a words TSV that does not match its
 * text) or an unknown policy are refused before any session starts, naming the file and the line.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { openPassageBank, type BankManifest } from '../adapters/bank/passageBank.js';
import { EspeakSynthesizer } from '../adapters/speech/espeak.js';
import { builtinText, splitWords } from '../adapters/text/builtinText.js';
import { readNpyFile } from '../adapters/npyFile.js';
import { readWavPcm16 } from '../src/audio/wav.js';
import { checkLoop, checkReplay, loop } from './helpers/closedLoopRuns.js';
import { CLI, tempDir } from './helpers/paths.js';

const run = promisify(execFile);
const env = { ...process.env, LOCKSTEP_LSL_LOOPBACK_ONLY: '1' };

/** Runs the CLI; resolves with its exit status, stdout and stderr. */
async function cli(args: string[], timeoutMs = 240_000): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { env, timeout: timeoutMs, maxBuffer: 64 << 20 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

describe('passage bank', () => {
  const root = tempDir('bank');
  const textFile = path.join(root, 'story.txt');
  const bankDir = path.join(root, 'bank');
  after(() => fs.rmSync(root, { recursive: true, force: true }));
  before(async () => {
    // The first two paragraphs of Moby Dick (~210 words).
    fs.writeFileSync(textFile, builtinText().slice(0, 1240));
    const r = await cli(['bank', 'build', '--text', textFile, '--out', bankDir, '--model', 'builtin', '--context-mode', 'chunked', '--passage-words', '30', '--cache', path.join(root, 'cache'), '--json', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
  });

  it('cuts the text into passages and writes text, audio, words and a manifest for each', () => {
    const m = JSON.parse(fs.readFileSync(path.join(bankDir, 'manifest.json'), 'utf8')) as BankManifest;
    assert.equal(m.schema, 'lockstep.bank/1');
    assert.ok(m.passages.length >= 5, `${m.passages.length} passages`);
    const all = splitWords(fs.readFileSync(textFile, 'utf8')).map((w) => w.word);
    const bank = openPassageBank(bankDir);
    assert.deepEqual(bank.summary.words.map((w) => w.word), all, 'every word of the text, once, in order');
    assert.deepEqual(bank.summary.words.map((w) => w.index), all.map((_, i) => i));
    assert.deepEqual(readNpyFile(path.join(bankDir, 'activations.npy')).shape, [all.length, 9, 50]);
    assert.match(m.audio.detail, /eSpeak NG/);
    for (const p of bank.summary.passages) {
      const words = bank.summary.words.slice(p.firstWord, p.firstWord + p.nWords);
      assert.deepEqual(p.quartileCounts, [1, 2, 3, 4].map((q) => words.filter((w) => w.isContent !== false && w.quartile === q).length));
      assert.ok(p.meanSurprisalNats !== null && p.meanSurprisalNats > 0);
    }
    const counts = bank.summary.passages.reduce((c, p) => c.map((n, q) => n + p.quartileCounts[q]), [0, 0, 0, 0]);
    const content = bank.summary.words.filter((w) => w.isContent !== false && w.quartile !== null).length;
    assert.equal(counts.reduce((s, v) => s + v, 0), content);
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 3, `quartiles split the content words evenly: ${counts}`);
  });

  it('places every word\'s speech at its onset, exactly: its own synthesised samples start there, silence before', async () => {
    const bank = openPassageBank(bankDir);
    const tts = new EspeakSynthesizer({ wordsPerMinute: 190 });
    for (const p of bank.summary.passages.slice(0, 2)) {
      const { info, samples } = readWavPcm16(new Uint8Array(fs.readFileSync(bank.audioPath(p.ordinal)!)), 'wav');
      const rate = info.sampleRateHz;
      let prevEnd = 0;
      for (const w of bank.summary.words.slice(p.firstWord, p.firstWord + p.nWords)) {
        const a = Math.round(w.onsetSec * rate);
        const b = Math.round(w.offsetSec * rate);
        const own = (await tts.word(w.word)).samples;
        assert.equal(b - a, own.length, `${w.word}: offset − onset is its audio's length`);
        assert.deepEqual(samples.subarray(a, b), own, `${w.word}: its audio starts at its onset (${w.onsetSec} s)`);
        assert.ok(samples.subarray(prevEnd, a).every((v) => v === 0), `silence before ${w.word}`);
        prevEnd = b;
      }
    }
  });

  it('takes your own recordings and their alignment as they are', async () => {
    const rec = path.join(root, 'recordings');
    fs.mkdirSync(rec);
    const bank = openPassageBank(bankDir);
    for (const p of bank.summary.passages.slice(0, 3)) {
      fs.copyFileSync(bank.audioPath(p.ordinal)!, path.join(rec, `${p.id}.wav`));
      fs.copyFileSync(path.join(bankDir, 'passages', `${p.id}.txt`), path.join(rec, `${p.id}.txt`));
      const words = bank.summary.words.slice(p.firstWord, p.firstWord + p.nWords);
      fs.writeFileSync(path.join(rec, `${p.id}.tsv`), `word\tonset\toffset\n${words.map((w) => `${w.word}\t${w.onsetSec}\t${w.offsetSec}`).join('\n')}\n`);
    }
    const out = path.join(root, 'from-recordings');
    const r = await cli(['bank', 'build', '--recordings', rec, '--out', out, '--model', 'builtin', '--context-mode', 'chunked', '--cache', path.join(root, 'cache'), '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    const again = openPassageBank(out);
    assert.equal(again.summary.passages.length, 3);
    for (const p of again.summary.passages) assert.deepEqual(fs.readFileSync(again.audioPath(p.ordinal)!), fs.readFileSync(path.join(rec, `${p.id}.wav`)), 'WAV copied byte for byte');
    assert.deepEqual(again.summary.words.map((w) => [w.word, w.onsetSec]), bank.summary.words.slice(0, again.summary.words.length).map((w) => [w.word, Number(w.onsetSec.toFixed(6))]));
  });

  it('drives a simulated session: balance-surprisal keeps the quartiles balanced and reports a score per quartile', async () => {
    const bank = openPassageBank(bankDir);
    const out = path.join(root, 'balance.json');
    const r = await loop(['--bank', bankDir, '--policy', 'balance-surprisal', '--max-minutes', '1.5', '--seed', '5', '--all-words', '--dims', '5', '--condition-fold-block', '3', '--condition-refit-every', '20'], out);
    assert.deepEqual(Object.keys(r.conditions), ['q1', 'q2', 'q3', 'q4']);
    const decoded = Object.values(r.conditions).map((c) => c.words);
    assert.ok(decoded.every((n) => n > 0), `words per quartile ${decoded}`);
    const plays = r.decisions.filter((d) => d.action === 'play');
    assert.equal(new Set(plays.map((d) => d.passage)).size, plays.length, 'no passage twice');
    assert.equal(r.bank.manifestSha256, bank.manifestSha256);
    checkLoop(r, bank);
    checkReplay(r.sidecar, bank);
  });

  describe('refused before the session starts, with the file and the line', () => {
    const damaged = (name: string) => {
      const dir = path.join(root, name);
      fs.cpSync(bankDir, dir, { recursive: true });
      return dir;
    };

    it('a bank with a missing WAV', async () => {
      const dir = damaged('no-wav');
      fs.rmSync(path.join(dir, 'passages', 'p0003.wav'));
      const manifest = fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8');
      const line = manifest.split('\n').findIndex((l) => l.includes('"passages/p0003.wav"')) + 1;
      const t0 = performance.now();
      const r = await cli(['closed-loop', '--simulate', '--bank', dir, '--policy', 'balance-surprisal', '--json']);
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.ok(r.stderr.includes(`manifest.json:${line}: passage p0003's audio ${path.join(dir, 'passages', 'p0003.wav')} is missing`), r.stderr);
      assert.ok(performance.now() - t0 < 30_000, 'refused at once');
    });

    it('a words TSV that does not match its text', async () => {
      const dir = damaged('bad-tsv');
      const tsv = path.join(dir, 'passages', 'p0002.tsv');
      const lines = fs.readFileSync(tsv, 'utf8').split('\n');
      const f = lines[4].split('\t');
      const expected = f[1];
      f[1] = 'whale';
      lines[4] = f.join('\t');
      fs.writeFileSync(tsv, lines.join('\n'));
      const r = await cli(['present', '--bank', dir, '--no-audio']);
      assert.equal(r.code, 2);
      assert.ok(r.stderr.includes(`${tsv}:5: word "whale" is not the text's word 4 "${expected}"`), r.stderr);
      assert.throws(() => openPassageBank(dir), /p0002\.tsv:5: word "whale"/);
    });

    it('an unknown policy, or a parameter the policy does not have', async () => {
      const r = await cli(['closed-loop', '--simulate', '--bank', bankDir, '--policy', 'greedy']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^lockstep closed-loop: unknown policy "greedy": use stop-when-tight, balance-surprisal, context/);
      const r2 = await cli(['closed-loop', '--simulate', '--bank', bankDir, '--policy', 'balance-surprisal', '--ci-width', '0.1']);
      assert.equal(r2.code, 2);
      assert.match(r2.stderr, /policy balance-surprisal has no parameter "ciWidth"/);
    });
  });
});
