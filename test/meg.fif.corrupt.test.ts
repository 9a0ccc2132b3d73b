/**
 * Bad FIF input: seeded truncations, byte flips and tag-header damage of copies of the shared
 * FIF files. Every case must end, either in a successful read (the damage hit sample values) or
 * in a RecordingFormatError that names the file, the byte offset (and the tag kind when one is
 * known) and what was expected; never a RangeError, a TypeError or a hang.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { RecordingFormatError } from '../adapters/meg/rawRecording.js';
import { fifStructure, openFif } from '../adapters/meg/fif/fifRaw.js';
import { scanNonFinite } from '../adapters/meg/fif/nonFinite.js';
import { mulberry32 } from '../src/scores/prng.js';
import { REPO_ROOT, fixture, tempDir } from './helpers/paths.js';

const MEG = fixture('meg');
const FILES = ['fif/test_move_anon_erm_raw.fif', 'extra/test_elekta_3ch_raw.fif', 'extra/testdata_ctf_short_discontinuous.ds_raw.fif'];
const dir = tempDir('fif-corrupt');
const HANG_MS = 10000;

type Outcome = { ok: true } | { ok: false; err: RecordingFormatError };

/** Opens and reads everything stored (every data buffer, stim events); resolves with what happened. */
async function readAll(file: string): Promise<Outcome> {
  const work = (async (): Promise<Outcome> => {
    try {
      const rec = await openFif(file);
      try {
        // Reading rows reads every byte of them; converting two channels keeps the 300 cases quick.
        const two = [0, rec.header.channels.length - 1];
        for (const g of rec.segments) if (g.payloadPos >= 0) await rec.readSI(g.start, g.start + g.nSamples, two);
        if (rec.header.nSamples < 5e6) await rec.stimEvents();
      } finally {
        await rec.close();
      }
      return { ok: true };
    } catch (e) {
      if (e instanceof RecordingFormatError) return { ok: false, err: e };
      throw e;
    }
  })();
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`hang: ${file} not read within ${HANG_MS} ms`)), HANG_MS); });
  try {
    return await Promise.race([work, hang]);
  } finally {
    clearTimeout(timer);
  }
}

function assertGoodError(o: Outcome, file: string, label: string): void {
  if (o.ok) return;
  const e = o.err;
  assert.equal(e.file, file, label);
  assert.match(e.where, /^byte \d+(, tag kind -?\d+( FIFF_\w+)?)?$/, `${label}: where = ${e.where}`);
  assert.ok(e.expected.length > 10, label);
  assert.ok(e.message.startsWith(`${file}: byte `), label);
}

after(() => fs.rmSync(dir, { recursive: true, force: true }));

