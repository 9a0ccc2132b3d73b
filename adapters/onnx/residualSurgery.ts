/**
 * Residual-stream surgery: expose the L+1 hidden states of an ONNX causal LM as extra graph
 * outputs `hidden_states.0` … `hidden_states.L` (Identity nodes on the stream tensors that the
 * structural walk finds), leaving the original outputs and their order untouched. Also builds the
 * "head" sub-model (final norm + LM head, from the last state to the logits) that the load-time
 * check runs. surgeryCache.ts stores the result.
 *
 * hidden_states.L is the last block's output BEFORE the final norm (Hugging Face's
 * `hidden_states[-1]` has the final norm applied; ours does not: apply the head sub-model for that).
 *
 * Owns: what to change in the graph, and its description. Must not: write files (surgeryCache.ts
 * does) or run models (surgeryChecks.ts does).
 */
import * as path from 'node:path';
import { describeNode, GraphIndex } from './graphIndex.js';
import {
  encodeModel,
  externalRef,
  toNumber,
  type GraphEdit,
  type LoadedModel,
  type NodeProto,
  type ValueInfoProto,
} from './onnxProto.js';
import { constantDims, guessArchitecture, guessExporter, walkResidualStream, WalkError, type ResidualWalk } from './residualWalk.js';

/** Bumped whenever the surgery's output changes, so stale cache files are not reused. */
export const SURGERY_VERSION = 1;

export const hiddenStateName = (k: number): string => `hidden_states.${k}`;

export interface SurgeryPlan {
  index: GraphIndex;
  walk: ResidualWalk;
  edit: GraphEdit;
  /** Names of the exposed outputs (hidden_states.k). */
  exposed: string[];
}

export interface SurgeryDescription {
  version: number;
  /** The original graph's file name (no folder: descriptions are stored) and its SHA-256 (the cache key). */
  source: string;
  sha256: string;
  blocks: number;
  /** Exposed output names, embedding first. */
  hiddenStates: string[];
  /** The graph tensors they copy (materialized optional outputs included). */
  stateTensors: string[];
  start: ResidualWalk['start']['kind'];
  parallelResidual: boolean;
  normKind: ResidualWalk['normKind'];
  positions: ResidualWalk['positions'];
  architectureGuess: string;
  exporter: string;
  labels: string[];
  finalNorm: { node: string; op: string; fused: boolean } | null;
  lmHead: { node: string; op: string; output: string } | null;
  /** Rows of the token-embedding table (vocabulary size), when the graph has one. */
  vocabSize: number | null;
  /** Hidden size from the embedding table, when the graph has one (the check run measures it anyway). */
  hiddenSizeStatic: number | null;
  /** Optional outputs that were added to existing nodes ("node: slot → tensor"). */
  materialized: string[];
}

export function planSurgery(loaded: LoadedModel): SurgeryPlan {
  const graph = loaded.model.graph!;
  const index = new GraphIndex(graph);
  let walk: ResidualWalk;
  try {
    walk = walkResidualStream(index);
  } catch (e) {
    if (e instanceof WalkError) throw new Error(`${loaded.file}: residual-stream walk failed: ${e.message}; this graph's structure is not one lockstep recognizes (report it with the exporter's name)`);
    throw e;
  }
  const taken = new Set([...index.producer.keys(), ...index.feeds, ...index.initializers]);
  const exposed = walk.states.map((_, k) => hiddenStateName(k));
  for (const name of exposed) if (taken.has(name)) throw new Error(`${loaded.file}: the graph already has a tensor named "${name}"; lockstep cannot expose its hidden states under that name`);

  const replaceNodes = new Map<number, NodeProto>();
  for (const m of walk.materialize) {
    const orig = replaceNodes.get(m.node) ?? index.node(m.node);
    const outputs = [...(orig.output ?? [])];
    while (outputs.length <= m.slot) outputs.push('');
    outputs[m.slot] = m.name;
    replaceNodes.set(m.node, { ...orig, output: outputs });
  }
  const appendNodes: NodeProto[] = walk.states.map((t, k) => ({ name: `lockstep/${hiddenStateName(k)}`, opType: 'Identity', input: [t], output: [exposed[k]!] }));
  const appendOutputs: ValueInfoProto[] = exposed.map((name) => ({ name }));
  return { index, walk, edit: { replaceNodes, appendNodes, appendOutputs }, exposed };
}

