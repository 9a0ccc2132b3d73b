/**
 * Weights of the tiny causal LMs, keyed by Hugging Face checkpoint names, with every projection
 * stored [in, out] (what an ONNX MatMul takes; GPT-2's Conv1D already stores it that way, for
 * nn.Linear checkpoints it is the transpose). Seeded random weights for test models, and the
 * float32 weights.bin + weights.json format `scripts/train_builtin_model.py` writes.
 *
 * Owns: weight shapes per family and their generation/loading. Must not: build graphs.
 */
import fs from 'node:fs';
import path from 'node:path';

import onnxProto from 'onnx-proto';

import { mulberry32, randomNormal, type Rng } from '../../../src/scores/prng.js';

export interface Tensor32 {
  dims: number[];
  data: Float32Array;
}

export type WeightMap = Map<string, Tensor32>;

export type Family = 'gpt2' | 'llama' | 'gpt-neox';

/** The sizes a family's weights depend on (resolved: no optional fields). */
export interface ArchSizes {
  family: Family;
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  intermediate: number;
  vocab: number;
  maxPositions: number;
  tiedEmbeddings: boolean;
  sandwichNorms: boolean;
}

/** Checkpoint-name prefix of the decoder stack per family. */
export function stackPrefix(family: Family): string {
  return family === 'gpt2' ? 'transformer' : family === 'llama' ? 'model' : 'gpt_neox';
}

/** Checkpoint name of the i-th block's parameter. */
export function blockParam(family: Family, i: number, rest: string): string {
  return family === 'gpt2' ? `transformer.h.${i}.${rest}` : `${stackPrefix(family)}.layers.${i}.${rest}`;
}

