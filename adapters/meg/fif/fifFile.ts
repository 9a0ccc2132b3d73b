/**
 * One FIF file as a chain of tags: bounds-checked positional reads, the tag list in logical order
 * (from the FIFF_DIR tag when there is a valid one, else by following every tag's `next`), and
 * typed decoding of small tag payloads. Everything is big-endian.
 *
 * Owns: the 16-byte tag header (kind, type, size, next), loop and truncation detection, and the
 * errors that name file, byte offset and tag kind. Must not: interpret blocks or measurement info
 * (fifTree / fifMeasInfo do), or read data-buffer payloads wholesale (fifRaw reads row ranges).
 */
import fs from 'node:fs/promises';
import { RecordingFormatError } from '../rawRecording.js';
import { FIFF, FIFFT, FIFFV_NEXT_NONE, FIFFV_NEXT_SEQ, tagKindName } from './fifConstants.js';

/** A tag's header and where it is: `pos` is the header's byte offset, the payload starts at pos + 16. */
export interface TagEntry {
  kind: number;
  type: number;
  size: number;
  pos: number;
}

export interface DirectoryInfo {
  entries: TagEntry[];
  /** Value of FIFF_DIR_POINTER (−1: none). */
  dirPointer: number;
  /** Whether the entries came from the FIFF_DIR tag (else from walking `next`). */
  usedDirectory: boolean;
  /** Why a directory that the pointer announced was not used, or null. */
  directoryProblem: string | null;
}

const HEADER_BYTES = 16;
const WINDOW_BYTES = 1 << 16;

export class FifFile {
  private window: { start: number; buf: Buffer } | null = null;

  private constructor(
    readonly path: string,
    private readonly fh: fs.FileHandle,
    readonly size: number,
  ) {}

  static async open(path: string): Promise<FifFile> {
    let fh: fs.FileHandle;
    try {
      fh = await fs.open(path, 'r');
    } catch (e) {
      throw new RecordingFormatError(path, 'open', `a readable FIF file (${(e as Error).message})`, 'check the path');
    }
    const st = await fh.stat();
    return new FifFile(path, fh, st.size);
  }

  async close(): Promise<void> {
    await this.fh.close();
  }

  /** A RecordingFormatError at a byte offset (and tag kind when known). */
  error(pos: number, kind: number | null, expected: string, hint?: string): RecordingFormatError {
    const where = kind === null ? `byte ${pos}` : `byte ${pos}, tag kind ${tagKindName(kind)}`;
    return new RecordingFormatError(this.path, where, expected, hint);
  }

  /** Exactly `len` bytes at `pos` (its own ArrayBuffer, offset 0, so typed views are aligned). */
  async readExact(pos: number, len: number, kind: number | null, what: string): Promise<Buffer> {
    if (!Number.isSafeInteger(pos) || pos < 0 || len < 0 || pos + len > this.size) {
      throw this.error(pos, kind, `${what}: ${len} bytes at byte ${pos}, but the file has ${this.size} bytes`);
    }
    const buf = Buffer.allocUnsafeSlow(len);
    let got = 0;
    while (got < len) {
      const { bytesRead } = await this.fh.read(buf, got, len - got, pos + got);
      if (bytesRead === 0) throw this.error(pos, kind, `${what}: the file ended while reading (it shrank?)`);
      got += bytesRead;
    }
    return buf;
  }

  /** Small reads (headers, info tags) go through a 64 KiB window to avoid one syscall each. */
  private async readSmall(pos: number, len: number, kind: number | null, what: string): Promise<Buffer> {
    const w = this.window;
    if (w && pos >= w.start && pos + len <= w.start + w.buf.length) return w.buf.subarray(pos - w.start, pos - w.start + len);
    if (len > WINDOW_BYTES || pos + len > this.size || pos < 0) return this.readExact(pos, len, kind, what);
    const n = Math.min(WINDOW_BYTES, this.size - pos);
    const buf = await this.readExact(pos, n, kind, what);
    this.window = { start: pos, buf };
    return buf.subarray(0, len);
  }

