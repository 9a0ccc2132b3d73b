/**
 * Load-time checks of a residual-stream surgery, run with onnxruntime-node on the same inputs:
 *   1. every original output of the modified graph equals the original graph's, bit for bit
 *      (`outputsMaxAbsDiff` must be exactly 0);
 *   2. the head sub-model (final norm + LM head) applied to the exposed last state gives the logits
 *      again (`logitsReconstructionMaxAbsDiff`, null without an LM head; ≤ 1e-5 relative to the
 *      logits' scale in fp32, 2e-3 in fp16).
 * Both sessions use the same optimization level ('basic'): ORT's extended fusions (e.g. Add +
 * LayerNormalization → SkipLayerNormalization) are blocked when a fused intermediate becomes a graph
 * output, and a fused kernel rounds differently, so comparing 'all' against 'all' would measure ORT's
 * fusion choices rather than the surgery.
 *
 * Owns: running and comparing. Must not: decide the surgery.
 */
import * as fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { buildFeeds, inputSpecs, type InputSpec } from './graphInputs.js';
import { buildHeadModel, type SurgeryDescription } from './residualSurgery.js';
import { prepareSurgery, recordChecks, type PreparedSurgery, type RecordedChecks } from './surgeryCache.js';

export const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'basic', executionProviders: ['cpu'], logSeverityLevel: 3 };

const ORT_TO_ONNX: Record<string, number> = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10, float64: 11 };

export interface SurgeryReport extends SurgeryDescription {
  /** Absolute path of the original graph (for messages; the stored description has its name only). */
  sourceFile: string;
  modifiedFile: string;
  /** The cache's model folder holding the modified graph (what transformers.js loads). */
  cacheFolder: string;
  /** External-data files missing from the cache folder (not hard-linkable): transformers.js cannot load the graph. */
  unlinkedExternalData: string[];
  reused: boolean;
  hiddenSize: number;
  tokens: number[];
  outputsMaxAbsDiff: number;
  /** Original outputs compared (names). */
  outputsCompared: string[];
  logitsReconstructionMaxAbsDiff: number | null;
  logitsMaxAbs: number | null;
  seconds: number;
  /** Seconds per phase (prepare = load + hash + walk + splice/cache; openSessions; runBoth; compare; buildHead; head). */
  timings?: Record<string, number>;
}

function asNumbers(t: ort.Tensor): Float64Array {
  const d = t.data;
  if (t.type === 'float16') {
    const u = d as Uint16Array;
    const out = new Float64Array(u.length);
    for (let i = 0; i < u.length; i++) out[i] = halfToFloat(u[i]!);
    return out;
  }
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) return Float64Array.from(d as BigInt64Array, (v) => Number(v));
  return Float64Array.from(d as ArrayLike<number>);
}

export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

function bytesOf(t: ort.Tensor): Uint8Array {
  const d = t.data as ArrayBufferView;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** Max |a−b| over two tensors of the same shape; NaN at the same place counts as equal. */
function maxAbsDiff(a: ort.Tensor, b: ort.Tensor, what: string): number {
  if (a.dims.join(',') !== b.dims.join(',') || a.type !== b.type) throw new Error(`${what}: shape/type differ (${a.type}[${a.dims}] vs ${b.type}[${b.dims}])`);
  const x = asNumbers(a);
  const y = asNumbers(b);
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const xi = x[i]!;
    const yi = y[i]!;
    if (Number.isNaN(xi) && Number.isNaN(yi)) continue;
    if (xi === yi) continue;
    const d = Math.abs(xi - yi);
    m = Number.isNaN(d) ? Infinity : Math.max(m, d);
  }
  return m;
}

/**
 * @param externalDataDir when set, the graph is loaded from memory and its external-data locations
 *   resolve against this folder (onnxruntime refuses locations that leave the graph's own folder,
 *   symbolic links included, so a graph cached elsewhere cannot simply point back at the weights)
 */
