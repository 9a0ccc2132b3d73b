/**
 * An exclusive lock on a path shared by threads, processes and machines that see the same folder:
 * the lock is a directory (mkdir is atomic on local and network file systems), its holder touches
 * it every few seconds, and a lock nobody touched for `staleMs` is taken over (its holder died: a
 * killed worker must not block the others forever).
 *
 * Experiment cells take one around the extraction of a model's features, so that two workers never
 * extract the same features into the same cache at once: the second waits, then reads the cache.
 *
 * Owns: taking, keeping and releasing the lock. Must not: know what it protects.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { threadId } from 'node:worker_threads';

export interface FileLockOptions {
  /** A lock untouched this long is taken over (default 60 s). */
  staleMs?: number;
  /** How often a waiter looks again (default 250 ms). */
  pollMs?: number;
  /** Called once when the lock is busy and this caller starts waiting. */
  onWait?: (holder: string) => void;
}

function holderOf(dir: string): string {
  try {
    return fs.readFileSync(path.join(dir, 'holder'), 'utf8');
  } catch {
    return 'unknown holder';
  }
}

/**
 * Runs `fn` while holding the lock at `lockPath` (a directory created for the purpose).
 * @example await withFileLock(path.join(cache, 'locks', key), () => extract())
 */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>, o: FileLockOptions = {}): Promise<T> {
  const staleMs = o.staleMs ?? 60_000;
  const pollMs = o.pollMs ?? 250;
  fs.mkdirSync(path.dirname(lockPath), { recursive: true });
  let waited = false;
  for (;;) {
    try {
      fs.mkdirSync(lockPath);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let ageMs: number;
    try {
      ageMs = Date.now() - fs.statSync(lockPath).mtimeMs;
    } catch {
      continue; // released between mkdir and stat
    }
    if (ageMs > staleMs) {
      // Renaming is atomic: of several waiters that find it stale, one moves it away.
      const aside = `${lockPath}.stale-${process.pid}-${threadId}-${Date.now()}`;
      try {
        fs.renameSync(lockPath, aside);
        fs.rmSync(aside, { recursive: true, force: true });
      } catch {
        // another waiter took it over first
      }
      continue;
    }
    if (!waited) o.onWait?.(holderOf(lockPath));
    waited = true;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  fs.writeFileSync(path.join(lockPath, 'holder'), `${os.hostname()} pid ${process.pid} thread ${threadId}`);
  const touch = () => {
    const now = new Date();
    try {
      fs.utimesSync(lockPath, now, now);
    } catch {
      // the lock was taken over after a long stall; fn's result still stands for this caller
    }
  };
  const heartbeat = setInterval(touch, Math.max(100, staleMs / 4));
  heartbeat.unref();
  try {
    return await fn();
  } finally {
    clearInterval(heartbeat);
    fs.rmSync(lockPath, { recursive: true, force: true });
  }
}
