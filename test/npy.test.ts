/**
 * src/npy.ts and adapters/npyFile.ts: round trips in memory, hand-made malformed files, and real
 * NumPy on both sides (Debian's /usr/bin/python3 writes files we read, and reads files we write).
 * The NumPy tests are skipped, saying why, where /usr/bin/python3 with numpy is missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeNpyData, npyHeaderBytes, parseNpy, parseNpyHeader, serializeNpy } from '../src/npy.js';
import { readNpyFile, writeNpyFile } from '../adapters/npyFile.js';

const PYTHON = '/usr/bin/python3';
const numpyMissing: string | false = (() => {
  const r = spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' });
  return r.status === 0 ? false : `${PYTHON} with numpy is not available (${r.error?.message ?? r.stderr.trim()})`;
})();

function python(script: string, ...args: string[]): string {
  return execFileSync(PYTHON, ['-c', script, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lockstep-npy-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** The same values the Python scripts make: arange(n) * 0.37 - 5 in float64, then cast. */
function ramp(shape: readonly number[], dtype: 'float32' | 'float64'): Float32Array | Float64Array {
  const n = size(shape);
  const a = dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = i * 0.37 - 5;
  return a;
}

function assertSameValues(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    if (!Object.is(actual[i], expected[i])) assert.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]}`);
  }
}

/** A hand-made .npy: preamble for `major`, the header text padded to 64 bytes, then `data`. */
function handMade(headerDict: string, data: Uint8Array = new Uint8Array(0), major = 1): Uint8Array {
  const prefix = major === 1 ? 10 : 12;
  const enc = major === 3 ? new TextEncoder().encode(headerDict) : Uint8Array.from(headerDict, (c) => c.charCodeAt(0));
  const pad = 64 - ((prefix + enc.length + 1) % 64);
  const hlen = enc.length + pad + 1;
  const out = new Uint8Array(prefix + hlen + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, hlen, true);
  else view.setUint32(8, hlen, true);
  out.set(enc, prefix);
  out.fill(0x20, prefix + enc.length, prefix + hlen - 1);
  out[prefix + hlen - 1] = 0x0a;
  out.set(data, prefix + hlen);
  return out;
}

const bytesOf = (a: Float32Array | Float64Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

// ---- In memory --------------------------------------------------------------------------------------

test('serializeNpy → parseNpy round trips float32/float64 of every rank, bit for bit', () => {
  const shapes = [[], [1], [7], [2, 3, 4], [0, 3], [3, 0, 2], [2, 1, 3, 2]];
  for (const dtype of ['float32', 'float64'] as const) {
    for (const shape of shapes) {
      const data = ramp(shape, dtype);
      const back = parseNpy(serializeNpy(data, shape), 'mem.npy');
      assert.equal(back.dtype, dtype);
      assert.deepEqual(back.shape, shape);
      assert.equal(back.data instanceof (dtype === 'float32' ? Float32Array : Float64Array), true);
      assertSameValues(back.data, data, `${dtype} [${shape}]`);
    }
  }
  const special = new Float64Array([NaN, Infinity, -Infinity, -0, 5e-324, Number.MAX_VALUE]);
  assertSameValues(parseNpy(serializeNpy(special, [6]), 'mem.npy').data, special, 'float64 specials');
  const special32 = new Float32Array([NaN, Infinity, -Infinity, -0, 1e-40, 3.4028234663852886e38]);
  assertSameValues(parseNpy(serializeNpy(special32, [2, 3]), 'mem.npy').data, special32, 'float32 specials');
});

test('serializeNpy writes a 1.0 header like numpy: 64-byte aligned, space padded, newline ended', () => {
  const bytes = serializeNpy(new Float32Array(6), [2, 3]);
  const header = parseNpyHeader(bytes, 'mem.npy');
  assert.deepEqual(header.version, [1, 0]);
  assert.equal(header.dataOffset % 64, 0);
  assert.equal(bytes[header.dataOffset - 1], 0x0a);
  const text = Buffer.from(bytes.subarray(10, header.dataOffset)).toString('latin1');
  assert.match(text, /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(2, 3\), \} +\n$/);
  const text1 = Buffer.from(npyHeaderBytes('float64', [5])).toString('latin1');
  assert.ok(text1.includes("'shape': (5,), }"), text1);
  const text0 = Buffer.from(npyHeaderBytes('float64', [])).toString('latin1');
  assert.ok(text0.includes("'shape': (), }"), text0);
});

test('serializeNpy switches to format 2.0 when the header exceeds 65535 bytes', () => {
  const shape = new Array<number>(25000).fill(1);
  const bytes = serializeNpy(new Float64Array([2.5]), shape);
  assert.equal(bytes[6], 2);
  const back = parseNpy(bytes, 'long.npy');
  assert.equal(back.shape.length, 25000);
  assert.equal(back.data[0], 2.5);
  assert.equal(parseNpyHeader(bytes, 'long.npy').dataOffset % 64, 0);
});

test('parseNpy views aligned data without copying and copies unaligned data into an aligned array', () => {
  const data = ramp([3, 5], 'float64');
  const file = serializeNpy(data, [3, 5]);
  const aligned = parseNpy(file, 'a.npy');
  assert.equal(aligned.data.buffer, file.buffer, 'aligned input is viewed');
  const copied = parseNpy(file, 'a.npy', { copy: true });
  assert.notEqual(copied.data.buffer, file.buffer);
  for (const shift of [1, 2, 3, 4, 5]) {
    const big = new Uint8Array(file.length + shift);
    big.set(file, shift);
    const back = parseNpy(big.subarray(shift), 'shifted.npy');
    assert.equal(back.data.byteOffset % 8, 0);
    assertSameValues(back.data, data, `shift ${shift}`);
  }
});

test('parseNpy reads format 2.0 and 3.0 headers, old 16-byte alignment, and Python 2 long ints', () => {
  const data = ramp([2, 2], 'float32');
  for (const major of [2, 3]) {
    const back = parseNpy(handMade("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", bytesOf(data), major), 'v.npy');
    assert.deepEqual(back.shape, [2, 2]);
    assertSameValues(back.data, data, `version ${major}.0`);
  }
  // numpy < 1.9 aligned to 16 bytes: data at byte 80 here, key order and quoting may differ too.
  const dict = '{"shape": (2L, 2L), "fortran_order": False, "descr": "<f4"}';
  const hlen = 80 - 10;
  const old = new Uint8Array(80 + 16);
  old.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, hlen, 0]);
  old.set(Uint8Array.from(dict.padEnd(hlen - 1, ' ') + '\n', (c) => c.charCodeAt(0)), 10);
  old.set(bytesOf(data), 80);
  assertSameValues(parseNpy(old, 'old.npy').data, data, 'python 2 header');
});

test('parseNpy accepts fortran_order True when the layout equals C order (at most one axis > 1)', () => {
  const data = ramp([1, 4, 1], 'float64');
  const back = parseNpy(handMade("{'descr': '<f8', 'fortran_order': True, 'shape': (1, 4, 1), }", bytesOf(data)), 'julia.npy');
  assertSameValues(back.data, data, 'column-major vector');
});

test('parseNpy rejects malformed and unsupported files with messages naming the file and the fix', () => {
  const f8 = bytesOf(new Float64Array(6));
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['empty', new Uint8Array(0), /^X\.npy: not a NumPy \.npy file .*the file is empty.*np\.save/],
    ['text', new TextEncoder().encode('1,2,3\n4,5,6\n'), /^X\.npy: not a NumPy \.npy file .*31 2c 32 2c.*np\.save/],
    ['npz', Uint8Array.from([0x50, 0x4b, 3, 4, 0, 0, 0, 0]), /^X\.npy: this is a ZIP archive \(an \.npz file\?\).*np\.load\(path\)\['arr_0'\]/],
    ['version 4', (() => { const b = serializeNpy(new Float64Array(1), [1]); b[6] = 4; return b; })(), /^X\.npy: \.npy format version 4\.0 is not supported \(supported: 1\.0, 2\.0, 3\.0\)/],
    ['cut preamble', serializeNpy(new Float64Array(1), [1]).subarray(0, 9), /^X\.npy: truncated \.npy file/],
    ['cut header', serializeNpy(new Float64Array(1), [1]).subarray(0, 40), /^X\.npy: truncated \.npy file: the header claims 118 bytes \(data from byte 128\) but the file has only 40 bytes/],
    ['big endian', handMade("{'descr': '>f8', 'fortran_order': False, 'shape': (2, 3), }", f8), /^X\.npy: dtype '>f8' is not supported; save float32 or float64 little-endian, e\.g\. np\.save\(path, x\.astype\('<f4'\)\)$/],
    ['int', handMade("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", f8), /^X\.npy: dtype '<i4' is not supported; save float32/],
    ['structured', handMade("{'descr': [('a', '<f4'), ('b', '<f4')], 'fortran_order': False, 'shape': (6,), }", f8), /^X\.npy: dtype \[\('a', '<f4'\), \('b', '<f4'\)\] \(a structured dtype\) is not supported/],
    ['fortran', handMade("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }", f8), /^X\.npy: array of shape \(2, 3\) is stored in Fortran \(column-major\) order; save it in C order, e\.g\. np\.save\(path, np\.ascontiguousarray\(x\)\)$/],
    ['short data', handMade("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 4), }", f8), /^X\.npy: data length mismatch \(truncated\): shape \(2, 4\) of '<f8' needs 64 data bytes after the 128-byte header, but 48 follow it/],
    ['long data', handMade("{'descr': '<f8', 'fortran_order': False, 'shape': (5,), }", f8), /^X\.npy: data length mismatch \(has trailing bytes\): shape \(5,\) of '<f8' needs 40 data bytes .* but 48 follow it/],
    ['missing key', handMade("{'descr': '<f8', 'shape': (6,), }", f8), /^X\.npy: malformed \.npy header .*keys are \[descr, shape\], expected descr, fortran_order, shape/],
    ['bad shape', handMade("{'descr': '<f8', 'fortran_order': False, 'shape': (2, -3), }", f8), /^X\.npy: malformed \.npy header .*shape \(2, -3\) is not a tuple of non-negative integers/],
    ['not a dict', handMade('[1, 2]', f8), /^X\.npy: malformed \.npy header .*\(not a dict\)/],
    ['syntax', handMade("{'descr': '<f8', 'fortran_order': False, 'shape': (6,) ", f8), /^X\.npy: malformed \.npy header .*expected ',' or '}'/],
    ['huge', handMade("{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000, 100000000000), }", f8), /^X\.npy: shape \(100000000000, 100000000000\) is too large/],
  ];
  for (const [label, bytes, message] of cases) {
    // (assert.throws with a RegExp matches String(error), "Error: …"; match the message itself.)
    assert.throws(() => parseNpy(bytes, 'X.npy'), (e: Error) => message.test(e.message), `${label}: ${(() => { try { parseNpy(bytes, 'X.npy'); return 'no error'; } catch (e) { return (e as Error).message; } })()}`);
  }
});

test('serializeNpy rejects a shape that does not match the data', () => {
  assert.throws(() => serializeNpy(new Float32Array(6), [2, 2]), /npy shape \[2, 2\] holds 4 values but the data have 6/);
  assert.throws(() => serializeNpy(new Float32Array(2), [2, -1]), /non-negative integers/);
  assert.throws(() => serializeNpy(new Float64Array(2), []), /npy shape \[\] holds 1 values but the data have 2/);
});

// ---- Files --------------------------------------------------------------------------------------------

test('writeNpyFile → readNpyFile round trip, and fs errors name the path', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'r.npy');
  const data = ramp([4, 3, 5], 'float32');
  writeNpyFile(file, data, [4, 3, 5]);
  const back = readNpyFile(file);
  assert.equal(back.dtype, 'float32');
  assert.deepEqual(back.shape, [4, 3, 5]);
  assertSameValues(back.data, data, 'file round trip');
  assert.deepEqual(fs.readdirSync(dir), ['r.npy'], 'no temporary file left behind');

  const missing = path.join(dir, 'nope.npy');
  assert.throws(() => readNpyFile(missing), (e: Error) => e.message.startsWith(`${missing}: cannot open the .npy file (no such file; check the path)`));
  assert.throws(() => readNpyFile(dir), (e: Error) => e.message.startsWith(`${dir}: cannot read the .npy file (it is a directory`));
  assert.throws(() => writeNpyFile(path.join(dir, 'no', 'such', 'dir.npy'), data, [60]), /dir\.npy: cannot write the \.npy file \(no such file/);

  const cut = path.join(dir, 'cut.npy');
  fs.writeFileSync(cut, serializeNpy(ramp([10], 'float64'), [10]).subarray(0, 128 + 30));
  assert.throws(() => readNpyFile(cut), (e: Error) => e.message.startsWith(`${cut}: data length mismatch (truncated): shape (10,) of '<f8' needs 80 data bytes after the 128-byte header, but 30 follow it`));
  const tiny = path.join(dir, 'tiny.npy');
  fs.writeFileSync(tiny, Uint8Array.from([0x93, 0x4e, 0x55]));
  assert.throws(() => readNpyFile(tiny), (e: Error) => e.message.startsWith(`${tiny}: not a NumPy .npy file`));
});

// ---- Real NumPy --------------------------------------------------------------------------------------

const WRITE_WITH_NUMPY = String.raw`
import sys, os, warnings
import numpy as np
d = sys.argv[1]
def ramp(shape, dt):
    n = int(np.prod(shape))
    return (np.arange(n, dtype=np.float64) * 0.37 - 5.0).reshape(shape).astype(dt)
for name, shape, dt in [('f4_3d', (2, 3, 4), '<f4'), ('f8_3d', (2, 3, 4), '<f8'), ('f4_0d', (), '<f4'),
                        ('f8_0d', (), '<f8'), ('f4_1d', (7,), '<f4'), ('f8_1d', (7,), '<f8'),
                        ('f8_empty', (0, 3), '<f8'), ('f4_4d', (2, 1, 3, 2), '<f4'),
                        ('f4_big', (40, 17, 33), '<f4')]:
    np.save(os.path.join(d, name + '.npy'), ramp(shape, dt))
np.save(os.path.join(d, 'special_f8.npy'),
        np.array([np.nan, np.inf, -np.inf, -0.0, 5e-324, 1.7976931348623157e308], dtype='<f8'))
np.save(os.path.join(d, 'special_f4.npy'),
        np.array([np.nan, np.inf, -np.inf, -0.0, 1e-40, 3.4028234663852886e38], dtype='<f4'))
np.save(os.path.join(d, 'sliced.npy'), ramp((4, 6), '<f8')[:, ::2])
with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    with open(os.path.join(d, 'v2.npy'), 'wb') as f:
        np.lib.format.write_array(f, ramp((3, 5), '<f8'), version=(2, 0))
    with open(os.path.join(d, 'v3.npy'), 'wb') as f:
        np.lib.format.write_array(f, ramp((5, 3), '<f4'), version=(3, 0))
np.save(os.path.join(d, 'be.npy'), ramp((2, 3), '>f8'))
np.save(os.path.join(d, 'fortran.npy'), np.asfortranarray(ramp((3, 4), '<f8')))
np.save(os.path.join(d, 'int.npy'), np.arange(6, dtype='<i8').reshape(2, 3))
np.save(os.path.join(d, 'half.npy'), ramp((3,), '<f2'))
np.save(os.path.join(d, 'struct.npy'), np.zeros(3, dtype=[('a', '<f4'), ('b', '<f8')]))
np.savez(os.path.join(d, 'arch.npz'), x=ramp((3,), '<f4'))
print('ok')
`;

test('readNpyFile reads what numpy writes (f4/f8, 0-d to 4-d, empty, specials, format 2.0 and 3.0)', { skip: numpyMissing }, (t) => {
  const dir = tempDir(t);
  assert.equal(python(WRITE_WITH_NUMPY, dir).trim(), 'ok');
  const read = (name: string) => readNpyFile(path.join(dir, name));
  const cases: Array<[string, number[], 'float32' | 'float64']> = [
    ['f4_3d', [2, 3, 4], 'float32'], ['f8_3d', [2, 3, 4], 'float64'], ['f4_0d', [], 'float32'], ['f8_0d', [], 'float64'],
    ['f4_1d', [7], 'float32'], ['f8_1d', [7], 'float64'], ['f8_empty', [0, 3], 'float64'], ['f4_4d', [2, 1, 3, 2], 'float32'],
    ['f4_big', [40, 17, 33], 'float32'], ['v2', [3, 5], 'float64'], ['v3', [5, 3], 'float32'],
  ];
  for (const [name, shape, dtype] of cases) {
    const a = read(`${name}.npy`);
    assert.equal(a.dtype, dtype, name);
    assert.deepEqual(a.shape, shape, name);
    assertSameValues(a.data, ramp(shape, dtype), name);
  }
  assert.equal(fs.readFileSync(path.join(dir, 'v2.npy'))[6], 2);
  assert.equal(fs.readFileSync(path.join(dir, 'v3.npy'))[6], 3);
  assertSameValues(read('special_f8.npy').data, [NaN, Infinity, -Infinity, -0, 5e-324, Number.MAX_VALUE], 'special f8');
  assertSameValues(read('special_f4.npy').data, new Float32Array([NaN, Infinity, -Infinity, -0, 1e-40, 3.4028234663852886e38]), 'special f4');
  const sliced = read('sliced.npy');
  assert.deepEqual(sliced.shape, [4, 3]);
  assertSameValues(sliced.data, Array.from({ length: 12 }, (_, k) => (Math.floor(k / 3) * 6 + (k % 3) * 2) * 0.37 - 5), 'sliced');
});

test('readNpyFile rejects numpy files it cannot use, naming the file, what was found and the fix', { skip: numpyMissing }, (t) => {
  const dir = tempDir(t);
  python(WRITE_WITH_NUMPY, dir);
  const expectError = (name: string, message: string | RegExp) => {
    const p = path.join(dir, name);
    assert.throws(() => readNpyFile(p), (e: Error) => {
      assert.ok(e.message.startsWith(`${p}: `), e.message);
      if (typeof message === 'string') assert.equal(e.message, `${p}: ${message}`);
      else assert.match(e.message, message);
      return true;
    }, name);
  };
  expectError('be.npy', "dtype '>f8' is not supported; save float32 or float64 little-endian, e.g. np.save(path, x.astype('<f4'))");
  expectError('int.npy', "dtype '<i8' is not supported; save float32 or float64 little-endian, e.g. np.save(path, x.astype('<f4'))");
  expectError('half.npy', /dtype '<f2' is not supported/);
  expectError('struct.npy', /dtype \[\('a', '<f4'\), \('b', '<f8'\)\] \(a structured dtype\) is not supported/);
  expectError('fortran.npy', 'array of shape (3, 4) is stored in Fortran (column-major) order; save it in C order, e.g. np.save(path, np.ascontiguousarray(x))');
  expectError('arch.npz', /this is a ZIP archive \(an \.npz file\?\)/);
});

const READ_WITH_NUMPY = String.raw`
import sys, os, io, json, hashlib
import numpy as np
d = sys.argv[1]
out = {}
for name in sorted(os.listdir(d)):
    p = os.path.join(d, name)
    with open(p, 'rb') as f:
        version = np.lib.format.read_magic(f)
    a = np.load(p)
    m = np.load(p, mmap_mode='r')
    buf = io.BytesIO()
    np.save(buf, a)
    with open(p, 'rb') as f:
        raw = f.read()
    out[name] = {'descr': a.dtype.str, 'shape': list(a.shape), 'c': bool(a.flags.c_contiguous),
                 'version': list(version), 'sha256': hashlib.sha256(a.tobytes()).hexdigest(), 'mmapEqual': bool(np.array_equal(a, m, equal_nan=True)),
                 'sameAsNpSave': raw == buf.getvalue()}
print(json.dumps(out))
`;

test('numpy reads what writeNpyFile writes, with identical values and np.save-identical bytes', { skip: numpyMissing }, (t) => {
  const dir = tempDir(t);
  const arrays: Array<[string, Float32Array | Float64Array, number[]]> = [
    ['f4_3d', ramp([2, 3, 4], 'float32'), [2, 3, 4]],
    ['f8_3d', ramp([2, 3, 4], 'float64'), [2, 3, 4]],
    ['f4_0d', new Float32Array([1.5]), []],
    ['f8_0d', new Float64Array([-2.25]), []],
    ['f8_1d', ramp([9], 'float64'), [9]],
    ['f4_empty', new Float32Array(0), [3, 0]],
    ['f8_special', new Float64Array([NaN, Infinity, -Infinity, -0, 5e-324, Number.MAX_VALUE]), [2, 3]],
    ['f4_wide', ramp([1234567, 1], 'float32'), [1234567, 1]],
  ];
  for (const [name, data, shape] of arrays) writeNpyFile(path.join(dir, `${name}.npy`), data, shape);
  const seen = JSON.parse(python(READ_WITH_NUMPY, dir)) as Record<string, { descr: string; shape: number[]; c: boolean; version: number[]; sha256: string; mmapEqual: boolean; sameAsNpSave: boolean }>;
  const numpyHasGrowthPadding = python('import numpy.lib.format as f; print(hasattr(f, "GROWTH_AXIS_MAX_DIGITS"))').trim() === 'True';
  for (const [name, data, shape] of arrays) {
    const r = seen[`${name}.npy`];
    assert.ok(r, name);
    assert.equal(r.descr, data instanceof Float32Array ? '<f4' : '<f8', name);
    assert.deepEqual(r.shape, shape, name);
    assert.equal(r.c, true, name);
    assert.deepEqual(r.version, [1, 0], name);
    assert.equal(r.sha256, createHash('sha256').update(encodeNpyData(data)).digest('hex'), `${name}: values`);
    assert.equal(r.mmapEqual, true, `${name}: mmap`);
    if (numpyHasGrowthPadding) assert.equal(r.sameAsNpSave, true, `${name}: bytes differ from np.save`);
  }
});
