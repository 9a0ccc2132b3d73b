/**
 * Tiny decoder-only language models as ONNX graphs, written the way real exporters write them, so
 * residual-stream graph surgery can be tested on realistic structure with known ground truth.
 *
 * Families: `gpt2` (LayerNorm, learned positions, tanh-GELU MLP, tied or untied head), `llama`
 * (RMSNorm, rotary embeddings from position_ids, SwiGLU, grouped KV heads, optional Gemma-style
 * sandwich norms), `gpt-neox` (parallel residual x + attn(ln1 x) + mlp(ln2 x), partial rotary).
 * Naming: `optimum` (torch ≥ 1.13), `numeric` (old torch.onnx, decomposed LayerNorm, optional Cast
 * on the residual), `mobius`. Fusion: `none`, `ort-fused` (ONNX Runtime transformer optimizer:
 * SkipLayerNormalization carries the residual sum in output 3; the last block's sum lives only
 * inside the final fused norm, which declares no output 3), `genai` (onnxruntime-genai builder:
 * SkipSimplifiedLayerNormalization, block i's output made by the node named after layer i+1).
 *
 * The graph computes what Hugging Face's PyTorch model computes (HF conventions: hidden_states[0]
 * is the embedding output, hidden_states[L] the last block's output before the final norm).
 *
 * Owns: the architecture → graph mapping and the ground-truth hidden-state names. Must not: find
 * hidden states by searching a graph (that is the surgery's job, adapters/onnx/*.ts).
 */
import { DataType, GraphBuilder, type Dim, type NamingStyle } from './graphBuilder.js';
import { blockParam, need, randomWeights, stackPrefix, type ArchSizes, type Family, type WeightMap } from './weights.js';

export type { Family } from './weights.js';
export type Naming = 'optimum' | 'numeric' | 'mobius';
export type Fusion = 'none' | 'ort-fused' | 'genai';

export interface TinyCausalLMSpec {
  family: Family;
  /** Default `optimum`. `genai` fusion always uses the genai builder's names. */
  naming?: Naming;
  /** Default `none`. `ort-fused` needs family gpt2, `genai` needs family llama. */
  fusion?: Fusion;
  /** Graph input `inputs_embeds` [b, s, hidden] instead of `input_ids` (Gemma-style decoder graphs). */
  inputsEmbeds?: boolean;
  /**
   * With `ort-fused`: the optimizer's `EmbedLayerNormalization` (com.microsoft) replaces the
   * embedding Gathers + Add + first LayerNorm; hidden_states[0] is its output 2 (embedding sum).
   */
  embedLayerNorm?: boolean;
  /** Gemma-2-style norms around attention and MLP outputs (llama family only). */
  sandwichNorms?: boolean;
  /** Optimum-style KV cache: inputs position_ids and past_key_values.N.key/value, outputs present.N.key/value. */
  kvCache?: boolean;
  /** Weights go to a `.onnx_data` blob referenced by location/offset/length. */
  externalData?: boolean;
  /** File name the external data is referenced by (default `model.onnx_data`). */
  externalDataLocation?: string;
  layers?: number;
  hidden?: number;
  heads?: number;
  /** Grouped KV heads (llama); must divide heads. Default heads. */
  kvHeads?: number;
  intermediate?: number;
  vocab?: number;
  maxPositions?: number;
  /** LM head = token embedding transposed. Default true for gpt2, false otherwise. */
  tiedEmbeddings?: boolean;
  /** Fraction of each head's dims that get rotary (gpt-neox; default 0.5). */
  rotaryPct?: number;
  ropeTheta?: number;
  eps?: number;
  /** A float Cast after each residual Add (numeric naming only), as some old exports have. */
  castOnResidual?: boolean;
  /** Declare the L+1 ground-truth hidden states as extra graph outputs (tests only). */
  exposeHiddenStates?: boolean;
  seed?: number;
  /** Use these weights (HF names, projections [in, out]) instead of seeded random ones. */
  weights?: WeightMap;
}

export interface ResolvedSpec extends ArchSizes {
  naming: Naming;
  fusion: Fusion;
  inputsEmbeds: boolean;
  embedLayerNorm: boolean;
  kvCache: boolean;
  externalData: boolean;
  externalDataLocation: string;
  rotaryPct: number;
  ropeTheta: number;
  eps: number;
  castOnResidual: boolean;
  exposeHiddenStates: boolean;
  seed: number;
  headDim: number;
}

/** Where a hidden state comes from: output `output` of node `node`, or a graph input (node null). */
export interface TensorSource {
  node: string | null;
  output: number;
}

export interface TinyCausalLM {
  /** ModelProto bytes. */
  model: Uint8Array;
  /** The weights blob when `externalData` (write it next to the model under `spec.externalDataLocation`). */
  externalData?: Uint8Array;
  /**
   * Ground truth: the L+1 residual-stream tensors, embedding output first. For `ort-fused` the
   * last one is output 3 of the final fused norm, a name that exists in the graph only when that
   * output is declared (`exposeHiddenStates`), as the surgery must do.
   */
  expectedHiddenStates: string[];
  hiddenStateSources: TensorSource[];
  /** Output of the final norm (input of the LM head). */
  finalNormOutput: string;
  finalNormNode: string;
  inputNames: string[];
  outputNames: string[];
  spec: ResolvedSpec;
  weights: WeightMap;
  /** A Hugging Face config.json for this model (what transformers.js reads). */
  config: Record<string, unknown>;
}

