/**
 * Checkpoint files: the decoder's full state, written array by array and verified on load.
 *
 * Layout (all little-endian):
 *   0   16 B  magic "LOCKSTEP-CKPT\0\0\0"
 *   16  u32   format version (1)
 *   20  u32   header length H
 *   24  H B   header JSON: decoder header + array directory [{name, dtype, length, offset}]
 *   …         arrays, each starting at an 8-byte aligned offset
 *   end 32 B  SHA-256 of every preceding byte
 * Writes go to "<path>.tmp" and are renamed into place, so a crash mid-write never destroys the
 * previous checkpoint.
 *
 * Owns: the file format. Must not: know the decoder's internals beyond src/decoderState.ts.
 */
import { createHash } from 'node:crypto';
import { writeFileAtomic } from './atomicFile.js';
import fs from 'node:fs';
import type { Decoder } from '../src/decoder.js';
import { decoderArrays, decoderForRestore, decoderHeader, type ArrivalState, type DecoderStateHeader, type StateArray } from '../src/decoderState.js';
import type { ArrayMemory } from '../src/stats/sufficientStats.js';

const MAGIC = Buffer.from('LOCKSTEP-CKPT\0\0\0', 'latin1');
export const CHECKPOINT_VERSION = 1;

type Dtype = 'f64' | 'i32' | 'u8';
interface DirEntry {
  name: string;
  dtype: Dtype;
  length: number;
  offset: number;
}
interface FileHeader {
  format: 'lockstep-checkpoint';
  createdAt: string;
  decoder: DecoderStateHeader;
  /** Where the word stream stood (absent in checkpoints written without it, e.g. by `decode`). */
  stream?: StreamPosition;
  arrays: DirEntry[];
}

/**
 * Where the word stream stood when the checkpoint was asked for: what `--resume` needs to go on.
 * A replay skips the first `pairs` word pairs of the same source; a live session drops words heard
 * at or before `lastWord.onsetSec` and reports the gap after it.
 */
export interface StreamPosition {
  /** Word pairs sent to the decoder (accepted or skipped by it), in stream order. */
  pairs: number;
  /** The last of them, in the source's clock. */
  lastWord: { index: number; onsetSec: number } | null;
}

/** A checkpoint's header, read without its arrays (to plan a resume before the decoder starts). */
export interface CheckpointInfo {
  createdAt: string;
  decoder: DecoderStateHeader;
  stream: StreamPosition | null;
}

function dtypeOf(a: StateArray): Dtype {
  if (a instanceof Float64Array) return 'f64';
  if (a instanceof Int32Array) return 'i32';
  return 'u8';
}

function bytesOf(a: StateArray): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

export class CheckpointError extends Error {
  constructor(
    readonly path: string,
    readonly offset: number | null,
    message: string,
  ) {
    super(`${path}${offset === null ? '' : ` (byte ${offset})`}: ${message}`);
  }
}

/**
 * Writes the decoder's state to `path` atomically. Returns the number of bytes written. With no
 * jobs in motion the state is the decoder's as it stands; `at` (captured when the checkpoint was
 * asked for, written from `decoder.afterJobs`) gives the words-arrived part of another moment.
 */
export function writeCheckpoint(path: string, decoder: Decoder, at?: ArrivalState, stream?: StreamPosition): number {
  const arrays = decoderArrays(decoder, at);
  // The directory's offsets depend on the header length, which depends on the offsets' digits:
  // lay out with a generous fixed header size, padded with spaces.
  const draft = (base: number): FileHeader => {
    let offset = base;
    const dir = arrays.map(({ name, array }) => {
      const e: DirEntry = { name, dtype: dtypeOf(array), length: array.length, offset };
      offset = align8(offset + array.byteLength);
      return e;
    });
    return { format: 'lockstep-checkpoint', createdAt: new Date().toISOString(), decoder: decoderHeader(decoder, at), ...(stream ? { stream } : {}), arrays: dir };
  };
  let headerLen = align8(Buffer.byteLength(JSON.stringify(draft(0))) + 256);
  let header = Buffer.from(JSON.stringify(draft(24 + headerLen)));
  if (header.length > headerLen) headerLen = align8(header.length + 64);
  header = Buffer.from(JSON.stringify(draft(24 + headerLen)).padEnd(headerLen, ' '));
  const hash = createHash('sha256');
  let pos = 0;
  writeFileAtomic(path, (fd) => {
    const put = (buf: Buffer) => {
      hash.update(buf);
      let done = 0;
      while (done < buf.length) done += fs.writeSync(fd, buf, done, buf.length - done, pos + done);
      pos += buf.length;
    };
    const fixed = Buffer.alloc(24);
    MAGIC.copy(fixed, 0);
    fixed.writeUInt32LE(CHECKPOINT_VERSION, 16);
    fixed.writeUInt32LE(headerLen, 20);
    put(fixed);
    put(header);
    for (const { array } of arrays) {
      const pad = align8(pos) - pos;
      if (pad) put(Buffer.alloc(pad));
      put(bytesOf(array));
    }
    const pad = align8(pos) - pos;
    if (pad) put(Buffer.alloc(pad));
    const digest = hash.digest();
    fs.writeSync(fd, digest, 0, digest.length, pos);
    pos += digest.length;
  });
  return pos;
}