/** Every weight a family needs, with its dims. */
export function weightShapes(a: ArchSizes): [string, number[], 'matrix' | 'embedding' | 'gain' | 'bias'][] {
  const D = a.hidden;
  const I = a.intermediate;
  const hd = D / a.heads;
  const out: [string, number[], 'matrix' | 'embedding' | 'gain' | 'bias'][] = [];
  const b = (i: number, rest: string) => blockParam(a.family, i, rest);
  if (a.family === 'gpt2') {
    out.push(['transformer.wte.weight', [a.vocab, D], 'embedding'], ['transformer.wpe.weight', [a.maxPositions, D], 'embedding']);
    for (let i = 0; i < a.layers; i++) {
      out.push(
        [b(i, 'ln_1.weight'), [D], 'gain'], [b(i, 'ln_1.bias'), [D], 'bias'],
        [b(i, 'attn.c_attn.weight'), [D, 3 * D], 'matrix'], [b(i, 'attn.c_attn.bias'), [3 * D], 'bias'],
        [b(i, 'attn.c_proj.weight'), [D, D], 'matrix'], [b(i, 'attn.c_proj.bias'), [D], 'bias'],
        [b(i, 'ln_2.weight'), [D], 'gain'], [b(i, 'ln_2.bias'), [D], 'bias'],
        [b(i, 'mlp.c_fc.weight'), [D, I], 'matrix'], [b(i, 'mlp.c_fc.bias'), [I], 'bias'],
        [b(i, 'mlp.c_proj.weight'), [I, D], 'matrix'], [b(i, 'mlp.c_proj.bias'), [D], 'bias'],
      );
    }
    out.push(['transformer.ln_f.weight', [D], 'gain'], ['transformer.ln_f.bias', [D], 'bias']);
    if (!a.tiedEmbeddings) out.push(['lm_head.weight', [D, a.vocab], 'matrix']);
  } else if (a.family === 'llama') {
    out.push(['model.embed_tokens.weight', [a.vocab, D], 'embedding']);
    const kvD = a.kvHeads * hd;
    for (let i = 0; i < a.layers; i++) {
      out.push(
        [b(i, 'input_layernorm.weight'), [D], 'gain'],
        [b(i, 'self_attn.q_proj.weight'), [D, D], 'matrix'],
        [b(i, 'self_attn.k_proj.weight'), [D, kvD], 'matrix'],
        [b(i, 'self_attn.v_proj.weight'), [D, kvD], 'matrix'],
        [b(i, 'self_attn.o_proj.weight'), [D, D], 'matrix'],
        [b(i, 'post_attention_layernorm.weight'), [D], 'gain'],
        [b(i, 'mlp.gate_proj.weight'), [D, I], 'matrix'],
        [b(i, 'mlp.up_proj.weight'), [D, I], 'matrix'],
        [b(i, 'mlp.down_proj.weight'), [I, D], 'matrix'],
      );
      if (a.sandwichNorms) out.push([b(i, 'pre_feedforward_layernorm.weight'), [D], 'gain'], [b(i, 'post_feedforward_layernorm.weight'), [D], 'gain']);
    }
    out.push(['model.norm.weight', [D], 'gain']);
    if (!a.tiedEmbeddings) out.push(['lm_head.weight', [D, a.vocab], 'matrix']);
  } else {
    out.push(['gpt_neox.embed_in.weight', [a.vocab, D], 'embedding']);
    for (let i = 0; i < a.layers; i++) {
      out.push(
        [b(i, 'input_layernorm.weight'), [D], 'gain'], [b(i, 'input_layernorm.bias'), [D], 'bias'],
        [b(i, 'post_attention_layernorm.weight'), [D], 'gain'], [b(i, 'post_attention_layernorm.bias'), [D], 'bias'],
        // NeoX packs q, k, v per head: columns [head][q|k|v][headDim].
        [b(i, 'attention.query_key_value.weight'), [D, 3 * D], 'matrix'], [b(i, 'attention.query_key_value.bias'), [3 * D], 'bias'],
        [b(i, 'attention.dense.weight'), [D, D], 'matrix'], [b(i, 'attention.dense.bias'), [D], 'bias'],
        [b(i, 'mlp.dense_h_to_4h.weight'), [D, I], 'matrix'], [b(i, 'mlp.dense_h_to_4h.bias'), [I], 'bias'],
        [b(i, 'mlp.dense_4h_to_h.weight'), [I, D], 'matrix'], [b(i, 'mlp.dense_4h_to_h.bias'), [D], 'bias'],
      );
    }
    out.push(['gpt_neox.final_layer_norm.weight', [D], 'gain'], ['gpt_neox.final_layer_norm.bias', [D], 'bias']);
    if (!a.tiedEmbeddings) out.push(['embed_out.weight', [D, a.vocab], 'matrix']);
  }
  void hd;
  return out;
}

/**
 * Seeded random weights. `unit` (default, for graph tests): scales keep activations O(1) through the tiny stack (matrices
 * N(0, 1/in), gains 1 + N(0, 0.1²), biases N(0, 0.1²), embeddings N(0, 1)), so logits vary
 * enough for numerical comparisons to mean something. `hf`: Hugging Face's initialisation, i.e.
 * what an untrained model of this architecture computes.
 */
export function randomWeights(a: ArchSizes, seed: number, init: 'unit' | 'hf' = 'unit'): WeightMap {
  const rng: Rng = mulberry32(seed);
  const map: WeightMap = new Map();
  for (const [name, dims, kind] of weightShapes(a)) {
    const n = dims.reduce((x, y) => x * y, 1);
    const data = new Float32Array(n);
    let scale: number;
    if (init === 'hf') {
      // What a freshly initialised Hugging Face model holds (GPT-2's _init_weights): N(0, 0.02²)
      // matrices and embeddings, residual output projections scaled by 1/√(2L), gains 1, biases 0.
      const residualOut = /(c_proj|o_proj|down_proj|dense_4h_to_h|attention\.dense)\.weight$/.test(name);
      scale = kind === 'matrix' || kind === 'embedding' ? (residualOut ? 0.02 / Math.sqrt(2 * a.layers) : 0.02) : 0;
    } else {
      scale = kind === 'matrix' ? 1 / Math.sqrt(dims[0]!) : kind === 'embedding' ? 1 : 0.1;
    }
    const offset = kind === 'gain' ? 1 : 0;
    for (let k = 0; k < n; k++) data[k] = offset + scale * randomNormal(rng);
    map.set(name, { dims, data });
  }
  return map;
}