export function describeSurgery(loaded: LoadedModel, plan: SurgeryPlan): SurgeryDescription {
  const { index, walk } = plan;
  const dims = constantDims(index);
  let vocabSize: number | null = null;
  let hiddenSizeStatic: number | null = null;
  if (walk.start.kind === 'token-gather' && walk.start.node !== null) {
    const d = dims.get(index.node(walk.start.node).input?.[0] ?? '');
    if (d && d.length === 2) [vocabSize, hiddenSizeStatic] = [d[0]!, d[1]!];
  } else if (walk.start.kind === 'embed-layernorm' && walk.start.node !== null) {
    const d = dims.get(index.node(walk.start.node).input?.[2] ?? '');
    if (d && d.length === 2) [vocabSize, hiddenSizeStatic] = [d[0]!, d[1]!];
  }
  const opset = (loaded.model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  const nodeName = (i: number) => index.node(i).name || index.node(i).output?.[0] || `#${i}`;
  return {
    version: SURGERY_VERSION,
    source: path.basename(loaded.file),
    sha256: loaded.sha256,
    blocks: walk.blockSteps.length,
    hiddenStates: plan.exposed,
    stateTensors: walk.states,
    start: walk.start.kind,
    parallelResidual: walk.parallelResidual,
    normKind: walk.normKind,
    positions: walk.positions,
    architectureGuess: guessArchitecture(walk),
    exporter: guessExporter(index, toNumber(opset?.version)),
    labels: walk.labels,
    finalNorm: walk.finalNorm ? { node: nodeName(walk.finalNorm.node), op: index.node(walk.finalNorm.node).opType ?? '', fused: walk.finalNorm.fused } : null,
    lmHead: walk.lmHead ? { node: nodeName(walk.lmHead.node), op: index.node(walk.lmHead.node).opType ?? '', output: walk.lmHead.output } : null,
    vocabSize,
    hiddenSizeStatic,
    materialized: walk.materialize.map((m) => `${describeNode(index.node(m.node))}: output ${m.slot} → ${m.name}`),
  };
}

/**
 * A self-contained model computing the logits from the last hidden state: the final norm and LM head
 * (plus the constant and shape sub-graphs they use); external weights stay external. A fused final
 * Skip*LayerNormalization is rebuilt with a zero skip input and no bias (the state already holds
 * input + skip + bias). Returns null when the graph has no LM head.
 * @param stateElemType ONNX element type of the last state (measured by the check run)
 */
export function buildHeadModel(
  loaded: LoadedModel,
  plan: SurgeryPlan,
  stateElemType: number,
  stateRank: number,
): { bytes: Uint8Array; stateInput: string; feeds: string[]; logits: string; externalDataDir: string | null } | null {
  const { index, walk } = plan;
  if (!walk.lmHead) return null;
  const graph = loaded.model.graph!;
  const last = walk.states[walk.states.length - 1]!;
  const nodes: NodeProto[] = [];
  if (walk.finalNorm?.fused) {
    const fn = index.node(walk.finalNorm.node);
    const keep = fn.opType === 'SkipLayerNormalization' ? 4 : 3;
    const zeros = 'lockstep/zero_skip';
    const shape = 'lockstep/state_shape';
    nodes.push({ name: 'lockstep/state_shape', opType: 'Shape', input: [last], output: [shape] });
    nodes.push({
      name: 'lockstep/zero_skip', opType: 'ConstantOfShape', input: [shape], output: [zeros],
      attribute: [{ name: 'value', type: 4, t: { dims: [1], dataType: stateElemType, rawData: new Uint8Array(stateElemType === 10 || stateElemType === 16 ? 2 : stateElemType === 11 ? 8 : 4) } }],
    });
    const ins = [...(fn.input ?? [])].slice(0, keep);
    ins[0] = last;
    ins[1] = zeros;
    nodes.push({ ...fn, input: ins, output: [fn.output![0]!] });
  }
  const coneNodes = walk.lmHead.nodes.map((i) => index.node(i));
  // constant sub-graphs feeding the cone (Constant nodes, Unsqueeze of initializers, …)
  const constNodes = new Set<number>();
  const needInit = new Set<string>();
  const visitConst = (t: string) => {
    if (!t) return;
    if (index.initializers.has(t)) {
      needInit.add(t);
      return;
    }
    const p = index.producer.get(t);
    if (!p || constNodes.has(p.node) || !index.isConstant(t)) return;
    constNodes.add(p.node);
    for (const u of index.node(p.node).input ?? []) visitConst(u);
  };
  for (const n of [...nodes, ...coneNodes]) for (const u of n.input ?? []) visitConst(u);
  const order = index.topologicalOrder().filter((i) => constNodes.has(i));
  const allNodes = [...order.map((i) => index.node(i)), ...nodes, ...coneNodes];
  // Weights keep their external-data references (the head model is loaded from memory with the
  // model's folder as the external-data root), so a 1 GB LM head is not copied into the protobuf.
  const initializers = (graph.initializer ?? []).filter((t) => t.name && needInit.has(t.name));
  const external = initializers.some((t) => externalRef(t) !== null) || allNodes.some((n) => (n.attribute ?? []).some((a) => a.t && externalRef(a.t) !== null));
  const stopAt = new Set([walk.finalNorm?.fused ? index.node(walk.finalNorm.node).output![0]! : last]);
  const feeds = index.feedsReached([walk.lmHead.output], stopAt).filter((f) => f !== last);
  const inputs: ValueInfoProto[] = [
    { name: last, type: { tensorType: { elemType: stateElemType, shape: { dim: Array.from({ length: stateRank }, (_, i) => ({ dimParam: `d${i}` })) } } } },
    ...(graph.input ?? []).filter((i) => feeds.includes(i.name ?? '')),
  ];
  const logitsInfo = (graph.output ?? []).find((o) => o.name === walk.lmHead!.output)!;
  const bytes = encodeModel({
    irVersion: loaded.model.irVersion,
    opsetImport: loaded.model.opsetImport,
    producerName: 'lockstep head check',
    graph: { name: 'lockstep_head', node: allNodes, initializer: initializers, input: inputs, output: [{ name: logitsInfo.name, type: logitsInfo.type }] },
  });
  return { bytes, stateInput: last, feeds, logits: walk.lmHead.output, externalDataDir: external ? path.dirname(loaded.file) : null };
}
