/**
 * ONNX ModelProto files on disk: decode (onnx-proto, protobufjs 6 static code), hash, read tensors
 * stored as external data, and write a modified graph by byte splicing.
 *
 * Why splice instead of re-encoding: onnx-proto is generated from onnx 1.10's schema, and protobufjs
 * drops fields it does not know (IR 10/11 additions such as node metadata, overloads, device
 * configurations). Re-encoding a decoded model would silently lose them. Instead the original bytes
 * are kept: only the `graph` field of the ModelProto is rewritten, and inside it only the nodes we
 * change are re-encoded; new nodes and outputs are appended as extra repeated-field entries. Tensor
 * protos (and their `external_data` location/offset/length entries) are copied byte for byte, so a
 * modified graph saved in the same folder still points at the original `.onnx_data` file.
 *
 * Owns: the protobuf wire format of ModelProto/GraphProto (fields 7, 1, 12), external-data reads.
 * Must not: decide what to change (that is residualSurgery.ts) or run a model.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import onnxProto from 'onnx-proto';

export const onnx = onnxProto.onnx;
export type NodeProto = onnxProto.onnx.INodeProto;
export type ValueInfoProto = onnxProto.onnx.IValueInfoProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type GraphProto = onnxProto.onnx.IGraphProto;
export type ModelProto = onnxProto.onnx.IModelProto;
export type AttributeProto = onnxProto.onnx.IAttributeProto;

/** ONNX TensorProto.DataType codes we need by name. */
export const DT = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10, DOUBLE: 11, BFLOAT16: 16 } as const;

/** int64 fields decode as Long (the `long` package is installed); make them plain numbers. */
export function toNumber(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

export interface LoadedModel {
  /** Absolute path of the .onnx file. */
  file: string;
  /** The file's bytes, as read (kept for splicing). */
  bytes: Uint8Array;
  model: onnxProto.onnx.ModelProto;
  /** SHA-256 of the .onnx file's bytes, lowercase hex. */
  sha256: string;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Read and decode an .onnx file (graph only; external data stays on disk).
 * @throws Error naming the file: unreadable, or not a ModelProto (with the protobuf reader's offset)
 */
export function loadModel(file: string): LoadedModel {
  const abs = path.resolve(file);
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(abs);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const hint = err.code === 'ENOENT' ? ' (no such file; check the path)' : err.code === 'EISDIR' ? ' (a directory; give the .onnx file or the model folder)' : '';
    throw new Error(`${abs}: cannot read the ONNX file${hint}: ${err.message}`);
  }
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new Error(`${abs}: not an ONNX ModelProto (${(e as Error).message}); give an .onnx model file`);
  }
  if (!model.graph || (model.graph.node ?? []).length === 0) throw new Error(`${abs}: the ONNX model has no graph nodes; give a decoder model file (e.g. onnx/model.onnx)`);
  return { file: abs, bytes, model, sha256: sha256Hex(bytes) };
}

// ---- protobuf wire format (just what splicing needs) ----

interface FieldSpan {
  field: number;
  wireType: number;
  /** Byte offset of the tag (start of the whole field). */
  start: number;
  /** Byte offset of the payload (after tag and, for length-delimited fields, the length). */
  payloadStart: number;
  /** Byte offset just past the field. */
  end: number;
}

function readVarint(buf: Uint8Array, pos: number, where: string): [number, number] {
  let result = 0;
  let mult = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new Error(`${where}: truncated varint at byte ${pos}`);
    const b = buf[pos++]!;
    result += (b & 0x7f) * mult;
    if ((b & 0x80) === 0) return [result, pos];
    mult *= 128;
  }
  throw new Error(`${where}: varint longer than 10 bytes at byte ${pos}`);
}