export async function openSession(fileOrBytes: string | Uint8Array, where: string, externalDataDir: string | null = null): Promise<ort.InferenceSession> {
  try {
    if (externalDataDir !== null) {
      const bytes = typeof fileOrBytes === 'string' ? fs.readFileSync(fileOrBytes) : fileOrBytes;
      return await ort.InferenceSession.create(bytes, { ...SESSION_OPTIONS, extra: { session: { model_external_initializers_file_folder_path: externalDataDir } } });
    }
    return typeof fileOrBytes === 'string' ? await ort.InferenceSession.create(fileOrBytes, SESSION_OPTIONS) : await ort.InferenceSession.create(fileOrBytes, SESSION_OPTIONS);
  } catch (e) {
    throw new Error(`${where}: onnxruntime cannot load the model (${(e as Error).message.split('\n')[0]})`);
  }
}

async function runSession(s: ort.InferenceSession, feeds: Record<string, ort.Tensor>, where: string): Promise<ort.InferenceSession.OnnxValueMapType> {
  try {
    return await s.run(feeds);
  } catch (e) {
    throw new Error(`${where}: onnxruntime failed to run it (${(e as Error).message.split('\n')[0]})`);
  }
}

export interface CheckOptions {
  tokenIds?: number[];
  cacheDir?: string;
  /** Largest accepted logits reconstruction error relative to max |logits| (default 1e-5 fp32, 2e-3 fp16). */
  logitsRelTol?: number;
  /** Hand the modified graph's session to the caller instead of releasing it. */
  keepModifiedSession?: boolean;
}

export const DEFAULT_TOKENS = [1, 2, 3, 4];

/**
 * Prepare (or reuse) the modified graph of `source` and check it.
 * @throws Error naming the file, the check, the tensor and the difference when a check fails
 */
export async function inspectModel(source: string, opts: CheckOptions = {}): Promise<CheckedModel> {
  const t0 = performance.now();
  const prepared = prepareSurgery(source, { cacheDir: opts.cacheDir });
  const prepareSeconds = (performance.now() - t0) / 1000;
  const r = await runChecks(prepared, opts);
  recordChecks(prepared, recordOf(r));
  return { ...r, timings: { ...r.timings, prepare: prepareSeconds }, seconds: (performance.now() - t0) / 1000 };
}

export function recordOf(r: SurgeryReport): RecordedChecks {
  return {
    tokens: r.tokens,
    hiddenSize: r.hiddenSize,
    outputsMaxAbsDiff: r.outputsMaxAbsDiff,
    logitsReconstructionMaxAbsDiff: r.logitsReconstructionMaxAbsDiff,
    logitsMaxAbs: r.logitsMaxAbs,
    outputsCompared: r.outputsCompared,
    at: new Date().toISOString(),
  };
}

export type CheckedModel = SurgeryReport & { specs: InputSpec[]; session: ort.InferenceSession | null };

/**
 * The checks on a prepared (written or reused) modified graph; `prepared.file` is what is checked.
 * @throws Error naming the file, the check, the tensor and the difference when a check fails
 */
