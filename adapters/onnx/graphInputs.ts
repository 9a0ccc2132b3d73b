/**
 * Inputs for one batch-1 forward pass from the graph's declared inputs: input_ids from the given
 * tokens, attention_mask ones, position_ids 0…T−1, empty dynamic KV caches (past length 0), zeroed
 * static caches with `write_indices` 0 and `nonpad_kv_seqlen` T, and seeded random `inputs_embeds`.
 * Interface names (input_ids, past_key_values.*, …) are conventions every exporter keeps, so they
 * are matched here; the graph's internals never are.
 *
 * Owns: turning ValueInfo specs into onnxruntime tensors. Must not: load or edit models.
 */
import * as ort from 'onnxruntime-node';
import { toNumber, type ValueInfoProto } from './onnxProto.js';

export type OrtTensorType = 'float32' | 'float64' | 'float16' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';

const ELEM_TYPES: Record<number, OrtTensorType> = { 1: 'float32', 2: 'uint8', 3: 'int8', 6: 'int32', 7: 'int64', 9: 'bool', 10: 'float16', 11: 'float64' };

export interface InputSpec {
  name: string;
  type: OrtTensorType;
  /** Static size, or the symbolic name (string), or null when unknown. */
  dims: Array<number | string | null>;
}

export function inputSpecs(inputs: ValueInfoProto[], initializers: Set<string>, where: string): InputSpec[] {
  return inputs
    .filter((i) => i.name && !initializers.has(i.name))
    .map((i) => {
      const tt = i.type?.tensorType;
      const code = tt?.elemType ?? 0;
      const type = ELEM_TYPES[code];
      if (!type) throw new Error(`${where}: graph input "${i.name}" has element type ${code}, which lockstep cannot feed (supported: float32/16/64, int64/32/8, uint8, bool)`);
      const dims = (tt?.shape?.dim ?? []).map((d) => (d.dimValue !== undefined && d.dimValue !== null && toNumber(d.dimValue) > 0 ? toNumber(d.dimValue) : d.dimParam ? d.dimParam : null));
      return { name: i.name!, type, dims };
    });
}

/** Deterministic uniform(−1, 1) numbers (mulberry32) for inputs_embeds. */
function seededUniform(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1);
  }
  return out;
}

function filled(type: OrtTensorType, n: number, value: (i: number) => number): ort.Tensor['data'] {
  switch (type) {
    case 'int64': {
      const a = new BigInt64Array(n);
      for (let i = 0; i < n; i++) a[i] = BigInt(value(i));
      return a;
    }
    case 'int32': return Int32Array.from({ length: n }, (_, i) => value(i));
    case 'int8': return Int8Array.from({ length: n }, (_, i) => value(i));
    case 'uint8':
    case 'bool': return Uint8Array.from({ length: n }, (_, i) => value(i));
    case 'float64': return Float64Array.from({ length: n }, (_, i) => value(i));
    case 'float16': return Uint16Array.from({ length: n }, (_, i) => float16Bits(value(i)));
    default: return Float32Array.from({ length: n }, (_, i) => value(i));
  }
}

/** IEEE half bits of small integers and [−1, 1] values (what feeds need; no rounding subtleties). */
function float16Bits(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  if (v === 0) return sign;
  if (exp <= 0) return sign;
  return sign | (exp << 10) | ((x >>> 13) & 0x3ff);
}

export type Role = 'tokens' | 'positions' | 'mask' | 'cache' | 'write-indices' | 'seqlens-k' | 'total-length' | 'nonpad-length' | 'embeds' | 'other';

export function inputRole(name: string): Role {
  if (/^input_ids$|token_ids|^input$/i.test(name)) return 'tokens';
  if (/position_ids|^positions$|cache_position/i.test(name)) return 'positions';
  if (/attention_mask|^mask$/i.test(name)) return 'mask';
  if (/embeds/i.test(name)) return 'embeds';
  if (/write_ind/i.test(name)) return 'write-indices';
  if (/seqlens_k/i.test(name)) return 'seqlens-k';
  if (/total_seq/i.test(name)) return 'total-length';
  if (/seqlen|seq_len/i.test(name)) return 'nonpad-length';
  if (/past|cache/i.test(name)) return 'cache';
  return 'other';
}

