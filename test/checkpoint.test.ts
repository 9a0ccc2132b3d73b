/**
 * Checkpoints: stopping mid-stream, saving, loading and continuing gives bit-identical statistics,
 * prequential sums and scores to an uninterrupted run; damaged files are refused with the byte
 * offset and what to do.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CheckpointError, readCheckpoint, writeCheckpoint } from '../adapters/checkpointStore.js';
import { Decoder } from '../src/decoder.js';
import { decoderArrays } from '../src/decoderState.js';
import { ReferenceBackend } from '../src/linalg/reference.js';
import { tempDir } from './helpers/paths.js';
import { smallPlanted, wordsOf } from './helpers/planted.js';

const data = smallPlanted({ nChannels: 8, nTimes: 10, nLayers: 4, nDims: 2 });
const words = wordsOf(data, 230);
const backend = new ReferenceBackend();
const REFIT_EVERY = 60;

function makeDecoder(): Decoder {
  return new Decoder({ dims: data.o, foldPlan: { kind: 'blocks', folds: 5, blockWords: 10 }, batchWords: 16, halfLifeWords: 50 });
}

async function run(d: Decoder, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) {
    await d.add(words[i], backend);
    if ((i + 1) % REFIT_EVERY === 0) await d.refit(backend);
  }
}

function assertSameState(a: Decoder, b: Decoder): void {
  const xa = decoderArrays(a);
  const xb = decoderArrays(b);
  assert.deepEqual(xa.map((x) => x.name), xb.map((x) => x.name));
  xa.forEach(({ name, array }, i) => assert.ok(Buffer.from(array.buffer, array.byteOffset, array.byteLength).equals(Buffer.from(xb[i].array.buffer, xb[i].array.byteOffset, xb[i].array.byteLength)), `${name} differs`));
  assert.equal(a.accepted, b.accepted);
  assert.deepEqual(a.skipped, b.skipped);
}

describe('checkpoint', () => {
  it('resuming from a mid-stream checkpoint is bit-identical to an uninterrupted run', async () => {
    const dir = tempDir('ckpt');
    const straight = makeDecoder();
    await run(straight, 0, words.length);
    const finalStraight = await straight.refit(backend);

    const first = makeDecoder();
    // Stop at a word that is neither a batch nor a refit boundary, so pending words are saved raw.
    await run(first, 0, 137);
    const file = path.join(dir, 'state.ckpt');
    writeCheckpoint(file, first);
    const resumed = readCheckpoint(file);
    assertSameState(resumed, first);
    await run(resumed, 137, words.length);
    const finalResumed = await resumed.refit(backend);
    assertSameState(resumed, straight);
    assert.ok(finalStraight && finalResumed);
    assert.deepEqual(Array.from(finalResumed.R), Array.from(finalStraight.R));
    assert.deepEqual(Array.from(resumed.prequential.curves()), Array.from(straight.prequential.curves()));
  });

  it('refuses truncated, corrupted and foreign files with the byte offset and what to do', async () => {
    const dir = tempDir('ckpt-bad');
    const d = makeDecoder();
    await run(d, 0, 70);
    const file = path.join(dir, 'good.ckpt');
    const size = writeCheckpoint(file, d);
    const bytes = fs.readFileSync(file);
    assert.equal(bytes.length, size);
    assert.ok(!fs.existsSync(`${file}.tmp`), 'temporary file renamed away');

    const truncated = path.join(dir, 'truncated.ckpt');
    fs.writeFileSync(truncated, bytes.subarray(0, Math.floor(size / 2)));
    assert.throws(() => readCheckpoint(truncated), (e: unknown) => e instanceof CheckpointError && /truncated\.ckpt \(byte \d+\): .*truncated|checksum/.test((e as Error).message));

    const flipped = path.join(dir, 'flipped.ckpt');
    const copy = Buffer.from(bytes);
    copy[size - 100] ^= 0x40;
    fs.writeFileSync(flipped, copy);
    assert.throws(() => readCheckpoint(flipped), /flipped\.ckpt \(byte \d+\): SHA-256 checksum mismatch.*use an older checkpoint/);

    const foreign = path.join(dir, 'foreign.ckpt');
    fs.writeFileSync(foreign, Buffer.alloc(200, 7));
    assert.throws(() => readCheckpoint(foreign), /foreign\.ckpt \(byte 0\): not a lockstep checkpoint/);

    const versioned = path.join(dir, 'future.ckpt');
    const v = Buffer.from(bytes);
    v.writeUInt32LE(99, 16);
    fs.writeFileSync(versioned, v);
    assert.throws(() => readCheckpoint(versioned), /version 99; this lockstep reads version 1/);

    assert.throws(() => readCheckpoint(path.join(dir, 'missing.ckpt')), /missing\.ckpt: cannot open checkpoint/);
  });
});
