/**
 * BIDS file names: `sub-<label>[_ses-<label>][_task-<label>][_acq-…][_run-<index>][_proc-…][_split-<index>]_<suffix><.ext>`.
 *
 * Owns: splitting a name into entities, suffix and extension, and the key that groups the files of
 * one recording (every entity except `split`). Must not: touch the file system.
 */

export interface BidsName {
  /** Entities in file order, e.g. { sub: '01', task: 'audiovisual', run: '01' }. */
  entities: Record<string, string>;
  /** `meg`, `events`, `channels`, `scans`, `coordsystem`, … */
  suffix: string;
  /** With the dot, possibly double: `.ds`, `.fif`, `.fif.gz`, `.tsv`, `.json`. */
  extension: string;
}

const DOUBLE_EXTENSIONS = ['.fif.gz', '.nii.gz', '.tsv.gz'];

/**
 * Parses a BIDS base name, or returns null when it is not one (no `sub-`, a part without `-`).
 * @example parseBidsName('sub-01_task-x_run-02_meg.fif') // { entities: { sub: '01', task: 'x', run: '02' }, suffix: 'meg', extension: '.fif' }
 */
export function parseBidsName(baseName: string): BidsName | null {
  const lower = baseName.toLowerCase();
  let extension = DOUBLE_EXTENSIONS.find((e) => lower.endsWith(e)) ?? '';
  if (!extension) {
    const dot = baseName.lastIndexOf('.');
    extension = dot > 0 ? baseName.slice(dot) : '';
  }
  const stem = extension ? baseName.slice(0, baseName.length - extension.length) : baseName;
  const parts = stem.split('_');
  if (parts.length < 2) return null;
  const suffix = parts[parts.length - 1];
  if (!/^[A-Za-z0-9]+$/.test(suffix)) return null;
  const entities: Record<string, string> = {};
  for (const part of parts.slice(0, -1)) {
    const dash = part.indexOf('-');
    if (dash <= 0 || dash === part.length - 1) return null;
    const key = part.slice(0, dash);
    if (key in entities) return null;
    entities[key] = part.slice(dash + 1);
  }
  if (!('sub' in entities) && !('task' in entities)) return null;
  return { entities, suffix, extension };
}

/** The entities that identify one recording (all but `split`), as `key-value` joined by `_`. */
export function recordingKey(entities: Record<string, string>): string {
  return Object.entries(entities)
    .filter(([k]) => k !== 'split')
    .map(([k, v]) => `${k}-${v}`)
    .join('_');
}

/** Entity labels compare as written, except that a numeric run/split index matches across padding: run-1 = run-01. */
export function sameLabel(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a === b) return true;
  return /^\d+$/.test(a) && /^\d+$/.test(b) && Number(a) === Number(b);
}

/** Strips a `sub-`/`ses-`/`task-`/`run-` prefix the user may have typed. */
export function bareLabel(key: string, label: string): string {
  return label.startsWith(`${key}-`) ? label.slice(key.length + 1) : label;
}
