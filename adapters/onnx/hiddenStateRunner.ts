/**
 * A `HiddenStateModel` over an ONNX causal LM: the graph is operated on once (residual-stream
 * surgery, checked at load time, kept in the user's cache by surgeryCache.ts), then each `forward`
 * runs the modified graph with onnxruntime-node on batch 1 and an empty cache and returns the L+1
 * exposed states (`hidden[0]` = embedding output, `hidden[L]` = last block's output before the
 * final norm) and the logits. Graphs with a fixed sequence length (old exports decoding one token at a time) are
 * run token by token through their KV cache. `forwardBatch` runs several rows per pass when the
 * graph's inputs allow it (batchRunner.ts), else one by one; `recipe()` lets a worker thread open
 * the same modified graph without redoing the surgery.
 *
 * Owns: sessions and tensor conversion. Must not: tokenize, or pick layers (the extractor does).
 */
import type * as ort from 'onnxruntime-node';
import type { BatchForwardResult, ForwardRequest, ForwardResult, HiddenStateModel } from '../../src/types.js';
import { batchOfSingles, runBatch, type OnnxSessionRecipe } from './batchRunner.js';
import { buildBatchFeeds, buildFeeds, inputRole, inputSpecs, presentNameFor, type InputSpec, type PastState } from './graphInputs.js';
import { locateModel } from './modelLocation.js';
import { prepareSurgery, recordChecks } from './surgeryCache.js';
import { halfToFloat, openSession, recordOf, runChecks, type CheckOptions, type SurgeryReport } from './surgeryChecks.js';

function toFloat32(t: ort.Tensor): Float32Array {
  if (t.type === 'float32') return new Float32Array(t.data as Float32Array);
  if (t.type === 'float16') return Float32Array.from(t.data as Uint16Array, halfToFloat);
  if (t.type === 'float64') return Float32Array.from(t.data as Float64Array);
  throw new Error(`hidden state of type ${t.type}; expected a float tensor`);
}

