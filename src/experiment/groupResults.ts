/**
 * The group result of an experiment: for each model × context × condition, the mean ± SEM over
 * subjects of the temporal score and of each layer's Tmax (as the paper reports its sweeps).
 *
 * Owns: which rows are grouped together and in what order groups are listed. Must not: compute
 * scores (cells did) or format them.
 */
import { groupMeanSem, groupMeanSemOfVectors, type GroupMeanSem } from '../stats/groupMean.js';

/** One subject's result in one condition of one cell (a row of the experiment's table). */
export interface CellRow {
  subject: string;
  model: string;
  /** The model's parameter count (the size experiment's x axis). */
  parameters: number;
  context: number;
  condition: string;
  temporalScore: number;
  p: number;
  /** Seconds, per layer. */
  tmax: number[];
  nWords: number;
}

export interface GroupRow {
  model: string;
  parameters: number;
  context: number;
  condition: string;
  /** Subjects with a score in this cell. */
  nSubjects: number;
  temporalScore: GroupMeanSem;
  /** Per layer. */
  tmax: GroupMeanSem[];
  /** Words decoded, summed over subjects. */
  nWords: number;
}

/**
 * Groups rows by model, context and condition (in the order first met) and summarises each group.
 * @example groupRows(rows).map((g) => `${g.model} ${g.context}: ${g.temporalScore.mean} ± ${g.temporalScore.sem}`)
 */
export function groupRows(rows: readonly CellRow[]): GroupRow[] {
  const groups = new Map<string, CellRow[]>();
  for (const r of rows) {
    const k = JSON.stringify([r.model, r.context, r.condition]);
    const g = groups.get(k);
    if (g) g.push(r);
    else groups.set(k, [r]);
  }
  return [...groups.values()].map((g) => ({
    model: g[0].model,
    parameters: g[0].parameters,
    context: g[0].context,
    condition: g[0].condition,
    nSubjects: g.length,
    temporalScore: groupMeanSem(g.map((r) => r.temporalScore)),
    tmax: groupMeanSemOfVectors(g.map((r) => r.tmax)),
    nWords: g.reduce((n, r) => n + r.nWords, 0),
  }));
}
