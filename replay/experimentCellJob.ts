/**
 * The experiment cell as a job (the handler module of adapters/jobs: `runJob(data)`), run on a pool
 * thread of `lockstep experiment` or of a `lockstep worker`: look the cell up in the result store,
 * else check that the model is the one submitted, compute the cell and store its result.
 *
 * Owns: the job's data shape and the store around a cell. Must not: print or know the runner.
 */
import { identityKey, ResultStore } from '../adapters/jobs/resultStore.js';
import { modelFacts } from '../adapters/onnx/modelFacts.js';
import { cellIdentity, type CellResult, type CellSpec, type ModelSpec } from '../src/experiment/design.js';
import { ExperimentQueryError, runExperimentCell } from './experimentCell.js';

/** What travels to a worker: the cell, and the paths every worker must see (not part of the cell's identity). */
export interface CellJobData {
  cell: CellSpec;
  /** Activation cache root. */
  cacheRoot: string;
  /** Result store folder. */
  storeDir: string;
  /** Return a stored result when there is one (default true). */
  reuse?: boolean;
}

function checkModel(m: ModelSpec, role: string): void {
  let sha: string;
  try {
    sha = modelFacts(m.path).sha256;
  } catch (e) {
    throw new ExperimentQueryError(`${role} ${m.name}: ${(e as Error).message} (every worker must see the model at the path the experiment was submitted with)`);
  }
  if (sha !== m.sha256) throw new ExperimentQueryError(`${role} ${m.name} at ${m.path} is not the model the experiment was submitted with (graph SHA-256 ${sha.slice(0, 12)}…, expected ${m.sha256.slice(0, 12)}…)`);
}

export async function runJob(data: unknown): Promise<CellResult> {
  const { cell, cacheRoot, storeDir, reuse } = data as CellJobData;
  const identity = cellIdentity(cell);
  const store = new ResultStore(storeDir);
  // Another run may have finished this cell since it was submitted.
  const stored = reuse === false ? null : store.get<CellResult>(identity);
  if (stored) return stored;
  checkModel(cell.model, 'model');
  if (cell.subject.kind === 'simulated') checkModel(cell.subject.brain.model, 'brain model');
  if (cell.conditions.kind === 'surprisal-quantiles') checkModel(cell.conditions.model, 'surprisal model');
  const computed = await runExperimentCell(cell, cacheRoot);
  // Through JSON, as the queue and the store carry it, so that every path returns the same value.
  const result = JSON.parse(JSON.stringify({ key: identityKey(identity), ...computed })) as CellResult;
  store.put(identity, result);
  return result;
}