for (const rel of FILES) {
  describe(`damaged copies of ${rel}`, () => {
    const original = fs.readFileSync(path.join(MEG, rel));
    const tmp = path.join(dir, path.basename(rel));
    const counts = { ok: 0, error: 0 };

    it('100 seeded truncations, byte flips and tag-header corruptions end in a read or a RecordingFormatError', async () => {
      const st = await fifStructure(path.join(MEG, rel));
      const entries = st.entries;
      // Bytes that are not sample values: everything but data-buffer payloads.
      const metaRanges = entries.filter((e) => e.kind !== 300).map((e) => [e.pos, e.pos + 16 + e.size] as const);
      const rand = mulberry32(20260 + FILES.indexOf(rel));
      const int = (n: number): number => Math.floor(rand() * n);
      const metaByte = (): number => { const [a, b] = metaRanges[int(metaRanges.length)]; return a + int(b - a); };
      for (let k = 0; k < 100; k++) {
        let buf: Buffer;
        let label: string;
        const what = k % 6;
        if (what === 0) {
          const len = rand() < 0.6 ? int(Math.min(original.length, 70000)) : int(original.length);
          buf = original.subarray(0, len);
          label = `truncated to ${len} bytes`;
        } else if (what <= 3) {
          buf = Buffer.from(original);
          const flips: number[] = [];
          for (let f = 0; f < 1 + int(3); f++) {
            const at = what === 3 ? int(buf.length) : metaByte();
            buf[at] ^= 1 + int(255);
            flips.push(at);
          }
          label = `bytes flipped at ${flips.join(', ')}`;
        } else {
          buf = Buffer.from(original);
          const t = entries[int(entries.length)];
          const field = int(4);
          const earlier = entries[int(Math.max(1, entries.indexOf(t)))].pos;
          const values = [int(2 ** 31) - 2 ** 30, -2, 0x7fffffff, buf.length, t.pos, earlier, -1, 0];
          const v = values[int(values.length)];
          if (field === 1) buf.writeUInt32BE(v >>> 0, t.pos + 4);
          else buf.writeInt32BE(v | 0, t.pos + 4 * field);
          label = `tag kind ${t.kind} at byte ${t.pos}: header field ${['kind', 'type', 'size', 'next'][field]} set to ${v}`;
        }
        fs.writeFileSync(tmp, buf);
        const o = await readAll(tmp);
        assertGoodError(o, tmp, `${rel}, ${label}`);
        counts[o.ok ? 'ok' : 'error']++;
      }
      // Both outcomes must occur, or the cases do not probe what they claim to.
      assert.ok(counts.error >= 30, `errors: ${counts.error}`);
      assert.ok(counts.ok >= 10, `successful reads: ${counts.ok}`);
    });

    it('a next pointer that loops back is reported as a loop, not followed forever', async () => {
      const st = await fifStructure(path.join(MEG, rel), { useDirectory: false });
      const buf = Buffer.from(original);
      const victim = st.entries[Math.floor(st.entries.length / 2)];
      buf.writeInt32BE(st.entries[3].pos, victim.pos + 12);
      buf.writeInt32BE(-1, 36 + 16); // directory pointer (tag 1's payload) = −1: walk the chain
      fs.writeFileSync(tmp, buf);
      const o = await readAll(tmp);
      assert.equal(o.ok, false);
      if (!o.ok) {
        assertGoodError(o, tmp, 'loop');
        assert.match(o.err.expected, /loop/);
        assert.equal(o.err.where, `byte ${victim.pos}, tag kind ${victim.kind}${o.err.where.slice(`byte ${victim.pos}, tag kind ${victim.kind}`.length)}`);
      }
    });

    it('a file cut inside a data buffer names the buffer and says truncated', async () => {
      const st = await fifStructure(path.join(MEG, rel), { useDirectory: false });
      const buffer = st.entries.filter((e) => e.kind === 300).at(-1)!;
      fs.writeFileSync(tmp, original.subarray(0, buffer.pos + 16 + Math.floor(buffer.size / 2)));
      const o = await readAll(tmp);
      assert.equal(o.ok, false);
      if (!o.ok) {
        assertGoodError(o, tmp, 'cut');
        assert.match(o.err.expected, /truncated/);
        // The MNE-C file's chain jumps from byte 76 to its end, so the jump is what leaves the file first.
        if (st.entries.every((e, i) => i === 0 || e.pos > st.entries[i - 1].pos)) assert.equal(o.err.where, `byte ${buffer.pos}, tag kind 300 FIFF_DATA_BUFFER`);
        else assert.equal(o.err.where, 'byte 76, tag kind 104 FIFF_BLOCK_START');
      }
    });
  });
}

describe('a NaN run in float FIF data', () => {
  it('reads successfully and scanNonFinite reports the span (samples, seconds, channel)', async () => {
    const src = path.join(MEG, 'extra/test_elekta_3ch_raw.fif');
    const buf = Buffer.from(fs.readFileSync(src));
    const st = await fifStructure(src);
    const second = st.entries.filter((e) => e.kind === 300)[1];
    // Samples 100…149 of the second buffer (10000 samples × 4 channels, float32), channel 1.
    for (let s = 100; s < 150; s++) buf.writeUInt32BE(0x7fc00000, second.pos + 16 + (s * 4 + 1) * 4);
    const tmp = path.join(dir, 'nan_raw.fif');
    fs.writeFileSync(tmp, buf);
    const rec = await openFif(tmp);
    const spans = await scanNonFinite(rec);
    assert.deepEqual(spans, [{ startSample: 10100, stopSample: 10150, startSec: 10.1, stopSec: 10.15, channels: ['MEG2643'] }]);
    await rec.close();
  });
});