export interface FeedPlan {
  feeds: Record<string, ort.Tensor>;
  /** Tokens actually used (a graph with a static sequence length takes that many). */
  tokens: number[];
}

/**
 * Feeds for one pass over `tokens` (batch 1, no past).
 * @param hiddenSize size of inputs_embeds' last dim when the graph leaves it symbolic
 */
export interface PastState {
  /** Tokens already in the cache. */
  length: number;
  /** Cache tensors by graph input name (from the previous pass's present outputs). */
  tensors: Record<string, ort.Tensor>;
}

/**
 * The graph output that carries the updated value of cache input `name` (past_key_values.0.key →
 * present.0.key, past_0 → present_0, key_cache.0 → updated_key_cache.0), or null.
 */
export function presentNameFor(name: string, outputs: readonly string[]): string | null {
  const candidates = [name.replace(/past_key_values/, 'present'), name.replace(/^past/, 'present'), `updated_${name}`, name.replace(/past/, 'present')];
  return candidates.find((c) => c !== name && outputs.includes(c)) ?? null;
}

export function buildFeeds(specs: InputSpec[], tokens: number[], where: string, hiddenSize: number | null = null, past: PastState | null = null): FeedPlan {
  const P = past?.length ?? 0;
  const tokSpec = specs.find((s) => inputRole(s.name) === 'tokens' || (s.type === 'int64' || s.type === 'int32') && s.dims.length === 2 && inputRole(s.name) === 'other');
  let T = tokens.length;
  const staticSeq = tokSpec && typeof tokSpec.dims[1] === 'number' ? (tokSpec.dims[1] as number) : null;
  if (staticSeq !== null) {
    if (tokens.length < staticSeq) throw new Error(`${where}: input "${tokSpec!.name}" has a fixed sequence length ${staticSeq}; give at least ${staticSeq} token ids`);
    T = staticSeq;
  }
  if (T < 1) throw new Error(`${where}: no token ids to run`);
  const used = tokens.slice(0, T);
  const feeds: Record<string, ort.Tensor> = {};
  for (const s of specs) {
    const role = s === tokSpec ? 'tokens' : inputRole(s.name);
    const resolve = (fallback: (axis: number) => number): number[] =>
      s.dims.map((d, axis) => (typeof d === 'number' ? d : typeof d === 'string' && /batch/i.test(d) ? 1 : axis === 0 && s.dims.length > 1 && d === null ? 1 : fallback(axis)));
    let dims: number[];
    let data: ort.Tensor['data'];
    switch (role) {
      case 'tokens':
        dims = resolve(() => T);
        data = filled(s.type, T, (i) => used[i]!);
        break;
      case 'positions':
        dims = resolve(() => T);
        data = filled(s.type, dims.reduce((a, b) => a * b, 1), (i) => P + (i % T));
        break;
      case 'mask':
        dims = resolve(() => P + T);
        if (dims.length === 4 && dims[2] === dims[3]) {
          // a square [b, 1, S, S] mask (Megatron-style) is the causal mask itself: lower triangle kept
          const S = dims[3]!;
          data = filled(s.type, dims.reduce((a, b) => a * b, 1), (i) => ((i % S) <= Math.floor(i / S) % S ? 1 : 0));
        } else data = filled(s.type, dims.reduce((a, b) => a * b, 1), () => 1);
        break;
      case 'cache':
        if (past?.tensors[s.name]) {
          feeds[s.name] = past.tensors[s.name]!;
          continue;
        }
        if (P > 0) throw new Error(`${where}: no cache tensor for input "${s.name}" after ${P} tokens`);
        dims = resolve(() => 0);
        data = filled(s.type, dims.reduce((a, b) => a * b, 1), () => 0);
        break;
      case 'write-indices':
        dims = resolve(() => 1);
        data = filled(s.type, dims.reduce((a, b) => a * b, 1), () => P);
        break;
      case 'seqlens-k':
        dims = resolve(() => 1);
        data = filled(s.type, dims.reduce((a, b) => a * b, 1), () => P + T - 1);
        break;
      case 'total-length':
      case 'nonpad-length':
        dims = resolve(() => 1);
        data = filled(s.type, dims.reduce((a, b) => a * b, 1), () => P + T);
        break;
      case 'embeds': {
        dims = resolve((axis) => (axis === s.dims.length - 1 ? hiddenSize ?? NaN : T));
        if (dims.some((d) => !Number.isFinite(d))) throw new Error(`${where}: input "${s.name}" has a symbolic hidden size; cannot build inputs_embeds`);
        const rand = seededUniform(dims.reduce((a, b) => a * b, 1), 12345);
        data = filled(s.type, rand.length, (i) => rand[i]!);
        break;
      }
      default:
        dims = resolve(() => T);
        data = filled(s.type, dims.reduce((a, b) => a * b, 1), () => 0);
    }
    feeds[s.name] = new ort.Tensor(s.type, data, dims);
  }
  return { feeds, tokens: used };
}

