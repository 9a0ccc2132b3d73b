/**
 * A tiny but complete model folder for end-to-end extraction tests: a GPT-2-family causal LM built
 * by the ONNX builder (random weights, Optimum names, KV-cache inputs like an Optimum export) and a
 * byte-level BPE tokenizer trained on the first part of Moby Dick, written the way transformers.js
 * loads a local model (adapters/onnx/builder/modelFolder.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeModelFolder } from '../../adapters/onnx/builder/modelFolder.js';
import { buildTinyCausalLM, type TinyCausalLM } from '../../adapters/onnx/builder/tinyCausalLM.js';
import { builtinText } from '../../adapters/text/builtinText.js';
import { writeTokenizer } from './tokenizers.js';

export interface TinyModelFolder {
  dir: string;
  model: TinyCausalLM;
  vocab: number;
}

/** Writes the folder under `root`; `layers`, `hidden`, `maxPositions` size the model. */
export function writeTinyModelFolder(root: string, opts: { layers?: number; hidden?: number; maxPositions?: number; merges?: number; seed?: number } = {}): TinyModelFolder {
  const merges = opts.merges ?? 200;
  const tokDir = writeTokenizer(root, 'gpt2', builtinText().slice(0, 20000), merges);
  const tokenizerJson = fs.readFileSync(path.join(tokDir, 'tokenizer.json'), 'utf8');
  const tokenizerConfig = JSON.parse(fs.readFileSync(path.join(tokDir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  const parsed = JSON.parse(tokenizerJson) as { model: { vocab: Record<string, number> }; added_tokens?: Array<{ id: number }> };
  const ids = [...Object.values(parsed.model.vocab), ...(parsed.added_tokens ?? []).map((t) => t.id)];
  const vocab = Math.max(...ids) + 1;
  const model = buildTinyCausalLM({ family: 'gpt2', layers: opts.layers ?? 4, hidden: opts.hidden ?? 32, heads: 4, vocab, maxPositions: opts.maxPositions ?? 256, kvCache: true, seed: opts.seed ?? 3 });
  const dir = path.join(root, 'tiny-gpt2');
  writeModelFolder(dir, { onnx: model.model, config: model.config, tokenizerJson, tokenizerConfig });
  return { dir, model, vocab };
}
