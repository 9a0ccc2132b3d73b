/** Shared ONNX graphs for the surgery tests, and variants made from them (external data, broken graphs). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { onnx, tensorRawBytes, type ModelProto } from '../../adapters/onnx/onnxProto.js';
import { fixture } from './paths.js';

export const ONNX_DIR = fixture('onnx');
export const MEGATRON = path.join(ONNX_DIR, 'gpt2-onelayer-torch/gpt2_megatron.onnx');
export const GPT2_ONE = path.join(ONNX_DIR, 'gpt2-onelayer-torch/gpt2_one_layer.onnx');
export const GPT2_PAST_ONE = path.join(ONNX_DIR, 'gpt2-onelayer-torch/gpt2_past_one_layer.onnx');
export const GPT2_PAST_MASK_ONE = path.join(ONNX_DIR, 'gpt2-onelayer-torch/gpt2_past_mask_one_layer.onnx');
export const GPT2_PAST_12 = path.join(ONNX_DIR, 'gpt2model-resized-torch16/gpt2_past.onnx');
export const MISTRAL_DIR = path.join(ONNX_DIR, 'mistral-tiny-mobius-staticcache');
export const MISTRAL = path.join(MISTRAL_DIR, 'model.onnx');

/** Decode an .onnx file (test-side, independent of the code under test's loader). */
export function decodeFile(file: string): ModelProto {
  return onnx.ModelProto.decode(fs.readFileSync(file));
}

/** Float32 contents of an initializer by name. */
export function initializerF32(file: string, name: string): { dims: number[]; data: Float32Array } {
  const m = onnx.ModelProto.decode(fs.readFileSync(file));
  const t = (m.graph!.initializer ?? []).find((i) => i.name === name);
  if (!t) throw new Error(`${file}: no initializer ${name}`);
  const raw = tensorRawBytes(t, path.dirname(file), file);
  return { dims: (t.dims ?? []).map(Number), data: new Float32Array(raw.slice().buffer) };
}

/**
 * Copy `src` into `dir/model.onnx` with every initializer of ≥ `minBytes` moved to
 * `dir/model.onnx_data` (ONNX external data: location/offset/length, 64-byte aligned offsets),
 * the way torch.onnx/optimum write models over 2 GB.
 */
export function writeExternalDataCopy(src: string, dir: string, minBytes = 64): { onnxFile: string; dataFile: string; moved: number } {
  const m = onnx.ModelProto.decode(fs.readFileSync(src));
  const chunks: Uint8Array[] = [];
  let offset = 0;
  let moved = 0;
  for (const t of m.graph!.initializer ?? []) {
    const raw = tensorRawBytes(t, path.dirname(src), src);
    if (raw.length < minBytes) continue;
    const pad = (64 - (offset % 64)) % 64;
    if (pad) chunks.push(new Uint8Array(pad));
    offset += pad;
    chunks.push(raw);
    t.rawData = new Uint8Array(0);
    t.floatData = [];
    t.int64Data = [];
    t.int32Data = [];
    t.doubleData = [];
    t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    t.externalData = [
      { key: 'location', value: 'model.onnx_data' },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(raw.length) },
    ];
    offset += raw.length;
    moved++;
  }
  fs.mkdirSync(dir, { recursive: true });
  const onnxFile = path.join(dir, 'model.onnx');
  const dataFile = path.join(dir, 'model.onnx_data');
  fs.writeFileSync(onnxFile, onnx.ModelProto.encode(m).finish());
  fs.writeFileSync(dataFile, Buffer.concat(chunks));
  return { onnxFile, dataFile, moved };
}

/** A valid model with no embedding: y = Softmax(x) + x (an attention-free, embedding-free graph). */
export function writeNoEmbeddingModel(file: string): void {
  const vi = (name: string) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }, { dimValue: 4 }] } } } });
  const model: ModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'no_embedding',
      node: [
        { opType: 'Softmax', input: ['x'], output: ['s'], name: 'sm' },
        { opType: 'Add', input: ['s', 'x'], output: ['y'], name: 'add' },
      ],
      input: [vi('x')],
      output: [vi('y')],
    },
  };
  fs.writeFileSync(file, onnx.ModelProto.encode(model).finish());
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/** IEEE 754 binary16 bits of a float32 value, round to nearest even. */
export function float32ToHalfBits(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp8 = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp8 === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp8 - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let h = mant >> shift;
    if (rest > half || (rest === half && (h & 1))) h++;
    return sign | h;
  }
  let h = sign | (e << 10) | (mant >> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++;
  return h;
}

/**
 * The same graph in float16 (what `model_fp16.onnx` exports are): float initializers and Constant
 * values converted, Casts to float retargeted to float16, float inputs/outputs declared float16.
 */
export function toFloat16Model(bytes: Uint8Array): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  const g = model.graph!;
  const convert = (t: import('../../adapters/onnx/onnxProto.js').TensorProto) => {
    if (t.dataType !== 1) return;
    const f32 = t.rawData && t.rawData.length > 0 ? new Float32Array(Uint8Array.from(t.rawData).buffer) : Float32Array.from(t.floatData ?? []);
    t.rawData = new Uint8Array(Uint16Array.from(f32, float32ToHalfBits).buffer);
    t.floatData = [];
    t.dataType = 10;
  };
  for (const t of g.initializer ?? []) convert(t);
  for (const n of g.node ?? []) {
    for (const a of n.attribute ?? []) {
      if (a.t) convert(a.t);
      if (n.opType === 'Cast' && a.name === 'to' && Number(a.i) === 1) a.i = 10;
    }
  }
  for (const v of [...(g.input ?? []), ...(g.output ?? []), ...(g.valueInfo ?? [])]) if (v.type?.tensorType?.elemType === 1) v.type.tensorType.elemType = 10;
  return onnx.ModelProto.encode(model).finish();
}