/** Feeds for one batched pass, and the padded length every row was brought to. */
export interface BatchFeedPlan {
  feeds: Record<string, ort.Tensor>;
  /** Tokens per row after right padding (the longest row). */
  maxTokens: number;
}

/**
 * Feeds for one pass over several token rows at once (no past), right-padded to the longest row:
 * input_ids padded with `padId`, attention_mask 1 on real tokens and 0 on padding, position_ids
 * 0…T−1 on every row, empty dynamic KV caches with the batch size. A causal model's states at a
 * row's real tokens never depend on the padding after them (the mask only hides what causality
 * already hides), so each row's real positions compute what a batch-1 pass over that row computes,
 * up to float rounding.
 *
 * Returns null when the graph's inputs cannot take a batch this way (a static batch or sequence
 * size, a 4-D mask, static caches, inputs_embeds, …): the caller then runs the rows one by one.
 */
export function buildBatchFeeds(specs: InputSpec[], rows: readonly (readonly number[])[], padId = 0): BatchFeedPlan | null {
  const B = rows.length;
  if (B === 0) return null;
  const T = Math.max(...rows.map((r) => r.length));
  if (T < 1) return null;
  const tokSpec = specs.find((s) => inputRole(s.name) === 'tokens');
  if (!tokSpec) return null;
  const feeds: Record<string, ort.Tensor> = {};
  const symbolic = (d: number | string | null) => typeof d !== 'number';
  for (const s of specs) {
    const role = inputRole(s.name);
    const n = B * T;
    switch (role) {
      case 'tokens':
      case 'positions':
      case 'mask': {
        if (s.dims.length !== 2 || !symbolic(s.dims[0]) || !symbolic(s.dims[1])) return null;
        const value =
          role === 'tokens'
            ? (i: number) => rows[Math.floor(i / T)]![i % T] ?? padId
            : role === 'positions'
              ? (i: number) => i % T
              : (i: number) => (i % T < rows[Math.floor(i / T)]!.length ? 1 : 0);
        feeds[s.name] = new ort.Tensor(s.type, filled(s.type, n, value), [B, T]);
        break;
      }
      case 'cache': {
        // [batch, heads, past, head_dim], or old torch exports' [2, batch, heads, past, head_dim]:
        // the batch axis (named so, else a symbolic first axis) gets B, the one other symbolic axis
        // (the past length) 0.
        const named = s.dims.findIndex((d) => typeof d === 'string' && /batch/i.test(d));
        const batchAxis = named >= 0 ? named : symbolic(s.dims[0]) ? 0 : -1;
        if (batchAxis < 0 || s.dims.filter((d, axis) => axis !== batchAxis && symbolic(d)).length !== 1) return null;
        const dims = s.dims.map((d, axis) => (axis === batchAxis ? B : typeof d === 'number' ? d : 0));
        feeds[s.name] = new ort.Tensor(s.type, filled(s.type, 0, () => 0), dims);
        break;
      }
      default:
        return null;
    }
  }
  return { feeds, maxTokens: T };
}
