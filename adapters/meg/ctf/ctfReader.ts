/**
 * Opens a CTF `.ds` folder as a RawRecording, reading it as MNE-Python 1.3's
 * `read_raw_ctf(path, system_clock='truncate', clean_names=False)` does: same channels, types,
 * calibrations, sample count, bads and marker annotations; values = stored int32 × cal.
 *
 * Streaming: only the res4 header and (at open) the system clock channel are read up front; data
 * are read on demand in blocks: a whole trial in one sequential read when it is at most
 * `BLOCK_BUDGET_BYTES`, otherwise a window of samples with one read per channel. Blocks are
 * byte-swapped natively (Buffer.swap32) and converted per channel with a typed-array loop; a small
 * cache (3 blocks) lets `chunks()` read the next block while the current one is converted, so
 * memory stays a few blocks whatever the recording's length (real sessions are ~8 GB in several
 * `.N_meg4` files).
 *
 * Discontinuities: consecutive trials are continuous when the system clock runs on by one sample
 * step across the boundary; otherwise the boundary is reported with the number of samples the
 * clock says are missing. Without a clock channel every trial boundary is reported
 * (missingSamples 0 = unknown).
 *
 * Owns: the .ds folder as a whole (which files, how they combine). Must not: parse the res4 bytes
 * (res4.ts), decide channel types (ctfChannels.ts), or pace/filter data (replay/, streams/).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { SampleChunk } from '../../../src/types.js';
import type { ChunkOptions, RawDiscontinuity, RawEvent, RawHeader, RawRecording } from '../rawRecording.js';
import { RecordingFormatError } from '../rawRecording.js';
import { CTF_SYSTEM_CLOCK, cleanCtfName, ctfChannels } from './ctfChannels.js';
import { parseBadSegments, parseMarkerFile } from './markers.js';
import { MEG4_HEADER_SIZE, readExactly, scanMeg4Files, type Meg4Layout } from './meg4.js';
import { parseRes4, type Res4 } from './res4.js';

/** Largest block read in one go; a trial larger than this is read in windows of samples. */
export const BLOCK_BUDGET_BYTES = 32 * 1024 * 1024;
const CACHE_BLOCKS = 3;

export interface CtfOpenOptions {
  /** As MNE's `system_clock`: 'truncate' (default) ends the data at the first 0 of SCLK01-177. */
  systemClock?: 'truncate' | 'ignore';
  /** A .meg4 whose last trial is incomplete: 'error' (default) or 'drop' that trial. */
  incompleteTrial?: 'error' | 'drop';
  /** Block size limit (bytes) — for tests of the windowed path; default BLOCK_BUDGET_BYTES. */
  blockBudgetBytes?: number;
}

/** A block of int32 data in native byte order, [channel][stride], valid samples [0, n). */
interface Block {
  s0: number;
  n: number;
  stride: number;
  data: Int32Array;
}

/** Everything about the folder that ctfWriter/tests may want besides the RawHeader. */
export interface CtfRecording extends RawRecording {
  readonly res4: Res4;
  readonly layout: Meg4Layout;
}