/** Looks a weight up, with an error naming what is missing. */
export function need(w: WeightMap, name: string): Tensor32 {
  const t = w.get(name);
  if (t === undefined) throw new Error(`weights: missing ${name}`);
  return t;
}

/** The manifest `scripts/train_builtin_model.py` writes next to weights.bin. */
export interface WeightsManifest {
  config: Record<string, unknown>;
  tensors: { name: string; shape: number[]; offset: number; length: number }[];
}

/** Reads weights.bin + weights.json (float32 little-endian, one tensor after another). */
export function readWeightsDir(dir: string): { manifest: WeightsManifest; weights: WeightMap } {
  const manifestPath = path.join(dir, 'weights.json');
  const binPath = path.join(dir, 'weights.bin');
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as WeightsManifest;
  const bin = fs.readFileSync(binPath);
  const weights: WeightMap = new Map();
  for (const t of manifest.tensors) {
    const n = t.shape.reduce((x, y) => x * y, 1);
    if (t.length !== n * 4 || t.offset + t.length > bin.length) {
      throw new Error(`${binPath}: tensor ${t.name} at byte ${t.offset} (length ${t.length}) does not fit shape [${t.shape.join(', ')}] or the file (${bin.length} bytes)`);
    }
    const data = new Float32Array(n);
    for (let k = 0; k < n; k++) data[k] = bin.readFloatLE(t.offset + 4 * k);
    weights.set(t.name, { dims: t.shape, data });
  }
  return { manifest, weights };
}

/**
 * Float32 initializers of an ONNX model (raw or float_data, not external), keyed by name: lets a
 * graph be rebuilt from a committed model, e.g. with its hidden states exposed.
 */
export function weightsFromModelProto(bytes: Uint8Array, where = 'model'): WeightMap {
  const proto = onnxProto.onnx.ModelProto.decode(bytes);
  const map: WeightMap = new Map();
  for (const t of proto.graph?.initializer ?? []) {
    if (t.dataType !== onnxProto.onnx.TensorProto.DataType.FLOAT) continue;
    const dims = (t.dims ?? []).map((d) => Number(d));
    const n = dims.reduce((x, y) => x * y, 1);
    let data: Float32Array;
    if (t.rawData && t.rawData.length > 0) {
      if (t.rawData.length !== 4 * n) throw new Error(`${where}: initializer ${t.name} has ${t.rawData.length} raw bytes, dims [${dims.join(', ')}] need ${4 * n}`);
      const dv = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
      data = new Float32Array(n);
      for (let k = 0; k < n; k++) data[k] = dv.getFloat32(4 * k, true);
    } else if (t.floatData && t.floatData.length === n) {
      data = Float32Array.from(t.floatData);
    } else {
      throw new Error(`${where}: initializer ${t.name} has no inline data (external data is not read here)`);
    }
    map.set(t.name ?? '', { dims, data });
  }
  return map;
}

/** Writes weights.bin + weights.json (the format readWeightsDir reads) with `config` in the manifest. */
export function writeWeightsDir(dir: string, weights: WeightMap, config: Record<string, unknown>): void {
  fs.mkdirSync(dir, { recursive: true });
  const tensors: WeightsManifest['tensors'] = [];
  let offset = 0;
  for (const [name, t] of weights) {
    tensors.push({ name, shape: t.dims, offset, length: t.data.length * 4 });
    offset += t.data.length * 4;
  }
  const bin = Buffer.alloc(offset);
  for (const [k, [, t]] of [...weights].entries()) {
    const at = tensors[k]!.offset;
    for (let i = 0; i < t.data.length; i++) bin.writeFloatLE(t.data[i]!, at + 4 * i);
  }
  fs.writeFileSync(path.join(dir, 'weights.bin'), bin);
  fs.writeFileSync(path.join(dir, 'weights.json'), JSON.stringify({ config, tensors }));
}