/** Fills defaults and checks combinations. */
export function resolveSpec(s: TinyCausalLMSpec): ResolvedSpec {
  const family = s.family;
  const fusion = s.fusion ?? 'none';
  const naming = s.naming ?? 'optimum';
  if (!['gpt2', 'llama', 'gpt-neox'].includes(family)) throw new Error(`tiny LM: unknown family ${String(family)} (gpt2, llama, gpt-neox)`);
  if (fusion === 'ort-fused' && family !== 'gpt2') throw new Error(`tiny LM: fusion ort-fused is the GPT-2 optimizer layout; family ${family} given`);
  if (fusion === 'genai' && family !== 'llama') throw new Error(`tiny LM: fusion genai is the onnxruntime-genai llama layout; family ${family} given`);
  if (fusion === 'genai' && naming !== 'optimum') throw new Error('tiny LM: fusion genai brings its own names; leave naming at optimum');
  if (fusion !== 'none' && s.castOnResidual) throw new Error('tiny LM: castOnResidual applies to unfused graphs only');
  if (s.embedLayerNorm && (fusion !== 'ort-fused' || s.inputsEmbeds)) throw new Error('tiny LM: embedLayerNorm is part of the ort-fused GPT-2 layout with input_ids');
  if (s.castOnResidual && naming !== 'numeric') throw new Error('tiny LM: castOnResidual is an old-exporter habit; use naming numeric');
  if (s.sandwichNorms && (family !== 'llama' || fusion !== 'none')) throw new Error('tiny LM: sandwichNorms needs family llama without fusion');
  const hidden = s.hidden ?? 32;
  const heads = s.heads ?? 4;
  const kvHeads = s.kvHeads ?? heads;
  if (hidden % heads !== 0) throw new Error(`tiny LM: hidden ${hidden} not divisible by heads ${heads}`);
  if (heads % kvHeads !== 0) throw new Error(`tiny LM: heads ${heads} not divisible by kvHeads ${kvHeads}`);
  if (kvHeads !== heads && family !== 'llama') throw new Error('tiny LM: grouped KV heads are a llama-family option');
  const headDim = hidden / heads;
  const rotaryPct = family === 'gpt-neox' ? (s.rotaryPct ?? 0.5) : 1;
  const rot = Math.round(headDim * rotaryPct);
  if (family !== 'gpt2' && (rot % 2 !== 0 || rot === 0)) throw new Error(`tiny LM: rotary dims ${rot} must be even and positive`);
  return {
    family,
    naming: fusion === 'genai' ? 'optimum' : naming,
    fusion,
    layers: s.layers ?? 3,
    hidden,
    heads,
    kvHeads,
    headDim,
    intermediate: s.intermediate ?? (family === 'llama' ? 2 * hidden : 4 * hidden),
    vocab: s.vocab ?? 96,
    maxPositions: s.maxPositions ?? 64,
    tiedEmbeddings: s.tiedEmbeddings ?? family === 'gpt2',
    sandwichNorms: s.sandwichNorms ?? false,
    inputsEmbeds: s.inputsEmbeds ?? false,
    embedLayerNorm: s.embedLayerNorm ?? false,
    kvCache: s.kvCache ?? false,
    externalData: s.externalData ?? false,
    externalDataLocation: s.externalDataLocation ?? 'model.onnx_data',
    rotaryPct,
    ropeTheta: s.ropeTheta ?? 10000,
    eps: s.eps ?? (family === 'llama' ? 1e-6 : 1e-5),
    castOnResidual: s.castOnResidual ?? false,
    exposeHiddenStates: s.exposeHiddenStates ?? false,
    seed: s.seed ?? 1,
  };
}

/** The Hugging Face config.json fields transformers.js needs for this model. */
export function hfConfig(r: ResolvedSpec): Record<string, unknown> {
  const common = { vocab_size: r.vocab, use_cache: r.kvCache, tie_word_embeddings: r.tiedEmbeddings, bos_token_id: 0, eos_token_id: 0, torch_dtype: 'float32' };
  if (r.family === 'gpt2') {
    return {
      model_type: 'gpt2', architectures: ['GPT2LMHeadModel'], n_positions: r.maxPositions, n_ctx: r.maxPositions, n_embd: r.hidden,
      n_layer: r.layers, n_head: r.heads, n_inner: r.intermediate, activation_function: 'gelu_new', layer_norm_epsilon: r.eps, ...common,
    };
  }
  if (r.family === 'llama') {
    return {
      model_type: 'llama', architectures: ['LlamaForCausalLM'], hidden_size: r.hidden, intermediate_size: r.intermediate,
      num_hidden_layers: r.layers, num_attention_heads: r.heads, num_key_value_heads: r.kvHeads, head_dim: r.headDim,
      max_position_embeddings: r.maxPositions, rms_norm_eps: r.eps, rope_theta: r.ropeTheta, hidden_act: 'silu', ...common,
    };
  }
  return {
    model_type: 'gpt_neox', architectures: ['GPTNeoXForCausalLM'], hidden_size: r.hidden, intermediate_size: r.intermediate,
    num_hidden_layers: r.layers, num_attention_heads: r.heads, max_position_embeddings: r.maxPositions, rotary_pct: r.rotaryPct,
    rotary_emb_base: r.ropeTheta, layer_norm_eps: r.eps, use_parallel_residual: true, hidden_act: 'gelu', ...common,
  };
}