/** Top-level fields of one protobuf message, in file order. */
function scanFields(buf: Uint8Array, where: string): FieldSpan[] {
  const out: FieldSpan[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const start = pos;
    const [tag, p1] = readVarint(buf, pos, where);
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    let payloadStart = p1;
    let end: number;
    if (wireType === 0) end = readVarint(buf, p1, where)[1];
    else if (wireType === 1) end = p1 + 8;
    else if (wireType === 5) end = p1 + 4;
    else if (wireType === 2) {
      const [len, p2] = readVarint(buf, p1, where);
      payloadStart = p2;
      end = p2 + len;
    } else throw new Error(`${where}: unsupported protobuf wire type ${wireType} (field ${field}) at byte ${start}`);
    if (end > buf.length) throw new Error(`${where}: field ${field} at byte ${start} runs past the end (${end} > ${buf.length})`);
    out.push({ field, wireType, start, payloadStart, end });
    pos = end;
  }
  return out;
}

function encodeVarint(v: number): number[] {
  const out: number[] = [];
  while (v >= 128) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

function lengthDelimited(field: number, payload: Uint8Array): Uint8Array {
  const head = [...encodeVarint(field * 8 + 2), ...encodeVarint(payload.length)];
  const out = new Uint8Array(head.length + payload.length);
  out.set(head, 0);
  out.set(payload, head.length);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const MODEL_GRAPH_FIELD = 7;
const GRAPH_NODE_FIELD = 1;
const GRAPH_OUTPUT_FIELD = 12;

export interface GraphEdit {
  /** Replacement for the node at this index of graph.node (index in file order). */
  replaceNodes: Map<number, NodeProto>;
  /** Nodes appended after the existing ones. */
  appendNodes: NodeProto[];
  /** Graph outputs appended after the existing ones (the original outputs keep their positions). */
  appendOutputs: ValueInfoProto[];
}

/**
 * Apply `edit` to the serialized model, keeping every other byte as it was.
 * @param where file name for error messages
 */
export function spliceModel(bytes: Uint8Array, edit: GraphEdit, where: string): Uint8Array {
  const top = scanFields(bytes, where);
  const graphFields = top.filter((f) => f.field === MODEL_GRAPH_FIELD && f.wireType === 2);
  if (graphFields.length !== 1) throw new Error(`${where}: expected one ModelProto.graph field, found ${graphFields.length}`);
  const gf = graphFields[0]!;
  const graphBytes = bytes.subarray(gf.payloadStart, gf.end);
  const gFields = scanFields(graphBytes, `${where} (graph)`);
  const parts: Uint8Array[] = [];
  let nodeIndex = 0;
  for (const f of gFields) {
    if (f.field === GRAPH_NODE_FIELD && f.wireType === 2) {
      const repl = edit.replaceNodes.get(nodeIndex);
      parts.push(repl ? lengthDelimited(GRAPH_NODE_FIELD, onnx.NodeProto.encode(repl).finish()) : graphBytes.subarray(f.start, f.end));
      nodeIndex++;
    } else parts.push(graphBytes.subarray(f.start, f.end));
  }
  for (const i of edit.replaceNodes.keys()) if (i >= nodeIndex) throw new Error(`${where}: node index ${i} out of range (${nodeIndex} nodes)`);
  // Repeated fields may appear anywhere in a message and are concatenated in order, so appended
  // node and output entries land after the existing ones.
  for (const n of edit.appendNodes) parts.push(lengthDelimited(GRAPH_NODE_FIELD, onnx.NodeProto.encode(n).finish()));
  for (const o of edit.appendOutputs) parts.push(lengthDelimited(GRAPH_OUTPUT_FIELD, onnx.ValueInfoProto.encode(o).finish()));
  const newGraph = concat(parts);
  return concat([bytes.subarray(0, gf.start), lengthDelimited(MODEL_GRAPH_FIELD, newGraph), bytes.subarray(gf.end)]);
}

/** Encode a model built in memory (small models: the LM-head sub-graph). */
export function encodeModel(model: ModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

// ---- external data ----

export interface ExternalRef {
  location: string;
  offset: number;
  /** Byte count, or -1 when absent (the rest of the file). */
  length: number;
}

export function externalRef(t: TensorProto): ExternalRef | null {
  if (t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) return null;
  let location = '';
  let offset = 0;
  let length = -1;
  for (const kv of t.externalData ?? []) {
    if (kv.key === 'location') location = kv.value ?? '';
    else if (kv.key === 'offset') offset = Number(kv.value);
    else if (kv.key === 'length') length = Number(kv.value);
  }
  return { location, offset, length };
}

/** Distinct external-data files a model refers to (relative locations, as written). */
export function externalDataFiles(model: ModelProto): string[] {
  const out = new Set<string>();
  for (const t of model.graph?.initializer ?? []) {
    const r = externalRef(t);
    if (r) out.add(r.location);
  }
  for (const n of model.graph?.node ?? []) for (const a of n.attribute ?? []) if (a.t) {
    const r = externalRef(a.t);
    if (r) out.add(r.location);
  }
  return [...out];
}

/**
 * The raw little-endian bytes of a tensor: raw_data, external data (read from `modelDir`), or the
 * typed repeated fields for the float/int types small graphs use.
 */
export function tensorRawBytes(t: TensorProto, modelDir: string, where: string): Uint8Array {
  const ref = externalRef(t);
  if (ref) {
    const file = path.resolve(modelDir, ref.location);
    if (!ref.location || path.isAbsolute(ref.location)) throw new Error(`${where}: tensor ${t.name} has external data with location "${ref.location}"; ONNX requires a path relative to the model folder`);
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (e) {
      throw new Error(`${where}: tensor ${t.name} keeps its data in ${file}, which cannot be opened (${(e as Error).message}); put the data file next to the model`);
    }
    try {
      const size = fs.fstatSync(fd).size;
      const len = ref.length >= 0 ? ref.length : size - ref.offset;
      if (ref.offset + len > size) throw new Error(`${where}: tensor ${t.name} needs bytes ${ref.offset}…${ref.offset + len} of ${file}, which has ${size}; the data file is truncated or belongs to another model`);
      const out = new Uint8Array(len);
      let done = 0;
      while (done < len) {
        const n = fs.readSync(fd, out, done, Math.min(len - done, 1 << 30), ref.offset + done);
        if (n === 0) throw new Error(`${where}: ${file} shrank while reading tensor ${t.name}`);
        done += n;
      }
      return out;
    } finally {
      fs.closeSync(fd);
    }
  }
  if (t.rawData && t.rawData.length > 0) return new Uint8Array(t.rawData);
  const dt = t.dataType ?? 0;
  if (dt === DT.FLOAT) return new Uint8Array(Float32Array.from(t.floatData ?? []).buffer);
  if (dt === DT.DOUBLE) return new Uint8Array(Float64Array.from(t.doubleData ?? []).buffer);
  if (dt === DT.INT64) return new Uint8Array(BigInt64Array.from((t.int64Data ?? []).map((v) => BigInt(String(v)))).buffer);
  if (dt === DT.INT32 || dt === DT.INT8 || dt === DT.UINT8 || dt === DT.BOOL) {
    const src = t.int32Data ?? [];
    if (dt === DT.INT32) return new Uint8Array(Int32Array.from(src).buffer);
    return Uint8Array.from(src.map((v) => v & 0xff));
  }
  if (dt === DT.FLOAT16 || dt === DT.BFLOAT16) return new Uint8Array(Uint16Array.from(t.int32Data ?? []).buffer);
  throw new Error(`${where}: tensor ${t.name} has data type ${dt} stored in typed fields, which this reader does not handle`);
}

/** A copy of the tensor with its data inline (raw_data), for building self-contained sub-models. */
export function inlineTensor(t: TensorProto, modelDir: string, where: string): TensorProto {
  return {
    name: t.name,
    dims: t.dims,
    dataType: t.dataType,
    rawData: tensorRawBytes(t, modelDir, where),
  };
}
