/**
 * Loading a language model for extraction: a local model folder as the Hugging Face hub lays it out
 * (config.json, tokenizer.json + tokenizer_config.json, onnx/model.onnx), offline by default.
 *
 * 1. The ONNX graph gets the residual-stream surgery (adapters/onnx: outputs hidden_states.0…L,
 *    checked against the original graph with onnxruntime-node). The modified graph is cached in the
 *    user's cache, in a folder that is a model folder of its own (a copy of config.json, the graph
 *    as onnx/model.lockstep-hs-<sha16>.onnx, hard links to external weights: see
 *    adapters/onnx/surgeryCache.ts); the model folder itself is only read.
 * 2. Runner: transformers.js loads that cache folder (`model_file_name` = the modified graph's base
 *    name, `subfolder` = onnx) as a causal LM; its forward returns every graph output, including the
 *    hidden states. Before it is used, one forward on a few tokens must agree with the
 *    onnxruntime-node runner (adapters/onnx/hiddenStateRunner.ts) on every hidden state and the
 *    logits; if transformers.js cannot load the graph or disagrees, the onnxruntime-node runner is
 *    used instead, and `runner` / `runnerNote` say so.
 * 3. The tokenizer is loaded by adapters/text/wordAlignment.ts (offline).
 *
 * `allowDownload` sets transformers.js's `env.allowRemoteModels` so that a hub id is fetched into
 * transformers.js's cache (never used in tests: tests and CI have no network).
 *
 * Owns: choosing and checking the runner. Must not: tokenize, plan windows or write caches.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AutoModelForCausalLM, AutoTokenizer, env, Tensor, type PreTrainedModel } from '@huggingface/transformers';
import type { OnnxSessionRecipe } from '../onnx/batchRunner.js';
import { OnnxHiddenStateModel } from '../onnx/hiddenStateRunner.js';
import { loadStimulusTokenizer, type StimulusTokenizer } from '../text/wordAlignment.js';
import type { ForwardResult, HiddenStateModel } from '../../src/types.js';

export type RunnerChoice = 'auto' | 'transformers' | 'onnxruntime';
export const RUNNER_CHOICES: readonly RunnerChoice[] = ['auto', 'transformers', 'onnxruntime'];

export interface LoadedLanguageModel {
  model: HiddenStateModel;
  tokenizer: StimulusTokenizer;
  /** Which runner computes the forward passes. */
  runner: 'transformers.js' | 'onnxruntime-node';
  /** Why the runner is the one it is (fallback reason, or the agreement measured). */
  runnerNote: string;
  folder: string;
  modelType: string | null;
  /** Longest input the model takes (config n_positions / max_position_embeddings), or null. */
  maxTokens: number | null;
  /** The surgery's modified graph. */
  modifiedFile: string;
  /**
   * How extraction workers open the modified graph (adapters/onnx/batchRunner.ts), or null when
   * the graph's inputs take no batch (static shapes or caches): such graphs run in this thread.
   */
  recipe: OnnxSessionRecipe | null;
}

export interface LoadModelOptions {
  /** Let transformers.js fetch a hub id (sets env.allowRemoteModels). Default false. */
  allowDownload?: boolean;
  runner?: RunnerChoice;
  /** Largest |difference| (relative to the largest |value|) accepted between the two runners. Default 1e-4. */
  agreementTolerance?: number;
  /**
   * onnxruntime intra-op threads for the transformers.js session. Default 1: for models of the
   * built-in's size a forward pass is too short to gain from threads (measured on 2 cores: 85
   * tokens through the 10-block built-in model take 10.4 ms with 1 thread, 19.5 ms with the default).
   */
  threads?: number;
  /** Device of the transformers.js session (its onnxruntime-node CUDA provider, when installed). Default cpu. */
  device?: 'cpu' | 'cuda';
}

/** A HiddenStateModel over a transformers.js model whose graph exposes hidden_states.0…L. */
class TransformersHiddenStateModel implements HiddenStateModel {
  constructor(
    private readonly lm: PreTrainedModel,
    readonly nBlocks: number,
    readonly hiddenSize: number,
    readonly vocabSize: number,
    readonly modelHash: string,
    private readonly hiddenNames: string[],
    private readonly logitsName: string | null,
  ) {}

  async forward(inputIds: number[]): Promise<ForwardResult> {
    if (inputIds.length === 0) throw new Error('forward: no tokens');
    const T = inputIds.length;
    const ids = new Tensor('int64', BigInt64Array.from(inputIds, (t) => BigInt(t)), [1, T]);
    const mask = new Tensor('int64', new BigInt64Array(T).fill(1n), [1, T]);
    const out = (await this.lm.forward({ input_ids: ids, attention_mask: mask })) as Record<string, Tensor>;
    const take = (name: string, per: number): Float32Array => {
      const t = out[name];
      if (!t) throw new Error(`transformers.js returned no output "${name}"`);
      if (t.type !== 'float32') throw new Error(`output "${name}" is ${t.type}; lockstep reads float32 graphs through transformers.js`);
      const data = t.data as Float32Array;
      if (data.length !== T * per) throw new Error(`output "${name}" has ${data.length} values, expected ${T} × ${per}`);
      return data;
    };
    const hidden = this.hiddenNames.map((n) => take(n, this.hiddenSize));
    const logits = this.logitsName ? take(this.logitsName, this.vocabSize) : null;
    for (const t of Object.values(out)) (t as Tensor & { dispose?: () => void }).dispose?.();
    return { hidden, logits };
  }

  async dispose(): Promise<void> {
    await this.lm.dispose();
  }
}

