/**
 * The emergence history: the temporal score over the recording, one point per snapshot, kept to a
 * bounded number of points. One implementation for both ends: the server keeps it to send a late
 * client the curve so far (server.ts), and the page keeps it up to date between those messages (it
 * imports the compiled copy of this module, served as /emergenceHistory.js; see staticFiles.ts).
 * Owns the point rules (a new recording starts a new curve, a repeated source time replaces its
 * point, thinning by halves beyond HISTORY_MAX_POINTS). Must not import anything at run time: the
 * browser loads the compiled file as it is (type imports are erased).
 */
import type { ScoreSnapshot } from '../src/snapshot.js';
import type { ScoreHistory } from './messages.js';

/** Points kept; beyond it every other point is dropped (the first and last stay, so the span is kept). */
export const HISTORY_MAX_POINTS = 2000;

/** What one point is made of: a snapshot's source time and its two temporal scores. */
export type HistorySource = Pick<ScoreSnapshot, 'sourceTimeSec' | 'rolling' | 'exact'>;

export function emptyHistory(): ScoreHistory {
  return { sourceTimeSec: [], rolling: [], exact: [] };
}

function finiteOrNull(v: number | undefined): number | null {
  return v !== undefined && Number.isFinite(v) ? v : null;
}

/**
 * Adds snapshot `s` to `h` in place. A source time before the last point means a new recording (or a
 * restarted replay): the curve starts again. A snapshot at the last point's source time (e.g. the
 * final refit, with no new word) replaces that point. Snapshots without a finite source time add nothing.
 * @return whether `h` changed
 * @example
 *   const h = emptyHistory();
 *   recordHistory(h, snapshot);   // h.sourceTimeSec.length === 1
 */
export function recordHistory(h: ScoreHistory, s: HistorySource): boolean {
  const t = s.sourceTimeSec;
  if (t === null || !Number.isFinite(t)) return false;
  const last = h.sourceTimeSec.at(-1);
  if (last !== undefined && t < last) {
    h.sourceTimeSec.length = 0;
    h.rolling.length = 0;
    h.exact.length = 0;
  } else if (last === t) {
    h.sourceTimeSec.pop();
    h.rolling.pop();
    h.exact.pop();
  }
  h.sourceTimeSec.push(t);
  h.rolling.push(finiteOrNull(s.rolling?.temporalScore));
  h.exact.push(finiteOrNull(s.exact?.temporalScore));
  if (h.sourceTimeSec.length > HISTORY_MAX_POINTS) {
    const keep = <T>(a: T[]): T[] => a.filter((_, i) => i % 2 === 0 || i === a.length - 1);
    h.sourceTimeSec = keep(h.sourceTimeSec);
    h.rolling = keep(h.rolling);
    h.exact = keep(h.exact);
  }
  return true;
}