const NEG_BIG = -3.4028234663852886e38; // float32 min, what torch exports use for masked scores

/** Builds the graph. See the module comment for what each option reproduces. */
export function buildTinyCausalLM(spec: TinyCausalLMSpec): TinyCausalLM {
  const r = resolveSpec(spec);
  const w = spec.weights ?? randomWeights(r, r.seed);
  const style: NamingStyle = r.fusion === 'genai' ? 'genai' : r.naming;
  const g = new GraphBuilder(style);
  const L = r.layers;
  const D = r.hidden;
  const fam = r.family;
  const top = stackPrefix(fam);
  const F = DataType.FLOAT;
  const I64 = DataType.INT64;

  // ---- inputs (Optimum's order)
  const totalLen: Dim = r.kvCache ? 'past_sequence_length + sequence_length' : 'sequence_length';
  const streamInput = r.inputsEmbeds
    ? g.input('inputs_embeds', F, ['batch_size', 'sequence_length', D])
    : g.input('input_ids', I64, ['batch_size', 'sequence_length']);
  const attentionMask = g.input('attention_mask', I64, ['batch_size', totalLen]);
  const positionIdsInput = r.kvCache ? g.input('position_ids', I64, ['batch_size', 'sequence_length']) : undefined;
  const past: { key: string; value: string }[] = [];
  if (r.kvCache) {
    for (let i = 0; i < L; i++) {
      past.push({
        key: g.input(`past_key_values.${i}.key`, F, ['batch_size', r.kvHeads, 'past_sequence_length', r.headDim]),
        value: g.input(`past_key_values.${i}.value`, F, ['batch_size', r.kvHeads, 'past_sequence_length', r.headDim]),
      });
    }
  }

  const hidden: string[] = [];
  const ctx = { g, r, w };
  let allowed = '';
  let positionIds = '';
  let rope: { cos: string; sin: string } | undefined;
  let negBig = '';
  let x = '';
  let embedLn1: string | undefined;

  g.scope(top, () => {
    // ---- lengths, causal + padding mask, positions
    const shape = g.op1('Shape', [streamInput]);
    const seqLen = g.op1('Gather', [shape, g.constInt64([1], [])], { attrs: { axis: 0 } });
    let pastLen: string;
    if (r.kvCache) {
      const pshape = g.op1('Shape', [past[0]!.key]);
      pastLen = g.op1('Gather', [pshape, g.constInt64([2], [])], { attrs: { axis: 0 } });
    } else {
      pastLen = g.constInt64([0], []);
    }
    const total = g.op1('Add', [pastLen, seqLen]);
    const one = g.constInt64([1], []);
    const qPos = g.op1('Range', [pastLen, total, one]);
    const kPos = g.op1('Range', [g.constInt64([0], []), total, one]);
    const causal = g.op1('LessOrEqual', [g.op1('Unsqueeze', [kPos, g.constInt64([0])]), g.op1('Unsqueeze', [qPos, g.constInt64([1])])]);
    const pad = g.op1('Unsqueeze', [g.op1('Cast', [attentionMask], { attrs: { to: DataType.BOOL } }), g.constInt64([1, 2])]);
    allowed = g.op1('And', [causal, pad]); // [b, 1, s, total]
    negBig = g.constFloat([NEG_BIG]);
    positionIds = positionIdsInput ?? g.op1('Unsqueeze', [qPos, g.constInt64([0])]);

    // ---- embeddings → hidden_states[0]
    if (r.embedLayerNorm) {
      // Fused embedding: output 0 = ln_1 of block 0, output 2 = wte[ids] + wpe[pos]; int32 ids and positions.
      const ids32 = g.op1('Cast', [streamInput], { attrs: { to: DataType.INT32 } });
      const pos32 = g.op1('Cast', [positionIds], { attrs: { to: DataType.INT32 } });
      const outs = g.op('EmbedLayerNormalization', [
        ids32, '', weightOf(ctx, 'transformer.wte.weight'), weightOf(ctx, 'transformer.wpe.weight'), '',
        weightOf(ctx, blockParam(fam, 0, 'ln_1.weight')), weightOf(ctx, blockParam(fam, 0, 'ln_1.bias')), '', pos32,
      ], { name: 'EmbedLayerNormalization_0', domain: 'com.microsoft', outputs: 3, attrs: { epsilon: { float: r.eps } } });
      embedLn1 = outs[0]!;
      x = outs[2]!;
    } else if (fam === 'gpt2') {
      const tok = r.inputsEmbeds ? streamInput : g.scope('wte', () => g.op1('Gather', [weightOf(ctx, 'transformer.wte.weight'), streamInput]));
      const pos = g.scope('wpe', () => g.op1('Gather', [weightOf(ctx, 'transformer.wpe.weight'), positionIds]));
      x = g.op1('Add', [tok, pos]);
      x = maybeCast(ctx, x);
    } else if (r.inputsEmbeds) {
      x = streamInput;
    } else {
      const embName = fam === 'llama' ? 'embed_tokens' : 'embed_in';
      x = g.scope(embName, () => g.op1('Gather', [weightOf(ctx, `${top}.${embName}.weight`), streamInput]));
    }
    hidden.push(x);

    if (fam !== 'gpt2') rope = g.scope('rotary_emb', () => rotaryTables(ctx, positionIds));
  });

  const presents: { key: string; value: string }[] = [];
  const attnCtx = (i: number): AttnArgs => ({ layer: i, allowed, negBig, rope, past: past[i], presentNames: r.kvCache ? { key: `present.${i}.key`, value: `present.${i}.value` } : undefined, presents });

  let finalNormOutput = '';
  let finalNormNode = '';
  let lastSource: TensorSource | undefined;

  if (r.fusion === 'none') {
    for (let i = 0; i < L; i++) {
      g.scope(top, () =>
        g.scope(fam === 'gpt2' ? `h.${i}` : `layers.${i}`, () => {
          if (fam === 'gpt2') {
            const a = g.scope('attn', () => attention(ctx, layerNorm(ctx, x, blockParam(fam, i, 'ln_1'), 'ln_1'), attnCtx(i), true));
            x = maybeCast(ctx, g.op1('Add', [a, x]));
            const m = g.scope('mlp', () => mlpGpt2(ctx, i, layerNorm(ctx, x, blockParam(fam, i, 'ln_2'), 'ln_2')));
            x = maybeCast(ctx, g.op1('Add', [x, m]));
          } else if (fam === 'llama') {
            let a = g.scope('self_attn', () => attention(ctx, rmsNorm(ctx, x, blockParam(fam, i, 'input_layernorm.weight'), 'input_layernorm'), attnCtx(i), true));
            if (r.sandwichNorms) a = rmsNorm(ctx, a, blockParam(fam, i, 'post_attention_layernorm.weight'), 'post_attention_layernorm');
            x = maybeCast(ctx, g.op1('Add', [x, a]));
            const preMlp = r.sandwichNorms ? 'pre_feedforward_layernorm' : 'post_attention_layernorm';
            let m = g.scope('mlp', () => mlpLlama(ctx, i, rmsNorm(ctx, x, blockParam(fam, i, `${preMlp}.weight`), preMlp)));
            if (r.sandwichNorms) m = rmsNorm(ctx, m, blockParam(fam, i, 'post_feedforward_layernorm.weight'), 'post_feedforward_layernorm');
            x = maybeCast(ctx, g.op1('Add', [x, m]));
          } else {
            const ln1 = layerNorm(ctx, x, blockParam(fam, i, 'input_layernorm'), 'input_layernorm');
            const ln2 = layerNorm(ctx, x, blockParam(fam, i, 'post_attention_layernorm'), 'post_attention_layernorm');
            const a = g.scope('attention', () => attention(ctx, ln1, attnCtx(i), true));
            const m = g.scope('mlp', () => mlpNeox(ctx, i, ln2));
            // HF: hidden_states = mlp_output + attn_output + hidden_states
            x = maybeCast(ctx, g.op1('Add', [g.op1('Add', [m, a]), x]));
          }
          hidden.push(x);
        }),
      );
    }
    g.scope(top, () => {
      if (fam === 'llama') finalNormOutput = rmsNorm(ctx, x, 'model.norm.weight', 'norm');
      else if (fam === 'gpt2') finalNormOutput = layerNorm(ctx, x, 'transformer.ln_f', 'ln_f');
      else finalNormOutput = layerNorm(ctx, x, 'gpt_neox.final_layer_norm', 'final_layer_norm');
    });
    finalNormNode = g.producer.get(finalNormOutput)?.node ?? '';
  } else if (r.fusion === 'ort-fused') {
    // ONNX Runtime's transformer optimizer on GPT-2: each "Add + LayerNorm" pair becomes one
    // SkipLayerNormalization whose output 3 is the residual sum; projection biases move into it.
    let k = 0;
    let ln1 = embedLn1 ?? g.scope(top, () => g.scope('h.0', () => layerNorm(ctx, x, blockParam(fam, 0, 'ln_1'), 'ln_1')));
    for (let i = 0; i < L; i++) {
      const last = i === L - 1;
      let mid = '';
      let ln2 = '';
      g.scope(top, () =>
        g.scope(`h.${i}`, () => {
          const a = g.scope('attn', () => attention(ctx, ln1, attnCtx(i), false));
          [ln2, , , mid] = skipLayerNorm(ctx, `SkipLayerNorm_AddBias_${k++}`, a, x, blockParam(fam, i, 'ln_2'), blockParam(fam, i, 'attn.c_proj.bias'), true);
          const mm = g.scope('mlp', () => {
            const fc = g.scope('c_fc', () => g.op1('MatMul', [ln2, weightOf(ctx, blockParam(fam, i, 'mlp.c_fc.weight'))]));
            const act = g.op1('FastGelu', [fc, weightOf(ctx, blockParam(fam, i, 'mlp.c_fc.bias'))], { domain: 'com.microsoft', name: `FastGelu_AddBias_${i}` });
            return g.scope('c_proj', () => g.op1('MatMul', [act, weightOf(ctx, blockParam(fam, i, 'mlp.c_proj.weight'))]));
          });
          const normPrefix = last ? 'transformer.ln_f' : blockParam(fam, i + 1, 'ln_1');
          const name = `SkipLayerNorm_AddBias_${k++}`;
          const declare = !last || r.exposeHiddenStates;
          const outs = skipLayerNorm(ctx, name, mm, mid, normPrefix, blockParam(fam, i, 'mlp.c_proj.bias'), declare);
          ln1 = outs[0]!;
          if (last) {
            finalNormOutput = outs[0]!;
            finalNormNode = name;
            // Undeclared, the sum has no tensor name; report the name the surgery would give it.
            x = declare ? outs[3]! : `${name}_output_3`;
            lastSource = { node: name, output: 3 };
          } else {
            x = outs[3]!;
          }
          hidden.push(x);
        }),
      );
      void mid;
    }
  } else {
    // onnxruntime-genai builder (llama): SimplifiedLayerNormalization for layer 0's input norm,
    // then SkipSimplifiedLayerNormalization everywhere; block i's output is output 3 of the node
    // named after layer i+1 (the final norm is the pseudo-layer L).
    const gamma = (i: number, n: string) => weightOf(ctx, blockParam(fam, i, `${n}.weight`));
    let ln1 = g.op1('SimplifiedLayerNormalization', [x, gamma(0, 'input_layernorm')], {
      name: '/model/layers.0/input_layernorm/LayerNorm', attrs: { axis: -1, epsilon: { float: r.eps }, stash_type: 1 },
    });
    for (let i = 0; i < L; i++) {
      const a = g.scope('model', () => g.scope(`layers.${i}`, () => g.scope('attn', () => attention(ctx, ln1, attnCtx(i), true))));
      const postName = `/model/layers.${i}/post_attention_layernorm/SkipLayerNorm`;
      const [ln2, , , mid] = g.op('SkipSimplifiedLayerNormalization', [a, x, gamma(i, 'post_attention_layernorm')], {
        name: postName, domain: 'com.microsoft', outputs: 4, omitOutputs: [1, 2], attrs: { epsilon: { float: r.eps } },
      });
      const m = g.scope('model', () => g.scope(`layers.${i}`, () => g.scope('mlp', () => mlpLlama(ctx, i, ln2!))));
      const last = i === L - 1;
      const name = last ? `/model/layers.${L}/final_norm_layernorm/SkipLayerNorm` : `/model/layers.${i + 1}/input_layernorm/SkipLayerNorm`;
      const outs = g.op('SkipSimplifiedLayerNormalization', [m, mid!, last ? weightOf(ctx, 'model.norm.weight') : gamma(i + 1, 'input_layernorm')], {
        name, domain: 'com.microsoft', outputs: 4, omitOutputs: [1, 2], attrs: { epsilon: { float: r.eps } },
      });
      ln1 = outs[0]!;
      x = outs[3]!;
      hidden.push(x);
      if (last) {
        finalNormOutput = outs[0]!;
        finalNormNode = name;
      }
    }
  }

  // ---- LM head
  const headWeight = fam === 'gpt2' ? 'lm_head.weight' : fam === 'llama' ? 'lm_head.weight' : 'embed_out.weight';
  const embName = fam === 'gpt2' ? 'transformer.wte.weight' : fam === 'llama' ? 'model.embed_tokens.weight' : 'gpt_neox.embed_in.weight';
  const headScope = fam === 'gpt-neox' ? 'embed_out' : 'lm_head';
  g.scope(headScope, () => {
    const wHead = r.tiedEmbeddings ? g.op1('Transpose', [weightOf(ctx, embName)], { attrs: { perm: [1, 0] } }) : weightOf(ctx, headWeight);
    g.op1('MatMul', [finalNormOutput, wHead], { outputNames: ['logits'] });
  });

  // ---- outputs
  g.output('logits', F, ['batch_size', 'sequence_length', r.vocab]);
  for (let i = 0; i < presents.length; i++) {
    g.output(presents[i]!.key, F, ['batch_size', r.kvHeads, totalLen, r.headDim]);
    g.output(presents[i]!.value, F, ['batch_size', r.kvHeads, totalLen, r.headDim]);
  }
  if (r.exposeHiddenStates) {
    for (const h of hidden) if (h !== streamInput) g.output(h, F, ['batch_size', 'sequence_length', D]);
  }

  const sources: TensorSource[] = hidden.map((h, i) => {
    if (h === streamInput) return { node: null, output: 0 };
    if (i === L && lastSource !== undefined) return lastSource;
    const p = g.producer.get(h);
    if (p === undefined) throw new Error(`tiny LM: no producer recorded for ${h}`);
    return p;
  });

  const opsets = [{ domain: '', version: 17 }];
  if (r.fusion !== 'none') opsets.push({ domain: 'com.microsoft', version: 1 });
  const enc = g.encode({ opsets, externalData: r.externalData ? { location: r.externalDataLocation } : undefined });
  const inputNames = [streamInput, attentionMask, ...(positionIdsInput ? [positionIdsInput] : []), ...past.flatMap((p) => [p.key, p.value])];
  const outputNames = ['logits', ...presents.flatMap((p) => [p.key, p.value]), ...(r.exposeHiddenStates ? hidden.filter((h) => h !== streamInput) : [])];
  return {
    model: enc.model,
    externalData: enc.externalData,
    expectedHiddenStates: hidden,
    hiddenStateSources: sources,
    finalNormOutput,
    finalNormNode,
    inputNames,
    outputNames,
    spec: r,
    weights: w,
    config: hfConfig(r),
  };
}

