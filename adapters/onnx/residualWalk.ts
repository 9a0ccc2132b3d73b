/**
 * The structural walk along a decoder's residual stream (see docs/onnx-surgery.md).
 *
 * Start at the embedding output (token-embedding Gather, `EmbedLayerNormalization` output 2, or the
 * `inputs_embeds` input), then repeatedly step to the consumer that continues the stream: an `Add`
 * whose other input is not constant, or a `Skip*LayerNormalization` (its output 3, declared or not).
 * A tensor whose only consumer is a `Cast` continues through it (old exports cast the residual);
 * before the first block a `Mul`/`Div` by a constant (Gemma's √d scaling) does too.
 * Each step's branch (the other summand) is classified by whether its cone holds attention
 * (`Softmax` or an `*Attention` op). A block starts at an attention step and takes the following
 * non-attention steps (MLP); so pre-norm GPT-2/Llama blocks have two steps, parallel-residual
 * GPT-NeoX/GPT-J blocks one (x + (attn + mlp)), and position-embedding Adds before the first block
 * belong to the embedding. Names are used only to label layers.
 *
 * Owns: finding the L+1 stream tensors, the final norm and the LM head. Must not: edit or run the graph.
 */
import { describeNode, GraphIndex } from './graphIndex.js';
import { toNumber, type NodeProto } from './onnxProto.js';

const SKIP_NORMS = new Set(['SkipLayerNormalization', 'SkipSimplifiedLayerNormalization']);
const NORMS = new Set(['LayerNormalization', 'RMSNormalization', 'SimplifiedLayerNormalization', ...SKIP_NORMS]);
const MATMULS = new Set(['MatMul', 'Gemm', 'MatMulNBits', 'FusedMatMul', 'MatMulInteger']);
const PASS_THROUGH_VALUE_OPS = new Set(['Reshape', 'Cast', 'Unsqueeze', 'Squeeze', 'Identity', 'Flatten', 'Slice']);

function isAttentionOp(op: string): boolean {
  return op === 'Softmax' || /Attention$/.test(op);
}

/** A graph output that must be added to an existing node (an optional output it does not declare). */
export interface Materialization {
  node: number;
  slot: number;
  name: string;
}

export interface ResidualStep {
  from: string;
  to: string;
  node: number;
  kind: 'add' | 'skip-norm';
  branch: string;
  attention: boolean;
}

export interface ResidualWalk {
  start: { kind: 'token-gather' | 'embed-layernorm' | 'inputs-embeds'; tensor: string; node: number | null };
  steps: ResidualStep[];
  /** L+1 stream tensors: embedding output first, then each block's output. */
  states: string[];
  /** Steps (indices into `steps`) of each block. */
  blockSteps: number[][];
  /** Optional outputs to declare so every state exists as a tensor. */
  materialize: Materialization[];
  parallelResidual: boolean;
  /** The node that normalizes the last state; fused = a Skip*LayerNormalization that also forms it. */
  finalNorm: { node: number; fused: boolean } | null;
  /** The graph output holding logits, and the last MatMul/Gemm before it. */
  lmHead: { node: number; output: string; nodes: number[] } | null;
  /** Per block, a layer label taken from node names (or `block j`). */
  labels: string[];
  normKind: 'layernorm' | 'rmsnorm' | 'unknown';
  positions: 'learned' | 'rotary' | 'unknown';
}

export class WalkError extends Error {}

function otherInput(n: NodeProto, slot: number): string {
  const ins = n.input ?? [];
  return slot === 0 ? ins[1] ?? '' : ins[0] ?? '';
}

/** Trace an integer tensor back through value-preserving ops to a graph input. */
function valueSource(g: GraphIndex, t: string): string | null {
  for (let i = 0; i < 16; i++) {
    if (g.feeds.includes(t)) return t;
    const p = g.producer.get(t);
    if (!p) return null;
    const n = g.node(p.node);
    if (!PASS_THROUGH_VALUE_OPS.has(n.opType ?? '')) return null;
    t = n.input?.[0] ?? '';
  }
  return null;
}

