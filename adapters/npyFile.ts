/**
 * `.npy` files on disk: read and write through `src/npy.ts`, which owns the format. This file owns
 * only the fs side: data are read straight into the typed array in chunks (no whole-file Buffer, so
 * multi-GB epoch files work), and writes go to a temporary file renamed into place.
 * Every error names the path.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from './atomicFile.js';
import {
  allocateNpyData,
  checkNpyDataLength,
  checkNpyShape,
  decodeNpyData,
  encodeNpyData,
  HOST_LITTLE_ENDIAN,
  npyHeaderBytes,
  parseNpyHeader,
  parseNpyPreamble,
  type NpyArray,
} from '../src/npy.js';

export type { NpyArray } from '../src/npy.js';

/** fs reads and writes at most this many bytes per call (Node refuses ≥ 2 GiB in one call). */
const CHUNK_BYTES = 1 << 30;

function fsError(filePath: string, action: string, e: unknown): Error {
  const err = e as NodeJS.ErrnoException;
  const hint =
    err.code === 'ENOENT' ? ' (no such file; check the path)'
    : err.code === 'EISDIR' ? ' (it is a directory; give the .npy file inside it)'
    : err.code === 'EACCES' ? ' (permission denied)'
    : '';
  return new Error(`${filePath}: cannot ${action}${hint}: ${err.message ?? String(e)}`, { cause: e });
}

function readFully(fd: number, into: Uint8Array, position: number, filePath: string): void {
  let done = 0;
  while (done < into.length) {
    const n = fs.readSync(fd, into, done, Math.min(CHUNK_BYTES, into.length - done), position + done);
    if (n === 0) throw new Error(`${filePath}: the file shrank while being read (got ${done} of ${into.length} bytes at byte ${position}); is another process writing it?`);
    done += n;
  }
}

/**
 * Read a float32/float64 little-endian C-order `.npy` file (format 1.0, 2.0 or 3.0).
 * Synchronous (the CLI reads its inputs once, up front); the result's data are a fresh aligned array.
 *
 * @example
 *   const X = readNpyFile('X.npy'); // X.shape = [words, channels, times]
 * @throws Error naming the path: unreadable file, not .npy, unsupported dtype or order, wrong length
 */
export function readNpyFile(filePath: string): NpyArray {
  let fd: number;
  try {
    fd = fs.openSync(filePath, 'r');
  } catch (e) {
    throw fsError(filePath, 'open the .npy file', e);
  }
  try {
    let size: number;
    try {
      const st = fs.fstatSync(fd);
      if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      size = st.size;
    } catch (e) {
      throw fsError(filePath, 'read the .npy file', e);
    }
    const first = new Uint8Array(Math.min(size, 12));
    readFully(fd, first, 0, filePath);
    const pre = parseNpyPreamble(first, filePath, size);
    const headerBytes = new Uint8Array(pre.dataOffset);
    headerBytes.set(first.subarray(0, Math.min(first.length, pre.dataOffset)));
    if (pre.dataOffset > first.length) readFully(fd, headerBytes.subarray(first.length), first.length, filePath);
    const header = parseNpyHeader(headerBytes, filePath, size);
    checkNpyDataLength(header, size - header.dataOffset, filePath);

    let data: Float32Array | Float64Array;
    try {
      data = allocateNpyData(header);
    } catch (e) {
      throw new Error(
        `${filePath}: cannot hold shape (${header.shape.join(', ')}) in memory (${header.dataBytes} bytes): ${(e as Error).message}; ` +
          `split the array or save it as float32`,
        { cause: e },
      );
    }
    const target = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    readFully(fd, target, header.dataOffset, filePath);
    if (!HOST_LITTLE_ENDIAN) decodeNpyData(target.slice(), data);
    return { dtype: header.dtype, shape: header.shape, data };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Write a C-order array as a `.npy` file (format 1.0 as numpy writes it; Float32Array → '<f4',
 * Float64Array → '<f8'). Written to a temporary file in the same folder, then renamed, so readers
 * never see a partial file.
 *
 * @example
 *   writeNpyFile('R.npy', R, [nLayers, nTimes]);
 * @param shape product(shape) must equal data.length; [] for a single value
 */
export function writeNpyFile(filePath: string, data: Float32Array | Float64Array, shape: readonly number[]): void {
  checkNpyShape(data, shape);
  const header = npyHeaderBytes(data instanceof Float32Array ? 'float32' : 'float64', shape);
  const body = encodeNpyData(data);
  try {
    writeFileAtomic(filePath, (fd) => {
      for (const part of [header, body]) {
        let done = 0;
        while (done < part.length) done += fs.writeSync(fd, part, done, Math.min(CHUNK_BYTES, part.length - done));
      }
    });
  } catch (e) {
    throw fsError(filePath, 'write the .npy file', e);
  }
}

/** An open `.npy` file read piecewise: for arrays too large to hold at once (e.g. 5 GB of epochs). */
export interface NpyReader {
  path: string;
  dtype: 'float32' | 'float64';
  shape: number[];
  /** Elements [start, start + count) in C order, as a fresh typed array. */
  read(start: number, count: number): Float32Array | Float64Array;
  close(): void;
}

/**
 * Opens a `.npy` file and validates its header and length without reading the data.
 * @example
 *   const X = openNpyFile('X.npy'); const first = X.read(0, X.shape[1] * X.shape[2]); X.close();
 */
export function openNpyFile(filePath: string): NpyReader {
  let fd: number;
  try {
    fd = fs.openSync(filePath, 'r');
  } catch (e) {
    throw fsError(filePath, 'open the .npy file', e);
  }
  try {
    const st = fs.fstatSync(fd);
    if (st.isDirectory()) throw fsError(filePath, 'read the .npy file', Object.assign(new Error('is a directory'), { code: 'EISDIR' }));
    const size = st.size;
    const first = new Uint8Array(Math.min(size, 12));
    readFully(fd, first, 0, filePath);
    const pre = parseNpyPreamble(first, filePath, size);
    const headerBytes = new Uint8Array(pre.dataOffset);
    headerBytes.set(first.subarray(0, Math.min(first.length, pre.dataOffset)));
    if (pre.dataOffset > first.length) readFully(fd, headerBytes.subarray(first.length), first.length, filePath);
    const header = parseNpyHeader(headerBytes, filePath, size);
    checkNpyDataLength(header, size - header.dataOffset, filePath);
    const open = fd;
    return {
      path: filePath,
      dtype: header.dtype,
      shape: header.shape,
      read(start: number, count: number) {
        if (start < 0 || count < 0 || start + count > header.size) {
          throw new RangeError(`${filePath}: elements [${start}, ${start + count}) are outside the array of ${header.size}`);
        }
        const out = header.dtype === 'float32' ? new Float32Array(count) : new Float64Array(count);
        const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
        readFully(open, bytes, header.dataOffset + start * header.itemSize, filePath);
        if (!HOST_LITTLE_ENDIAN) decodeNpyData(bytes.slice(), out);
        return out;
      },
      close() {
        fs.closeSync(open);
      },
    };
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}
