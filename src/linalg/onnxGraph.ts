/**
 * A minimal ONNX protobuf writer for the few matmul graphs the `ort` backend runs. There is no
 * ONNX builder package in the dependency tree, and the graphs are tiny, so we hand-encode the
 * handful of protobuf messages we need (ModelProto, GraphProto, NodeProto, ValueInfoProto, ...).
 *
 * Owns: the wire encoding and the graph shapes (symbolic batch/m/k/n dims). Must not: load
 * onnxruntime, run anything, or know about the decoder.
 */

/** The graph shapes the `ort` backend needs; see {@link buildMatmulModel}. */
export type MatmulGraphKind =
  /** C[b] = A[b]·B[b]: A [b,m,k], B [b,k,n]. */
  | 'batched'
  /** C[b] = A[b]ᵀ·B[b]: A [b,k,m], B [b,k,n] (Transpose perm [0,2,1] then MatMul). */
  | 'batchedTransA'
  /** C[b] = A[b]·B: A [b,m,k], B [k,n] shared by broadcasting. */
  | 'sharedB'
  /** C[b] = A[b]ᵀ·B: A [b,k,m], B [k,n] shared by broadcasting. */
  | 'sharedBTransA';

/** ONNX TensorProto.DataType values we use. */
export const ONNX_FLOAT = 1;
export const ONNX_DOUBLE = 11;

// --- protobuf wire format -------------------------------------------------------------------

const WIRE_VARINT = 0;
const WIRE_LEN = 2;

/** Growable byte sink; protobuf messages are built bottom-up, so nested ones are encoded first. */
class Writer {
  private bytes: number[] = [];

  varint(v: number): this {
    // Only non-negative values below 2^53 occur here (field numbers, dims, enum values).
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`onnxGraph: cannot encode varint ${v}`);
    while (v >= 0x80) {
      this.bytes.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.bytes.push(v);
    return this;
  }

  tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }

  uintField(field: number, v: number): this {
    return this.tag(field, WIRE_VARINT).varint(v);
  }

  bytesField(field: number, data: Uint8Array): this {
    this.tag(field, WIRE_LEN).varint(data.length);
    for (const b of data) this.bytes.push(b);
    return this;
  }

  stringField(field: number, s: string): this {
    return this.bytesField(field, new TextEncoder().encode(s));
  }

  /** Packed repeated int64 (proto3 default encoding for repeated scalars). */
  packedInts(field: number, values: readonly number[]): this {
    const inner = new Writer();
    for (const v of values) inner.varint(v);
    return this.bytesField(field, inner.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

// --- ONNX messages --------------------------------------------------------------------------

/** A dimension is a fixed size or a symbolic name (so one session serves every batch size). */
type Dim = number | string;

function dimension(d: Dim): Uint8Array {
  const w = new Writer();
  // TensorShapeProto.Dimension: dim_value = 1 (int64), dim_param = 2 (string).
  return (typeof d === 'number' ? w.uintField(1, d) : w.stringField(2, d)).finish();
}

function valueInfo(name: string, elemType: number, dims: readonly Dim[]): Uint8Array {
  const shape = new Writer();
  for (const d of dims) shape.bytesField(1, dimension(d));
  // TypeProto.Tensor: elem_type = 1, shape = 2.
  const tensorType = new Writer().uintField(1, elemType).bytesField(2, shape.finish()).finish();
  // TypeProto: tensor_type = 1.
  const type = new Writer().bytesField(1, tensorType).finish();
  // ValueInfoProto: name = 1, type = 2.
  return new Writer().stringField(1, name).bytesField(2, type).finish();
}

/** AttributeProto of type INTS: name = 1, ints = 8, type = 20 (INTS = 7). */
function intsAttribute(name: string, ints: readonly number[]): Uint8Array {
  return new Writer().stringField(1, name).packedInts(8, ints).uintField(20, 7).finish();
}

interface NodeSpec {
  opType: string;
  name: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes?: readonly Uint8Array[];
}

function node(spec: NodeSpec): Uint8Array {
  // NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5.
  const w = new Writer();
  for (const i of spec.inputs) w.stringField(1, i);
  for (const o of spec.outputs) w.stringField(2, o);
  w.stringField(3, spec.name).stringField(4, spec.opType);
  for (const a of spec.attributes ?? []) w.bytesField(5, a);
  return w.finish();
}

/**
 * Encodes a ModelProto computing one batched product, with inputs named "A" and "B" and output
 * "C". Batch, m, k and n are symbolic, so a single session handles every shape.
 * @param elemType ONNX element type of inputs and output ({@link ONNX_FLOAT} or {@link ONNX_DOUBLE})
 */
export function buildMatmulModel(kind: MatmulGraphKind, elemType: number = ONNX_FLOAT): Uint8Array {
  const transA = kind === 'batchedTransA' || kind === 'sharedBTransA';
  const shared = kind === 'sharedB' || kind === 'sharedBTransA';
  const aDims: Dim[] = transA ? ['batch', 'k', 'm'] : ['batch', 'm', 'k'];
  const bDims: Dim[] = shared ? ['k', 'n'] : ['batch', 'k', 'n'];

  const nodes: Uint8Array[] = [];
  let lhs = 'A';
  if (transA) {
    // onnxruntime's optimizer folds Transpose+MatMul into one FusedMatMul with transA, so this
    // costs no copy in practice; plain ops keep the graph valid for any ONNX runtime.
    nodes.push(node({ opType: 'Transpose', name: 'transpose_a', inputs: ['A'], outputs: ['At'], attributes: [intsAttribute('perm', [0, 2, 1])] }));
    lhs = 'At';
  }
  nodes.push(node({ opType: 'MatMul', name: 'matmul', inputs: [lhs, 'B'], outputs: ['C'] }));

  // GraphProto: node = 1, name = 2, input = 11, output = 12.
  const graph = new Writer();
  for (const n of nodes) graph.bytesField(1, n);
  graph.stringField(2, `lockstep_${kind}`);
  graph.bytesField(11, valueInfo('A', elemType, aDims));
  graph.bytesField(11, valueInfo('B', elemType, bDims));
  graph.bytesField(12, valueInfo('C', elemType, ['batch', 'm', 'n']));

  // OperatorSetIdProto: domain = 1 (empty = default ai.onnx), version = 2.
  const opset = new Writer().stringField(1, '').uintField(2, 17).finish();
  // ModelProto: ir_version = 1, producer_name = 2, graph = 7, opset_import = 8.
  return new Writer().uintField(1, 8).stringField(2, 'lockstep').bytesField(7, graph.finish()).bytesField(8, opset).finish();
}
