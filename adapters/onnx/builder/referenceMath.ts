/**
 * The final norm and LM head of the tiny causal LMs in plain TypeScript (float64 accumulation),
 * from the weights the builder used: the check that a last hidden state is the right one (applying
 * them to it must give the graph's logits again).
 *
 * Owns: that reference arithmetic. Must not: run ONNX graphs.
 */
import type { ResolvedSpec } from './tinyCausalLM.js';
import { need, type WeightMap } from './weights.js';

/**
 * logits = head(finalNorm(h)) for each of `rows` positions.
 *
 * @param h last block output, [rows][hidden] row-major
 * @returns logits, [rows][vocab] row-major
 */
export function finalNormAndHead(spec: ResolvedSpec, w: WeightMap, h: Float32Array, rows: number): Float64Array {
  const D = spec.hidden;
  const V = spec.vocab;
  if (h.length !== rows * D) throw new Error(`finalNormAndHead: ${h.length} values are not ${rows} rows of ${D}`);
  const normPrefix = spec.family === 'gpt2' ? 'transformer.ln_f' : spec.family === 'llama' ? 'model.norm' : 'gpt_neox.final_layer_norm';
  const gamma = need(w, `${normPrefix}.weight`).data;
  const beta = spec.family === 'llama' ? undefined : need(w, `${normPrefix}.bias`).data;
  const embName = spec.family === 'gpt2' ? 'transformer.wte.weight' : spec.family === 'llama' ? 'model.embed_tokens.weight' : 'gpt_neox.embed_in.weight';
  const headName = spec.family === 'gpt-neox' ? 'embed_out.weight' : 'lm_head.weight';
  const tied = spec.tiedEmbeddings;
  const head = need(w, tied ? embName : headName).data; // tied: [V][D]; untied: [D][V]
  const out = new Float64Array(rows * V);
  const n = new Float64Array(D);
  for (let r = 0; r < rows; r++) {
    const x = h.subarray(r * D, (r + 1) * D);
    if (beta === undefined) {
      let ms = 0;
      for (let d = 0; d < D; d++) ms += x[d]! * x[d]!;
      const inv = 1 / Math.sqrt(ms / D + spec.eps);
      for (let d = 0; d < D; d++) n[d] = gamma[d]! * x[d]! * inv;
    } else {
      let mean = 0;
      for (let d = 0; d < D; d++) mean += x[d]!;
      mean /= D;
      let v = 0;
      for (let d = 0; d < D; d++) v += (x[d]! - mean) ** 2;
      const inv = 1 / Math.sqrt(v / D + spec.eps);
      for (let d = 0; d < D; d++) n[d] = (x[d]! - mean) * inv * gamma[d]! + beta[d]!;
    }
    for (let t = 0; t < V; t++) {
      let s = 0;
      if (tied) for (let d = 0; d < D; d++) s += n[d]! * head[t * D + d]!;
      else for (let d = 0; d < D; d++) s += n[d]! * head[d * V + t]!;
      out[r * V + t] = s;
    }
  }
  return out;
}