/**
 * Reads and verifies a checkpoint; the result continues exactly where the saved decoder stopped.
 * `memory: 'shared'` puts its arrays in shared memory (for a compute pool).
 */
export function readCheckpoint(path: string, memory: ArrayMemory = 'local'): Decoder {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    throw new CheckpointError(path, null, `cannot open checkpoint (${(e as Error).message})`);
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size < 24 + 32) throw new CheckpointError(path, 0, `file is ${size} bytes, too short for a lockstep checkpoint`);
    const hash = createHash('sha256');
    const readAt = (buf: Uint8Array, pos: number, what: string) => {
      let done = 0;
      while (done < buf.length) {
        const n = fs.readSync(fd, buf, done, buf.length - done, pos + done);
        if (n === 0) throw new CheckpointError(path, pos + done, `unexpected end of file while reading ${what}; the checkpoint is truncated`);
        done += n;
      }
      hash.update(buf);
    };
    const { header, headerLen } = readHeader(path, size, readAt);
    const decoder = decoderForRestore(header.decoder, memory);
    const targets = new Map(decoderArrays(decoder).map((a) => [a.name, a.array]));
    let pos = 24 + headerLen;
    for (const entry of header.arrays) {
      const target = targets.get(entry.name);
      if (!target || target.length !== entry.length || dtypeOf(target) !== entry.dtype) {
        throw new CheckpointError(path, entry.offset, `array ${entry.name} (${entry.dtype} × ${entry.length}) does not fit the decoder described by the header`);
      }
      if (entry.offset < pos) throw new CheckpointError(path, entry.offset, `array ${entry.name} overlaps the previous one`);
      if (entry.offset > pos) readAt(Buffer.alloc(entry.offset - pos), pos, 'padding');
      readAt(new Uint8Array(target.buffer, target.byteOffset, target.byteLength), entry.offset, `array ${entry.name}`);
      pos = entry.offset + target.byteLength;
      targets.delete(entry.name);
    }
    if (targets.size > 0) throw new CheckpointError(path, pos, `missing arrays: ${[...targets.keys()].join(', ')}`);
    const end = align8(pos);
    if (end > pos) readAt(Buffer.alloc(end - pos), pos, 'padding');
    if (end + 32 !== size) throw new CheckpointError(path, end, `expected the 32-byte checksum to end the file at ${end + 32}, but the file is ${size} bytes`);
    const stored = Buffer.alloc(32);
    let done = 0;
    while (done < 32) done += fs.readSync(fd, stored, done, 32 - done, end + done);
    if (!stored.equals(hash.digest())) throw new CheckpointError(path, end, 'SHA-256 checksum mismatch: the checkpoint is corrupted; use an older checkpoint or start over');
    return decoder;
  } finally {
    fs.closeSync(fd);
  }
}

type ReadAt = (buf: Uint8Array, pos: number, what: string) => void;

/** The fixed header and the JSON header, checked. */
function readHeader(path: string, size: number, readAt: ReadAt): { header: FileHeader; headerLen: number } {
  const fixed = Buffer.alloc(24);
  readAt(fixed, 0, 'the fixed header');
  if (!fixed.subarray(0, 16).equals(MAGIC)) throw new CheckpointError(path, 0, 'not a lockstep checkpoint (bad magic)');
  const version = fixed.readUInt32LE(16);
  if (version !== CHECKPOINT_VERSION) {
    throw new CheckpointError(path, 16, `checkpoint format version ${version}; this lockstep reads version ${CHECKPOINT_VERSION}`);
  }
  const headerLen = fixed.readUInt32LE(20);
  if (24 + headerLen + 32 > size) throw new CheckpointError(path, 20, `header length ${headerLen} runs past the end of the ${size}-byte file`);
  const hbuf = Buffer.alloc(headerLen);
  readAt(hbuf, 24, 'the header');
  let header: FileHeader;
  try {
    header = JSON.parse(hbuf.toString('utf8')) as FileHeader;
  } catch (e) {
    throw new CheckpointError(path, 24, `header is not valid JSON (${(e as Error).message}); the file is corrupted`);
  }
  if (header.format !== 'lockstep-checkpoint' || !Array.isArray(header.arrays)) throw new CheckpointError(path, 24, 'header does not describe a lockstep checkpoint');
  return { header, headerLen };
}

/** The header of a checkpoint (its decoder's sizes and counts, and where the stream stood), checked but without its arrays. */
export function readCheckpointInfo(path: string): CheckpointInfo {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    throw new CheckpointError(path, null, `cannot open checkpoint (${(e as Error).message})`);
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size < 24 + 32) throw new CheckpointError(path, 0, `file is ${size} bytes, too short for a lockstep checkpoint`);
    const readAt: ReadAt = (buf, pos, what) => {
      let done = 0;
      while (done < buf.length) {
        const n = fs.readSync(fd, buf, done, buf.length - done, pos + done);
        if (n === 0) throw new CheckpointError(path, pos + done, `unexpected end of file while reading ${what}; the checkpoint is truncated`);
        done += n;
      }
    };
    const { header } = readHeader(path, size, readAt);
    return { createdAt: header.createdAt, decoder: header.decoder, stream: header.stream ?? null };
  } finally {
    fs.closeSync(fd);
  }
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}
