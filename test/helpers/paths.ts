/** Locations tests need: the repository root (tests run from dist/test) and the shared data. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const CLI = path.join(REPO_ROOT, 'dist/src/cli/main.js');
export const DEBIAN_PYTHON = '/usr/bin/python3';

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `lockstep-${prefix}-`));
}

/** Runs a script from test/oracle with Debian's python3 (numpy, scikit-learn) and parses its JSON output file. */
export function runOracle<T>(script: string, args: string[], outPath: string): T {
  execFileSync(DEBIAN_PYTHON, [path.join(REPO_ROOT, 'test/oracle', script), ...args, '--out', outPath], { stdio: ['ignore', 'ignore', 'inherit'] });
  return JSON.parse(fs.readFileSync(outPath, 'utf8')) as T;
}

/**
 * The shared reference data (real recordings with MNE reference values, real ONNX graphs), a
 * sibling of the repository (`../shared/data`), or where LOCKSTEP_SHARED_DATA points. Tests that
 * need it are skipped, with this reason, on a machine that does not have it.
 */
export const SHARED_DATA = process.env.LOCKSTEP_SHARED_DATA ?? path.join(REPO_ROOT, '../shared/data');
export const SHARED_DATA_MISSING: string | false = fs.existsSync(SHARED_DATA) ? false : `no shared reference data at ${SHARED_DATA} (set LOCKSTEP_SHARED_DATA)`;
