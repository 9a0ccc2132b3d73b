/**
 * Writes a CTF `.ds` folder (NAME.res4 + NAME.meg4, continuing in NAME.1_meg4, NAME.2_meg4, …
 * when a file would pass `maxFileBytes`, as CTF acquisition does before 2 GB) from a stream of
 * chunks, so that this project's reader and MNE-Python's `read_raw_ctf` read it back.
 *
 * Data arrive [sample][channel] (SI float chunks, or stored int32 for exact tests); one trial is
 * buffered channel-major, byte-swapped to big-endian and appended, so memory is one trial.
 * SI → stored: round(value · proper_gain · qgain), clamped to int32 (counted in the summary);
 * NaN → 0 (counted).
 *
 * The system clock channel `SCLK01-177`, when present, is written by the writer (counts of
 * 1/qgain s, running on from `clockStartSec`), whatever the chunks hold for it: MNE ends the data
 * at the clock's first 0, so the zero padding of an incomplete last trial is cut off exactly where
 * the written data end. Without a clock channel a padded last trial reads as zeros.
 *
 * Owns: producing the files. Must not: define channel layouts (armeniLayout.ts) or signals.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { SampleChunk } from '../../../src/types.js';
import { CTF_SYSTEM_CLOCK } from './ctfChannels.js';
import { meg4Name, MEG4_HEADER_SIZE } from './meg4.js';
import { encodeRes4, RES4_MAX_COILS, type Res4Channel, type Res4Coil, type Res4Fields, type Res4Filter } from './res4.js';

/** CTF keeps each data file below 2 GB. */
export const CTF_MAX_FILE_BYTES = 2 ** 31 - 1;

export interface CtfWriterChannel {
  /** Full CTF name, e.g. `MLC11-4304` (≤ 31 bytes; MNE keeps the first 15 characters). */
  name: string;
  /** CTF sensor type: 0 ref mag, 1 ref grad, 5 MEG, 9 EEG, 11 stim, 17 clock, 18 ADC, … */
  sensorTypeIndex: number;
  properGain: number;
  qgain: number;
  ioGain?: number;
  gradOrderNo?: number;
  /** Sensor coils (positions in cm, unit normals); MEG/ref channels need at least one or MNE makes them misc. */
  coils?: Res4Coil[];
}

export interface CtfWriterOptions {
  sfreqHz: number;
  channels: CtfWriterChannel[];
  /** Samples per trial (default: 1 s worth of samples). */
  samplesPerTrial?: number;
  /** Largest data file in bytes (default CTF_MAX_FILE_BYTES); smaller values force `.1_meg4` … splits. */
  maxFileBytes?: number;
  /** res4 date and time, `29-Apr-2013` and `09:36` (default: now, UTC). */
  dataDate?: string;
  dataTime?: string;
  runName?: string;
  runTitle?: string;
  subjectId?: string;
  /** Hardware filters to record in the res4 (type 1 lowpass, 2 highpass). */
  filters?: Res4Filter[];
  /** First value of the system clock, seconds (must be > 0: a 0 ends the data for MNE). Default 1000. */
  clockStartSec?: number;
}

export interface CtfWriteSummary {
  dsPath: string;
  res4: string;
  meg4Files: string[];
  nSamples: number;
  nTrials: number;
  samplesPerTrial: number;
  bytesWritten: number;
  clippedValues: number;
  nanValues: number;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const ZERO_COIL: Res4Coil = { posCm: [0, 0, 0], norm: [0, 0, 0], turns: 0, areaCm2: 0 };

export class CtfWriter {
  private readonly nChannels: number;
  private readonly nsamp: number;
  private readonly trialBytes: number;
  private readonly maxFileBytes: number;
  private readonly scale: Float64Array;
  private readonly clockChannel: number;
  private readonly clockStartCounts: number;
  private readonly clockStepCounts: number;
  /** The trial being filled, [channel][sample], int32 in native order until written. */
  private trial: Int32Array;
  private trialBuf: Buffer;
  private fill = 0;
  private nSamples = 0;
  private nTrials = 0;
  private fileIndex = -1;
  private fileBytes = 0;
  private fh: fs.FileHandle | null = null;
  private readonly files: string[] = [];
  private bytesWritten = 0;
  private clipped = 0;
  private nans = 0;
  private closed = false;

