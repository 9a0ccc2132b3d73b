/**
 * Progress lines for long work, on stderr so stdout stays clean for --json. On a terminal the line
 * is rewritten in place; otherwise at most one line every 2 s. An ETA is printed only once it means
 * something: after 5 s and 2 % of the work (before that, the rate is mostly start-up cost).
 */
import type { ExtractReport } from '../adapters/llm/extract.js';

export interface Progress {
  update(message: string, fraction?: number): void;
  done(): void;
}

/** ETA in seconds from the elapsed time and the fraction done, or null while it would mislead. */
export function etaSec(elapsedSec: number, fraction: number | undefined): number | null {
  if (fraction === undefined || !(fraction >= 0.02) || fraction >= 1 || elapsedSec < 5) return null;
  return (elapsedSec * (1 - fraction)) / fraction;
}

export function formatEta(sec: number | null): string {
  if (sec === null) return '';
  return sec >= 90 ? `, ETA ${Math.round(sec / 60)} min` : `, ETA ${Math.max(1, Math.round(sec))} s`;
}

export function progressReporter(stream: NodeJS.WriteStream | null, label: string): Progress {
  if (!stream) return { update() {}, done() {} };
  const start = performance.now();
  let last = 0;
  let wrote = false;
  return {
    update(message, fraction) {
      const now = performance.now();
      const tty = stream.isTTY === true;
      if (now - last < (tty ? 100 : 2000) && fraction !== 1) return;
      last = now;
      const elapsed = (now - start) / 1000;
      const line = `${label}: ${message} (${elapsed.toFixed(1)} s${formatEta(etaSec(elapsed, fraction))})`;
      stream.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
      wrote = true;
    },
    done() {
      if (wrote && stream.isTTY) stream.write('\n');
    },
  };
}

/** Extraction progress and warnings as terminal lines (null: silent). */
export function extractReport(stream: NodeJS.WriteStream | null, label = 'extract'): ExtractReport & { done(): void } {
  const bar = progressReporter(stream, label);
  return {
    progress(p) {
      const what = p.phase === 'extract' ? 'words' : p.phase === 'done' ? 'done' : p.phase.replace('pca-', 'PCA ') + ' pass';
      // A cache hit computes nothing: no rate to show.
      const rate = p.wordsPerSec > 0 ? ` (${p.wordsPerSec.toFixed(1)} words/s)` : '';
      bar.update(`${what} ${p.wordsDone}/${p.wordsTotal}${rate}`, p.wordsTotal > 0 ? p.wordsDone / p.wordsTotal : 1);
    },
    warn(line) {
      stream?.write(`${label}: warning: ${line}\n`);
    },
    done() {
      bar.done();
    },
  };
}