// ---------------------------------------------------------------------------------------------
// pieces

interface Ctx {
  g: GraphBuilder;
  r: ResolvedSpec;
  w: WeightMap;
}

interface AttnArgs {
  layer: number;
  allowed: string;
  negBig: string;
  rope: { cos: string; sin: string } | undefined;
  past: { key: string; value: string } | undefined;
  presentNames: { key: string; value: string } | undefined;
  presents: { key: string; value: string }[];
}

const added = new WeakMap<GraphBuilder, Set<string>>();

/** The initializer for a checkpoint weight, added on first use. */
function weightOf(c: Ctx, name: string): string {
  let seen = added.get(c.g);
  if (seen === undefined) {
    seen = new Set();
    added.set(c.g, seen);
  }
  if (!seen.has(name)) {
    const t = need(c.w, name);
    c.g.weight(name, t.dims, t.data);
    seen.add(name);
  }
  return name;
}

function maybeCast(c: Ctx, x: string): string {
  return c.r.castOnResidual ? c.g.op1('Cast', [x], { attrs: { to: DataType.FLOAT } }) : x;
}

/** LayerNorm with gain `${prefix}.weight` and bias `${prefix}.bias`; decomposed for old exporters. */
function layerNorm(c: Ctx, x: string, prefix: string, scopeName: string): string {
  const { g, r } = c;
  return g.scope(scopeName, () => {
    const gamma = weightOf(c, `${prefix}.weight`);
    const beta = weightOf(c, `${prefix}.bias`);
    if (r.naming !== 'numeric') {
      return g.op1('LayerNormalization', [x, gamma, beta], { attrs: { axis: -1, epsilon: { float: r.eps } } });
    }
    // torch ≤ 1.9: (x − mean) / sqrt(var + eps) · γ + β, op by op.
    const mean = g.op1('ReduceMean', [x], { attrs: { axes: [-1], keepdims: 1 } });
    const centred = g.op1('Sub', [x, mean]);
    const sq = g.op1('Pow', [centred, g.constFloat([2])]);
    const v = g.op1('ReduceMean', [sq], { attrs: { axes: [-1], keepdims: 1 } });
    const std = g.op1('Sqrt', [g.op1('Add', [v, g.constFloat([r.eps])])]);
    const normed = g.op1('Div', [g.op1('Sub', [x, mean]), std]);
    return g.op1('Add', [g.op1('Mul', [normed, gamma]), beta]);
  });
}

