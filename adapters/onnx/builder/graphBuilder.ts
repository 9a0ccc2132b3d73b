/**
 * A small ONNX graph writer: nodes, initializers, inputs and outputs, named the way a given
 * exporter names them, encoded to ModelProto bytes with `onnx-proto`.
 *
 * The naming styles reproduce what real exporters write (see shared/docs/onnx-residual-streams.md):
 * - `optimum`: torch ≥ 1.13 scoped names, `/transformer/h.0/Add_1`, tensors `<node>_output_0`;
 * - `numeric`: old torch.onnx, nodes `Add_287`, tensors pure numbers;
 * - `mobius`: `model/layers.0/Add_node_52`, tensors `v_model.layers.0.Add_52`;
 * - `genai`: onnxruntime-genai builder, scoped names like `optimum` but tensors `<node>/output_0`.
 *
 * Owns: naming, protobuf assembly, external-data layout. Must not: know about transformer
 * architectures (tinyCausalLM.ts does).
 */
import onnxProto from 'onnx-proto';

const onnx = onnxProto.onnx;

export type NamingStyle = 'optimum' | 'numeric' | 'mobius' | 'genai';

/** Attribute values the builder writes; arrays of numbers are INTS unless `floats()` wraps them. */
export type AttrValue = number | string | number[] | { floats: number[] } | { float: number } | { tensor: onnxProto.onnx.ITensorProto };

export const DataType = onnx.TensorProto.DataType;

export interface OpOptions {
  /** Number of outputs (default 1). An entry of `skip` in `omitOutputs` writes '' (an absent optional output). */
  outputs?: number;
  omitOutputs?: number[];
  attrs?: Record<string, AttrValue>;
  domain?: string;
  /** Full node name, overriding the style's generated one (fused nodes, genai's off-by-one names). */
  name?: string;
  /** Output tensor names, overriding the generated ones (graph outputs such as `logits`, `present.0.key`). */
  outputNames?: (string | undefined)[];
}

/** A dimension: a number, or a symbolic name such as 'batch_size'. */
export type Dim = number | string;

interface Initializer {
  name: string;
  dims: number[];
  dataType: number;
  bytes: Uint8Array;
}

interface ValueInfo {
  name: string;
  elemType: number;
  dims: Dim[] | undefined;
}