/**
 * Where the stream starts: output 2 of the one EmbedLayerNormalization, else the token-embedding
 * Gather (a constant [vocab, hidden] table indexed by an integer graph input; `input_ids`, else the
 * largest table), else an `inputs_embeds` input.
 * @throws WalkError when there is none (or the decoder hides inside If/Loop sub-graphs)
 */
function findStart(g: GraphIndex, dims: Map<string, number[]>): ResidualWalk['start'] {
  const eln = g.nodes.map((n, i) => [n, i] as const).filter(([n]) => n.opType === 'EmbedLayerNormalization');
  if (eln.length > 1) throw new WalkError(`${eln.length} EmbedLayerNormalization nodes; expected one embedding`);
  if (eln.length === 1) {
    const [n, i] = eln[0]!;
    return { kind: 'embed-layernorm', tensor: n.output?.[2] || '', node: i };
  }
  const gathers: Array<{ node: number; tensor: string; source: string; rows: number }> = [];
  g.nodes.forEach((n, i) => {
    if (n.opType !== 'Gather') return;
    const table = n.input?.[0] ?? '';
    const d = dims.get(table);
    if (!g.isConstant(table) || !d || d.length !== 2) return;
    const src = valueSource(g, n.input?.[1] ?? '');
    if (src) gathers.push({ node: i, tensor: n.output?.[0] ?? '', source: src, rows: d[0]! });
  });
  if (gathers.length > 0) {
    // input_ids by its conventional interface name, else the largest table (vocab ≥ positions in practice)
    gathers.sort((a, b) => Number(b.source === 'input_ids') - Number(a.source === 'input_ids') || b.rows - a.rows);
    const gth = gathers[0]!;
    return { kind: 'token-gather', tensor: gth.tensor, node: gth.node };
  }
  const embeds = g.feeds.find((f) => /embeds/i.test(f));
  if (embeds) return { kind: 'inputs-embeds', tensor: embeds, node: null };
  if (g.nodes.some((n) => n.opType === 'If' || n.opType === 'Loop')) {
    throw new WalkError('no embedding in the main graph: the decoder sits inside If/Loop sub-graphs (an Optimum "decoder_model_merged.onnx"); give decoder_model.onnx or model.onnx from the same folder');
  }
  throw new WalkError('no embedding found: no Gather of a constant [vocab, hidden] table by an integer graph input, no EmbedLayerNormalization, no inputs_embeds input');
}

/** Initializer shapes (and Constant-node tensor shapes) by name. */
export function constantDims(g: GraphIndex): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const t of g.graph.initializer ?? []) if (t.name) out.set(t.name, (t.dims ?? []).map(toNumber));
  for (const n of g.nodes) if (n.opType === 'Constant') {
    const v = (n.attribute ?? []).find((a) => a.name === 'value');
    if (v?.t && n.output?.[0]) out.set(n.output[0], (v.t.dims ?? []).map(toNumber));
  }
  return out;
}

function layerLabel(name: string): string | null {
  const m = /(?:^|[/._])(?:layers|layer|h|blocks|block|decoder_layer)[._](\d+)(?:[/._]|$)/.exec(name);
  return m ? m[1]! : null;
}

/** Unique names for the optional outputs the surgery must declare (`base`, else `base_1`, `base_2`, …). */
function freshNamer(g: GraphIndex): (base: string) => string {
  const usedNames = new Set<string>([...g.producer.keys(), ...g.feeds, ...g.initializers]);
  return (base: string): string => {
    let name = base;
    for (let k = 1; usedNames.has(name); k++) name = `${base}_${k}`;
    usedNames.add(name);
    return name;
  };
}

/** The residual stream as traced from the embedding output. */
interface StreamTrace {
  steps: ResidualStep[];
  /** The stream's last tensor (after any trailing Cast). */
  end: string;
  /**
   * Where branch cones stop: the stream tensors, and every output of the nodes that formed them (a
   * fused Skip*LayerNormalization's output 0 is the norm of the new state; walking up through it
   * would reach the previous branch's attention).
   */
  coneStop: Set<string>;
  /** The nodes that perform a step. */
  stepNodes: Set<number>;
  materialize: Materialization[];
}