/** RMSNorm as HF Llama exports it: x · 1/sqrt(mean(x²) + eps) · γ. */
function rmsNorm(c: Ctx, x: string, gammaName: string, scopeName: string): string {
  const { g, r } = c;
  return g.scope(scopeName, () => {
    const gamma = weightOf(c, gammaName);
    const v = g.op1('ReduceMean', [g.op1('Pow', [x, g.constFloat([2])])], { attrs: { axes: [-1], keepdims: 1 } });
    const inv = g.op1('Reciprocal', [g.op1('Sqrt', [g.op1('Add', [v, g.constFloat([r.eps])])])]);
    return g.op1('Mul', [gamma, g.op1('Mul', [x, inv])]);
  });
}

/** SkipLayerNormalization (com.microsoft): out0 = LN(a + skip + bias), out3 = a + skip + bias. */
function skipLayerNorm(c: Ctx, name: string, a: string, skip: string, normPrefix: string, bias: string, declareSum: boolean): string[] {
  return c.g.op('SkipLayerNormalization', [a, skip, weightOf(c, `${normPrefix}.weight`), weightOf(c, `${normPrefix}.bias`), weightOf(c, bias)], {
    name, domain: 'com.microsoft', outputs: 4, omitOutputs: declareSum ? [1, 2] : [1, 2, 3], attrs: { epsilon: { float: c.r.eps } },
  });
}