export class GraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: Initializer[] = [];
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly scopes: string[] = [];
  private readonly perScopeCount = new Map<string, number>();
  private nodeCounter = 0;
  private tensorCounter = 100;
  private readonly usedNames = new Set<string>();
  /** Node name → its output names, for tests and ground truth. */
  readonly producer = new Map<string, { node: string; output: number }>();

  constructor(readonly style: NamingStyle) {}

  /** Runs `fn` with `name` pushed on the module scope (`h.0`, `attn`, …). */
  scope<T>(name: string, fn: () => T): T {
    this.scopes.push(name);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  /** The current scope as torch would write it (`/transformer/h.0/attn`). */
  get scopePath(): string {
    return this.scopes.length === 0 ? '' : '/' + this.scopes.join('/');
  }

  private nodeName(opType: string): string {
    const n = this.nodeCounter;
    switch (this.style) {
      case 'numeric':
        return `${opType}_${n}`;
      case 'mobius':
        return this.scopes.length === 0 ? `${opType}_node_${n}` : `${this.scopes.join('/')}/${opType}_node_${n}`;
      case 'optimum':
      case 'genai': {
        const key = `${this.scopePath}/${opType}`;
        const k = this.perScopeCount.get(key) ?? 0;
        this.perScopeCount.set(key, k + 1);
        return k === 0 ? key : `${key}_${k}`;
      }
    }
  }

  private outputName(nodeName: string, opType: string, i: number): string {
    switch (this.style) {
      case 'numeric':
        return String(this.tensorCounter++);
      case 'mobius': {
        const base = this.scopes.length === 0 ? `v_${opType}_${this.nodeCounter}` : `v_${this.scopes.join('.')}.${opType}_${this.nodeCounter}`;
        return i === 0 ? base : `${base}_${i}`;
      }
      case 'optimum':
        return `${nodeName}_output_${i}`;
      case 'genai':
        return `${nodeName}/output_${i}`;
    }
  }

  /** Adds a node and returns its output tensor names (absent optional outputs are ''). */
  op(opType: string, inputs: string[], opts: OpOptions = {}): string[] {
    const name = opts.name ?? this.nodeName(opType);
    if (this.usedNames.has(name)) throw new Error(`graph builder: duplicate node name ${name}`);
    this.usedNames.add(name);
    const count = opts.outputs ?? 1;
    const outs: string[] = [];
    for (let i = 0; i < count; i++) {
      if (opts.omitOutputs?.includes(i)) {
        outs.push('');
        continue;
      }
      const forced = opts.outputNames?.[i];
      const out = forced ?? (opts.name !== undefined && this.style !== 'numeric' ? this.namedOutput(opts.name, i) : this.outputName(name, opType, i));
      outs.push(out);
      this.producer.set(out, { node: name, output: i });
    }
    // Drop trailing absent outputs, as exporters do; the caller still gets one entry per output.
    const declared = outs.slice();
    while (declared.length > 0 && declared[declared.length - 1] === '') declared.pop();
    this.nodes.push({ name, opType, input: inputs, output: declared, domain: opts.domain ?? '', attribute: encodeAttrs(opts.attrs ?? {}) });
    this.nodeCounter++;
    return outs;
  }

  private namedOutput(nodeName: string, i: number): string {
    if (this.style === 'genai') return `${nodeName}/output_${i}`;
    if (this.style === 'mobius') return `v_${nodeName.replace(/^\//, '').replace(/\//g, '.')}_${i}`;
    return `${nodeName}_output_${i}`;
  }

  /** One-output node. */
  op1(opType: string, inputs: string[], opts: OpOptions = {}): string {
    return this.op(opType, inputs, opts)[0]!;
  }

  /** A `Constant` node holding float32 values (scalar when dims is []). */
  constFloat(values: number[], dims: number[] = []): string {
    return this.op1('Constant', [], { attrs: { value: { tensor: tensorProto('', dims, DataType.FLOAT, f32Bytes(Float32Array.from(values))) } } });
  }

  /** A `Constant` node holding int64 values. */
  constInt64(values: number[], dims: number[] = [values.length]): string {
    return this.op1('Constant', [], { attrs: { value: { tensor: tensorProto('', dims, DataType.INT64, i64Bytes(values)) } } });
  }

  /** Adds a float32 initializer (a weight) under its checkpoint name. */
  weight(name: string, dims: number[], data: Float32Array): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (data.length !== size) throw new Error(`graph builder: weight ${name} has ${data.length} values, dims [${dims.join(', ')}] need ${size}`);
    this.initializers.push({ name, dims, dataType: DataType.FLOAT, bytes: f32Bytes(data) });
    return name;
  }

  input(name: string, elemType: number, dims: Dim[]): string {
    this.inputs.push({ name, elemType, dims });
    return name;
  }

  output(name: string, elemType: number, dims: Dim[] | undefined): void {
    this.outputs.push({ name, elemType, dims });
  }

  /** Number of nodes so far. */
  get nodeCount(): number {
    return this.nodes.length;
  }

  /**
   * Encodes the model. With `externalData`, every initializer of at least `threshold` bytes goes to
   * a separate blob (aligned to `align` bytes) that the model references by `location` (a file name
   * next to the .onnx file), as `onnx.save_model(..., save_as_external_data=True)` does.
   */
  encode(opts: {
    opsets: { domain: string; version: number }[];
    producer?: string;
    externalData?: { location: string; threshold?: number; align?: number };
  }): { model: Uint8Array; externalData?: Uint8Array } {
    const ext = opts.externalData;
    const chunks: Uint8Array[] = [];
    let offset = 0;
    const initializer = this.initializers.map((t) => {
      if (ext === undefined || t.bytes.length < (ext.threshold ?? 1024)) return tensorProto(t.name, t.dims, t.dataType, t.bytes);
      const align = ext.align ?? 64;
      const pad = (align - (offset % align)) % align;
      if (pad > 0) chunks.push(new Uint8Array(pad));
      offset += pad;
      const entry: onnxProto.onnx.ITensorProto = {
        name: t.name,
        dims: t.dims,
        dataType: t.dataType,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: ext.location },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(t.bytes.length) },
        ],
      };
      chunks.push(t.bytes);
      offset += t.bytes.length;
      return entry;
    });
    const graph: onnxProto.onnx.IGraphProto = {
      name: 'main_graph',
      node: this.nodes,
      initializer,
      input: this.inputs.map(valueInfo),
      output: this.outputs.map(valueInfo),
    };
    const model: onnxProto.onnx.IModelProto = {
      irVersion: 8,
      producerName: opts.producer ?? 'lockstep-onnx-builder',
      producerVersion: '0.1',
      opsetImport: opts.opsets,
      graph,
    };
    const bytes = onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
    if (ext === undefined) return { model: bytes };
    const data = new Uint8Array(offset);
    let at = 0;
    for (const c of chunks) {
      data.set(c, at);
      at += c.length;
    }
    return { model: bytes, externalData: data };
  }
}

function valueInfo(v: ValueInfo): onnxProto.onnx.IValueInfoProto {
  const tensorType: onnxProto.onnx.TypeProto.ITensor = { elemType: v.elemType };
  if (v.dims !== undefined) {
    tensorType.shape = { dim: v.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) };
  }
  return { name: v.name, type: { tensorType } };
}

export function tensorProto(name: string, dims: number[], dataType: number, raw: Uint8Array): onnxProto.onnx.ITensorProto {
  return { name, dims, dataType, rawData: raw };
}

export function f32Bytes(a: Float32Array): Uint8Array {
  // rawData is little-endian; every platform Node runs on is little-endian, but copy through a
  // DataView anyway so the bytes are right by construction.
  const out = new Uint8Array(a.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) dv.setFloat32(i * 4, a[i]!, true);
  return out;
}

function i64Bytes(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => dv.setBigInt64(i * 8, BigInt(v), true));
  return out;
}

function encodeAttrs(attrs: Record<string, AttrValue>): onnxProto.onnx.IAttributeProto[] {
  const T = onnx.AttributeProto.AttributeType;
  return Object.entries(attrs).map(([name, v]) => {
    if (typeof v === 'number') {
      if (!Number.isInteger(v)) throw new Error(`attribute ${name}: use { float: ${v} } for floats`);
      return { name, type: T.INT, i: v };
    }
    if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
    if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
    if ('floats' in v) return { name, type: T.FLOATS, floats: v.floats };
    if ('float' in v) return { name, type: T.FLOAT, f: v.float };
    return { name, type: T.TENSOR, t: v.tensor };
  });
}
