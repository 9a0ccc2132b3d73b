/**
 * The contract every recording reader (CTF `.ds`, FIF, and the simulated subject written to disk)
 * implements, so that `lockstep info`, replay and the benchmarks read any format through one path.
 *
 * Conventions (as MNE-Python): sample indices are relative to the first sample of the recording
 * (0 … nSamples−1); `firstSample` is the absolute index of sample 0 (FIF `first_samp`, 0 for CTF);
 * channel types use MNE's names; SI value = stored number × `cal`.
 *
 * Owns: the shape of a recording as the rest of lockstep sees it. Must not: know any file format.
 */
import type { SampleChunk } from '../../src/types.js';

/** MNE channel type names (mne.io.pick.channel_type). */
export type RawChannelType =
  | 'mag' | 'grad' | 'ref_meg' | 'eeg' | 'eog' | 'ecg' | 'emg' | 'stim' | 'misc' | 'resp' | 'syst' | 'bio' | 'chpi' | 'ias' | 'exci' | 'dipole' | 'gof' | 'seeg' | 'dbs' | 'ecog';

export interface RawChannel {
  name: string;
  type: RawChannelType;
  /** SI unit of the calibrated values: 'T', 'T/m', 'V', 'unitless' (stim/misc counts), … */
  unit: string;
  /** Factor from the stored number to SI (float64, computed exactly as MNE does). */
  cal: number;
  /** Format-specific extras (FIFF kind / coil type / range, CTF gains), for `info --json`. */
  extra?: Record<string, number | string | number[] | null>;
}

/** An event found in the recording itself (CTF MarkerFile, FIF annotations, stim channel edges). */
export interface RawEvent {
  /** Seconds from sample 0 of the recording. */
  onsetSec: number;
  /** Sample index relative to sample 0. */
  sample: number;
  durationSec: number;
  /** Marker name / annotation description / stim value as a string. */
  value: string;
  source: 'marker' | 'annotation' | 'stim' | 'events.tsv';
  channel?: string;
}

/** Where the data are not one continuous stretch (CTF trial boundaries of discontinuous recordings, FIF data skips). */
export interface RawDiscontinuity {
  /** First sample after the break. */
  sample: number;
  kind: 'trial-boundary' | 'skip';
  /** Samples missing (FIF skips), 0 when unknown. */
  missingSamples: number;
}

export interface RawHeader {
  format: 'ctf' | 'fif';
  /** The file or folder that was opened. */
  path: string;
  sfreqHz: number;
  nSamples: number;
  firstSample: number;
  /** ISO 8601, or null. */
  measDate: string | null;
  channels: RawChannel[];
  /** Names of bad channels (CTF BadChannels, FIF bads, BIDS channels.tsv status=bad). */
  bads: string[];
  events: RawEvent[];
  discontinuities: RawDiscontinuity[];
  lineFreqHz: number | null;
  highpassHz: number | null;
  lowpassHz: number | null;
  /** Format-specific header fields worth showing (res4 run name, FIF orig_format, …). */
  extra?: Record<string, unknown>;
}

/** Options of a streaming pass over a recording. */
export interface ChunkOptions {
  /** Channel indices (into header.channels) to emit, in this order; default all. */
  picks?: number[];
  /** First and one-past-last sample (relative to sample 0); default the whole recording. */
  start?: number;
  stop?: number;
  /** Samples per emitted chunk (the reader may use its natural block size when omitted). */
  chunkSamples?: number;
}

export interface RawRecording {
  readonly header: RawHeader;
  /**
   * The numbers as stored in the file (integers for int16/int32 data, exactly representable in
   * float64) for samples [start, stop) of the picked channels. [sample][pick] row-major.
   */
  readStored(start: number, stop: number, picks: number[]): Promise<Float64Array>;
  /** The same samples in SI units (stored × cal, in float64). [sample][pick] row-major. */
  readSI(start: number, stop: number, picks: number[]): Promise<Float64Array>;
  /**
   * Streams the recording as pipeline chunks: float32 SI, [sample][channel], `firstSample`
   * relative to sample 0 and `tStartSec` = firstSample / sfreq. Reads ahead at most a few blocks:
   * memory does not grow with the recording's length.
   */
  chunks(opts?: ChunkOptions): AsyncIterable<SampleChunk>;
  close(): Promise<void>;
}

/**
 * A reading error a user can act on: which file, where (byte offset or FIFF tag), what was
 * expected. Readers throw only this for bad input (never a RangeError from a DataView).
 */
export class RecordingFormatError extends Error {
  constructor(
    readonly file: string,
    readonly where: string,
    readonly expected: string,
    hint = 'check that the file is complete (re-copy it) and that it is the format its extension says',
  ) {
    super(`${file}: ${where}: ${expected} (${hint})`);
    this.name = 'RecordingFormatError';
  }
}