/** cos/sin tables [b, 1, s, rot] from position_ids, as HF's rotary embedding computes them. */
function rotaryTables(c: Ctx, positionIds: string): { cos: string; sin: string } {
  const { g, r } = c;
  const rot = Math.round(r.headDim * r.rotaryPct);
  const inv = new Array<number>(rot / 2);
  for (let k = 0; k < rot / 2; k++) inv[k] = 1 / Math.pow(r.ropeTheta, (2 * k) / rot);
  const pos = g.op1('Unsqueeze', [g.op1('Cast', [positionIds], { attrs: { to: DataType.FLOAT } }), g.constInt64([2])]);
  const freqs = g.op1('Mul', [pos, g.constFloat(inv, [rot / 2])]);
  const emb = g.op1('Concat', [freqs, freqs], { attrs: { axis: -1 } });
  const axes = g.constInt64([1]);
  return { cos: g.op1('Unsqueeze', [g.op1('Cos', [emb]), axes]), sin: g.op1('Unsqueeze', [g.op1('Sin', [emb]), axes]) };
}

/** q·cos + rotate_half(q)·sin on the first `rot` dims of each head; the rest pass through. */
function applyRotary(c: Ctx, t: string, rope: { cos: string; sin: string }): string {
  const { g, r } = c;
  const hd = r.headDim;
  const rot = Math.round(hd * r.rotaryPct);
  const axis = g.constInt64([3]);
  const slice = (x: string, from: number, to: number) => g.op1('Slice', [x, g.constInt64([from]), g.constInt64([to]), axis]);
  const tr = rot < hd ? slice(t, 0, rot) : t;
  const x1 = slice(tr, 0, rot / 2);
  const x2 = slice(tr, rot / 2, rot);
  const rotated = g.op1('Concat', [g.op1('Neg', [x2]), x1], { attrs: { axis: -1 } });
  const out = g.op1('Add', [g.op1('Mul', [tr, rope.cos]), g.op1('Mul', [rotated, rope.sin])]);
  return rot < hd ? g.op1('Concat', [out, slice(t, rot, hd)], { attrs: { axis: -1 } }) : out;
}