function readConfig(folder: string): Record<string, unknown> {
  const file = path.join(folder, 'config.json');
  if (!fs.existsSync(file)) return {};
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message}); fix or remove it`);
  }
}

/** Largest |a − b| relative to the largest |a| over two arrays of equal length. */
function relativeDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let d = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(a[i]));
  }
  return s > 0 ? d / s : d;
}

/** Where transformers.js puts a downloaded hub model: its cache folder + the id. */
function hubFolder(id: string): string {
  return path.join(env.cacheDir ?? '.cache', id);
}

/**
 * Loads a model folder (or, with allowDownload, a hub id) for extraction.
 * @throws Error naming the folder and what to do (missing files, surgery failure, runner failure)
 */
export async function loadLanguageModel(source: string, opts: LoadModelOptions = {}): Promise<LoadedLanguageModel> {
  const choice = opts.runner ?? 'auto';
  const tol = opts.agreementTolerance ?? 1e-4;
  let folder = path.resolve(source);
  if (!fs.existsSync(folder)) {
    if (!opts.allowDownload) {
      throw new Error(`${folder}: no such model folder; give a folder with config.json, tokenizer.json and onnx/model.onnx (lockstep runs offline; --allow-download fetches a Hugging Face hub id)`);
    }
    env.allowRemoteModels = true;
    env.allowLocalModels = true;
    // Fetch the original files (config, tokenizer, fp32 graph) into transformers.js's file cache,
    // which keeps the hub layout under <cacheDir>/<id>/, then work on them there like a local folder.
    await AutoTokenizer.from_pretrained(source);
    const lm = await AutoModelForCausalLM.from_pretrained(source, { dtype: 'fp32', device: 'cpu' });
    await lm.dispose();
    folder = hubFolder(source);
    if (!fs.existsSync(folder)) throw new Error(`${source}: downloaded, but not found at ${folder} (transformers.js env.cacheDir); pass that folder as --model`);
  }
  if (!fs.statSync(folder).isDirectory()) throw new Error(`${folder}: not a folder; give the model folder (config.json, tokenizer.json, onnx/model.onnx)`);
  env.allowRemoteModels = opts.allowDownload === true;
  env.allowLocalModels = true;

  const tokenizer = await loadStimulusTokenizer(folder);
  const config = readConfig(folder);
  const maxTokens = [config.n_positions, config.max_position_embeddings].find((v): v is number => typeof v === 'number' && v > 0) ?? null;

  const ortModel = await OnnxHiddenStateModel.open(folder);
  const report = ortModel.report;
  const modifiedFile = report.modifiedFile;
  const recipe = ortModel.batchable ? ortModel.recipe() : null;
  if (choice === 'onnxruntime') {
    return { model: ortModel, tokenizer, runner: 'onnxruntime-node', runnerNote: 'chosen with --runner onnxruntime', folder, modelType: ortModel.modelType, maxTokens, modifiedFile, recipe };
  }

  let note: string;
  try {
    if (report.unlinkedExternalData.length > 0) {
      throw new Error(`the weights ${report.unlinkedExternalData.join(', ')} could not be hard-linked next to the modified graph in ${report.cacheFolder} (another file system?), and transformers.js reads them only from there; set LOCKSTEP_CACHE to a folder on the model's file system`);
    }
    // The cache folder is always local, whatever allowDownload says.
    const lm = await AutoModelForCausalLM.from_pretrained(report.cacheFolder, {
      local_files_only: true,
      subfolder: path.relative(report.cacheFolder, path.dirname(modifiedFile)),
      model_file_name: path.basename(modifiedFile).replace(/\.onnx$/i, ''),
      dtype: 'fp32',
      device: opts.device ?? 'cpu',
      session_options: { intraOpNumThreads: opts.threads ?? 1 },
    });
    const tjs = new TransformersHiddenStateModel(lm, ortModel.nBlocks, ortModel.hiddenSize, ortModel.vocabSize, ortModel.modelHash, report.hiddenStates, report.lmHead?.output ?? null);
    // Cross-check on a few tokens: both runners execute the same modified graph.
    const probe = Array.from({ length: 7 }, (_, i) => (i * 7919 + 11) % Math.max(1, ortModel.vocabSize));
    const [a, b] = await Promise.all([ortModel.forward(probe), tjs.forward(probe)]);
    let worst = 0;
    a.hidden.forEach((h, k) => (worst = Math.max(worst, relativeDiff(h, b.hidden[k]))));
    if (a.logits && b.logits) worst = Math.max(worst, relativeDiff(a.logits, b.logits));
    if ((a.logits === null) !== (b.logits === null)) worst = Infinity;
    if (!(worst <= tol)) {
      await tjs.dispose();
      throw new Error(`transformers.js and onnxruntime-node disagree on a probe forward pass (largest relative difference ${worst})`);
    }
    await ortModel.dispose();
    note = `transformers.js loaded the modified graph ${path.basename(modifiedFile)}; agrees with the onnxruntime-node runner to ${worst.toExponential(1)} (relative) on a 7-token probe`;
    return { model: tjs, tokenizer, runner: 'transformers.js', runnerNote: note, folder, modelType: ortModel.modelType, maxTokens, modifiedFile, recipe };
  } catch (e) {
    if (choice === 'transformers') {
      await ortModel.dispose();
      throw new Error(`${folder}: transformers.js cannot run the modified graph: ${(e as Error).message}; use --runner onnxruntime`);
    }
    note = `transformers.js could not be used (${(e as Error).message}); fell back to the onnxruntime-node runner`;
    return { model: ortModel, tokenizer, runner: 'onnxruntime-node', runnerNote: note, folder, modelType: ortModel.modelType, maxTokens, modifiedFile, recipe };
  }
}