/**
 * The consumer of stream tensor `s` that continues the stream (an `Add` whose other input is not
 * constant, or a `Skip*LayerNormalization` reading it as input or skip), or null where none does.
 * @throws WalkError when several nodes could continue it
 */
function summationAt(g: GraphIndex, s: string): { node: number; slot: number } | null {
  const cands = g.consumersOf(s).filter(({ node, slot }) => {
    const n = g.node(node);
    if (n.opType === 'Add') {
      const o = otherInput(n, slot);
      return o !== '' && o !== s && !g.isConstant(o);
    }
    return SKIP_NORMS.has(n.opType ?? '') && (slot === 0 || slot === 1);
  });
  const distinct = [...new Set(cands.map((c) => c.node))];
  if (distinct.length > 1) {
    throw new WalkError(`the residual stream is ambiguous at tensor "${s}": ${distinct.length} consumers could continue it (${distinct.map((i) => describeNode(g.node(i))).join(', ')})`);
  }
  return distinct.length === 1 ? cands[0]! : null;
}

/**
 * The tensor that a lone non-summing consumer of `s` passes the stream on to: a `Cast`, or before
 * the first block a scaling or shift by a constant (Gemma's √d scaling, a constant token-type
 * embedding in old GPT-2 exports); null where the stream does not go on.
 */
function passThroughAt(g: GraphIndex, s: string, beforeFirstBlock: boolean): string | null {
  const cons = g.consumersOf(s);
  if (cons.length !== 1) return null;
  const n = g.node(cons[0]!.node);
  const op = n.opType ?? '';
  const other = otherInput(n, cons[0]!.slot);
  const commutes = op === 'Mul' || op === 'Add';
  const scale = beforeFirstBlock && (op === 'Mul' || op === 'Add' || op === 'Div' || op === 'Sub') && (commutes || cons[0]!.slot === 0) && other !== '' && g.isConstant(other);
  return op === 'Cast' || scale ? n.output?.[0] ?? '' : null;
}

/**
 * Follows the stream from the embedding output through summations and pass-throughs until no
 * consumer continues it. A fused Skip*LayerNormalization's sum is its output 3, declared here (in
 * `materialize`) when the graph leaves it out; so is EmbedLayerNormalization's output 2.
 * @throws WalkError when the stream is ambiguous or loops
 */
function traceStream(g: GraphIndex, start: ResidualWalk['start'], freshName: (base: string) => string): StreamTrace {
  const materialize: Materialization[] = [];
  let s = start.tensor;
  if (start.kind === 'embed-layernorm' && !s) {
    s = freshName(`${g.node(start.node!).name || 'EmbedLayerNormalization'}_output_2`);
    materialize.push({ node: start.node!, slot: 2, name: s });
  }
  const steps: ResidualStep[] = [];
  const streamSet = new Set<string>([s]);
  const coneStop = new Set<string>([s]);
  if (start.node !== null) for (const t of g.node(start.node).output ?? []) if (t) coneStop.add(t);
  const stepNodes = new Set<number>();
  let sawAttention = false;
  for (let guard = 0; guard < 100000; guard++) {
    const use = summationAt(g, s);
    if (use === null) {
      const next = passThroughAt(g, s, !sawAttention);
      if (next === null) break;
      s = next;
      streamSet.add(s);
      coneStop.add(s);
      continue;
    }
    const n = g.node(use.node);
    const kind: ResidualStep['kind'] = n.opType === 'Add' ? 'add' : 'skip-norm';
    let to = kind === 'add' ? n.output?.[0] ?? '' : n.output?.[3] ?? '';
    if (kind === 'skip-norm' && !to) {
      to = freshName(`${n.name || n.output?.[0] || 'SkipLayerNormalization'}_output_3`);
      materialize.push({ node: use.node, slot: 3, name: to });
    }
    const branch = otherInput(n, use.slot);
    const attention = [...g.cone([branch], coneStop)].some((i) => isAttentionOp(g.node(i).opType ?? ''));
    if (attention) sawAttention = true;
    steps.push({ from: s, to, node: use.node, kind, branch, attention });
    stepNodes.add(use.node);
    for (const t of n.output ?? []) if (t) coneStop.add(t);
    coneStop.add(to);
    if (streamSet.has(to)) throw new WalkError(`the residual stream loops back to "${to}" at ${describeNode(n)}`);
    streamSet.add(to);
    s = to;
  }
  return { steps, end: s, coneStop, stepNodes, materialize };
}

