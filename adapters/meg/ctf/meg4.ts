/**
 * The data files of a CTF `.ds` folder: `NAME.meg4`, then `NAME.1_meg4`, `NAME.2_meg4`, … (CTF
 * starts a new file before 2 GB), each an 8-byte `MEG41CP\0` header followed by whole trials,
 * each trial `nchan × nsamp` big-endian int32, channel-major (all samples of channel 0, then
 * channel 1, …). Byte offset of (trial t, channel c, sample s) in its file:
 * `8 + 4·((t·nchan + c)·nsamp + s)`.
 *
 * `scanMeg4Files` finds the files, checks their headers and sizes (a truncated file names the
 * trial, channel and sample where the data stop), and, as MNE does with
 * `system_clock='truncate'`, ends each file's data at the first 0 of the system clock channel
 * `SCLK01-177`. It also reads the clock at every trial boundary to tell continuous trials from
 * discontinuous ones (the clock jumps). The result is a table of segments (one per trial, in
 * recording order) mapping recording samples to file positions.
 *
 * Owns: the meg4 file set and its layout. Must not: convert units or interpret channels.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { RecordingFormatError } from '../rawRecording.js';

export const MEG4_HEADER_SIZE = 8;

/** One trial's valid samples: recording samples [start, start+length) are samples [0, length) of `trial` in file `file`. */
export interface Meg4Segment {
  file: number;
  trial: number;
  start: number;
  length: number;
  /** Clock value (stored integer) of the first and last valid sample, when the recording has a system clock. */
  clockFirst: number | null;
  clockLast: number | null;
}

export interface Meg4FileInfo {
  path: string;
  sizeBytes: number;
  header: string;
  /** Complete trials in the file. */
  nTrials: number;
  /** Valid samples after system-clock truncation. */
  nSamples: number;
}

export interface Meg4Layout {
  files: Meg4FileInfo[];
  segments: Meg4Segment[];
  nSamples: number;
  /** Clock counts per sample (e.g. 10 for SCLK at 12 kHz counts, 1200 Hz), or null without a clock. */
  clockStep: number | null;
}

export interface Meg4ScanOptions {
  /** Index of the SCLK01-177 channel, or -1. */
  clockChannel: number;
  /** 'truncate' (MNE's default): data end at the first 0 of the clock; 'ignore': all samples. */
  systemClock: 'truncate' | 'ignore';
  /** What to do with a file whose last trial is incomplete: 'error' (default, as MNE) or 'drop' it. */
  incompleteTrial: 'error' | 'drop';
  channelNames: string[];
}

/** `NAME.meg4`, `NAME.1_meg4`, … for the folder `NAME.ds`. */
export function meg4Name(dsPath: string, k: number): string {
  const base = path.basename(dsPath).replace(/\.ds$/, '');
  return path.join(dsPath, k === 0 ? `${base}.meg4` : `${base}.${k}_meg4`);
}

/** Reads exactly `n` bytes at `pos` or throws RecordingFormatError with `what`. */
export async function readExactly(fh: fs.FileHandle, file: string, buf: Uint8Array, pos: number, what: string): Promise<void> {
  let done = 0;
  while (done < buf.byteLength) {
    const { bytesRead } = await fh.read(buf, done, buf.byteLength - done, pos + done);
    if (bytesRead === 0) {
      throw new RecordingFormatError(file, `byte ${pos + done}`, `expected ${what} but the file ends there (was it truncated while open?)`);
    }
    done += bytesRead;
  }
}