/** [b, s, n·hd] → [b, n, s, hd]. */
function splitHeads(c: Ctx, t: string, n: number): string {
  const { g, r } = c;
  const re = g.op1('Reshape', [t, g.constInt64([0, 0, n, r.headDim])]);
  return g.op1('Transpose', [re], { attrs: { perm: [0, 2, 1, 3] } });
}

/**
 * Self-attention with causal + padding mask and optional KV cache. Returns the output projection
 * (with its bias unless `withBias` is false: the fused layouts fold it into the next norm).
 */
function attention(c: Ctx, xn: string, a: AttnArgs, withBias: boolean): string {
  const { g, r } = c;
  const fam = r.family;
  const i = a.layer;
  const H = r.heads;
  const KV = r.kvHeads;
  const hd = r.headDim;
  const D = r.hidden;
  let q: string;
  let k: string;
  let v: string;
  if (fam === 'gpt2') {
    const qkv = g.scope('c_attn', () => g.op1('Add', [g.op1('MatMul', [xn, weightOf(c, blockParam(fam, i, 'attn.c_attn.weight'))]), weightOf(c, blockParam(fam, i, 'attn.c_attn.bias'))]));
    const [q0, k0, v0] = g.op('Split', [qkv, g.constInt64([D, D, D])], { outputs: 3, attrs: { axis: 2 } });
    q = splitHeads(c, q0!, H);
    k = splitHeads(c, k0!, H);
    v = splitHeads(c, v0!, H);
  } else if (fam === 'llama') {
    const p = (n: string) => weightOf(c, blockParam(fam, i, `self_attn.${n}.weight`));
    q = splitHeads(c, g.scope('q_proj', () => g.op1('MatMul', [xn, p('q_proj')])), H);
    k = splitHeads(c, g.scope('k_proj', () => g.op1('MatMul', [xn, p('k_proj')])), KV);
    v = splitHeads(c, g.scope('v_proj', () => g.op1('MatMul', [xn, p('v_proj')])), KV);
  } else {
    const qkv = g.scope('query_key_value', () => g.op1('Add', [g.op1('MatMul', [xn, weightOf(c, blockParam(fam, i, 'attention.query_key_value.weight'))]), weightOf(c, blockParam(fam, i, 'attention.query_key_value.bias'))]));
    const perHead = g.op1('Reshape', [qkv, g.constInt64([0, 0, H, 3 * hd])]);
    const parts = g.op('Split', [perHead, g.constInt64([hd, hd, hd])], { outputs: 3, attrs: { axis: 3 } });
    [q, k, v] = parts.map((t) => g.op1('Transpose', [t], { attrs: { perm: [0, 2, 1, 3] } })) as [string, string, string];
  }
  if (a.rope !== undefined) {
    q = applyRotary(c, q, a.rope);
    k = applyRotary(c, k, a.rope);
  }
  if (a.past !== undefined && a.presentNames !== undefined) {
    k = g.op1('Concat', [a.past.key, k], { attrs: { axis: 2 }, outputNames: [a.presentNames.key] });
    v = g.op1('Concat', [a.past.value, v], { attrs: { axis: 2 }, outputNames: [a.presentNames.value] });
    a.presents.push({ key: k, value: v });
  }
  if (KV !== H) {
    const expand = (t: string) => g.op1('Reshape', [g.op1('Expand', [g.op1('Unsqueeze', [t, g.constInt64([2])]), g.constInt64([1, 1, H / KV, 1, 1])]), g.constInt64([0, H, -1, hd])]);
    k = expand(k);
    v = expand(v);
  }
  let scores = g.op1('MatMul', [q, g.op1('Transpose', [k], { attrs: { perm: [0, 1, 3, 2] } })]);
  scores = fam === 'llama' ? g.op1('Mul', [scores, g.constFloat([1 / Math.sqrt(hd)])]) : g.op1('Div', [scores, g.constFloat([Math.sqrt(hd)])]);
  scores = g.op1('Where', [a.allowed, scores, a.negBig]);
  const probs = g.op1('Softmax', [scores], { attrs: { axis: -1 } });
  const ctxv = g.op1('Transpose', [g.op1('MatMul', [probs, v])], { attrs: { perm: [0, 2, 1, 3] } });
  const merged = g.op1('Reshape', [ctxv, g.constInt64([0, 0, D])]);
  if (fam === 'gpt2') {
    return g.scope('c_proj', () => {
      const mm = g.op1('MatMul', [merged, weightOf(c, blockParam(fam, i, 'attn.c_proj.weight'))]);
      return withBias ? g.op1('Add', [mm, weightOf(c, blockParam(fam, i, 'attn.c_proj.bias'))]) : mm;
    });
  }
  if (fam === 'llama') return g.scope('o_proj', () => g.op1('MatMul', [merged, weightOf(c, blockParam(fam, i, 'self_attn.o_proj.weight'))]));
  return g.scope('dense', () => g.op1('Add', [g.op1('MatMul', [merged, weightOf(c, blockParam(fam, i, 'attention.dense.weight'))]), weightOf(c, blockParam(fam, i, 'attention.dense.bias'))]));
}