/**
 * Groups the steps into blocks (an attention step and the non-attention steps after it) and names
 * the L+1 states: the stream entering each block, then the stream's end.
 * @throws WalkError when no step's branch holds attention
 */
function groupBlocks(trace: StreamTrace, startTensor: string): { states: string[]; blockSteps: number[][] } {
  const { steps, end } = trace;
  const attSteps = steps.map((st, i) => (st.attention ? i : -1)).filter((i) => i >= 0);
  if (attSteps.length === 0) {
    throw new WalkError(`no attention block along the residual stream from "${startTensor}" (${steps.length} summation steps, none with Softmax/Attention in its branch)`);
  }
  const states = [steps[attSteps[0]!]!.from];
  const blockSteps: number[][] = [];
  attSteps.forEach((a, j) => {
    const stop = j + 1 < attSteps.length ? attSteps[j + 1]! : steps.length;
    const idx: number[] = [];
    for (let k = a; k < stop; k++) idx.push(k);
    blockSteps.push(idx);
    states.push(j + 1 < attSteps.length ? steps[stop]!.from : end);
  });
  return { states, blockSteps };
}

/**
 * Parallel residual (GPT-NeoX, GPT-J): the MLP reads the block input, not the stream after
 * attention. Exports write it as one Add (x + (attn + mlp)) or as a chain ((x + attn) + mlp); in
 * the chain the later branches never touch the intermediate sums.
 */
function isParallelResidual(g: GraphIndex, steps: ResidualStep[], blockSteps: number[][], coneStop: Set<string>): boolean {
  return blockSteps.every((b) =>
    b.slice(1).every((k) => {
      const inter = new Set<string>();
      for (let j = b[0]!; j < k; j++) {
        inter.add(steps[j]!.to).add(steps[j + 1]!.from);
        // a fused Skip*LayerNormalization hands the next branch its normalized sum (output 0)
        for (const t of g.node(steps[j]!.node).output ?? []) if (t) inter.add(t);
      }
      const cone = g.cone([steps[k]!.branch], coneStop);
      return ![...cone].some((i) => (g.node(i).input ?? []).some((t) => inter.has(t)));
    }),
  );
}

/**
 * The node that normalizes the last state: the last step's own Skip*LayerNormalization when its
 * output 0 is used (fused), else a consumer of the last state that is a norm (or starts a
 * decomposed one); null when there is none.
 */
function findFinalNorm(g: GraphIndex, steps: ResidualStep[], last: string): ResidualWalk['finalNorm'] {
  const lastStep = steps[steps.length - 1]!;
  const lastProducer = g.node(lastStep.node);
  if (lastStep.kind === 'skip-norm' && last === lastStep.to && (lastProducer.output?.[0] ?? '') !== '' && g.consumersOf(lastProducer.output![0]!).length + (g.outputs.includes(lastProducer.output![0]!) ? 1 : 0) > 0) {
    return { node: lastStep.node, fused: true };
  }
  const normUse = g.consumersOf(last).find(({ node }) => NORMS.has(g.node(node).opType ?? '') || g.node(node).opType === 'ReduceMean' || g.node(node).opType === 'Pow');
  return normUse ? { node: normUse.node, fused: false } : null;
}

/**
 * The LM head: a graph output reached from the last state (or the fused final norm's output 0)
 * through a MatMul/Gemm and no attention, `logits` preferred; null when no output qualifies.
 * @throws WalkError when an output still goes through attention after the last state (the walk
 *   stopped early, e.g. at post-norm blocks)
 */
