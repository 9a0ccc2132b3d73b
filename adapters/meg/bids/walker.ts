/**
 * Finds the MEG recordings of a BIDS dataset from its file names:
 * `sub-X[/ses-Y]/meg/sub-X[_ses-Y]_task-Z[_acq-…][_run-R][_split-NN]_meg.(ds|fif|…)` and their
 * sidecars (`_meg.json`, `_channels.tsv`, `_events.tsv`), the `scans.tsv` rows that name them,
 * and `participants.tsv`. Empty-room recordings are those of `sub-emptyroom`.
 *
 * A recording is any group of files sharing every entity but `split` with a `meg` suffix data file,
 * `_meg.json` or `_channels.tsv` — so sidecar-only example datasets (bids-examples ships empty
 * placeholders, or none) are listed too, with `dataFiles` empty. Split FIF parts (`_split-01`, …)
 * are listed in split order. Sidecars follow the BIDS inheritance principle: the nearest file
 * whose entities are a subset of the recording's, searched from the `meg/` folder up to the root.
 *
 * Owns: the layout of a dataset. Must not: read recordings or sidecar contents (other than scans).
 */
import fs from 'node:fs';
import path from 'node:path';
import { bareLabel, parseBidsName, recordingKey, sameLabel, type BidsName } from './entities.js';
import { participantsOf, readJsonSidecar, readScansTsv, readTsv, type ScanRow } from './sidecars.js';
import { BidsFormatError } from './tsv.js';

export type RecordingFormat = 'ctf' | 'fif' | 'other';

export interface BidsRecordingEntry {
  /** `sub-01_ses-02_task-x_run-01` */
  key: string;
  subject: string;
  session: string | null;
  task: string | null;
  run: string | null;
  /** All entities of the recording (without split). */
  entities: Record<string, string>;
  isEmptyRoom: boolean;
  /** Data files (CTF `.ds` folders, FIF parts in split order); empty when only sidecars exist. */
  dataFiles: string[];
  /**
   * Whether the data are here: a `.ds` folder with its `.res4`, a non-empty FIF. bids-examples
   * ship `.ds` folders without res4/meg4 and empty placeholders.
   */
  dataPresent: boolean;
  /** From the data file's extension, else from the scans.tsv row; null when neither exists. */
  format: RecordingFormat | null;
  megJson: string | null;
  channelsTsv: string | null;
  eventsTsv: string | null;
  /** acq_time from the scans.tsv row naming this recording (any split part), or null. */
  acqTime: string | null;
  /** That row's filename, relative to the subject/session folder (the data file even when it is absent here). */
  scansFilename: string | null;
}

export interface BidsSubject {
  id: string;
  sessions: string[];
}

export interface BidsDataset {
  root: string;
  name: string | null;
  bidsVersion: string | null;
  participants: Record<string, string>[] | null;
  subjects: BidsSubject[];
  tasks: string[];
  recordings: BidsRecordingEntry[];
  /** Non-fatal problems (malformed scans rows, …). */
  warnings: string[];
}

const MEG_DATA_EXT = new Set(['.ds', '.fif', '.fif.gz', '.con', '.sqd', '.bin', '.mrk', '.kdf']);

interface NamedFile {
  path: string;
  name: BidsName;
}

