/**
 * Worker-thread entry of the compute pool (computePool.ts): one single-threaded backend, and the
 * parts of batches and refits it is sent, computed on the shared arrays that come with each task,
 * one task at a time in the order received.
 */
import { parentPort } from 'node:worker_threads';
import { setCurrentThreadNice } from '../adapters/threadPriority.js';
import type { LinalgBackend } from '../src/linalg/backend.js';
import { createBackend } from '../src/linalg/select.js';
import { kfoldRidgeTimes } from '../src/ridge/kfoldRidge.js';
import { scoreBatchTimes } from '../src/ridge/prediction.js';
import { PrequentialScorer } from '../src/stats/prequential.js';
import { accumulatePart } from '../src/stats/statsAccumulator.js';
import type { PoolRequest, PoolResponse, PoolTask } from './computePool.js';

if (!parentPort) throw new Error('computeWorker.js must run as a worker thread');
const port = parentPort;
let backend: LinalgBackend | undefined;
let queue: Promise<void> = Promise.resolve();

/** Nice value of the workers of a `background` pool. */
const BACKGROUND_NICE = 10;

async function run(task: PoolTask, progress: (done: number) => void): Promise<void> {
  if (!backend) throw new Error('compute worker: not initialised');
  if (task.kind === 'addBatch') {
    const { batch, folds, precision, part, score } = task;
    if (score) {
      const scorer = PrequentialScorer.over(folds[0].dims, score.halfLifeWords, score.sums);
      await scoreBatchTimes(batch, score.model, scorer, backend, part.t0, part.t1);
    }
    await accumulatePart(batch, folds, backend, part, precision);
    return;
  }
  const { folds, opts, t0, t1, out } = task;
  await kfoldRidgeTimes(folds, backend, { ...opts, onProgress: (t) => progress(t - t0) }, t0, t1, out);
}

port.on('message', (req: PoolRequest) => {
  queue = queue.then(async () => {
    let res: PoolResponse;
    try {
      if (req.op === 'init') {
        if (req.priority === 'background') setCurrentThreadNice(BACKGROUND_NICE);
        backend = await createBackend(req.backend, { threads: 1 });
        res = { id: req.id, ok: true, value: backend.detail };
      } else {
        await run(req.task, (done) => port.postMessage({ id: req.id, progress: done } satisfies PoolResponse));
        res = { id: req.id, ok: true };
      }
    } catch (e) {
      const err = e as Error;
      res = { id: req.id, ok: false, error: err.message, errorName: err.name };
    }
    port.postMessage(res);
  });
});