  private constructor(readonly dsPath: string, private readonly opts: CtfWriterOptions) {
    this.nChannels = opts.channels.length;
    this.nsamp = opts.samplesPerTrial ?? Math.round(opts.sfreqHz);
    this.trialBytes = this.nChannels * this.nsamp * 4;
    this.maxFileBytes = opts.maxFileBytes ?? CTF_MAX_FILE_BYTES;
    if (MEG4_HEADER_SIZE + this.trialBytes > this.maxFileBytes) {
      throw new RangeError(`one trial (${this.trialBytes} bytes) does not fit in a data file of at most ${this.maxFileBytes} bytes`);
    }
    this.scale = Float64Array.from(opts.channels, (c) => c.properGain * c.qgain);
    this.clockChannel = opts.channels.findIndex((c) => c.name === CTF_SYSTEM_CLOCK);
    const clockQgain = this.clockChannel >= 0 ? opts.channels[this.clockChannel]!.qgain * opts.channels[this.clockChannel]!.properGain : 1;
    this.clockStepCounts = Math.round(clockQgain / opts.sfreqHz);
    this.clockStartCounts = Math.round((opts.clockStartSec ?? 1000) * clockQgain);
    this.trialBuf = Buffer.allocUnsafeSlow(this.trialBytes);
    this.trial = new Int32Array(this.trialBuf.buffer, 0, this.trialBytes / 4);
    this.trial.fill(0);
  }

  /** Creates the `.ds` folder (it must not exist yet, or be empty). */
  static async create(dsPath: string, opts: CtfWriterOptions): Promise<CtfWriter> {
    if (!dsPath.endsWith('.ds')) throw new Error(`a CTF dataset folder must end in .ds, got ${dsPath}`);
    if (!(opts.sfreqHz > 0) || opts.channels.length === 0) throw new Error('CtfWriter needs a positive sfreqHz and at least one channel');
    await fs.mkdir(dsPath, { recursive: true });
    if ((await fs.readdir(dsPath)).length > 0) throw new Error(`${dsPath} is not empty`);
    return new CtfWriter(path.resolve(dsPath), opts);
  }

  /** Appends SI samples, [sample][channel] (all channels, in the writer's channel order). */
  async write(chunk: Pick<SampleChunk, 'data' | 'nSamples' | 'nChannels'>): Promise<void> {
    this.checkShape(chunk.nChannels, chunk.nSamples, chunk.data.length);
    const { data, nSamples } = chunk;
    const nc = this.nChannels;
    let s = 0;
    while (s < nSamples) {
      const m = Math.min(nSamples - s, this.nsamp - this.fill);
      for (let c = 0; c < nc; c++) {
        const g = this.scale[c]!;
        let src = s * nc + c;
        let dst = c * this.nsamp + this.fill;
        for (let i = 0; i < m; i++, src += nc, dst++) {
          let v = Math.round(data[src]! * g);
          if (v > 2147483647 || v < -2147483648) { v = v > 0 ? 2147483647 : -2147483648; this.clipped++; }
          else if (v !== v) { v = 0; this.nans++; }
          this.trial[dst] = v;
        }
      }
      await this.advance(m);
      s += m;
    }
  }

  /** Appends stored integers, [sample][channel] (values outside int32 are a programming error). */
  async writeStored(data: Int32Array, nSamples: number): Promise<void> {
    this.checkShape(this.nChannels, nSamples, data.length);
    const nc = this.nChannels;
    let s = 0;
    while (s < nSamples) {
      const m = Math.min(nSamples - s, this.nsamp - this.fill);
      for (let c = 0; c < nc; c++) {
        let src = s * nc + c;
        let dst = c * this.nsamp + this.fill;
        for (let i = 0; i < m; i++, src += nc, dst++) this.trial[dst] = data[src]!;
      }
      await this.advance(m);
      s += m;
    }
  }

  private checkShape(nChannels: number, nSamples: number, length: number): void {
    if (this.closed) throw new Error('CtfWriter is closed');
    if (nChannels !== this.nChannels || length !== nSamples * nChannels) {
      throw new RangeError(`chunk of ${nSamples} samples × ${nChannels} channels (${length} values) does not match the writer's ${this.nChannels} channels`);
    }
  }

  private async advance(m: number): Promise<void> {
    if (this.clockChannel >= 0) {
      const base = this.clockChannel * this.nsamp;
      for (let i = 0; i < m; i++) this.trial[base + this.fill + i] = this.clockStartCounts + (this.nSamples + i) * this.clockStepCounts;
    }
    this.fill += m;
    this.nSamples += m;
    if (this.fill === this.nsamp) await this.flushTrial();
  }