function listDir(dir: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

/** Files (and `.ds` folders) of a folder whose names parse as BIDS names. */
function namedFiles(dir: string): NamedFile[] {
  const out: NamedFile[] = [];
  for (const d of listDir(dir)) {
    const name = parseBidsName(d.name);
    if (name) out.push({ path: path.join(dir, d.name), name });
  }
  return out;
}

function hasData(p: string): boolean {
  try {
    const st = fs.statSync(p);
    if (st.isDirectory()) return fs.existsSync(path.join(p, `${path.basename(p, path.extname(p))}.res4`));
    return st.size > 0;
  } catch {
    return false;
  }
}

function isSubset(small: Record<string, string>, big: Record<string, string>): boolean {
  return Object.entries(small).every(([k, v]) => k !== 'split' && sameLabel(v, big[k]));
}

const compareLabels = (a: string | null, b: string | null): number => {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return Number(a) - Number(b);
  return a < b ? -1 : 1;
};

/**
 * Walks a BIDS root.
 * @example (await walkBids('/data/armeni')).recordings.filter((r) => r.subject === '001')
 */
export function walkBids(root: string): BidsDataset {
  const abs = path.resolve(root);
  if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) throw new BidsFormatError(abs, null, 'not a folder', 'give the BIDS root (the folder with dataset_description.json and sub-* folders)');
  const warnings: string[] = [];
  let name: string | null = null;
  let bidsVersion: string | null = null;
  const dd = path.join(abs, 'dataset_description.json');
  if (fs.existsSync(dd)) {
    const j = readJsonSidecar(dd);
    name = typeof j.Name === 'string' ? j.Name : null;
    bidsVersion = typeof j.BIDSVersion === 'string' ? j.BIDSVersion : null;
  }
  const pt = path.join(abs, 'participants.tsv');
  const participants = fs.existsSync(pt) ? participantsOf(readTsv(pt)) : null;

  const rootFiles = namedFiles(abs);
  const subjects: BidsSubject[] = [];
  const recordings: BidsRecordingEntry[] = [];
  const subDirs = listDir(abs)
    .filter((d) => d.isDirectory() && d.name.startsWith('sub-'))
    .map((d) => d.name)
    .sort();
  if (subDirs.length === 0) throw new BidsFormatError(abs, null, 'no sub-* folders', 'give the BIDS root (the folder with dataset_description.json and sub-* folders)');

  for (const subDir of subDirs) {
    const subject = bareLabel('sub', subDir);
    const subPath = path.join(abs, subDir);
    const sesDirs = listDir(subPath)
      .filter((d) => d.isDirectory() && d.name.startsWith('ses-'))
      .map((d) => d.name)
      .sort();
    const levels: { session: string | null; dir: string }[] = sesDirs.length ? sesDirs.map((s) => ({ session: bareLabel('ses', s), dir: path.join(subPath, s) })) : [{ session: null, dir: subPath }];
    const subFiles = namedFiles(subPath);
    const sessionsWithMeg: string[] = [];
    for (const { session, dir } of levels) {
      const megDir = path.join(dir, 'meg');
      const megFiles = namedFiles(megDir);
      const sesFiles = session === null ? [] : namedFiles(dir);
      // scans.tsv of this subject/session: recording key → row (split parts share a key; the first row wins).
      const scans = new Map<string, ScanRow>();
      for (const f of session === null ? subFiles : sesFiles) {
        if (f.name.suffix === 'scans' && f.name.extension === '.tsv') {
          const s = readScansTsv(f.path);
          warnings.push(...s.warnings);
          for (const r of s.rows) {
            const n = parseBidsName(path.basename(r.filename));
            const k = n ? recordingKey(n.entities) : null;
            if (k !== null && !scans.has(k)) scans.set(k, r);
          }
        }
      }
      const groups = new Map<string, NamedFile[]>();
      for (const f of megFiles) {
        if (!('task' in f.name.entities)) continue; // coordsystem, headshape: subject-level, not a recording
        const k = recordingKey(f.name.entities);
        groups.set(k, [...(groups.get(k) ?? []), f]);
      }
      let found = false;
      for (const [key, files] of groups) {
        const data = files.filter((f) => f.name.suffix === 'meg' && MEG_DATA_EXT.has(f.name.extension.toLowerCase()));
        const hasSidecar = files.some((f) => (f.name.suffix === 'meg' && f.name.extension === '.json') || f.name.suffix === 'channels');
        if (data.length === 0 && !hasSidecar) continue;
        const entities = Object.fromEntries(Object.entries((data[0] ?? files[0]).name.entities).filter(([k]) => k !== 'split'));
        data.sort((a, b) => compareLabels(a.name.entities.split ?? null, b.name.entities.split ?? null));
        // Nearest sidecar whose entities ⊆ the recording's: meg/ first, then session, subject, root.
        const sidecar = (suffix: string, ext: string): string | null => {
          for (const pool of [megFiles, sesFiles, subFiles, rootFiles]) {
            const hit = pool.find((f) => f.name.suffix === suffix && f.name.extension === ext && isSubset(f.name.entities, entities));
            if (hit) return hit.path;
          }
          return null;
        };
        const dataFiles = data.map((f) => f.path);
        // Without a data file here (sidecar-only datasets), the scans.tsv row still says what it is.
        const scansName = scans.get(key) ? parseBidsName(path.basename(scans.get(key)!.filename)) : null;
        const ext = (data[0]?.name.extension ?? scansName?.extension)?.toLowerCase();
        const format: RecordingFormat | null = ext === undefined ? null : ext === '.ds' ? 'ctf' : ext === '.fif' || ext === '.fif.gz' ? 'fif' : 'other';
        recordings.push({
          key,
          subject,
          session: entities.ses ?? session,
          task: entities.task ?? null,
          run: entities.run ?? null,
          entities,
          isEmptyRoom: subject === 'emptyroom',
          dataFiles,
          dataPresent: dataFiles.length > 0 && dataFiles.every(hasData),
          format,
          megJson: sidecar('meg', '.json'),
          channelsTsv: sidecar('channels', '.tsv'),
          eventsTsv: sidecar('events', '.tsv'),
          acqTime: scans.get(key)?.acqTime ?? null,
          scansFilename: scans.get(key)?.filename ?? null,
        });
        found = true;
      }
      if (found && session !== null) sessionsWithMeg.push(session);
    }
    subjects.push({ id: subject, sessions: sessionsWithMeg });
  }
  recordings.sort(
    (a, b) => compareLabels(a.subject, b.subject) || compareLabels(a.session, b.session) || compareLabels(a.task, b.task) || compareLabels(a.run, b.run) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
  );
  const tasks = [...new Set(recordings.map((r) => r.task).filter((t): t is string => t !== null))].sort();
  return { root: abs, name, bidsVersion, participants, subjects, tasks, recordings, warnings };
}

export interface RecordingQuery {
  subject?: string;
  session?: string;
  task?: string;
  run?: string;
}

/** Recordings matching a query (labels with or without their `sub-`/`ses-`/… prefix; run-1 = run-01). */
export function selectRecordings(ds: BidsDataset, q: RecordingQuery): BidsRecordingEntry[] {
  return ds.recordings.filter(
    (r) =>
      (q.subject === undefined || sameLabel(r.subject, bareLabel('sub', q.subject))) &&
      (q.session === undefined || sameLabel(r.session ?? undefined, bareLabel('ses', q.session))) &&
      (q.task === undefined || r.task === bareLabel('task', q.task)) &&
      (q.run === undefined || sameLabel(r.run ?? undefined, bareLabel('run', q.run))),
  );
}