/** MNE's `_convert_time`: the res4 date and time strings as UTC (MNE-C used local time: see meg-formats.md). */
export function ctfMeasDate(dataDate: string, dataTime: string): string | null {
  let date = dataDate.trim();
  let time = dataTime.trim();
  if (date === '' && time === '') { date = '01/01/1970'; time = '00:00:00'; }
  const months = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
  let y: number | undefined, mo: number | undefined, d: number | undefined;
  let m: RegExpMatchArray | null;
  if ((m = date.match(/^(\d{1,2})\/(\d{1,2})\/(\d{4})$/))) [d, mo, y] = [+m[1]!, +m[2]!, +m[3]!];
  else if ((m = date.match(/^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/))) [d, mo, y] = [+m[1]!, months.indexOf(m[2]!.toLowerCase()) + 1, +m[3]!];
  else if ((m = date.match(/^[A-Za-z]{3}, ([A-Za-z]{3}) (\d{1,2}), (\d{4})$/))) [d, mo, y] = [+m[2]!, months.indexOf(m[1]!.toLowerCase()) + 1, +m[3]!];
  else if ((m = date.match(/^(\d{4})\/(\d{1,2})\/(\d{1,2})$/))) [y, mo, d] = [+m[1]!, +m[2]!, +m[3]!];
  const t = time.match(/^(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?$/);
  if (y === undefined || !mo || mo < 1 || mo > 12 || !d || d > 31 || !t) return null;
  const ms = Date.UTC(y, mo - 1, d, +t[1]!, +t[2]!, t[3] ? +t[3] : 0);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

async function readOptionalText(file: string): Promise<string | null> {
  try {
    return await fs.readFile(file, 'latin1');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Opens a `.ds` folder. Throws RecordingFormatError naming the file and byte offset for bad input. */
export async function openCtf(dsPath: string, options: CtfOpenOptions = {}): Promise<CtfRecording> {
  const ds = path.resolve(dsPath);
  const base = path.basename(ds).replace(/\.ds$/, '');
  const res4File = path.join(ds, `${base}.res4`);
  let res4Bytes: Buffer;
  try {
    const st = await fs.stat(ds);
    if (!st.isDirectory()) throw new RecordingFormatError(ds, 'folder', 'expected a CTF .ds folder, found a file', 'pass the NAME.ds folder, not a file in it');
    res4Bytes = await fs.readFile(res4File);
  } catch (err) {
    if (err instanceof RecordingFormatError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new RecordingFormatError(res4File, 'file', 'expected the res4 header of the .ds folder, which does not exist',
        'a .ds folder holds NAME.res4 and NAME.meg4 named after the folder (BIDS examples without data have only the side files)');
    }
    throw err;
  }
  const res4 = parseRes4(res4Bytes, res4File);
  const { channels, compensationGrade } = ctfChannels(res4, res4File);
  const names = res4.channels.map((c) => c.name);
  // As MNE: a compensation record whose sensor is not a channel is an error.
  res4.comps.forEach((comp, k) => {
    if (!names.includes(comp.sensorName)) {
      throw new RecordingFormatError(res4File, `byte ${res4.offsets.comps + 2 + k * 1992}`,
        `expected compensation record ${k} to name a channel, found ${JSON.stringify(comp.sensorName)}`);
    }
  });
  const clockChannel = names.indexOf(CTF_SYSTEM_CLOCK);
  const layout = await scanMeg4Files(ds, res4.nChannels, res4.nSamplesPerTrial, {
    clockChannel,
    systemClock: options.systemClock ?? 'truncate',
    incompleteTrial: options.incompleteTrial ?? 'error',
    channelNames: names,
  });

  const sfreqHz = res4.sfreqHz;
  // Bad channels: BadChannels lists clean names (no system suffix); MNE maps them back.
  const bads: string[] = [];
  const unknownBads: string[] = [];
  const badText = await readOptionalText(path.join(ds, 'BadChannels'));
  if (badText !== null) {
    const byClean = new Map(channels.map((c) => [cleanCtfName(c.name), c.name]));
    for (const line of badText.split(/\r?\n/)) {
      const n = line.trim();
      if (n === '') continue;
      const full = byClean.get(n) ?? channels.find((c) => c.name === n)?.name;
      if (full === undefined) unknownBads.push(n);
      else if (!bads.includes(full)) bads.push(full);
    }
  }

  // Events: markers and bad segments, timed as MNE times its annotations; those outside the data are dropped, as set_annotations does.
  const events: RawEvent[] = [];
  const offsetSec = res4.preTrigPts / sfreqHz;
  const trialSec = res4.nSamplesPerTrial / sfreqHz;
  const markerFile = path.join(ds, 'MarkerFile.mrk');
  const markerText = await readOptionalText(markerFile);
  if (markerText !== null) {
    for (const m of parseMarkerFile(markerText, markerFile)) {
      for (const [trial, sync] of m.samples) {
        const onsetSec = sync + trial * trialSec + offsetSec;
        events.push({ onsetSec, sample: Math.round(onsetSec * sfreqHz), durationSec: 0, value: m.name, source: 'marker' });
      }
    }
  }
  const segFile = path.join(ds, 'bad.segments');
  const segText = await readOptionalText(segFile);
  if (segText !== null) {
    for (const s of parseBadSegments(segText, segFile)) {
      const onsetSec = s.startSec + offsetSec;
      events.push({ onsetSec, sample: Math.round(onsetSec * sfreqHz), durationSec: s.endSec - s.startSec, value: `bad_${s.trial}`, source: 'annotation' });
    }
  }
  const durationSec = layout.nSamples / sfreqHz;
  const kept = events
    .filter((e) => e.onsetSec + e.durationSec >= 0 && e.onsetSec < durationSec)
    .sort((a, b) => a.onsetSec - b.onsetSec);

  const discontinuities: RawDiscontinuity[] = [];
  for (let k = 1; k < layout.segments.length; k++) {
    const prev = layout.segments[k - 1]!;
    const seg = layout.segments[k]!;
    if (layout.clockStep !== null && layout.clockStep > 0 && prev.clockLast !== null && seg.clockFirst !== null) {
      const steps = (seg.clockFirst - prev.clockLast) / layout.clockStep;
      if (steps !== 1) {
        discontinuities.push({ sample: seg.start, kind: 'trial-boundary', missingSamples: Number.isInteger(steps) && steps > 1 ? steps - 1 : 0 });
      }
    } else {
      discontinuities.push({ sample: seg.start, kind: 'trial-boundary', missingSamples: 0 });
    }
  }

  let lowpassHz: number = sfreqHz / 2;
  let highpassHz: number = 0;
  for (const f of res4.filters) {
    if (f.type === 1) lowpassHz = f.freqHz;
    if (f.type === 2) highpassHz = f.freqHz;
  }

  const header: RawHeader = {
    format: 'ctf',
    path: ds,
    sfreqHz,
    nSamples: layout.nSamples,
    firstSample: 0,
    measDate: ctfMeasDate(res4.dataDate, res4.dataTime),
    channels,
    bads,
    events: kept,
    discontinuities,
    lineFreqHz: null,
    highpassHz,
    lowpassHz,
    extra: {
      res4Header: res4.head,
      appName: res4.appName,
      runName: res4.runName,
      runTitle: res4.runTitle,
      subjectId: res4.subjectId,
      operator: res4.operator,
      dataDate: res4.dataDate,
      dataTime: res4.dataTime,
      nTrials: res4.nTrials,
      nSamplesPerTrial: res4.nSamplesPerTrial,
      preTrigPts: res4.preTrigPts,
      epochTimeSec: res4.epochTimeSec,
      filters: res4.filters,
      compensationGrade,
      compensationRecords: res4.comps.length,
      compensationTypes: [...new Set(res4.comps.map((c) => String.fromCharCode(
        (c.coeffType >>> 24) & 255, (c.coeffType >>> 16) & 255, (c.coeffType >>> 8) & 255, c.coeffType & 255)))],
      meg4Files: layout.files.map((f) => ({ file: path.basename(f.path), sizeBytes: f.sizeBytes, header: f.header, nTrials: f.nTrials, nSamples: f.nSamples })),
      trialsUsed: layout.segments.length,
      trialStarts: layout.segments.length <= 1000 ? layout.segments.map((s) => s.start) : undefined,
      systemClockStep: layout.clockStep,
      ...(unknownBads.length > 0 ? { unknownBadChannels: unknownBads } : {}),
    },
  };
  return new CtfDataset(header, res4, layout, options.blockBudgetBytes ?? BLOCK_BUDGET_BYTES);
}

class CtfDataset implements CtfRecording {
  private readonly handles = new Map<number, Promise<fs.FileHandle>>();
  private readonly cache = new Map<number, Promise<Block>>();
  private readonly cals: Float64Array;
  /** Samples per block window within a trial. */
  private readonly window: number;
  private readonly windowsPerTrial: number;
  private closed = false;

  constructor(readonly header: RawHeader, readonly res4: Res4, readonly layout: Meg4Layout, budget: number) {
    this.cals = Float64Array.from(header.channels, (c) => c.cal);
    const nsamp = res4.nSamplesPerTrial;
    this.window = nsamp * res4.nChannels * 4 <= budget ? nsamp : Math.max(1, Math.floor(budget / (res4.nChannels * 4)));
    this.windowsPerTrial = Math.ceil(nsamp / this.window);
  }

  private handle(file: number): Promise<fs.FileHandle> {
    let h = this.handles.get(file);
    if (!h) {
      h = fs.open(this.layout.files[file]!.path, 'r');
      this.handles.set(file, h);
    }
    return h;
  }

  /** Index of the segment holding recording sample `s` (binary search). */
  private segmentOf(s: number): number {
    const segs = this.layout.segments;
    let lo = 0;
    let hi = segs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (segs[mid]!.start <= s) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  private block(seg: number, win: number): Promise<Block> {
    const key = seg * this.windowsPerTrial + win;
    let p = this.cache.get(key);
    if (p) {
      this.cache.delete(key);
      this.cache.set(key, p);
      return p;
    }
    p = this.loadBlock(seg, win);
    this.cache.set(key, p);
    // Keep the cache small; a failed load must not stay cached (nor become an unhandled rejection).
    p.catch(() => this.cache.delete(key));
    while (this.cache.size > CACHE_BLOCKS) this.cache.delete(this.cache.keys().next().value!);
    return p;
  }

  private async loadBlock(segIndex: number, win: number): Promise<Block> {
    if (this.closed) throw new Error('CTF recording is closed');
    const seg = this.layout.segments[segIndex]!;
    const { nChannels, nSamplesPerTrial: nsamp } = this.res4;
    const file = this.layout.files[seg.file]!.path;
    const fh = await this.handle(seg.file);
    const trialPos = MEG4_HEADER_SIZE + seg.trial * nChannels * nsamp * 4;
    const s0 = win * this.window;
    const n = Math.min(this.window, seg.length - s0);
    let buf: Buffer;
    let stride: number;
    const what = `trial ${seg.trial} (${nChannels} channels × ${nsamp} samples)`;
    if (this.window === nsamp) {
      // Whole trial: one sequential read.
      buf = Buffer.allocUnsafeSlow(nChannels * nsamp * 4);
      stride = nsamp;
      await readExactly(fh, file, buf, trialPos, what);
    } else {
      buf = Buffer.allocUnsafeSlow(nChannels * n * 4);
      stride = n;
      await Promise.all(Array.from({ length: nChannels }, (_, c) =>
        readExactly(fh, file, buf.subarray(c * n * 4, (c + 1) * n * 4), trialPos + (c * nsamp + s0) * 4,
          `samples ${s0}…${s0 + n - 1} of channel ${c} in ${what}`)));
    }
    buf.swap32(); // big-endian → native (little-endian on every platform Node supports for this)
    return { s0, n, stride, data: new Int32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4) };
  }

  private checkRange(start: number, stop: number, picks: number[]): void {
    if (!Number.isInteger(start) || !Number.isInteger(stop) || start < 0 || stop > this.header.nSamples || start > stop) {
      throw new RangeError(`samples [${start}, ${stop}) are outside the recording [0, ${this.header.nSamples})`);
    }
    for (const p of picks) {
      if (!Number.isInteger(p) || p < 0 || p >= this.header.channels.length) throw new RangeError(`channel index ${p} is outside 0…${this.header.channels.length - 1}`);
    }
  }

  /** Fills out[(s−start)·nPick + j] for s in [start, stop); scaled by cal unless `stored`. Prefetches the block after `stop`. */
  private async fill(start: number, stop: number, picks: Int32Array, out: Float32Array | Float64Array, stored: boolean): Promise<void> {
    const nPick = picks.length;
    let s = start;
    while (s < stop) {
      const segIndex = this.segmentOf(s);
      const seg = this.layout.segments[segIndex]!;
      const inTrial = s - seg.start;
      const win = Math.floor(inTrial / this.window);
      const block = await this.block(segIndex, win);
      const bs = inTrial - block.s0;
      const m = Math.min(stop - s, block.n - bs);
      const o = (s - start) * nPick;
      const d = block.data;
      for (let j = 0; j < nPick; j++) {
        const c = picks[j]!;
        const cal = stored ? 1 : this.cals[c]!;
        let src = c * block.stride + bs;
        let dst = o + j;
        for (let i = 0; i < m; i++, src++, dst += nPick) out[dst] = d[src]! * cal;
      }
      s += m;
    }
  }

  /** Starts reading the block that holds sample `s` (if any) so it is ready when asked for. */
  private prefetch(s: number): void {
    if (s >= this.header.nSamples || this.closed) return;
    const segIndex = this.segmentOf(s);
    const seg = this.layout.segments[segIndex]!;
    this.block(segIndex, Math.floor((s - seg.start) / this.window)).catch(() => undefined);
  }

  async readStored(start: number, stop: number, picks: number[]): Promise<Float64Array> {
    this.checkRange(start, stop, picks);
    const out = new Float64Array((stop - start) * picks.length);
    await this.fill(start, stop, Int32Array.from(picks), out, true);
    return out;
  }

  async readSI(start: number, stop: number, picks: number[]): Promise<Float64Array> {
    this.checkRange(start, stop, picks);
    const out = new Float64Array((stop - start) * picks.length);
    await this.fill(start, stop, Int32Array.from(picks), out, false);
    return out;
  }

  async *chunks(opts: ChunkOptions = {}): AsyncIterable<SampleChunk> {
    const picks = opts.picks ?? this.header.channels.map((_, k) => k);
    const start = opts.start ?? 0;
    const stop = opts.stop ?? this.header.nSamples;
    this.checkRange(start, stop, picks);
    if (opts.chunkSamples !== undefined && (!Number.isInteger(opts.chunkSamples) || opts.chunkSamples <= 0)) {
      throw new RangeError(`chunkSamples must be a positive integer, got ${opts.chunkSamples}`);
    }
    const pickArr = Int32Array.from(picks);
    const sfreqHz = this.header.sfreqHz;
    let s = start;
    while (s < stop) {
      let end: number;
      if (opts.chunkSamples !== undefined) {
        end = Math.min(stop, s + opts.chunkSamples);
      } else {
        // Natural size: up to the end of the block holding s (never across a trial boundary).
        const seg = this.layout.segments[this.segmentOf(s)]!;
        const inTrial = s - seg.start;
        end = Math.min(stop, seg.start + Math.min(seg.length, (Math.floor(inTrial / this.window) + 1) * this.window));
      }
      this.prefetch(end);
      const data = new Float32Array((end - s) * pickArr.length);
      await this.fill(s, end, pickArr, data, false);
      yield { sfreqHz, firstSample: s, tStartSec: s / sfreqHz, nChannels: pickArr.length, nSamples: end - s, data };
      s = end;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.cache.clear();
    const hs = [...this.handles.values()];
    this.handles.clear();
    for (const h of hs) {
      try { await (await h).close(); } catch { /* a handle that failed to open has nothing to close */ }
    }
  }
}

export { RecordingFormatError };