  async readHeader(pos: number): Promise<TagEntry & { next: number }> {
    if (pos + HEADER_BYTES > this.size) {
      throw this.error(pos, null, `a 16-byte tag header, but the file ends at byte ${this.size} (truncated)`);
    }
    const b = await this.readSmall(pos, HEADER_BYTES, null, 'tag header');
    const kind = b.readInt32BE(0);
    const type = b.readUInt32BE(4);
    const size = b.readInt32BE(8);
    const next = b.readInt32BE(12);
    if (size < 0) throw this.error(pos, kind, `a tag size >= 0, found ${size}`);
    if (pos + HEADER_BYTES + size > this.size) {
      throw this.error(pos, kind, `a payload of ${size} bytes ending at byte ${pos + HEADER_BYTES + size}, but the file has ${this.size} bytes (truncated)`);
    }
    return { kind, type, size, pos, next };
  }

  /** The payload of a tag whose type must be one of `types` and whose size must be at least `minSize`. */
  async payload(e: TagEntry, types: readonly number[], minSize: number, what: string): Promise<Buffer> {
    if (!types.includes(e.type)) throw this.error(e.pos, e.kind, `${what} of data type ${types.join(' or ')}, found type ${e.type}`);
    if (e.size < minSize) throw this.error(e.pos, e.kind, `${what} of at least ${minSize} bytes, found ${e.size}`);
    return this.readSmall(e.pos + HEADER_BYTES, e.size, e.kind, what);
  }

  async readInt(e: TagEntry, what: string): Promise<number> {
    const b = await this.payload(e, [FIFFT.INT, FIFFT.UINT], 4, what);
    return e.type === FIFFT.UINT ? b.readUInt32BE(0) : b.readInt32BE(0);
  }

  async readInts(e: TagEntry, what: string): Promise<number[]> {
    const b = await this.payload(e, [FIFFT.INT], 4, what);
    const out: number[] = [];
    for (let o = 0; o + 4 <= b.length; o += 4) out.push(b.readInt32BE(o));
    return out;
  }

  /** float32 or float64 scalar(s), as float64. */
  async readFloats(e: TagEntry, what: string, minCount = 1): Promise<number[]> {
    const b = await this.payload(e, [FIFFT.FLOAT, FIFFT.DOUBLE], 0, what);
    const w = e.type === FIFFT.DOUBLE ? 8 : 4;
    if (b.length % w !== 0 || b.length / w < minCount) throw this.error(e.pos, e.kind, `${what}: ${minCount}+ values of ${w} bytes, found ${b.length} bytes`);
    const out: number[] = [];
    for (let o = 0; o < b.length; o += w) out.push(w === 8 ? b.readDoubleBE(o) : b.readFloatBE(o));
    return out;
  }

  async readFloat(e: TagEntry, what: string): Promise<number> {
    return (await this.readFloats(e, what, 1))[0];
  }

  /** A FIFFT_STRING, latin-1 as MNE decodes it. */
  async readString(e: TagEntry, what: string): Promise<string> {
    const b = await this.payload(e, [FIFFT.STRING], 0, what);
    return b.toString('latin1');
  }

  /**
   * The tags in logical order. With a directory pointer > 0 the FIFF_DIR tag is used when it is
   * well formed and every entry matches the tag header it points to; otherwise (as MNE does when
   * the directory is missing) the chain of `next` pointers is walked from byte 0.
   */
  async directory(opts: { useDirectory?: boolean } = {}): Promise<DirectoryInfo> {
    const t0 = await this.readHeader(0);
    if (t0.kind !== FIFF.FILE_ID || t0.type !== FIFFT.ID_STRUCT || t0.size !== 20) {
      throw this.error(0, t0.kind, `a FIF file starts with a file-id tag (kind 100, type 31, 20 bytes), found kind ${t0.kind} type ${t0.type} size ${t0.size}`, 'this is not a FIF file, or its start is damaged');
    }
    const t1 = await this.readHeader(HEADER_BYTES + t0.size);
    if (t1.kind !== FIFF.DIR_POINTER) throw this.error(t1.pos, t1.kind, 'tag 1 to be the directory pointer (kind 101)');
    const dirPointer = await this.readInt(t1, 'directory pointer');
    let directoryProblem: string | null = null;
    if (dirPointer > 0 && opts.useDirectory !== false) {
      const r = await this.tryDirectory(dirPointer);
      if (Array.isArray(r)) return { entries: r, dirPointer, usedDirectory: true, directoryProblem: null };
      directoryProblem = r;
    }
    return { entries: await this.walk(), dirPointer, usedDirectory: false, directoryProblem };
  }

