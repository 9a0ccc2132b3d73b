/**
 * A short fingerprint of one BIDS subject's files and the dataset's stimuli: the relative path and
 * size of every file under `sub-<label>/` and `stimuli/`, hashed. An experiment puts it in each
 * cell's identity, so that a stored result is not reused once the data changed (a file added,
 * removed, truncated or replaced by one of another size). Sizes rather than contents keep it cheap
 * for hour-long recordings; file times are left out because copies change them.
 *
 * Owns: the fingerprint. Must not: open recordings.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

function listFiles(root: string, rel: string, out: string[]): void {
  const dir = path.join(root, rel);
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const r = path.join(rel, e.name);
    if (e.isDirectory()) listFiles(root, r, out);
    else if (e.isFile()) out.push(`${r.split(path.sep).join('/')}\t${fs.statSync(path.join(root, r)).size}`);
  }
}

/**
 * A subject without a folder gets the fingerprint "missing": its cells then fail where they run,
 * with the reader's reason, and the experiment's other cells go on.
 */
export function bidsSubjectFingerprint(root: string, subject: string): string {
  const label = subject.replace(/^sub-/, '');
  const sub = `sub-${label}`;
  if (!fs.existsSync(path.join(root, sub))) return 'missing';
  const files: string[] = [];
  listFiles(root, sub, files);
  if (fs.existsSync(path.join(root, 'stimuli'))) listFiles(root, 'stimuli', files);
  files.sort();
  return createHash('sha256').update(files.join('\n')).digest('hex').slice(0, 16);
}