  private async flushTrial(): Promise<void> {
    if (this.fh === null || this.fileBytes + this.trialBytes > this.maxFileBytes) {
      if (this.fh !== null) await this.fh.close();
      this.fileIndex++;
      const file = meg4Name(this.dsPath, this.fileIndex);
      this.fh = await fs.open(file, 'w');
      const head = Buffer.alloc(MEG4_HEADER_SIZE);
      head.write('MEG41CP', 0, 'latin1');
      await this.fh.write(head, 0, MEG4_HEADER_SIZE);
      this.files.push(file);
      this.fileBytes = MEG4_HEADER_SIZE;
      this.bytesWritten += MEG4_HEADER_SIZE;
    }
    this.trialBuf.swap32(); // native → big-endian
    await this.fh.write(this.trialBuf, 0, this.trialBytes);
    this.fileBytes += this.trialBytes;
    this.bytesWritten += this.trialBytes;
    this.nTrials++;
    this.trial.fill(0);
    this.fill = 0;
  }

  /** Writes the last (zero-padded) trial and the res4; returns what was written. */
  async close(): Promise<CtfWriteSummary> {
    if (this.closed) throw new Error('CtfWriter is already closed');
    if (this.fill > 0) {
      const written = this.nSamples;
      await this.flushTrial();
      this.nSamples = written;
    }
    this.closed = true;
    if (this.fh !== null) await this.fh.close();
    const base = path.basename(this.dsPath).replace(/\.ds$/, '');
    const res4File = path.join(this.dsPath, `${base}.res4`);
    await fs.writeFile(res4File, encodeRes4(this.res4Fields()));
    return {
      dsPath: this.dsPath,
      res4: res4File,
      meg4Files: this.files,
      nSamples: this.nSamples,
      nTrials: this.nTrials,
      samplesPerTrial: this.nsamp,
      bytesWritten: this.bytesWritten,
      clippedValues: this.clipped,
      nanValues: this.nans,
    };
  }

  private res4Fields(): Res4Fields {
    const o = this.opts;
    const now = new Date();
    const pad = (n: number): string => String(n).padStart(2, '0');
    const channels: Res4Channel[] = o.channels.map((c) => {
      const coils = (c.coils ?? []).slice(0, RES4_MAX_COILS);
      return {
        name: c.name,
        sensorTypeIndex: c.sensorTypeIndex,
        originalRunNo: 0,
        coilType: 0,
        properGain: c.properGain,
        qgain: c.qgain,
        ioGain: c.ioGain ?? 1,
        ioOffset: 0,
        numCoils: coils.length,
        gradOrderNo: c.gradOrderNo ?? 0,
        coils: [...coils, ...Array<Res4Coil>(RES4_MAX_COILS - coils.length).fill(ZERO_COIL)],
        headCoils: Array<Res4Coil>(RES4_MAX_COILS).fill(ZERO_COIL),
      };
    });
    return {
      head: 'MEG42RS',
      appName: 'lockstep ctfWriter',
      origin: '',
      description: '',
      nave: 0,
      dataTime: o.dataTime ?? `${pad(now.getUTCHours())}:${pad(now.getUTCMinutes())}`,
      dataDate: o.dataDate ?? `${pad(now.getUTCDate())}-${MONTHS[now.getUTCMonth()]}-${now.getUTCFullYear()}`,
      nSamplesPerTrial: this.nsamp,
      nChannels: this.nChannels,
      sfreqHz: o.sfreqHz,
      epochTimeSec: (this.nTrials * this.nsamp) / o.sfreqHz,
      nTrials: Math.min(this.nTrials, 32767),
      preTrigPts: 0,
      nTrialsDone: Math.min(this.nTrials, 32767),
      nTrialsDisplay: 0,
      saveTrials: 0,
      primaryTrigger: 0,
      secondaryTrigger: [0, 0, 0, 0, 0, 0, 0, 0],
      triggerPolarityMask: 0,
      triggerMode: 0,
      acceptReject: 0,
      runTimeDisplay: 0,
      zeroHead: 0,
      artifactMode: 0,
      runName: o.runName ?? '',
      runTitle: o.runTitle ?? '',
      instruments: '',
      collectDescriptor: '',
      subjectId: o.subjectId ?? '',
      operator: '',
      sensorFileName: '',
      runDescription: '',
      filters: o.filters ?? [],
      channels,
      comps: [],
    };
  }
}

/** Writes a whole stream of SI chunks to a new `.ds` folder. */
export async function writeCtf(dsPath: string, opts: CtfWriterOptions, chunks: AsyncIterable<SampleChunk> | Iterable<SampleChunk>): Promise<CtfWriteSummary> {
  const w = await CtfWriter.create(dsPath, opts);
  for await (const c of chunks) await w.write(c);
  return w.close();
}
