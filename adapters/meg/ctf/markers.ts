/**
 * The text side files of a CTF `.ds` folder that carry events: `MarkerFile.mrk` (named markers,
 * each a list of `trial  time-from-sync-point`) and `bad.segments` (`trial start end`, seconds),
 * parsed as MNE-Python 1.3 parses them (`mne/io/ctf/markers.py`, `info.py::_annotate_bad_segments`)
 * and turned into times from sample 0:
 *   marker onset = trial·nsamp/sfreq + sync_time + pre_trig_pts/sfreq
 *   bad segment onset = start + pre_trig_pts/sfreq, duration = end − start.
 *
 * Owns: these two text formats. Must not: read res4/meg4 (the caller passes the timing).
 */
import { RecordingFormatError } from '../rawRecording.js';

export interface CtfMarkerList {
  name: string;
  /** [trial, sync time in s] per occurrence, in file order. */
  samples: Array<[number, number]>;
}

/** Parses `MarkerFile.mrk`. `file` names it in errors (which give the 1-based line). */
export function parseMarkerFile(text: string, file: string): CtfMarkerList[] {
  const lines = text.split(/\r?\n/);
  let i = 0;
  const find = (prefix: string, what: string): void => {
    while (i < lines.length && !lines[i]!.startsWith(prefix)) i++;
    if (i >= lines.length) throw new RecordingFormatError(file, `line ${lines.length}`, `expected a "${prefix}" line (${what}) before the end of the file`);
    i++;
  };
  const intLine = (what: string): number => {
    const line = lines[i];
    const v = line === undefined ? NaN : Number(line.trim());
    if (!Number.isInteger(v) || v < 0) throw new RecordingFormatError(file, `line ${i + 1}`, `expected ${what} (a non-negative integer), found ${JSON.stringify(line ?? '')}`);
    i++;
    return v;
  };
  find('NUMBER OF MARKERS:', 'marker count');
  const nMarkers = intLine('the number of markers');
  const out: CtfMarkerList[] = [];
  for (let m = 0; m < nMarkers; m++) {
    find('NAME:', `name of marker ${m + 1}`);
    const name = lines[i] ?? '';
    i++;
    find('NUMBER OF SAMPLES:', `sample count of marker ${name}`);
    const n = intLine(`the number of samples of marker ${name}`);
    find('LIST OF SAMPLES:', `sample list of marker ${name}`);
    i++; // the column header line
    const samples: Array<[number, number]> = [];
    for (let k = 0; k < n; k++, i++) {
      const parts = (lines[i] ?? '').trim().split(/\s+/);
      const trial = Number(parts[0]);
      const sync = Number(parts[1]);
      if (parts.length < 2 || !Number.isInteger(trial) || !Number.isFinite(sync)) {
        throw new RecordingFormatError(file, `line ${i + 1}`,
          `expected occurrence ${k + 1} of ${n} of marker ${name} as "trial time", found ${JSON.stringify(lines[i] ?? '<end of file>')}`);
      }
      samples.push([trial, sync]);
    }
    out.push({ name, samples });
  }
  return out;
}

export interface CtfBadSegment {
  trial: string;
  startSec: number;
  endSec: number;
}

/** Parses `bad.segments` (one `trial start end` per non-empty line). */
export function parseBadSegments(text: string, file: string): CtfBadSegment[] {
  const out: CtfBadSegment[] = [];
  text.split(/\r?\n/).forEach((line, k) => {
    const parts = line.trim().split(/\s+/);
    if (parts.length === 1 && parts[0] === '') return;
    const startSec = Number(parts[1]);
    const endSec = Number(parts[2]);
    if (parts.length < 3 || !Number.isFinite(startSec) || !Number.isFinite(endSec)) {
      throw new RecordingFormatError(file, `line ${k + 1}`, `expected "trial start end" in seconds, found ${JSON.stringify(line)}`);
    }
    out.push({ trial: parts[0]!, startSec, endSec });
  });
  return out;
}
