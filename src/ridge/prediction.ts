/**
 * Predictions for the rolling (prequential) score: ŷ = xᵀW + b per time sample with the full model
 * of a refit, for a batch of pending words (time samples [t0, t1), so that parts can run on
 * different threads) or for one word as it arrives.
 *
 * Owns: the prediction arithmetic. Must not: decide which model scores which words (the decoder does).
 */
import type { LinalgBackend } from '../linalg/backend.js';
import type { FullModel } from './kfoldRidge.js';
import { nTargets, type DecoderDims } from '../types.js';
import type { PrequentialScorer } from '../stats/prequential.js';
import type { PendingWords } from '../stats/statsAccumulator.js';

/**
 * Predicts the batch's words at time samples [t0, t1) with `model` and adds them to the scorer's
 * sums for those time samples (the caller counts the words once).
 */
export async function scoreBatchTimes(batch: PendingWords, model: FullModel, scorer: PrequentialScorer, backend: LinalgBackend, t0: number, t1: number): Promise<void> {
  const { nChannels: C, nTimes: T } = scorer.dims;
  const P = nTargets(scorer.dims);
  const W = batch.count;
  const nt = t1 - t0;
  if (W === 0 || nt <= 0) return;
  // Per time sample, the words' rows of the [word][time][channel] batch are read in place.
  const yhat = await backend.matmul(batch.x, model.weights.subarray(t0 * C * P, t1 * C * P), { batch: nt, m: W, k: C, n: P }, { aLayout: { offset: t0 * C, ld: T * C, batchStride: C } });
  addIntercept(yhat, model.intercept, t0, nt, W, P);
  scorer.updateTimes(yhat, batch.y.subarray(0, W * P), W, t0, t1);
}

/** One word's predictions [time][target] from its epoch ([channel][time]). */
export async function predictWord(epoch: ArrayLike<number>, model: FullModel, dims: DecoderDims, backend: LinalgBackend): Promise<Float64Array> {
  const { nChannels: C, nTimes: T } = dims;
  const P = nTargets(dims);
  const x = new Float64Array(T * C); // [time][channel]
  for (let c = 0; c < C; c++) for (let t = 0; t < T; t++) x[t * C + c] = epoch[c * T + t];
  const yhat = await backend.matmul(x, model.weights, { batch: T, m: 1, k: C, n: P });
  addIntercept(yhat, model.intercept, 0, T, 1, P);
  return yhat;
}

/** yhat [t − t0][word][target] += b[t][target]. */
function addIntercept(yhat: Float64Array, b: Float64Array, t0: number, nt: number, W: number, P: number): void {
  for (let lt = 0; lt < nt; lt++) {
    const bo = (t0 + lt) * P;
    for (let w = 0; w < W; w++) {
      const o = (lt * W + w) * P;
      for (let p = 0; p < P; p++) yhat[o + p] += b[bo + p];
    }
  }
}
