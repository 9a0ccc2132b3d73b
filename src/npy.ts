/**
 * NumPy `.npy` files, in memory: parse (format versions 1.0, 2.0, 3.0) and serialize (1.0, or 2.0
 * when the header does not fit 1.0's 16-bit length), for float32 and float64 little-endian C-order
 * arrays only. Pure: no fs; the file adapter is `adapters/npyFile.ts`.
 *
 * Format (numpy/lib/format.py, NEP 1):
 *   bytes 0–5  magic "\x93NUMPY"; byte 6 major version; byte 7 minor version;
 *   1.0: uint16 LE header length at 8–9, header from byte 10;
 *   2.0, 3.0: uint32 LE header length at 8–11, header from byte 12;
 *   header = Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 *   padded with spaces and ended by '\n' so that magic + length + header is a multiple of 64
 *   (older writers used 16); latin1 in 1.0/2.0, utf-8 in 3.0; data follow the header directly.
 *
 * Every error message starts with the `name` given by the caller (a file name or path), says what was
 * found, and says what to do.
 */

/** A parsed array. `data` is row-major (C order) over `shape`; a 0-d array has shape [] and 1 value. */
export interface NpyArray {
  dtype: 'float32' | 'float64';
  shape: number[];
  data: Float32Array | Float64Array;
}

/** What the fixed-size preamble (magic, version, header length) says. */
export interface NpyPreamble {
  version: readonly [major: number, minor: number];
  /** Bytes of the header dict text, including its padding and final '\n'. */
  headerLength: number;
  /** Where the header text starts (10 for 1.0, 12 for 2.0/3.0). */
  headerOffset: number;
  /** Where the array data start: headerOffset + headerLength. */
  dataOffset: number;
}