export async function runChecks(prepared: PreparedSurgery, opts: CheckOptions = {}): Promise<CheckedModel> {
  const t0 = performance.now();
  const { loaded, plan, description } = prepared;
  const where = loaded.file;
  const tokens = opts.tokenIds ?? DEFAULT_TOKENS;
  if (description.vocabSize !== null) {
    const bad = tokens.find((t) => !Number.isInteger(t) || t < 0 || t >= description.vocabSize!);
    if (bad !== undefined) throw new Error(`${where}: token id ${bad} is outside the vocabulary (0…${description.vocabSize - 1}); pass --token-ids below ${description.vocabSize}`);
  }
  const specs = inputSpecs(loaded.model.graph!.input ?? [], plan.index.initializers, where);
  const { feeds, tokens: used } = buildFeeds(specs, tokens, where, description.hiddenSizeStatic);

  const timings: Record<string, number> = {};
  const lap = (() => {
    let t = performance.now();
    return (name: string) => {
      const now = performance.now();
      timings[name] = (timings[name] ?? 0) + (now - t) / 1000;
      t = now;
    };
  })();
  const original = await openSession(loaded.file, where);
  const modified = await openSession(prepared.file, prepared.file, prepared.externalDataDir);
  lap('openSessions');
  try {
    const ro = await runSession(original, feeds, where);
    const rm = await runSession(modified, feeds, prepared.file);
    lap('runBoth');
    let outputsMaxAbsDiff = 0;
    for (const name of original.outputNames) {
      const a = ro[name]!;
      const b = rm[name];
      if (!b) throw new Error(`${prepared.file}: the modified graph lost output "${name}"; delete the file and retry (it will be rebuilt)`);
      const same = Buffer.compare(Buffer.from(bytesOf(a)), Buffer.from(bytesOf(b))) === 0;
      const d = same ? 0 : maxAbsDiff(a, b, `${where}: output "${name}"`);
      if (!same) throw new Error(`${where}: check "original outputs unchanged" failed: output "${name}" differs by ${d} (max abs) after exposing the hidden states; the surgery is unsafe for this graph`);
      outputsMaxAbsDiff = Math.max(outputsMaxAbsDiff, d);
    }
    const missing = description.hiddenStates.find((n) => !rm[n]);
    if (missing) throw new Error(`${prepared.file}: the modified graph has no output "${missing}"; it is stale or was overwritten: delete it and retry`);
    const hidden = description.hiddenStates.map((n) => rm[n]!);
    const lastState = hidden[hidden.length - 1]!;
    const hiddenSize = lastState.dims[lastState.dims.length - 1]!;
    for (const [k, h] of hidden.entries()) {
      if (h.dims[h.dims.length - 1] !== hiddenSize || h.dims.length !== lastState.dims.length) throw new Error(`${where}: check "hidden-state shapes" failed: ${description.hiddenStates[k]} (tensor "${description.stateTensors[k]}") has shape [${h.dims}], the last state [${lastState.dims}]; the walk took a wrong turn`);
    }

    let logitsReconstructionMaxAbsDiff: number | null = null;
    let logitsMaxAbs: number | null = null;
    lap('compare');
    const head = buildHeadModel(loaded, plan, ORT_TO_ONNX[lastState.type] ?? 1, lastState.dims.length);
    lap('buildHead');
    if (head) {
      const hs = await openSession(head.bytes, `${where} (final norm + LM head sub-graph)`, head.externalDataDir);
      try {
        const hf: Record<string, ort.Tensor> = { [head.stateInput]: lastState };
        for (const f of head.feeds) hf[f] = feeds[f]!;
        const rh = await runSession(hs, hf, `${where} (final norm + LM head sub-graph)`);
        const logits = ro[head.logits]!;
        logitsReconstructionMaxAbsDiff = maxAbsDiff(rh[head.logits]!, logits, `${where}: logits reconstruction`);
        logitsMaxAbs = asNumbers(logits).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        const tol = (opts.logitsRelTol ?? (lastState.type === 'float16' ? 2e-3 : 1e-5)) * Math.max(1, logitsMaxAbs);
        if (!(logitsReconstructionMaxAbsDiff <= tol)) {
          throw new Error(`${where}: check "final norm + LM head of ${description.hiddenStates[hidden.length - 1]} (tensor "${head.stateInput}") gives the logits" failed: max abs difference ${logitsReconstructionMaxAbsDiff} > ${tol}; the last exposed state is not the final residual stream`);
        }
      } finally {
        await hs.release();
        lap('head');
      }
    }
    return {
      ...description,
      sourceFile: loaded.file,
      modifiedFile: prepared.file,
      cacheFolder: prepared.folder,
      unlinkedExternalData: prepared.unlinkedExternalData,
      reused: prepared.reused,
      hiddenSize,
      tokens: used,
      outputsMaxAbsDiff,
      outputsCompared: [...original.outputNames],
      logitsReconstructionMaxAbsDiff,
      logitsMaxAbs,
      seconds: (performance.now() - t0) / 1000,
      timings,
      specs,
      session: opts.keepModifiedSession ? modified : null,
    };
  } catch (e) {
    if (opts.keepModifiedSession) await modified.release();
    throw e;
  } finally {
    await original.release();
    if (!opts.keepModifiedSession) await modified.release();
  }
}
