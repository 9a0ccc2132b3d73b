/**
 * Which context windows share a forward pass: consecutive windows, grouped greedily so that a
 * batch's padded size (windows × its longest window, BOS included) stays within `maxBatchTokens`
 * and it holds at most `maxBatchWindows` windows. Consecutive windows of a plan have nearly equal
 * lengths (exact mode: N+1 words each), so padding wastes little, and batches finish in stimulus
 * order, which is the order features stream in.
 *
 * The partition is a function of the plan alone, never of where a run starts: a resumed
 * extraction computes every window in the same batch as an uninterrupted one (same numbers to the
 * bit), and so does a run at any speed.
 *
 * Owns: the partition. Must not: run the model.
 */
import type { ContextWindow } from '../../src/types.js';

export interface WindowBatchOptions {
  /** Most padded tokens (windows × longest window) in one pass. Default 4096. */
  maxBatchTokens?: number;
  /** Most windows in one pass. Default 64. */
  maxBatchWindows?: number;
  /** A BOS is put before every window (one more token each). */
  prependBos?: boolean;
}

export const DEFAULT_BATCH_TOKENS = 4096;
export const DEFAULT_BATCH_WINDOWS = 64;

/** Batches of window indices, in order, covering every window exactly once. */
export function planWindowBatches(windows: readonly ContextWindow[], o: WindowBatchOptions = {}): number[][] {
  const maxTokens = o.maxBatchTokens ?? DEFAULT_BATCH_TOKENS;
  const maxWindows = o.maxBatchWindows ?? DEFAULT_BATCH_WINDOWS;
  if (!(Number.isInteger(maxTokens) && maxTokens >= 1)) throw new RangeError(`maxBatchTokens must be a positive integer, got ${maxTokens}`);
  if (!(Number.isInteger(maxWindows) && maxWindows >= 1)) throw new RangeError(`maxBatchWindows must be a positive integer, got ${maxWindows}`);
  const bos = o.prependBos ? 1 : 0;
  const batches: number[][] = [];
  let current: number[] = [];
  let longest = 0;
  windows.forEach((w, i) => {
    const len = w.tokenStop - w.tokenStart + bos;
    const grown = Math.max(longest, len);
    if (current.length > 0 && ((current.length + 1) * grown > maxTokens || current.length + 1 > maxWindows)) {
      batches.push(current);
      current = [];
      longest = 0;
    }
    current.push(i);
    longest = Math.max(longest, len);
  });
  if (current.length > 0) batches.push(current);
  return batches;
}
