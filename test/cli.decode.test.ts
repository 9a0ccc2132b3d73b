/**
 * `lockstep decode` and `lockstep backends` as a user runs them: a real process, real .npy files,
 * JSON on stdout; bad input gives exit status 2 and one line naming the file and what to do.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { readNpyFile, writeNpyFile } from '../adapters/npyFile.js';
import { CLI, tempDir } from './helpers/paths.js';
import { smallPlanted, wordsOf, writePlantedNpy } from './helpers/planted.js';

function lockstep(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

describe('lockstep decode (command line)', () => {
  let dir: string;
  let files: { X: string; Y: string };
  const data = smallPlanted();
  before(() => {
    dir = tempDir('cli');
    files = writePlantedNpy(dir, wordsOf(data, 250), data);
  });

  it('prints the specified JSON and recovers the planted latency order', () => {
    const out = path.join(dir, 'scores.npy');
    const res = lockstep(['decode', '--epochs', files.X, '--targets', files.Y, '--times-start', '-0.2', '--sfreq', '30', '--layers-depths', '0.1,0.3,0.5,0.7,0.9', '--json', '--quiet', '--out', out, '--backend', 'reference']);
    assert.equal(res.status, 0, res.stderr);
    const json = JSON.parse(res.stdout);
    for (const key of ['R', 'times', 'tmax', 'temporalScore', 'p', 'alignmentScore', 'alphas', 'backend', 'seconds']) assert.ok(key in json, `missing ${key}`);
    assert.equal(json.R.length, 5);
    assert.equal(json.R[0].length, 24);
    assert.equal(json.times.length, 24);
    assert.ok(Math.abs(json.times[0] + 0.2) < 1e-12);
    assert.ok(json.temporalScore > 0.95, `temporal score ${json.temporalScore}`);
    assert.ok(json.p < 0.05);
    assert.deepEqual(json.alphas.length, 13);
    assert.match(json.backend, /^reference/);
    const R = readNpyFile(out);
    assert.deepEqual(R.shape, [5, 24]);
    assert.ok(Math.abs(R.data[3] - json.R[0][3]) < 1e-15);
    assert.deepEqual(readNpyFile(path.join(dir, 'scores.folds.npy')).shape, [5, 5, 24]);
    assert.deepEqual(readNpyFile(path.join(dir, 'scores.alphas.npy')).shape, [5, 24, 15]);
  });

  it('a single --alphas value means a fixed α; the summary is readable without --json', () => {
    const res = lockstep(['decode', '--epochs', files.X, '--targets', files.Y, '--alphas', '100', '--quiet', '--times-start', '-0.2']);
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, /250 words, 5 layers × 24 times/);
    assert.match(res.stdout, /temporal score r = 0\.9\d\d/);
  });

  it('shows progress on stderr unless --quiet', () => {
    const res = lockstep(['decode', '--epochs', files.X, '--targets', files.Y, '--json', '--times-start', '-0.2']);
    assert.equal(res.status, 0);
    assert.match(res.stderr, /decode: accumulating: 250\/250 words/);
    assert.match(res.stderr, /refitting: 24\/24 time samples/);
  });

  it('rejects bad inputs with exit status 2 and a message naming the file', () => {
    const bigEndian = path.join(dir, 'be.npy');
    const raw = fs.readFileSync(files.X);
    fs.writeFileSync(bigEndian, Buffer.from(raw.toString('latin1').replace("'<f4'", "'>f4'"), 'latin1'));
    let res = lockstep(['decode', '--epochs', bigEndian, '--targets', files.Y, '--json']);
    assert.equal(res.status, 2);
    assert.match(res.stderr, /be\.npy: dtype '>f4' is not supported; save float32 or float64 little-endian/);

    const twoD = path.join(dir, 'twod.npy');
    writeNpyFile(twoD, new Float32Array(12), [3, 4]);
    res = lockstep(['decode', '--epochs', twoD, '--targets', files.Y]);
    assert.equal(res.status, 2);
    assert.match(res.stderr, /twod\.npy: epochs must be 3-D \[words, channels, times\], got shape \(3, 4\)/);

    const fewer = path.join(dir, 'fewer.npy');
    writeNpyFile(fewer, new Float64Array(5 * 10 * 3), [5, 10, 3]);
    res = lockstep(['decode', '--epochs', files.X, '--targets', fewer]);
    assert.equal(res.status, 2);
    assert.match(res.stderr, /X\.npy has 250 words but .*fewer\.npy has 10/);

    res = lockstep(['decode', '--epochs', path.join(dir, 'missing.npy'), '--targets', files.Y]);
    assert.equal(res.status, 2);
    assert.match(res.stderr, /missing\.npy: cannot open the \.npy file \(no such file; check the path\)/);

    res = lockstep(['decode', '--epochs', files.X, '--targets', files.Y, '--backend', 'cuda']);
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, /Allowed choices are auto, reference, ort, blas, tfjs/);
  });

  it('every subcommand has --help', () => {
    const top = lockstep(['--help']);
    assert.equal(top.status, 0);
    const commands = [...top.stdout.matchAll(/^  (\w[\w-]*)/gm)].map((m) => m[1]).filter((c) => c !== 'help');
    assert.ok(commands.includes('decode') && commands.includes('backends'));
    for (const c of commands) {
      const res = lockstep([c, '--help']);
      assert.equal(res.status, 0, c);
      assert.match(res.stdout, new RegExp(`Usage: lockstep ${c}`));
    }
  });

  it('lockstep backends lists what loads here', () => {
    const res = lockstep(['backends', '--json']);
    assert.equal(res.status, 0, res.stderr);
    const { backends: list, devices } = JSON.parse(res.stdout) as { backends: { name: string; available: boolean }[]; devices: { name: string; available: boolean; detail: string }[] };
    assert.deepEqual(list.map((b) => b.name).sort(), ['blas', 'ort', 'reference', 'tfjs']);
    assert.ok(list.find((b) => b.name === 'reference')?.available);
    assert.deepEqual(devices.map((d) => d.name), ['onnxruntime cpu', 'onnxruntime cuda', 'tfjs cuda']);
    assert.ok(devices[0].available, 'the CPU is always there');
  });
});

describe('lockstep demo (command line)', () => {
  it('stops by itself after --minutes, exits 0, and writes one JSON snapshot per line, then the final result', () => {
    const res = spawnSync(process.execPath, [CLI, 'demo', '--minutes', '1', '--json', '--no-dashboard', '--synthetic', '--dims', '5', '--refit-every', '120', '--snapshot-every', '40', '--fold-block', '20'], { encoding: 'utf8' });
    assert.equal(res.status, 0, res.stderr);
    const lines = res.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const result = lines.pop() as { command: string; plantedLatenciesSec: number[]; final: { seq: number; exact: unknown }; wordsDecoded: number };
    const snapshots = lines as unknown as { schema: string; seq: number; nWords: number; exact: unknown }[];
    assert.ok(snapshots.length >= 3, `${snapshots.length} snapshots`);
    assert.ok(snapshots.every((s, i) => s.schema === 'lockstep.snapshot/1' && s.seq === i + 1));
    assert.ok(snapshots.at(-1)!.exact, 'the final snapshot carries the exact K-fold result');
    assert.equal(result.command, 'demo', 'the last line is the result, not a snapshot');
    assert.deepEqual(result.final, snapshots.at(-1), 'with the last snapshot');
    assert.equal(result.wordsDecoded, snapshots.at(-1)!.nWords);
    assert.equal(result.plantedLatenciesSec.length, 9);
    assert.ok(Math.abs(result.plantedLatenciesSec[0] - 0.3) < 1e-9 && Math.abs(result.plantedLatenciesSec[8] - 0.65) < 1e-9, `planted ${result.plantedLatenciesSec.join(' ')}`);
    assert.match(res.stderr, /simulated subject \(seed 1, planted latencies 0\.30 .* 0\.65 s\), features: synthetic activations \(seeded, not a language model\)/);
    assert.match(res.stderr, /final: \d+ words, temporal score r = /);
  });

  it('refuses two controls at once', () => {
    const res = spawnSync(process.execPath, [CLI, 'demo', '--null', '--flat', '--no-dashboard'], { encoding: 'utf8' });
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, /choose one of --null, --shuffle, --flat/);
  });
});
