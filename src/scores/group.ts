/**
 * Several subjects as the paper reports them: each subject is decoded on its own, and each measure
 * (the temporal score, every layer's Tmax, the decoding curves) is summarised as the mean over
 * subjects with its standard error (SEM = sd / √n, sd with n − 1). The temporal score is also tested
 * across subjects (one-sample t-test against 0, n − 1 df): subjects are independent replicates,
 * so this is the group-level counterpart of the fold test within one subject.
 *
 * Owns: these summaries. Must not: decode, read results files or know about the CLI.
 */
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

export interface MeanSem {
  mean: number;
  /** NaN with fewer than 2 subjects. */
  sem: number;
}

export interface GroupScores {
  /** Subjects summarised, in order. */
  subjects: string[];
  nSubjects: number;
  temporalScore: MeanSem & { values: number[] };
  /** Per layer, seconds. */
  tmax: { mean: number[]; sem: number[] };
  /** [layer][time] mean and SEM of R over the subjects that have curves (null when none has). */
  R: { mean: number[][]; sem: number[][] } | null;
  /** One-sample t-test of the subjects' temporal scores against 0 (NaN p with fewer than 2). */
  test: { method: string; t: number; df: number; p: number };
}

export const GROUP_TEST_METHOD = 'one-sample t-test of the subjects\' temporal scores against 0, n − 1 df';

/**
 * Mean and SEM of finite values (non-finite ones are left out).
 * @example meanSem([1, 2, 3]) // { mean: 2, sem: 0.577… }
 */
export function meanSem(values: readonly number[]): MeanSem {
  const v = values.filter(Number.isFinite);
  const n = v.length;
  if (n === 0) return { mean: NaN, sem: NaN };
  const mean = v.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, sem: NaN };
  const ss = v.reduce((a, b) => a + (b - mean) ** 2, 0);
  return { mean, sem: Math.sqrt(ss / (n - 1) / n) };
}

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
  const ts = meanSem(scores);
  const perLayer = Array.from({ length: L }, (_, l) => meanSem(subjects.map((s) => s.tmax[l])));
  const withR = subjects.filter((s) => s.R);
  let R: GroupScores['R'] = null;
  if (withR.length > 0) {
    const T = withR[0].R![0]?.length ?? 0;
    for (const s of withR) {
      if (s.R!.length !== L || s.R!.some((row) => row.length !== T)) throw new RangeError(`group scores: subject ${s.subject}'s curves are not ${L} layers × ${T} times`);
    }
    const cells = Array.from({ length: L }, (_, l) => Array.from({ length: T }, (_, t) => meanSem(withR.map((s) => s.R![l][t]))));
    R = { mean: cells.map((row) => row.map((c) => c.mean)), sem: cells.map((row) => row.map((c) => c.sem)) };
  }
  const n = scores.filter(Number.isFinite).length;
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