/** The validated header of a supported file. */
export interface NpyHeader extends NpyPreamble {
  dtype: 'float32' | 'float64';
  /** The raw descr, '<f4' or '<f8'. */
  descr: string;
  shape: number[];
  /** Number of elements: product(shape), 1 for a 0-d array. */
  size: number;
  itemSize: 4 | 8;
  /** size × itemSize: how many data bytes must follow the header. */
  dataBytes: number;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
const ARRAY_ALIGN = 64;
/** numpy ≥ 1.24 pads the header so the first axis can grow in place (format.py GROWTH_AXIS_MAX_DIGITS). */
const GROWTH_AXIS_MAX_DIGITS = 21;
const SUPPORTED_HINT = "save float32 or float64 little-endian, e.g. np.save(path, x.astype('<f4'))";

/** True on little-endian hosts (every platform Node ships for in practice); big-endian hosts go through DataView. */
export const HOST_LITTLE_ENDIAN: boolean = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function hexBytes(bytes: Uint8Array, n: number): string {
  return Array.from(bytes.subarray(0, n), (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/**
 * Read and check the magic string, version and header length.
 * `bytes` may be just the beginning of a file (12 bytes suffice).
 * @param totalBytes the file's full size when `bytes` is only its beginning (for the overrun check)
 */
export function parseNpyPreamble(bytes: Uint8Array, name: string, totalBytes: number = bytes.length): NpyPreamble {
  const isMagic = bytes.length >= 6 && MAGIC.every((b, i) => bytes[i] === b);
  if (!isMagic) {
    if (bytes.length >= 2 && bytes[0] === 0x50 && bytes[1] === 0x4b) {
      throw new NpyFormatError(
        `${name}: this is a ZIP archive (an .npz file?), not an .npy file; ` +
          `extract one array and save it alone, e.g. np.save('X.npy', np.load(path)['arr_0'])`,
      );
    }
    const found = bytes.length === 0 ? 'the file is empty' : `it starts with bytes ${hexBytes(bytes, 8)}`;
    throw new NpyFormatError(
      `${name}: not a NumPy .npy file (expected the magic string \\x93NUMPY, but ${found}); ` +
        `write the array with np.save(path, x)`,
    );
  }
  if (bytes.length < 8) {
    throw new NpyFormatError(`${name}: truncated .npy file (${totalBytes} bytes, the format version is missing); re-save it with np.save`);
  }
  const major = bytes[6]!;
  const minor = bytes[7]!;
  if (!((major === 1 || major === 2 || major === 3) && minor === 0)) {
    throw new NpyFormatError(
      `${name}: .npy format version ${major}.${minor} is not supported (supported: 1.0, 2.0, 3.0); ` +
        `re-save the array with np.save(path, x)`,
    );
  }
  const headerOffset = major === 1 ? 10 : 12;
  if (bytes.length < headerOffset) {
    throw new NpyFormatError(`${name}: truncated .npy file (${totalBytes} bytes, the header length is missing); re-save it with np.save`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataOffset = headerOffset + headerLength;
  if (dataOffset > totalBytes) {
    throw new NpyFormatError(
      `${name}: truncated .npy file: the header claims ${headerLength} bytes (data from byte ${dataOffset}) ` +
        `but the file has only ${totalBytes} bytes; re-save it with np.save`,
    );
  }
  return { version: [major, minor] as const, headerLength, headerOffset, dataOffset };
}

// ---- A parser for the Python literals a header may hold ------------------------------------------

type PyValue = string | number | boolean | null | PyTuple | PyValue[] | Map<string, PyValue>;
class PyTuple {
  constructor(readonly items: PyValue[]) {}
}

function pyRepr(v: PyValue): string {
  if (v === null) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return `'${v}'`;
  if (v instanceof PyTuple) return v.items.length === 1 ? `(${pyRepr(v.items[0]!)},)` : `(${v.items.map(pyRepr).join(', ')})`;
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  return `{${[...v].map(([k, x]) => `'${k}': ${pyRepr(x)}`).join(', ')}}`;
}

/** A .npy file lockstep cannot read: the message names the file, what was found and how to re-save it. */
export class NpyFormatError extends Error {
  override name = 'NpyFormatError';
}

class HeaderSyntaxError extends Error {}

/** Parses a Python literal: str, int (optionally Python 2's `L`), True/False/None, tuple, list, dict. */
function parsePyLiteral(text: string): PyValue {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const fail = (what: string): never => {
    throw new HeaderSyntaxError(`${what} at character ${i}`);
  };
  const seq = (close: string): PyValue[] => {
    const items: PyValue[] = [];
    ws();
    while (text[i] !== close) {
      items.push(value());
      ws();
      if (text[i] === ',') {
        i++;
        ws();
      } else if (text[i] !== close) fail(`expected ',' or '${close}'`);
    }
    i++;
    return items;
  };
  const value = (): PyValue => {
    ws();
    const c = text[i];
    if (c === undefined) return fail('unexpected end of header');
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) fail('unterminated string');
      const s = text.slice(i + 1, end);
      if (s.includes('\\')) fail('escaped strings are not supported');
      i = end + 1;
      return s;
    }
    if (c === '(') {
      i++;
      const start = i;
      const items = seq(')');
      // "(x)" without a comma is a parenthesised value, not a tuple.
      if (items.length === 1 && !/,\s*\)$/.test(text.slice(start, i))) return items[0]!;
      return new PyTuple(items);
    }
    if (c === '[') {
      i++;
      return seq(']');
    }
    if (c === '{') {
      i++;
      const map = new Map<string, PyValue>();
      ws();
      while (text[i] !== '}') {
        const k = value();
        if (typeof k !== 'string') fail('dict keys must be strings');
        ws();
        if (text[i] !== ':') fail("expected ':'");
        i++;
        map.set(k as string, value());
        ws();
        if (text[i] === ',') {
          i++;
          ws();
        } else if (text[i] !== '}') fail("expected ',' or '}'");
      }
      i++;
      return map;
    }
    const m = /^(-?\d+)L?|^(True|False|None)\b/.exec(text.slice(i, i + 40));
    if (!m) return fail(`unexpected '${c}'`);
    i += m[0].length;
    if (m[1] !== undefined) return Number(m[1]);
    return m[2] === 'True' ? true : m[2] === 'False' ? false : null;
  };
  const v = value();
  ws();
  if (i !== text.length) fail('unexpected text after the dict');
  return v;
}

function decodeHeaderText(bytes: Uint8Array, major: number): string {
  if (major === 3) return new TextDecoder('utf-8').decode(bytes);
  let s = '';
  for (let k = 0; k < bytes.length; k++) s += String.fromCharCode(bytes[k]!); // latin1
  return s;
}

/**
 * Parse and validate the header. `bytes` must hold at least the preamble and header (`dataOffset`
 * bytes); it may be only the beginning of a file, with `totalBytes` the file's size.
 * Throws for anything but little-endian float32/float64 in C order.
 */
export function parseNpyHeader(bytes: Uint8Array, name: string, totalBytes: number = bytes.length): NpyHeader {
  const pre = parseNpyPreamble(bytes, name, totalBytes);
  if (bytes.length < pre.dataOffset) {
    throw new NpyFormatError(`${name}: truncated .npy file (the header needs ${pre.dataOffset} bytes, got ${bytes.length}); re-save it with np.save`);
  }
  const text = decodeHeaderText(bytes.subarray(pre.headerOffset, pre.dataOffset), pre.version[0]);
  const where = `${name}: malformed .npy header ${JSON.stringify(text.trim().slice(0, 200))}`;
  let dict: PyValue;
  try {
    dict = parsePyLiteral(text);
  } catch (e) {
    if (e instanceof HeaderSyntaxError) throw new NpyFormatError(`${where} (${e.message}); re-save the array with np.save`);
    throw e;
  }
  if (!(dict instanceof Map)) throw new NpyFormatError(`${where} (not a dict); re-save the array with np.save`);
  const keys = [...dict.keys()].sort();
  if (keys.join(',') !== 'descr,fortran_order,shape') {
    throw new NpyFormatError(`${where} (keys are [${keys.join(', ')}], expected descr, fortran_order, shape); re-save the array with np.save`);
  }
  const descr = dict.get('descr')!;
  const fortranOrder = dict.get('fortran_order')!;
  const shapeValue = dict.get('shape')!;

  if (!(shapeValue instanceof PyTuple) || !shapeValue.items.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
    throw new NpyFormatError(`${where} (shape ${pyRepr(shapeValue)} is not a tuple of non-negative integers); re-save the array with np.save`);
  }
  const shape = shapeValue.items as number[];
  if (typeof fortranOrder !== 'boolean') {
    throw new NpyFormatError(`${where} (fortran_order ${pyRepr(fortranOrder)} is not True/False); re-save the array with np.save`);
  }

  let dtype: 'float32' | 'float64';
  let itemSize: 4 | 8;
  if (descr === '<f4') {
    dtype = 'float32';
    itemSize = 4;
  } else if (descr === '<f8') {
    dtype = 'float64';
    itemSize = 8;
  } else {
    const shown = typeof descr === 'string' ? `'${descr}'` : pyRepr(descr);
    const kind = typeof descr === 'string' ? '' : ' (a structured dtype)';
    throw new NpyFormatError(`${name}: dtype ${shown}${kind} is not supported; ${SUPPORTED_HINT}`);
  }

  // Fortran and C order coincide when at most one axis is longer than 1 (writers such as Julia's
  // NPZ.jl always say True); only reject when the layouts really differ.
  if (fortranOrder && shape.filter((d) => d > 1).length > 1) {
    throw new NpyFormatError(
      `${name}: array of shape (${shape.join(', ')}) is stored in Fortran (column-major) order; ` +
        `save it in C order, e.g. np.save(path, np.ascontiguousarray(x))`,
    );
  }

  let size = 1;
  for (const d of shape) size *= d;
  const dataBytes = size * itemSize;
  if (!Number.isSafeInteger(dataBytes)) {
    throw new NpyFormatError(`${name}: shape (${shape.join(', ')}) is too large (${dataBytes} bytes); split the array into smaller files`);
  }
  return { ...pre, dtype, descr, shape, size, itemSize, dataBytes };
}

/** Throws unless exactly `header.dataBytes` data bytes follow the header. */
export function checkNpyDataLength(header: NpyHeader, actualDataBytes: number, name: string): void {
  if (actualDataBytes === header.dataBytes) return;
  const shapeText = `(${header.shape.join(', ')}${header.shape.length === 1 ? ',' : ''})`;
  const what = actualDataBytes < header.dataBytes ? 'truncated' : 'has trailing bytes';
  throw new NpyFormatError(
    `${name}: data length mismatch (${what}): shape ${shapeText} of '${header.descr}' needs ` +
      `${header.dataBytes} data bytes after the ${header.dataOffset}-byte header, but ${actualDataBytes} follow it; ` +
      `re-save the array with np.save (an interrupted copy or write leaves a truncated file)`,
  );
}

/** An empty typed array of the header's dtype and size. */
export function allocateNpyData(header: NpyHeader): Float32Array | Float64Array {
  return header.dtype === 'float32' ? new Float32Array(header.size) : new Float64Array(header.size);
}

/**
 * Decode little-endian data bytes into `out` (same element count). Used on big-endian hosts and for
 * unaligned input; on little-endian hosts a byte copy.
 */
export function decodeNpyData(src: Uint8Array, out: Float32Array | Float64Array): void {
  if (HOST_LITTLE_ENDIAN) {
    new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(src.subarray(0, out.byteLength));
    return;
  }
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  if (out instanceof Float32Array) for (let k = 0; k < out.length; k++) out[k] = view.getFloat32(4 * k, true);
  else for (let k = 0; k < out.length; k++) out[k] = view.getFloat64(8 * k, true);
}

/**
 * Parse a whole `.npy` file held in memory.
 *
 * On little-endian hosts, when the data start at an offset aligned for the dtype, `data` is a view
 * sharing memory with `bytes` (no copy) unless `options.copy` is true; otherwise it is a fresh,
 * aligned copy.
 *
 * @example
 *   const { shape, data } = parseNpy(fs.readFileSync('X.npy'), 'X.npy'); // [words, channels, times]
 * @param name used at the start of every error message (a file name or path)
 */
export function parseNpy(bytes: Uint8Array, name: string, options: { copy?: boolean } = {}): NpyArray {
  const header = parseNpyHeader(bytes, name);
  checkNpyDataLength(header, bytes.length - header.dataOffset, name);
  const start = bytes.byteOffset + header.dataOffset;
  let data: Float32Array | Float64Array;
  if (HOST_LITTLE_ENDIAN && !options.copy && start % header.itemSize === 0) {
    data = header.dtype === 'float32' ? new Float32Array(bytes.buffer, start, header.size) : new Float64Array(bytes.buffer, start, header.size);
  } else {
    data = allocateNpyData(header);
    decodeNpyData(bytes.subarray(header.dataOffset), data);
  }
  return { dtype: header.dtype, shape: header.shape.slice(), data };
}

/** Python's repr of a shape tuple: (), (3,), (2, 3). */
function shapeRepr(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/**
 * The preamble and header for a C-order little-endian float array, byte-identical to what numpy
 * 1.24's np.save writes: version 1.0, or 2.0 when the header is longer than 65535 bytes.
 */
export function npyHeaderBytes(dtype: 'float32' | 'float64', shape: readonly number[]): Uint8Array {
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`npy shape must hold non-negative integers, got [${shape.join(', ')}]`);
  }
  const descr = dtype === 'float32' ? '<f4' : '<f8';
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeRepr(shape)}, }`;
  if (shape.length > 0) dict += ' '.repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length));
  const hlen = dict.length + 1; // + '\n'
  let major = 1;
  let prefixLength = 10;
  let padlen = ARRAY_ALIGN - ((prefixLength + hlen) % ARRAY_ALIGN);
  if (hlen + padlen > 0xffff) {
    major = 2;
    prefixLength = 12;
    padlen = ARRAY_ALIGN - ((prefixLength + hlen) % ARRAY_ALIGN);
  }
  // numpy pads with a full ARRAY_ALIGN when already aligned (padlen in 1…64); we do the same.
  const headerLength = hlen + padlen;
  const out = new Uint8Array(prefixLength + headerLength);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, headerLength, true);
  else view.setUint32(8, headerLength, true);
  const text = dict + ' '.repeat(padlen) + '\n';
  for (let k = 0; k < text.length; k++) out[prefixLength + k] = text.charCodeAt(k);
  return out;
}

/** The data bytes in little-endian order: a view on little-endian hosts, a converted copy otherwise. */
export function encodeNpyData(data: Float32Array | Float64Array): Uint8Array {
  if (HOST_LITTLE_ENDIAN) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.byteLength);
  const view = new DataView(out.buffer);
  if (data instanceof Float32Array) for (let k = 0; k < data.length; k++) view.setFloat32(4 * k, data[k]!, true);
  else for (let k = 0; k < data.length; k++) view.setFloat64(8 * k, data[k]!, true);
  return out;
}

/** Throws unless `shape` is valid and product(shape) equals data.length. */
export function checkNpyShape(data: Float32Array | Float64Array, shape: readonly number[]): void {
  let size = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`npy shape must hold non-negative integers, got [${shape.join(', ')}]`);
    size *= d;
  }
  if (size !== data.length) {
    throw new RangeError(`npy shape [${shape.join(', ')}] holds ${size} values but the data have ${data.length}`);
  }
}

/**
 * Serialize a C-order array as a `.npy` file (format 1.0; 2.0 when the header needs it), with the
 * data aligned to 64 bytes as numpy does. A Float32Array is written as '<f4', a Float64Array as '<f8'.
 *
 * @example
 *   fs.writeFileSync('R.npy', serializeNpy(scores, [nLayers, nTimes]));
 * @param shape product(shape) must equal data.length; [] for a 0-d array (data.length 1)
 */
export function serializeNpy(data: Float32Array | Float64Array, shape: readonly number[]): Uint8Array {
  checkNpyShape(data, shape);
  const header = npyHeaderBytes(data instanceof Float32Array ? 'float32' : 'float64', shape);
  const out = new Uint8Array(header.length + data.byteLength);
  out.set(header, 0);
  out.set(encodeNpyData(data), header.length);
  return out;
}
