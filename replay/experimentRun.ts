/**
 * Running an experiment's cells through a job runner (the embedded worker pool or BullMQ): cells
 * already in the result store are reused without being submitted, the others run as jobs, and every
 * cell ends as a result or a failure with its reason; then the rows of the experiment's table.
 *
 * Owns: the store lookup before submission and the pairing of outcomes with cells. Must not: pick
 * the runner, print, or draw (cli/experiment.ts does).
 */
import type { JobProgress, JobRunner } from '../adapters/jobs/jobRunner.js';
import { ResultStore } from '../adapters/jobs/resultStore.js';
import { cellIdentity, describeCell, hasScores, type CellResult, type CellSpec, type ConditionScores } from '../src/experiment/design.js';
import type { CellRow } from '../src/experiment/groupResults.js';
import type { CellJobData } from './experimentCellJob.js';

export type CellOutcome = { cell: CellSpec; ok: true; result: CellResult; reused: boolean } | { cell: CellSpec; ok: false; reason: string; attempts: number };

export interface ExperimentRunOptions {
  runner: JobRunner<CellJobData, CellResult>;
  cacheRoot: string;
  storeDir: string;
  /** Reuse stored results (default true); false computes every cell again (and overwrites). */
  reuse?: boolean;
  onProgress?: (p: JobProgress & { reused: number }) => void;
}

export async function runExperimentCells(cells: CellSpec[], o: ExperimentRunOptions): Promise<CellOutcome[]> {
  const store = new ResultStore(o.storeDir);
  const outcomes: (CellOutcome | null)[] = cells.map((cell) => {
    const stored = o.reuse === false ? null : store.get<CellResult>(cellIdentity(cell));
    return stored ? { cell, ok: true, result: stored, reused: true } : null;
  });
  const reused = outcomes.filter(Boolean).length;
  const todo = cells.map((cell, i) => ({ cell, i })).filter(({ i }) => outcomes[i] === null);
  if (todo.length > 0) {
    const jobs = todo.map(({ cell, i }) => ({ id: String(i), label: describeCell(cell), data: { cell, cacheRoot: o.cacheRoot, storeDir: o.storeDir, reuse: o.reuse !== false } satisfies CellJobData }));
    const results = await o.runner.run(jobs, (p) => o.onProgress?.({ ...p, total: cells.length, done: p.done + reused, reused }));
    for (const r of results) {
      const i = Number(r.id);
      outcomes[i] = r.ok ? { cell: cells[i], ok: true, result: r.value, reused: false } : { cell: cells[i], ok: false, reason: r.reason, attempts: r.attempts };
    }
  } else {
    o.onProgress?.({ total: cells.length, done: cells.length, failed: 0, running: 0, workers: 0, reused });
  }
  return outcomes as CellOutcome[];
}

/**
 * One row per subject × model × context × condition with an exact score; `extra` adds fields of the
 * cell and condition (the JSON output's key, timing, surprisal range).
 */
export function experimentRows<E extends object = object>(
  outcomes: readonly CellOutcome[],
  extra?: (o: Extract<CellOutcome, { ok: true }>, c: ConditionScores) => E,
): (CellRow & E)[] {
  return outcomes.flatMap((o) =>
    o.ok
      ? o.result.conditions.filter(hasScores).map((c) => ({
          subject: o.cell.subject.label,
          model: o.cell.model.name,
          parameters: o.cell.model.parameters,
          context: o.cell.context,
          condition: c.condition,
          temporalScore: c.temporalScore,
          p: c.p,
          tmax: c.tmax,
          nWords: c.nWords,
          ...(extra?.(o, c) ?? ({} as E)),
        }))
      : [],
  );
}
