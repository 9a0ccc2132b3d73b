/**
 * The built-in language model `models/lockstep-moby-gpt2`: a GPT-2-shaped model trained on the
 * built-in text by scripts/train_builtin_model.py, turned into an ONNX graph by the same builder
 * that makes the tiny test models (gpt2 family, Optimum names, KV cache like an Optimum export),
 * and its seeded untrained twin (same architecture and tokenizer, Hugging Face initialisation).
 *
 * Owns: building those two folders. Must not: train (the Python script does) or tokenize.
 */
import fs from 'node:fs';
import path from 'node:path';

import { gpt2TokenizerConfig, writeModelFolder, type ModelFolderPaths } from './modelFolder.js';
import { buildTinyCausalLM, type TinyCausalLM } from './tinyCausalLM.js';
import { repoRoot } from './repoRoot.js';
import { randomWeights, readWeightsDir, type ArchSizes, type WeightMap } from './weights.js';

/** The committed built-in model folder. */
export function builtinModelDir(): string {
  return path.join(repoRoot(), 'models', 'lockstep-moby-gpt2');
}

export const BUILTIN_SPECIAL_TOKEN = '<|endoftext|>';

/** The GPT-2 config fields the builder needs, read from a config.json-like object. */
function archFromConfig(cfg: Record<string, unknown>, where: string): ArchSizes {
  const num = (k: string): number => {
    const v = cfg[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new Error(`${where}: "${k}" must be a positive integer (got ${JSON.stringify(v)})`);
    return v;
  };
  if (cfg.model_type !== 'gpt2') throw new Error(`${where}: model_type must be gpt2 (got ${JSON.stringify(cfg.model_type)})`);
  const hidden = num('n_embd');
  return {
    family: 'gpt2', layers: num('n_layer'), hidden, heads: num('n_head'), kvHeads: num('n_head'),
    intermediate: typeof cfg.n_inner === 'number' ? cfg.n_inner : 4 * hidden, vocab: num('vocab_size'),
    maxPositions: num('n_positions'), tiedEmbeddings: true, sandwichNorms: false,
  };
}

function buildGpt2(arch: ArchSizes, weights: WeightMap, eps: number, eosId: number): TinyCausalLM {
  const m = buildTinyCausalLM({
    family: 'gpt2', naming: 'optimum', fusion: 'none', kvCache: true, layers: arch.layers, hidden: arch.hidden, heads: arch.heads,
    intermediate: arch.intermediate, vocab: arch.vocab, maxPositions: arch.maxPositions, tiedEmbeddings: true, eps, weights,
  });
  m.config.bos_token_id = eosId;
  m.config.eos_token_id = eosId;
  return m;
}

/**
 * Builds the built-in model folder from the weights the training script wrote.
 *
 * @param weightsDir folder with weights.bin + weights.json (scripts/train_builtin_model.py --weights-dir)
 * @param tokenizerJsonPath the tokenizer.json the script trained
 * @param outDir folder to write (config.json, tokenizer*.json, onnx/model.onnx)
 */
export function exportBuiltinModel(weightsDir: string, tokenizerJsonPath: string, outDir: string): ModelFolderPaths & { model: TinyCausalLM } {
  const { manifest, weights } = readWeightsDir(weightsDir);
  const where = path.join(weightsDir, 'weights.json');
  const arch = archFromConfig(manifest.config, where);
  const eps = typeof manifest.config.layer_norm_epsilon === 'number' ? manifest.config.layer_norm_epsilon : 1e-5;
  const eosId = typeof manifest.config.eos_token_id === 'number' ? manifest.config.eos_token_id : 0;
  const model = buildGpt2(arch, weights, eps, eosId);
  const tokenizerJson = fs.readFileSync(tokenizerJsonPath, 'utf8');
  const paths = writeModelFolder(outDir, {
    onnx: model.model,
    config: model.config,
    tokenizerJson,
    tokenizerConfig: gpt2TokenizerConfig(BUILTIN_SPECIAL_TOKEN, arch.maxPositions),
  });
  return { ...paths, model };
}

/**
 * Writes an untrained twin of the built-in model (or of any GPT-2 folder, e.g. a family member):
 * same config and tokenizer, weights drawn with Hugging Face's initialisation from `seed`. Shows
 * what the analysis gives without training. modelFamily.ts's ensureTwinFolder writes twins once
 * under the cache for the `…-untrained[:seed]` model names.
 *
 * @param dir folder to write
 * @param seed seed of the weights
 * @param sourceDir the trained folder to copy config and tokenizer from (default the built-in one)
 */
export function randomTwinFolder(dir: string, seed: number, sourceDir = builtinModelDir()): ModelFolderPaths & { model: TinyCausalLM } {
  const cfgPath = path.join(sourceDir, 'config.json');
  if (!fs.existsSync(cfgPath)) throw new Error(`randomTwinFolder: ${cfgPath} not found (build the built-in model first)`);
  const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
  const arch = archFromConfig(cfg, cfgPath);
  const eps = typeof cfg.layer_norm_epsilon === 'number' ? cfg.layer_norm_epsilon : 1e-5;
  const eosId = typeof cfg.eos_token_id === 'number' ? cfg.eos_token_id : 0;
  const model = buildGpt2(arch, randomWeights(arch, seed, 'hf'), eps, eosId);
  const paths = writeModelFolder(dir, {
    onnx: model.model,
    config: { ...cfg, lockstep_untrained_twin: { of: path.basename(sourceDir), seed, init: 'Hugging Face GPT-2 initialisation' } },
    tokenizerJson: fs.readFileSync(path.join(sourceDir, 'tokenizer.json'), 'utf8'),
    tokenizerConfig: JSON.parse(fs.readFileSync(path.join(sourceDir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>,
  });
  return { ...paths, model };
}