export class OnnxHiddenStateModel implements HiddenStateModel {
  readonly nBlocks: number;
  readonly hiddenSize: number;
  readonly vocabSize: number;
  readonly modelHash: string;
  /** What the surgery found and how the checks went. */
  readonly report: SurgeryReport;
  readonly modelType: string | null;
  private readonly staticSeq: number | null;
  private readonly cacheInputs: string[];

  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly specs: InputSpec[],
    report: SurgeryReport,
    modelType: string | null,
    vocabSize: number,
    /** True when the checks were not rerun: their recorded results from the cache were trusted. */
    readonly checksFromCache: boolean,
    private readonly externalDataDir: string | null,
  ) {
    this.report = report;
    this.modelType = modelType;
    this.nBlocks = report.blocks;
    this.hiddenSize = report.hiddenSize;
    this.vocabSize = vocabSize;
    this.modelHash = report.sha256;
    const tok = specs.find((s) => inputRole(s.name) === 'tokens');
    this.staticSeq = tok && typeof tok.dims[1] === 'number' ? (tok.dims[1] as number) : null;
    this.cacheInputs = specs.filter((s) => inputRole(s.name) === 'cache').map((s) => s.name);
  }

  /**
   * Open a model folder (onnx/model.onnx inside) or an .onnx file. The surgery's checks run when the
   * modified graph is (re)built; when a cached modified graph is byte-identical to what the surgery
   * produces and its metadata records passed checks, those are reused (`recheck: true` reruns them).
   * @throws Error naming the file when the walk or a check fails
   */
  static async open(source: string, opts: CheckOptions & { recheck?: boolean } = {}): Promise<OnnxHiddenStateModel> {
    const t0 = performance.now();
    const loc = locateModel(source);
    const prepared = prepareSurgery(loc.onnxFile, { cacheDir: opts.cacheDir });
    if (prepared.description.start === 'inputs-embeds') {
      throw new Error(`${loc.onnxFile}: this graph takes inputs_embeds (its embedding lives in another graph); lockstep runs token ids, so give a graph that embeds them`);
    }
    let session: ort.InferenceSession;
    let specs: InputSpec[];
    let report: SurgeryReport;
    const rc = prepared.recordedChecks;
    if (prepared.reused && rc && !opts.recheck) {
      session = await openSession(prepared.file, prepared.file, prepared.externalDataDir);
      specs = inputSpecs(prepared.loaded.model.graph!.input ?? [], prepared.plan.index.initializers, prepared.loaded.file);
      report = {
        ...prepared.description,
        ...rc,
        sourceFile: prepared.loaded.file,
        modifiedFile: prepared.file,
        cacheFolder: prepared.folder,
        unlinkedExternalData: prepared.unlinkedExternalData,
        reused: true,
        seconds: (performance.now() - t0) / 1000,
      };
    } else {
      const r = await runChecks(prepared, { ...opts, keepModifiedSession: true });
      recordChecks(prepared, recordOf(r));
      const { session: kept, specs: sp, ...rest } = r;
      session = kept!;
      specs = sp;
      report = rest;
    }
    return new OnnxHiddenStateModel(session, specs, report, loc.modelType, prepared.description.vocabSize ?? 0, rc !== null && prepared.reused && !opts.recheck, prepared.externalDataDir);
  }

  /** What a worker thread needs to open this modified graph again (no surgery, no checks). */
  recipe(): OnnxSessionRecipe {
    return {
      modifiedFile: this.report.modifiedFile,
      externalDataDir: this.externalDataDir,
      specs: this.specs,
      hiddenStates: this.report.hiddenStates,
      logitsName: this.report.lmHead?.output ?? null,
      nBlocks: this.nBlocks,
      hiddenSize: this.hiddenSize,
      vocabSize: this.vocabSize,
      modelHash: this.modelHash,
      sourceFile: this.report.sourceFile,
    };
  }

  /** True when several rows can share a pass (dynamic batch and sequence, no static caches). */
  get batchable(): boolean {
    return this.staticSeq === null && buildBatchFeeds(this.specs, [[0], [0, 0]]) !== null;
  }

  /** Several rows per pass when the graph allows it, else one `forward` per row. */
  async forwardBatch(rows: readonly (readonly number[])[], want: ForwardRequest): Promise<BatchForwardResult> {
    if (this.batchable) {
      const r = await runBatch(this.session, this.recipe(), rows, want);
      if (r) return r;
    }
    return batchOfSingles(this, rows, want);
  }

  private async run(tokens: number[], past: PastState | null): Promise<ort.InferenceSession.OnnxValueMapType> {
    const { feeds, tokens: used } = buildFeeds(this.specs, tokens, this.report.sourceFile, this.report.hiddenSizeStatic, past);
    if (used.length !== tokens.length) throw new Error(`${this.report.sourceFile}: the graph takes ${used.length} tokens per pass, ${tokens.length} given`);
    try {
      return await this.session.run(feeds);
    } catch (e) {
      throw new Error(`${this.report.sourceFile}: onnxruntime failed on ${tokens.length} tokens after ${past?.length ?? 0} cached (${(e as Error).message.split('\n')[0]}); a static KV cache bounds the sequence length`);
    }
  }

  /** One pass over all tokens (or token by token for fixed-length graphs). */
  async forward(inputIds: number[]): Promise<ForwardResult> {
    if (inputIds.length === 0) throw new Error('forward: no tokens');
    const bad = inputIds.find((t) => !Number.isInteger(t) || t < 0 || (this.vocabSize > 0 && t >= this.vocabSize));
    if (bad !== undefined) throw new Error(`${this.report.sourceFile}: token id ${bad} outside the vocabulary 0…${this.vocabSize - 1}`);
    if (this.staticSeq !== null && inputIds.length !== this.staticSeq) return this.forwardIncremental(inputIds, this.staticSeq);
    const out = await this.run(inputIds, null);
    return this.collect([out]);
  }

  /**
   * Feed the tokens `chunk` at a time, carrying the KV cache (present.* → past.*); the hidden
   * states and logits of all chunks are concatenated. Equal to `forward` up to float rounding.
   */
  async forwardIncremental(inputIds: number[], chunk: number): Promise<ForwardResult> {
    if (this.cacheInputs.length === 0) throw new Error(`${this.report.sourceFile}: the graph has no KV-cache inputs; run forward() on the whole sequence`);
    const outs: ort.InferenceSession.OnnxValueMapType[] = [];
    let past: PastState | null = null;
    for (let s = 0; s < inputIds.length; s += chunk) {
      const piece = inputIds.slice(s, s + chunk);
      const out = await this.run(piece, past);
      outs.push(out);
      const tensors: Record<string, ort.Tensor> = {};
      for (const name of this.cacheInputs) {
        const pres = presentNameFor(name, this.session.outputNames);
        if (!pres) throw new Error(`${this.report.sourceFile}: no output carries the updated cache of input "${name}"`);
        tensors[name] = out[pres]!;
      }
      past = { length: s + piece.length, tensors };
    }
    return this.collect(outs);
  }

  private collect(outs: ort.InferenceSession.OnnxValueMapType[]): ForwardResult {
    const cat = (name: string): Float32Array => {
      const parts = outs.map((o) => toFloat32(o[name]!));
      const n = parts.reduce((a, p) => a + p.length, 0);
      const r = new Float32Array(n);
      let off = 0;
      for (const p of parts) {
        r.set(p, off);
        off += p.length;
      }
      return r;
    };
    const hidden = this.report.hiddenStates.map(cat);
    const logitsName = this.report.lmHead?.output ?? null;
    return { hidden, logits: logitsName ? cat(logitsName) : null };
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
