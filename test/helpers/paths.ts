/** Locations tests need: the repository root (tests run from dist/test) and the shared data. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const CLI = path.join(REPO_ROOT, 'dist/cli/main.js');
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
 * The reference files the tests read (real recordings with MNE reference values, real ONNX graphs,
 * the LSL protocol captures), kept in the repository: test/fixtures/ (SOURCES.md says where each
 * comes from). A missing fixture fails its test.
 */
export const FIXTURES = path.join(REPO_ROOT, 'test/fixtures');

/** A fixture's path; throws (failing the test) when it is not there. */
export function fixture(rel: string): string {
  const p = path.join(FIXTURES, rel);
  if (!fs.existsSync(p)) throw new Error(`test fixture ${rel} is missing from ${FIXTURES} (see test/fixtures/SOURCES.md)`);
  return p;
}
