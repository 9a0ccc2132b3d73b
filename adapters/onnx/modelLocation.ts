/**
 * Where a model's ONNX graph is: a bare `.onnx` file, or a model folder as the Hugging Face hub lays
 * it out (`onnx/model.onnx`, or `model.onnx` at the top), with `config.json` giving `model_type`
 * (or onnxruntime-genai's `genai_config.json` giving `model.type`).
 *
 * Owns: path conventions. Must not: parse the graph.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface ModelLocation {
  /** Absolute path of the graph file. */
  onnxFile: string;
  /** The model folder (holding config.json), or the .onnx file's folder. */
  folder: string;
  /** config.json's model_type, when there is one. */
  modelType: string | null;
}

/**
 * The model folder of a graph file: the folder above `onnx/` when that holds config.json (the hub
 * layout), else the graph's own folder.
 */
export function modelFolderOf(onnxFile: string): string {
  const dir = path.dirname(path.resolve(onnxFile));
  return path.basename(dir) === 'onnx' && fs.existsSync(path.join(dir, '..', 'config.json')) ? path.dirname(dir) : dir;
}

const CANDIDATES = ['onnx/model.onnx', 'model.onnx', 'onnx/decoder_model.onnx', 'decoder_model.onnx'];

/**
 * @throws Error naming the path and what to give instead
 */
export function locateModel(p: string): ModelLocation {
  const abs = path.resolve(p);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch {
    throw new Error(`${abs}: no such file or folder; give a model folder (with onnx/model.onnx) or an .onnx file`);
  }
  let onnxFile: string;
  let folder: string;
  if (st.isDirectory()) {
    const found = CANDIDATES.map((c) => path.join(abs, c)).find((c) => fs.existsSync(c));
    if (!found) throw new Error(`${abs}: no ONNX graph in this folder (looked for ${CANDIDATES.join(', ')}); give the .onnx file itself`);
    onnxFile = found;
    folder = abs;
  } else {
    if (!/\.onnx$/i.test(abs)) throw new Error(`${abs}: not an .onnx file; give a model folder (with onnx/model.onnx) or an .onnx file`);
    onnxFile = abs;
    folder = modelFolderOf(abs);
  }
  let modelType: string | null = null;
  const cfg = path.join(folder, 'config.json');
  if (fs.existsSync(cfg)) {
    try {
      const j = JSON.parse(fs.readFileSync(cfg, 'utf8')) as { model_type?: unknown };
      if (typeof j.model_type === 'string') modelType = j.model_type;
    } catch (e) {
      throw new Error(`${cfg}: not valid JSON (${(e as Error).message}); fix or remove it`);
    }
  }
  // onnxruntime-genai folders carry genai_config.json ({"model": {"type": "mistral"}}) instead
  const genai = path.join(folder, 'genai_config.json');
  if (modelType === null && fs.existsSync(genai)) {
    try {
      const j = JSON.parse(fs.readFileSync(genai, 'utf8')) as { model?: { type?: unknown } };
      if (typeof j.model?.type === 'string') modelType = j.model.type;
    } catch (e) {
      throw new Error(`${genai}: not valid JSON (${(e as Error).message}); fix or remove it`);
    }
  }
  return { onnxFile, folder, modelType };
}