function findLmHead(g: GraphIndex, last: string, finalNorm: ResidualWalk['finalNorm'], stepNodes: Set<number>): ResidualWalk['lmHead'] {
  const headStop = finalNorm?.fused ? g.node(finalNorm.node).output![0]! : last;
  const candidates: Array<{ output: string; nodes: number[]; mm: number }> = [];
  for (const out of g.outputs) {
    if (out === last || /^present|cache/i.test(out)) continue;
    const cone = g.cone([out], new Set([headStop]));
    const nodes = [...cone];
    if (nodes.some((i) => isAttentionOp(g.node(i).opType ?? '') || stepNodes.has(i))) continue;
    const reaches = nodes.some((i) => (g.node(i).input ?? []).includes(headStop));
    if (!reaches) continue;
    const order = g.topologicalOrder().filter((i) => cone.has(i));
    const mms = order.filter((i) => MATMULS.has(g.node(i).opType ?? ''));
    if (mms.length === 0) continue;
    candidates.push({ output: out, nodes: order, mm: mms[mms.length - 1]! });
  }
  if (candidates.length === 0) {
    refuseEarlyEnd(g, last, headStop);
    return null;
  }
  candidates.sort((a, b) => Number(b.output === 'logits') - Number(a.output === 'logits'));
  const c = candidates[0]!;
  return { node: c.mm, output: c.output, nodes: c.nodes };
}

/**
 * Safety net when no LM head is found: an output that still needs attention after the last state
 * means the walk stopped early (e.g. post-norm blocks, where the sum goes through a LayerNorm
 * before the next block).
 * @throws WalkError naming the last state, its consumers and the output
 */
function refuseEarlyEnd(g: GraphIndex, last: string, headStop: string): void {
  for (const out of g.outputs) {
    if (out === last || /^present|cache/i.test(out)) continue;
    const cone = g.cone([out], new Set([headStop]));
    const reaches = [...cone].some((i) => (g.node(i).input ?? []).includes(headStop));
    if (reaches && [...cone].some((i) => isAttentionOp(g.node(i).opType ?? ''))) {
      const after = g.consumersOf(last).map(({ node }) => describeNode(g.node(node))).join(', ');
      throw new WalkError(`the residual stream ends at "${last}" (consumed by ${after || 'nothing'}) but output "${out}" still goes through attention after it; post-norm blocks (LayerNorm on the residual sum) are not supported`);
    }
  }
}

/** Per block, `layers.<n>` from the first step node's name (or output name), else `block <j>`. */
function blockLabels(g: GraphIndex, steps: ResidualStep[], blockSteps: number[][]): string[] {
  return blockSteps.map((b, j) => {
    const n = g.node(steps[b[0]!]!.node);
    const fromName = layerLabel(n.name ?? '') ?? layerLabel(n.output?.[0] ?? '');
    return fromName !== null ? `layers.${fromName}` : `block ${j}`;
  });
}

/** The norm kind: the final norm's, else the first block's pre-norm (models without a final norm). */
function normKindOf(g: GraphIndex, states: string[], finalNorm: ResidualWalk['finalNorm']): ResidualWalk['normKind'] {
  const normKindAt = (t: string, fused: number | null): ResidualWalk['normKind'] => {
    const ops = [...g.consumersOf(t).map(({ node }) => g.node(node).opType ?? ''), ...(fused !== null ? [g.node(fused).opType ?? ''] : [])];
    if (ops.some((o) => o === 'LayerNormalization' || o === 'SkipLayerNormalization')) return 'layernorm';
    if (ops.some((o) => o === 'RMSNormalization' || o === 'SimplifiedLayerNormalization' || o === 'SkipSimplifiedLayerNormalization')) return 'rmsnorm';
    // decomposed: LayerNorm subtracts the mean (Sub), RMSNorm squares and averages without it
    if (ops.includes('ReduceMean') && ops.includes('Sub')) return 'layernorm';
    if (ops.includes('Pow') || (ops.includes('Mul') && ops.includes('ReduceMean'))) return 'rmsnorm';
    return 'unknown';
  };
  const last = states[states.length - 1]!;
  const normKind = finalNorm ? normKindAt(last, finalNorm.fused ? finalNorm.node : null) : 'unknown';
  return normKind === 'unknown' ? normKindAt(states[0]!, null) : normKind;
}

