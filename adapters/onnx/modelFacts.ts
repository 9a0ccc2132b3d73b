/**
 * What an experiment needs to know about a model without running it: the graph's SHA-256 (its
 * identity, as the extraction cache keys it), its parameter count (the size experiment's x axis)
 * and the longest input its positions allow.
 *
 * Parameters are counted from the graph itself, so any transformers.js export works whatever its
 * config.json says: the elements of every floating-point (or 8-bit quantised) initializer. Integer
 * initializers are shapes and indices, not weights. A tied input/output embedding stored once counts
 * once (the built-in model: 1,327,488, the count its training script reports); an export that
 * stores a transposed copy counts it twice, as Pythia's untied `embed_out` is counted in its name.
 *
 * Owns: reading those facts. Must not: modify the model folder or load a runtime.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { locateModel } from './modelLocation.js';
import { DT, loadModel, toNumber, type TensorProto } from './onnxProto.js';

export interface ModelFacts {
  onnxFile: string;
  folder: string;
  sha256: string;
  parameters: number;
  /** config.json's n_positions or max_position_embeddings; null when it declares neither. */
  maxPositions: number | null;
  modelType: string | null;
}

const WEIGHT_TYPES = new Set<number>([DT.FLOAT, DT.FLOAT16, DT.BFLOAT16, DT.DOUBLE, DT.INT8, DT.UINT8]);

/** Elements of the weight initializers (see the header for what counts). */
export function countParameters(initializers: readonly TensorProto[]): number {
  let n = 0;
  for (const t of initializers) {
    if (!WEIGHT_TYPES.has(t.dataType ?? 0)) continue;
    n += (t.dims ?? []).reduce((a: number, d) => a * toNumber(d), 1);
  }
  return n;
}

/**
 * @param p a model folder (hub layout) or an .onnx file
 * @throws Error naming the path when there is no readable graph
 */
export function modelFacts(p: string): ModelFacts {
  const loc = locateModel(p);
  const m = loadModel(loc.onnxFile);
  let maxPositions: number | null = null;
  const cfg = path.join(loc.folder, 'config.json');
  if (fs.existsSync(cfg)) {
    const c = JSON.parse(fs.readFileSync(cfg, 'utf8')) as Record<string, unknown>;
    maxPositions = [c.n_positions, c.max_position_embeddings].find((v): v is number => typeof v === 'number' && v > 0) ?? null;
  }
  return { onnxFile: loc.onnxFile, folder: loc.folder, sha256: m.sha256, parameters: countParameters(m.model.graph?.initializer ?? []), maxPositions, modelType: loc.modelType };
}
