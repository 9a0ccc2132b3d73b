/** Shared ONNX graphs for the surgery tests, and variants made from them (external data, broken graphs). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { onnx, tensorRawBytes, type ModelProto } from '../../adapters/onnx/onnxProto.js';
import { REPO_ROOT } from './paths.js';

export const ONNX_DIR = path.join(REPO_ROOT, '../shared/data/onnx');
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