/**
 * Learned positions: an embedding Add of a Gather before the first block (or EmbedLayerNormalization);
 * rotary: sin/cos or a rotary/GQA op anywhere in the graph.
 */
function positionsOf(g: GraphIndex, start: ResidualWalk['start'], steps: ResidualStep[], blockSteps: number[][]): ResidualWalk['positions'] {
  const learned = start.kind === 'embed-layernorm' || (steps.slice(0, blockSteps[0]![0]!).some((st) => {
    const p = g.producer.get(st.branch);
    return p !== undefined && g.node(p.node).opType === 'Gather';
  }));
  const ops = new Set(g.nodes.map((n) => n.opType ?? ''));
  const rotary = ops.has('RotaryEmbedding') || ops.has('Sin') || ops.has('Cos') || [...ops].some((o) => o === 'GroupQueryAttention');
  return learned ? 'learned' : rotary ? 'rotary' : 'unknown';
}

/**
 * The residual stream of a decoder graph: embedding output, steps, blocks and their L+1 states,
 * then what the last state feeds (final norm, LM head) and what the structure says (parallel
 * residual, norm kind, positions, layer labels).
 * @throws WalkError when the graph has no recognizable stream (see the phases for which)
 */
export function walkResidualStream(g: GraphIndex): ResidualWalk {
  const start = findStart(g, constantDims(g));
  const trace = traceStream(g, start, freshNamer(g));
  const { steps, materialize } = trace;
  const { states, blockSteps } = groupBlocks(trace, start.tensor);
  const last = states[states.length - 1]!;
  const finalNorm = findFinalNorm(g, steps, last);
  const lmHead = findLmHead(g, last, finalNorm, trace.stepNodes);
  return {
    start,
    steps,
    states,
    blockSteps,
    materialize,
    parallelResidual: isParallelResidual(g, steps, blockSteps, trace.coneStop),
    finalNorm,
    lmHead,
    labels: blockLabels(g, steps, blockSteps),
    normKind: normKindOf(g, states, finalNorm),
    positions: positionsOf(g, start, steps, blockSteps),
  };
}

/** A structural architecture family guess (config.json's model_type, when present, is better). */
export function guessArchitecture(w: ResidualWalk): string {
  if (w.normKind === 'layernorm' && w.positions === 'learned' && !w.parallelResidual) return 'gpt2';
  if (w.normKind === 'layernorm' && w.parallelResidual) return 'gpt-neox';
  if (w.normKind === 'rmsnorm' && !w.parallelResidual) return 'llama';
  return `unknown (${w.normKind}, ${w.positions} positions, ${w.parallelResidual ? 'parallel' : 'sequential'} residual)`;
}

/** Which exporter wrote the graph, from op types and naming habits. */
export function guessExporter(g: GraphIndex, opsetVersion: number): string {
  const ops = new Set(g.nodes.map((n) => n.opType ?? ''));
  if (ops.has('SkipSimplifiedLayerNormalization') && (ops.has('GroupQueryAttention') || g.nodes.some((n) => /final_norm_layernorm/.test(n.name ?? '')))) return 'onnxruntime-genai model builder';
  if (ops.has('EmbedLayerNormalization') || ops.has('SkipLayerNormalization') || ops.has('SkipSimplifiedLayerNormalization')) return 'onnxruntime transformer optimizer (fused)';
  const named = g.nodes.filter((n) => n.name);
  if (opsetVersion >= 23 && named.length > 0 && named.every((n) => !n.name!.startsWith('/'))) return 'mobius (opset ≥ 23)';
  if (named.some((n) => n.name!.startsWith('/'))) return 'torch.onnx ≥ 1.13 / Optimum';
  if (named.length === 0 || named.every((n) => /^[A-Za-z]+_\d+$/.test(n.name!))) return 'torch.onnx < 1.13 (numeric names)';
  return 'unknown';
}
