/**
 * Batched forward passes over a graph that has already been through the residual-stream surgery:
 * several token rows per `session.run`, right-padded with an attention mask (graphInputs.ts:
 * buildBatchFeeds), fetching only the hidden states and logits asked for, and reading them in
 * place (no copy of the tensors onnxruntime returns).
 *
 * `OnnxSessionRecipe` is everything needed to open such a session again without redoing the
 * surgery or its checks (a plain object, so it crosses into worker threads); `OnnxBatchRunner`
 * is the `HiddenStateModel` a worker opens from it. Sessions run on the CPU by default; `device:
 * 'cuda'` asks onnxruntime-node for its CUDA execution provider (optional: it needs the CUDA
 * build of the provider library, see adapters/onnx/devices.ts), with the CPU as fallback for
 * operators CUDA lacks.
 *
 * Owns: batched feeds → outputs, the session options of extraction sessions. Must not: operate on
 * graphs (residualSurgery.ts does), check them (surgeryChecks.ts), or pick layers and words (the
 * extractor does).
 */
import * as ort from 'onnxruntime-node';
import type { BatchForwardResult, ForwardRequest, ForwardResult, HiddenStateModel } from '../../src/types.js';
import { buildBatchFeeds, type InputSpec } from './graphInputs.js';
import { halfToFloat, SESSION_OPTIONS } from './surgeryChecks.js';

export type ExtractionDevice = 'cpu' | 'cuda';

/** How to reopen the modified graph's session (plain data: it is posted to worker threads). */
export interface OnnxSessionRecipe {
  /** The modified graph (hidden_states.0…L exposed). */
  modifiedFile: string;
  /** Folder of external weights when the graph has them (loaded from memory with this folder). */
  externalDataDir: string | null;
  /** The graph's inputs (names, element types, dims). */
  specs: InputSpec[];
  /** Output names of hidden states 0…L. */
  hiddenStates: string[];
  /** Output name of the logits, or null without an LM head. */
  logitsName: string | null;
  nBlocks: number;
  hiddenSize: number;
  vocabSize: number;
  modelHash: string;
  /** The original graph's path, for messages. */
  sourceFile: string;
}

export interface BatchSessionOptions {
  /** onnxruntime intra-op threads (default 1: extraction parallelises over sessions instead). */
  threads?: number;
  device?: ExtractionDevice;
}

/** Opens an onnxruntime session for extraction (CPU, or CUDA with the CPU as fallback). */
export async function openExtractionSession(recipe: OnnxSessionRecipe, opts: BatchSessionOptions = {}): Promise<ort.InferenceSession> {
  const options: ort.InferenceSession.SessionOptions = {
    ...SESSION_OPTIONS,
    // Full graph optimisation: the outputs are the same tensors, fused where onnxruntime can.
    graphOptimizationLevel: 'all',
    executionProviders: opts.device === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
    intraOpNumThreads: opts.threads ?? 1,
    interOpNumThreads: 1,
    // No busy-waiting threads: on a shared machine they steal the cores the other sessions need.
    extra: { session: { 'intra_op.allow_spinning': '0', ...(recipe.externalDataDir ? { model_external_initializers_file_folder_path: recipe.externalDataDir } : {}) } },
  };
  try {
    if (recipe.externalDataDir) {
      const fs = await import('node:fs');
      return await ort.InferenceSession.create(fs.readFileSync(recipe.modifiedFile), options);
    }
    return await ort.InferenceSession.create(recipe.modifiedFile, options);
  } catch (e) {
    throw new Error(`${recipe.sourceFile}: onnxruntime cannot open the modified graph ${recipe.modifiedFile} on ${opts.device ?? 'cpu'} (${(e as Error).message.split('\n')[0]})`);
  }
}

/** A tensor's values as float32: the tensor's own array when it is float32 (no copy). */
function floatView(t: ort.Tensor): Float32Array {
  if (t.type === 'float32') return t.data as Float32Array;
  if (t.type === 'float16') return Float32Array.from(t.data as Uint16Array, halfToFloat);
  if (t.type === 'float64') return Float32Array.from(t.data as Float64Array);
  throw new Error(`output of type ${t.type}; expected a float tensor`);
}

/**
 * One batched pass: rows right-padded, only the requested outputs fetched. Returns null when the
 * graph's inputs cannot take a batch (see buildBatchFeeds); the caller runs rows one by one then.
 */
