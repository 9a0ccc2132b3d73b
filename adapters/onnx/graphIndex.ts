/**
 * A read-only index over an ONNX graph: who produces and who consumes each tensor, which tensors are
 * constant (initializers, Constant nodes, and anything computed only from those), and bounded
 * ancestor cones. The residual walk asks these questions over and over.
 *
 * Owns: graph topology queries. Must not: modify the graph or look at tensor names for meaning.
 */
import type { GraphProto, NodeProto } from './onnxProto.js';

export interface Use {
  node: number;
  /** Input slot (for consumers) or output slot (for producers). */
  slot: number;
}

export class GraphIndex {
  readonly nodes: NodeProto[];
  readonly producer = new Map<string, Use>();
  readonly consumers = new Map<string, Use[]>();
  readonly initializers = new Set<string>();
  /** Graph inputs that are not initializers (what a caller feeds). */
  readonly feeds: string[];
  readonly outputs: string[];
  readonly constant = new Set<string>();

  constructor(readonly graph: GraphProto) {
    this.nodes = graph.node ?? [];
    for (const t of graph.initializer ?? []) if (t.name) this.initializers.add(t.name);
    this.feeds = (graph.input ?? []).map((i) => i.name ?? '').filter((n) => n && !this.initializers.has(n));
    this.outputs = (graph.output ?? []).map((o) => o.name ?? '');
    this.nodes.forEach((n, i) => {
      (n.output ?? []).forEach((t, slot) => {
        if (t) this.producer.set(t, { node: i, slot });
      });
      (n.input ?? []).forEach((t, slot) => {
        if (!t) return;
        let list = this.consumers.get(t);
        if (!list) this.consumers.set(t, (list = []));
        list.push({ node: i, slot });
      });
    });
    for (const n of this.initializers) this.constant.add(n);
    // Constant propagation in topological order (nodes need not be sorted in the file).
    const order = this.topologicalOrder();
    for (const i of order) {
      const n = this.nodes[i]!;
      const ins = (n.input ?? []).filter((t) => t);
      const isConst = n.opType === 'Constant' || (ins.length > 0 && ins.every((t) => this.constant.has(t)) && !RANDOM_OPS.has(n.opType ?? ''));
      if (isConst) for (const t of n.output ?? []) if (t) this.constant.add(t);
    }
  }

  topologicalOrder(): number[] {
    const indeg = this.nodes.map((n) => (n.input ?? []).filter((t) => t && this.producer.has(t)).length);
    const queue: number[] = [];
    indeg.forEach((d, i) => d === 0 && queue.push(i));
    const order: number[] = [];
    while (queue.length) {
      const i = queue.shift()!;
      order.push(i);
      for (const t of this.nodes[i]!.output ?? []) for (const u of this.consumers.get(t) ?? []) {
        // a node can consume the same tensor in two slots: count each edge once per slot
        if (--indeg[u.node]! === 0) queue.push(u.node);
      }
    }
    return order;
  }

  node(i: number): NodeProto {
    return this.nodes[i]!;
  }

  consumersOf(t: string): Use[] {
    return this.consumers.get(t) ?? [];
  }

  isConstant(t: string): boolean {
    return this.constant.has(t);
  }

  /**
   * Node indices in the ancestor cone of `tensors`, not crossing `stopAt` tensors (their producers
   * are excluded) and not entering constant sub-graphs.
   */
  cone(tensors: string[], stopAt: Set<string>): Set<number> {
    const seen = new Set<number>();
    const stack = tensors.filter((t) => !stopAt.has(t));
    const visitedT = new Set<string>(stack);
    while (stack.length) {
      const t = stack.pop()!;
      const p = this.producer.get(t);
      if (!p || seen.has(p.node)) continue;
      seen.add(p.node);
      for (const u of this.nodes[p.node]!.input ?? []) {
        if (!u || stopAt.has(u) || visitedT.has(u) || this.constant.has(u)) continue;
        visitedT.add(u);
        stack.push(u);
      }
    }
    return seen;
  }

  /** Graph inputs reached by walking up from `tensors` (not crossing stopAt). */
  feedsReached(tensors: string[], stopAt: Set<string>): string[] {
    const feeds = new Set(this.feeds);
    const reached = new Set<string>();
    for (const t of tensors) if (feeds.has(t) && !stopAt.has(t)) reached.add(t);
    for (const i of this.cone(tensors, stopAt)) for (const u of this.nodes[i]!.input ?? []) if (feeds.has(u) && !stopAt.has(u)) reached.add(u);
    return [...reached];
  }
}

const RANDOM_OPS = new Set(['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial', 'Bernoulli']);

export function attr(n: NodeProto, name: string): import('./onnxProto.js').AttributeProto | undefined {
  return (n.attribute ?? []).find((a) => a.name === name);
}

/** Label for messages: `op "name"` (or the first output when the node is unnamed). */
export function describeNode(n: NodeProto): string {
  return `${n.opType} "${n.name || n.output?.[0] || '?'}"`;
}