  private async tryDirectory(dirPointer: number): Promise<TagEntry[] | string> {
    if (dirPointer + HEADER_BYTES > this.size) return `directory pointer ${dirPointer} is past the end of the file (${this.size} bytes)`;
    let h: TagEntry;
    try {
      h = await this.readHeader(dirPointer);
    } catch (e) {
      return (e as Error).message;
    }
    if (h.kind !== FIFF.DIR || h.type !== FIFFT.DIR_ENTRY_STRUCT || h.size % 16 !== 0) {
      return `the directory pointer ${dirPointer} points at tag kind ${h.kind} type ${h.type} size ${h.size}, not a FIFF_DIR (102, type 32)`;
    }
    const b = await this.readExact(dirPointer + HEADER_BYTES, h.size, h.kind, 'tag directory');
    const entries: TagEntry[] = [];
    for (let o = 0; o < b.length; o += 16) {
      const e = { kind: b.readInt32BE(o), type: b.readUInt32BE(o + 4), size: b.readInt32BE(o + 8), pos: b.readInt32BE(o + 12) };
      // MNE-C ends its directory with an all −1 entry.
      if (e.kind === -1 && e.pos === -1 && o + 16 === b.length) break;
      if (e.pos < 0 || e.size < 0 || e.pos + HEADER_BYTES + e.size > this.size) return `directory entry ${o / 16} (kind ${e.kind}) points outside the file (pos ${e.pos}, size ${e.size})`;
      // An entry must agree with the header it points to, or a damaged directory would make us
      // decode the wrong bytes as channel records.
      const t = await this.readHeader(e.pos).catch(() => null);
      if (!t || t.kind !== e.kind || t.type !== e.type || t.size !== e.size) return `directory entry ${o / 16} (kind ${e.kind} at byte ${e.pos}) does not match the tag there`;
      entries.push(e);
    }
    if (entries.length < 2 || entries[0].kind !== FIFF.FILE_ID) return 'the directory does not start with the file-id tag';
    return entries;
  }

  private async walk(): Promise<TagEntry[]> {
    const entries: TagEntry[] = [];
    const seen = new Set<number>();
    let pos = 0;
    let prev: TagEntry | null = null;
    for (;;) {
      if (seen.has(pos)) {
        throw this.error(prev?.pos ?? pos, prev?.kind ?? null, `a chain of tags that ends, but the next pointer leads back to byte ${pos} (a loop)`);
      }
      if (pos === this.size && prev) {
        throw this.error(prev.pos, prev.kind, 'the chain to end with a tag whose next is -1, but the file ends after this tag (truncated at a tag boundary)');
      }
      seen.add(pos);
      const h = await this.readHeader(pos);
      entries.push({ kind: h.kind, type: h.type, size: h.size, pos: h.pos });
      prev = h;
      if (h.next === FIFFV_NEXT_NONE) break;
      if (h.next === FIFFV_NEXT_SEQ) pos = pos + HEADER_BYTES + h.size;
      else if (h.next > 0) {
        if (h.next + HEADER_BYTES > this.size) throw this.error(h.pos, h.kind, `a next pointer inside the file, found ${h.next} (file has ${this.size} bytes)`);
        pos = h.next;
      } else throw this.error(h.pos, h.kind, `a next pointer of 0, -1 or a byte offset, found ${h.next}`);
    }
    return entries;
  }
}
