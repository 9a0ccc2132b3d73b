/**
 * lockstep's shipped models by name, and its model family (docs/model-family.md): GPT-2-shaped
 * models of four sizes trained on the built-in text with the built-in model's tokenizer and 1024
 * positions, for the "alignment vs model size" and "alignment vs context" experiments.
 *
 * Names a command's `--model` accepts besides a folder or .onnx path:
 *   builtin                          models/lockstep-moby-gpt2 (128 positions)
 *   builtin-untrained[:seed]         its random-weights twin
 *   family:<size>                    models/family/lockstep-moby-gpt2-<size>, size xs | s | m | l
 *   family:<size>-untrained[:seed]   its random-weights twin
 * A twin (same config and tokenizer, Hugging Face GPT-2 initialisation from `seed`, default 1) is
 * written once under the twin folder (the CLI uses <cache>/models) as
 * `<trained folder name>-untrained-seed<seed>`, and written again if the trained model's sizes or
 * tokenizer changed since.
 *
 * Owns: the family's sizes and folders, parsing model names, writing twins where they are missing.
 * Must not: build graphs (builtinModel.ts does; imported only when a twin must be written), train
 * (scripts/train_builtin_model.py and scripts/train_model_family.sh do) or load models.
 */
import fs from 'node:fs';
import path from 'node:path';

import { repoRoot } from './repoRoot.js';

/** The family's sizes, smallest first. */
export const FAMILY_SIZES = ['xs', 's', 'm', 'l'] as const;
export type FamilySize = (typeof FAMILY_SIZES)[number];

/** The model names `resolveModelName` understands, for help texts. */
export const MODEL_NAMES_HELP = 'builtin, builtin-untrained[:seed], family:<xs|s|m|l>, family:<size>-untrained[:seed]';

/** Folder of the built-in model (the same as builtinModel.ts's builtinModelDir). */
export function builtinFolder(): string {
  return path.join(repoRoot(), 'models', 'lockstep-moby-gpt2');
}

/** Folder holding the family's models. */
export function familyRoot(): string {
  return path.join(repoRoot(), 'models', 'family');
}

/** Folder of one family member: models/family/lockstep-moby-gpt2-<size>. */
export function familyModelDir(size: FamilySize): string {
  return path.join(familyRoot(), `lockstep-moby-gpt2-${size}`);
}

function isFamilySize(s: string): s is FamilySize {
  return (FAMILY_SIZES as readonly string[]).includes(s);
}

/** What training.json records (the fields the family's users read). */
export interface TrainingRecord {
  parameters: number;
  heldOutPerplexity: number;
  unigramAddOnePerplexity: number;
  heldOutPerplexityByWindow?: Record<string, { perplexity: number; stride: number }>;
  steps: number;
  trainSeconds: number;
  command?: string;
  config: Record<string, unknown>;
  [k: string]: unknown;
}

export interface FamilyMember {
  size: FamilySize;
  /** The `--model` name: family:<size>. */
  name: string;
  dir: string;
  config: Record<string, unknown>;
  training: TrainingRecord;
  /** n_positions of config.json: the longest input, in tokens. */
  positions: number;
  parameters: number;
}

/**
 * The family members present under models/family, smallest first.
 *
 * @throws when a member's folder lacks config.json or training.json
 */
export function familyMembers(): FamilyMember[] {
  const out: FamilyMember[] = [];
  for (const size of FAMILY_SIZES) {
    const dir = familyModelDir(size);
    if (!fs.existsSync(dir)) continue;
    const read = (f: string): Record<string, unknown> => {
      const p = path.join(dir, f);
      if (!fs.existsSync(p)) throw new Error(`${p}: not found (see docs/model-family.md to rebuild the family)`);
      return JSON.parse(fs.readFileSync(p, 'utf8')) as Record<string, unknown>;
    };
    const config = read('config.json');
    const training = read('training.json') as TrainingRecord;
    out.push({ size, name: `family:${size}`, dir, config, training, positions: Number(config.n_positions), parameters: training.parameters });
  }
  return out;
}

/** A parsed model name: the trained folder it names, and whether the random-weights twin is meant. */
export interface ModelName {
  /** The trained model's folder. */
  source: string;
  /** The twin, with this seed; null for the trained model itself. */
  untrainedSeed: number | null;
}

