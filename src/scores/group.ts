/**
 * Several subjects as the paper reports them: each subject is decoded on its own, and each measure
 * (the temporal score, every layer's Tmax, the decoding curves) is summarised as the mean over
 * subjects with its standard error (SEM = sd / √n, sd with n − 1). The temporal score is also tested
 * across subjects (one-sample t-test against 0, n − 1 df): subjects are independent replicates,
 * so this is the group-level counterpart of the fold test within one subject. The mean ± SEM
 * itself is src/stats/groupMean.ts, the one helper the experiments' group rows use too.
 *
 * Owns: these summaries. Must not: decode, read results files, know about the CLI, or compute a
 * mean ± SEM of its own (groupMeanSem does).
 */
import { groupMeanSem, groupMeanSemOfVectors, type GroupMeanSem } from '../stats/groupMean.js';
import { studentTTwoSidedP } from './studentT.js';

/** What the group needs of one subject's final exact scores. */
export interface SubjectScores {
  subject: string;
  temporalScore: number;
  /** per layer, seconds */
  tmax: number[];
  /** [layer][time] decoding curves, when available (for the group's mean curves). */
  R?: number[][];
}

export interface GroupScores {
  /** Subjects summarised, in order. */
  subjects: string[];
  nSubjects: number;
  temporalScore: GroupMeanSem & { values: number[] };
  /** Per layer, seconds. */
  tmax: { mean: number[]; sem: number[] };
  /** [layer][time] mean and SEM of R over the subjects that have curves (null when none has). */
  R: { mean: number[][]; sem: number[][] } | null;
  /** One-sample t-test of the subjects' temporal scores against 0 (NaN p with fewer than 2). */
  test: { method: string; t: number; df: number; p: number };
}

export const GROUP_TEST_METHOD = 'one-sample t-test of the subjects\' temporal scores against 0, n − 1 df';

/**
 * The group summary of several subjects' scores.
 * @param subjects each subject's temporal score, Tmax per layer and optionally R; all with the same layers (and times)
 * @returns means, SEMs and the across-subject test
 * @throws RangeError when no subject is given or the layer counts (or curve sizes) differ
 */
export function groupScores(subjects: readonly SubjectScores[]): GroupScores {
  if (subjects.length === 0) throw new RangeError('group scores: no subject');
  const L = subjects[0].tmax.length;
  for (const s of subjects) {
    if (s.tmax.length !== L) throw new RangeError(`group scores: subject ${s.subject} has ${s.tmax.length} layers, ${subjects[0].subject} has ${L}`);
  }
  const scores = subjects.map((s) => s.temporalScore);
  const ts = groupMeanSem(scores);
  const perLayer = groupMeanSemOfVectors(subjects.map((s) => s.tmax));
  const withR = subjects.filter((s) => s.R);
  let R: GroupScores['R'] = null;
  if (withR.length > 0) {
    const T = withR[0].R![0]?.length ?? 0;
    for (const s of withR) {
      if (s.R!.length !== L || s.R!.some((row) => row.length !== T)) throw new RangeError(`group scores: subject ${s.subject}'s curves are not ${L} layers × ${T} times`);
    }
    const cells = Array.from({ length: L }, (_, l) => groupMeanSemOfVectors(withR.map((s) => s.R![l])));
    R = { mean: cells.map((row) => row.map((c) => c.mean)), sem: cells.map((row) => row.map((c) => c.sem)) };
  }
  const n = ts.n;
  const t = n >= 2 ? (ts.sem > 0 ? ts.mean / ts.sem : ts.mean === 0 ? 0 : Math.sign(ts.mean) * Infinity) : NaN;
  return {
    subjects: subjects.map((s) => s.subject),
    nSubjects: subjects.length,
    temporalScore: { ...ts, values: scores },
    tmax: { mean: perLayer.map((m) => m.mean), sem: perLayer.map((m) => m.sem) },
    R,
    test: { method: GROUP_TEST_METHOD, t, df: n - 1, p: n >= 2 ? studentTTwoSidedP(t, n - 1) : NaN },
  };
}
