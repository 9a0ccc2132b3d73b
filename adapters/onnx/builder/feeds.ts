/**
 * Feeds for running a tiny causal LM (or any Optimum-style decoder graph) in onnxruntime-node:
 * input ids or embeddings, attention mask, position ids and the (possibly empty) KV cache.
 *
 * Owns: building those tensors. Must not: build graphs or interpret outputs.
 */
import ort from 'onnxruntime-node';

import type { ResolvedSpec } from './tinyCausalLM.js';

export interface DecoderStep {
  /** Token ids of this step, one row per batch item ([b][s] row-major), unless `embeds`. */
  ids?: number[];
  /** inputs_embeds for `inputsEmbeds` graphs, [b][s][hidden] row-major. */
  embeds?: Float32Array;
  batch?: number;
  /** Attention mask over past + current positions, [b][past + s]; default all ones. */
  mask?: number[];
  /** Position ids [b][s]; default past … past + s − 1. */
  positions?: number[];
  /** present.* outputs of the previous step, or nothing for an empty cache. */
  past?: Record<string, ort.Tensor>;
}

/** Builds the feeds dictionary for one forward pass. */
export function decoderFeeds(spec: ResolvedSpec, step: DecoderStep): Record<string, ort.Tensor> {
  const b = step.batch ?? 1;
  const s = spec.inputsEmbeds ? (step.embeds?.length ?? 0) / (b * spec.hidden) : (step.ids?.length ?? 0) / b;
  if (!Number.isInteger(s) || s <= 0) throw new Error('decoderFeeds: give ids (b·s values) or embeds (b·s·hidden values)');
  const pastLen = step.past === undefined ? 0 : (step.past['present.0.key']?.dims[2] as number);
  const feeds: Record<string, ort.Tensor> = {};
  if (spec.inputsEmbeds) feeds.inputs_embeds = new ort.Tensor('float32', step.embeds!, [b, s, spec.hidden]);
  else feeds.input_ids = new ort.Tensor('int64', BigInt64Array.from(step.ids!.map(BigInt)), [b, s]);
  const total = spec.kvCache ? pastLen + s : s;
  const mask = step.mask ?? new Array<number>(b * total).fill(1);
  feeds.attention_mask = new ort.Tensor('int64', BigInt64Array.from(mask.map(BigInt)), [b, total]);
  if (spec.kvCache) {
    const pos = step.positions ?? Array.from({ length: b * s }, (_, k) => pastLen + (k % s));
    feeds.position_ids = new ort.Tensor('int64', BigInt64Array.from(pos.map(BigInt)), [b, s]);
    for (let i = 0; i < spec.layers; i++) {
      for (const kv of ['key', 'value']) {
        feeds[`past_key_values.${i}.${kv}`] = step.past?.[`present.${i}.${kv}`] ?? new ort.Tensor('float32', new Float32Array(0), [b, spec.kvHeads, 0, spec.headDim]);
      }
    }
  }
  return feeds;
}