/** GPT-2 MLP with gelu_new: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
function mlpGpt2(c: Ctx, i: number, xn: string): string {
  const { g, r } = c;
  const fam = r.family;
  const h = g.scope('c_fc', () => g.op1('Add', [g.op1('MatMul', [xn, weightOf(c, blockParam(fam, i, 'mlp.c_fc.weight'))]), weightOf(c, blockParam(fam, i, 'mlp.c_fc.bias'))]));
  const act = g.scope('act', () => {
    const half = g.op1('Mul', [g.constFloat([0.5]), h]);
    const cube = g.op1('Mul', [g.constFloat([0.044715]), g.op1('Pow', [h, g.constFloat([3])])]);
    const inner = g.op1('Mul', [g.constFloat([Math.sqrt(2 / Math.PI)]), g.op1('Add', [h, cube])]);
    return g.op1('Mul', [half, g.op1('Add', [g.constFloat([1]), g.op1('Tanh', [inner])])]);
  });
  return g.scope('c_proj', () => g.op1('Add', [g.op1('MatMul', [act, weightOf(c, blockParam(fam, i, 'mlp.c_proj.weight'))]), weightOf(c, blockParam(fam, i, 'mlp.c_proj.bias'))]));
}

/** Llama SwiGLU: down(silu(gate(x)) · up(x)). */
function mlpLlama(c: Ctx, i: number, xn: string): string {
  const { g, r } = c;
  const p = (n: string) => weightOf(c, blockParam(r.family, i, `mlp.${n}.weight`));
  const gate = g.scope('gate_proj', () => g.op1('MatMul', [xn, p('gate_proj')]));
  const act = g.scope('act_fn', () => g.op1('Mul', [gate, g.op1('Sigmoid', [gate])]));
  const up = g.scope('up_proj', () => g.op1('MatMul', [xn, p('up_proj')]));
  const prod = g.op1('Mul', [act, up]);
  return g.scope('down_proj', () => g.op1('MatMul', [prod, p('down_proj')]));
}

/** GPT-NeoX MLP with exact GELU: 0.5·x·(1 + erf(x/√2)). */
function mlpNeox(c: Ctx, i: number, xn: string): string {
  const { g, r } = c;
  const fam = r.family;
  const h = g.scope('dense_h_to_4h', () => g.op1('Add', [g.op1('MatMul', [xn, weightOf(c, blockParam(fam, i, 'mlp.dense_h_to_4h.weight'))]), weightOf(c, blockParam(fam, i, 'mlp.dense_h_to_4h.bias'))]));
  const act = g.scope('act', () => {
    const erf = g.op1('Erf', [g.op1('Div', [h, g.constFloat([Math.SQRT2])])]);
    return g.op1('Mul', [g.op1('Mul', [h, g.op1('Add', [erf, g.constFloat([1])])]), g.constFloat([0.5])]);
  });
  return g.scope('dense_4h_to_h', () => g.op1('Add', [g.op1('MatMul', [act, weightOf(c, blockParam(fam, i, 'mlp.dense_4h_to_h.weight'))]), weightOf(c, blockParam(fam, i, 'mlp.dense_4h_to_h.bias'))]));
}
