/**
 * Finished job results on disk, by a key that hashes everything that defines the job (an experiment
 * cell's identity: subject, model graph hash, context, conditions, decoding settings), so that a
 * rerun, another experiment asking for the same cell, or a worker on another machine that sees the
 * same folder reuses the result instead of computing it again.
 *
 * Layout: `<dir>/<key[0..2]>/<key>.json` holding `{ identity, result }`, written atomically; a file
 * whose identity differs from the one asked for (a hash collision, or a hand-edited file) is not
 * used. Default folder: `$LOCKSTEP_CACHE/experiments` or `~/.cache/lockstep/experiments`.
 *
 * Owns: keys, the file layout and atomic writes. Must not: know what a result means.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomic } from '../atomicFile.js';

/** JSON with object keys sorted at every level: the same value always gives the same text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
}

/** The key of an identity: SHA-256 of its canonical JSON, 32 hex digits. */
export function identityKey(identity: unknown): string {
  return createHash('sha256').update(canonicalJson(identity)).digest('hex').slice(0, 32);
}

export function defaultResultStoreDir(): string {
  return process.env.LOCKSTEP_CACHE ? path.join(process.env.LOCKSTEP_CACHE, 'experiments') : path.join(os.homedir(), '.cache', 'lockstep', 'experiments');
}

export class ResultStore {
  constructor(readonly dir: string) {}

  fileOf(key: string): string {
    return path.join(this.dir, key.slice(0, 2), `${key}.json`);
  }

  /** The stored result for this identity, or null. */
  get<T>(identity: unknown): T | null {
    const key = identityKey(identity);
    const file = this.fileOf(key);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    let stored: { identity: unknown; result: T };
    try {
      stored = JSON.parse(text) as { identity: unknown; result: T };
    } catch (e) {
      throw new Error(`${file}: not a readable stored result (${(e as Error).message}); delete it to compute the cell again`);
    }
    return canonicalJson(stored.identity) === canonicalJson(identity) ? stored.result : null;
  }

  put(identity: unknown, result: unknown): string {
    const key = identityKey(identity);
    const file = this.fileOf(key);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    writeFileAtomic(file, `${JSON.stringify({ identity, result })}\n`);
    return file;
  }
}