export async function runBatch(session: ort.InferenceSession, recipe: OnnxSessionRecipe, rows: readonly (readonly number[])[], want: ForwardRequest): Promise<BatchForwardResult | null> {
  for (const r of rows) {
    const bad = r.find((t) => !Number.isInteger(t) || t < 0 || (recipe.vocabSize > 0 && t >= recipe.vocabSize));
    if (bad !== undefined) throw new Error(`${recipe.sourceFile}: token id ${bad} outside the vocabulary 0…${recipe.vocabSize - 1}`);
    if (r.length === 0) throw new Error('forward: no tokens');
  }
  const plan = buildBatchFeeds(recipe.specs, rows);
  if (!plan) return null;
  const layers = [...new Set(want.layers)];
  for (const l of layers) if (!Number.isInteger(l) || l < 0 || l > recipe.nBlocks) throw new RangeError(`layer ${l} does not exist: the model has hidden states 0…${recipe.nBlocks}`);
  const fetch = layers.map((l) => recipe.hiddenStates[l]!);
  const logitsName = want.logits ? recipe.logitsName : null;
  if (logitsName) fetch.push(logitsName);
  let out: ort.InferenceSession.OnnxValueMapType;
  try {
    out = await session.run(plan.feeds, fetch);
  } catch (e) {
    throw new Error(`${recipe.sourceFile}: onnxruntime failed on a batch of ${rows.length} rows of up to ${plan.maxTokens} tokens (${(e as Error).message.split('\n')[0]})`);
  }
  const T = plan.maxTokens;
  const hidden: (Float32Array | null)[] = Array.from({ length: recipe.nBlocks + 1 }, () => null);
  for (const l of layers) {
    const h = floatView(out[recipe.hiddenStates[l]!]!);
    if (h.length !== rows.length * T * recipe.hiddenSize) throw new Error(`${recipe.sourceFile}: hidden state ${l} has ${h.length} values, expected ${rows.length} rows × ${T} tokens × ${recipe.hiddenSize}`);
    hidden[l] = h;
  }
  let logits: Float32Array | null = null;
  if (logitsName) {
    logits = floatView(out[logitsName]!);
    if (logits.length !== rows.length * T * recipe.vocabSize) throw new Error(`${recipe.sourceFile}: logits have ${logits.length} values, expected ${rows.length} rows × ${T} tokens × ${recipe.vocabSize}`);
  }
  return { maxTokens: T, hidden, logits };
}

/** Runs rows one by one (graphs that take no batch) and packs them as a padded batch. */
export async function batchOfSingles(model: Pick<HiddenStateModel, 'forward' | 'hiddenSize' | 'vocabSize' | 'nBlocks'>, rows: readonly (readonly number[])[], want: ForwardRequest): Promise<BatchForwardResult> {
  const T = Math.max(...rows.map((r) => r.length));
  const H = model.hiddenSize;
  const V = model.vocabSize;
  const layers = [...new Set(want.layers)];
  const hidden: (Float32Array | null)[] = Array.from({ length: model.nBlocks + 1 }, () => null);
  for (const l of layers) hidden[l] = new Float32Array(rows.length * T * H);
  let logits: Float32Array | null = null;
  for (let b = 0; b < rows.length; b++) {
    const one: ForwardResult = await model.forward([...rows[b]!]);
    for (const l of layers) {
      if (one.hidden[l] === undefined) throw new RangeError(`layer ${l} does not exist: the model has hidden states 0…${one.hidden.length - 1}`);
      hidden[l]!.set(one.hidden[l]!, b * T * H);
    }
    if (want.logits && one.logits) {
      logits ??= new Float32Array(rows.length * T * V);
      logits.set(one.logits, b * T * V);
    }
  }
  return { maxTokens: T, hidden, logits };
}

/**
 * The modified graph in a session of its own, opened from a recipe: what an extraction worker
 * runs. No surgery and no checks here (the main thread did both when it loaded the model).
 */
export class OnnxBatchRunner implements HiddenStateModel {
  readonly nBlocks: number;
  readonly hiddenSize: number;
  readonly vocabSize: number;
  readonly modelHash: string;
  private batchable = true;

  private constructor(
    private readonly session: ort.InferenceSession,
    readonly recipe: OnnxSessionRecipe,
  ) {
    this.nBlocks = recipe.nBlocks;
    this.hiddenSize = recipe.hiddenSize;
    this.vocabSize = recipe.vocabSize;
    this.modelHash = recipe.modelHash;
  }

  static async open(recipe: OnnxSessionRecipe, opts: BatchSessionOptions = {}): Promise<OnnxBatchRunner> {
    return new OnnxBatchRunner(await openExtractionSession(recipe, opts), recipe);
  }

  async forward(inputIds: number[]): Promise<ForwardResult> {
    const all = Array.from({ length: this.nBlocks + 1 }, (_, l) => l);
    const r = await runBatch(this.session, this.recipe, [inputIds], { layers: all, logits: true });
    if (!r) throw new Error(`${this.recipe.sourceFile}: the graph's inputs take no batch; open it with OnnxHiddenStateModel`);
    return { hidden: r.hidden.map((h) => new Float32Array(h!)), logits: r.logits ? new Float32Array(r.logits) : null };
  }

  async forwardBatch(rows: readonly (readonly number[])[], want: ForwardRequest): Promise<BatchForwardResult> {
    if (this.batchable) {
      const r = await runBatch(this.session, this.recipe, rows, want);
      if (r) return r;
      this.batchable = false;
    }
    throw new Error(`${this.recipe.sourceFile}: the graph's inputs take no batch (static shapes or caches); extract in the main thread (workers 0)`);
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