/**
 * Parses a model name (see the module comment).
 *
 * @returns null when `name` is not one of the names (then it is a path)
 * @throws RangeError for `family:` with an unknown size or a malformed suffix
 */
export function parseModelName(name: string): ModelName | null {
  const twinSeed = (s: string | undefined): number => Number(s ?? 1);
  if (name === 'builtin') return { source: builtinFolder(), untrainedSeed: null };
  const b = /^builtin-untrained(?::(\d+))?$/.exec(name);
  if (b) return { source: builtinFolder(), untrainedSeed: twinSeed(b[1]) };
  if (!name.startsWith('family:')) return null;
  const f = /^family:([a-z]+)(-untrained(?::(\d+))?)?$/.exec(name);
  if (!f || !isFamilySize(f[1]!)) {
    throw new RangeError(`--model ${name}: unknown model name; the family's are family:<size> and family:<size>-untrained[:seed] with size ${FAMILY_SIZES.join(' | ')}`);
  }
  return { source: familyModelDir(f[1]), untrainedSeed: f[2] ? twinSeed(f[3]) : null };
}

/** Where the twin of `source` with `seed` lives under `twinRoot`. */
export function twinFolderPath(source: string, seed: number, twinRoot: string): string {
  return path.join(twinRoot, `${path.basename(source)}-untrained-seed${seed}`);
}

const ARCH_KEYS = ['model_type', 'vocab_size', 'n_positions', 'n_embd', 'n_layer', 'n_head', 'n_inner', 'layer_norm_epsilon', 'bos_token_id', 'eos_token_id'];

/** A written twin still matches its trained model: same sizes, same tokenizer, same seed. */
function twinIsCurrent(twin: string, source: string, seed: number): boolean {
  try {
    if (!fs.existsSync(path.join(twin, 'onnx', 'model.onnx'))) return false;
    const t = JSON.parse(fs.readFileSync(path.join(twin, 'config.json'), 'utf8')) as Record<string, unknown>;
    const s = JSON.parse(fs.readFileSync(path.join(source, 'config.json'), 'utf8')) as Record<string, unknown>;
    if (ARCH_KEYS.some((k) => t[k] !== s[k])) return false;
    const tag = t.lockstep_untrained_twin as { seed?: unknown } | undefined;
    if (tag?.seed !== seed) return false;
    return fs.readFileSync(path.join(twin, 'tokenizer.json')).equals(fs.readFileSync(path.join(source, 'tokenizer.json')));
  } catch {
    return false;
  }
}

/**
 * The folder of the random-weights twin of `source`, written under `twinRoot` unless a current one
 * is there (written to a temporary folder first, then renamed, so a reader never sees half a twin).
 */
export async function ensureTwinFolder(source: string, seed: number, twinRoot: string): Promise<string> {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`twin seed must be a non-negative integer, got ${seed}`);
  const dir = twinFolderPath(source, seed, twinRoot);
  if (twinIsCurrent(dir, source, seed)) return dir;
  if (!fs.existsSync(path.join(source, 'config.json'))) throw new Error(`${source}: no config.json, so no twin of it can be written (see docs/model-family.md)`);
  const { randomTwinFolder } = await import('./builtinModel.js');
  fs.mkdirSync(twinRoot, { recursive: true });
  const tmp = fs.mkdtempSync(`${dir}.tmp-`);
  try {
    randomTwinFolder(tmp, seed, source);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    // Another process may have written the same twin meanwhile.
    if (!twinIsCurrent(dir, source, seed)) throw err;
  }
  return dir;
}

/**
 * The folder a model name stands for (writing a twin under `twinRoot` when one is named and
 * missing), or null when `model` is not a name (a folder or file path then).
 *
 * @throws when a family member named is not present
 */
export async function resolveModelName(model: string, twinRoot: string): Promise<string | null> {
  const n = parseModelName(model);
  if (!n) return null;
  if (!fs.existsSync(path.join(n.source, 'config.json'))) {
    throw new Error(`--model ${model}: ${n.source} is missing (see docs/model-family.md for how to rebuild it)`);
  }
  return n.untrainedSeed === null ? n.source : ensureTwinFolder(n.source, n.untrainedSeed, twinRoot);
}