export async function scanMeg4Files(dsPath: string, nChannels: number, nSamplesPerTrial: number, opts: Meg4ScanOptions): Promise<Meg4Layout> {
  const trialBytes = nChannels * nSamplesPerTrial * 4;
  const files: Meg4FileInfo[] = [];
  const segments: Meg4Segment[] = [];
  let total = 0;
  let clockStep: number | null = null;
  for (let k = 0; ; k++) {
    const file = meg4Name(dsPath, k);
    let stat;
    try {
      stat = await fs.stat(file);
    } catch {
      if (k === 0) {
        throw new RecordingFormatError(file, 'file', 'expected the data file of the .ds folder, which does not exist',
          'a .ds folder holds NAME.res4 and NAME.meg4; BIDS examples without data have only the side files');
      }
      break;
    }
    const fh = await fs.open(file, 'r');
    try {
      const head = new Uint8Array(MEG4_HEADER_SIZE);
      if (stat.size < MEG4_HEADER_SIZE) {
        throw new RecordingFormatError(file, 'byte 0', `expected the 8-byte "MEG41CP" header, but the file has ${stat.size} bytes`);
      }
      await readExactly(fh, file, head, 0, 'the 8-byte meg4 header');
      const header = Buffer.from(head.subarray(0, 7)).toString('latin1');
      if (!/^MEG4[12]CP$/.test(header)) {
        throw new RecordingFormatError(file, 'byte 0', `expected the meg4 header "MEG41CP", found ${JSON.stringify(header)}`,
          'this is not a CTF .meg4 data file');
      }
      const dataBytes = stat.size - MEG4_HEADER_SIZE;
      let nTrials = Math.floor(dataBytes / trialBytes);
      const rest = dataBytes - nTrials * trialBytes;
      if (rest !== 0 && opts.incompleteTrial === 'error') {
        const channel = Math.floor(rest / 4 / nSamplesPerTrial);
        const sample = Math.floor(rest / 4) % nSamplesPerTrial;
        const name = opts.channelNames[channel] ?? `#${channel}`;
        throw new RecordingFormatError(file, `byte ${stat.size}`,
          `expected trial ${nTrials} of this file (${trialBytes} bytes: ${nChannels} channels × ${nSamplesPerTrial} samples × 4) to be complete, ` +
          `but it stops at channel ${channel} (${name}) sample ${sample}; ${MEG4_HEADER_SIZE + (nTrials + 1) * trialBytes - stat.size} bytes are missing`,
          'the file is truncated: re-copy it, or open with incompleteTrial: "drop" to read the complete trials');
      }
      let nValid = nTrials * nSamplesPerTrial;
      const fileSegments: Meg4Segment[] = [];
      for (let t = 0; t < nTrials; t++) {
        fileSegments.push({ file: k, trial: t, start: 0, length: nSamplesPerTrial, clockFirst: null, clockLast: null });
      }
      if (opts.clockChannel >= 0) {
        // One read of the clock channel per trial (in pieces for very long trials).
        const pieceSamples = Math.min(nSamplesPerTrial, 1 << 20);
        const piece = Buffer.allocUnsafe(pieceSamples * 4);
        scan: for (let t = 0; t < nTrials; t++) {
          const seg = fileSegments[t]!;
          for (let s0 = 0; s0 < nSamplesPerTrial; s0 += pieceSamples) {
            const n = Math.min(pieceSamples, nSamplesPerTrial - s0);
            const pos = MEG4_HEADER_SIZE + t * trialBytes + (opts.clockChannel * nSamplesPerTrial + s0) * 4;
            const buf = piece.subarray(0, n * 4);
            await readExactly(fh, file, buf, pos, `system clock samples of trial ${t}`);
            if (s0 === 0) seg.clockFirst = buf.readInt32BE(0);
            if (clockStep === null && n > 1) clockStep = buf.readInt32BE(4) - buf.readInt32BE(0);
            if (opts.systemClock === 'truncate') {
              for (let s = 0; s < n; s++) {
                if (buf.readInt32BE(4 * s) === 0) {
                  seg.length = s0 + s;
                  nValid = t * nSamplesPerTrial + s0 + s;
                  seg.clockLast = s > 0 ? buf.readInt32BE(4 * (s - 1)) : null;
                  nTrials = t + 1;
                  break scan;
                }
              }
            }
            if (s0 + n === nSamplesPerTrial) seg.clockLast = buf.readInt32BE(4 * (n - 1));
          }
        }
      }
      files.push({ path: file, sizeBytes: stat.size, header, nTrials: Math.floor(dataBytes / trialBytes), nSamples: nValid });
      // As MNE: a file with no valid sample ends the recording.
      if (nValid === 0) break;
      for (const seg of fileSegments.slice(0, nTrials)) {
        if (seg.length === 0) continue;
        seg.start = total;
        total += seg.length;
        segments.push(seg);
      }
    } finally {
      await fh.close();
    }
  }
  if (total === 0) {
    throw new RecordingFormatError(meg4Name(dsPath, 0), `byte ${MEG4_HEADER_SIZE}`,
      'expected at least one sample of data, found none (empty data file, or the system clock is 0 from the start)');
  }
  return { files, segments, nSamples: total, clockStep };
}
