/**
 * The `tfjs` backend: float32 batched products through TensorFlow.js, on the best engine that
 * loads: tfjs-node-gpu (CUDA), tfjs-node (libtensorflow), else the wasm backend, else plain JS
 * (tfjs-backend-cpu). The first two are optional dependencies whose install downloads
 * libtensorflow, so they are often absent: that must be reported, never crash. Eigendecomposition
 * uses the shared TypeScript solver (tfjs has no symmetric eig).
 *
 * Owns: engine selection and tensor lifetimes (every tensor created here is disposed here).
 * Must not: assume it is the only tfjs user in the process beyond setting the active backend.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { errorText } from '../errorText.js';
import { checkLength, type GemmShape, type LinalgBackend, type SymEig, matmulOutput, type MatmulOptions } from './backend.js';
import { symEigLoops } from './reference.js';

type Tf = typeof import('@tensorflow/tfjs-core');
type Tensor = import('@tensorflow/tfjs-core').Tensor;

/** The tfjs engines in fallback order. */
export type TfjsEngine = 'gpu' | 'node' | 'wasm' | 'cpu';
const ENGINE_ORDER: readonly TfjsEngine[] = ['gpu', 'node', 'wasm', 'cpu'];

const ENGINE_PACKAGE: Record<TfjsEngine, string> = {
  gpu: '@tensorflow/tfjs-node-gpu',
  node: '@tensorflow/tfjs-node',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs-backend-cpu',
};

/** Default per-run input budget, as in the ort backend: bounds wasm heap growth on huge batches. */
const DEFAULT_MAX_RUN_INPUT_BYTES = 256 * 1024 * 1024;

export interface TfjsOptions {
  /** Split batches so one run's float32 inputs stay under this many bytes (default 256 MiB). */
  maxRunInputBytes?: number;
  /**
   * Issue one 2-D matMul per batch item, with A transposed in JS, instead of one batched matMul
   * with transposeA. Default: true on the wasm and cpu engines, where batched and transposed
   * products are ~10× slower (measured: 166×(128×273)ᵀ·(128×273) 2.3 s batched vs 0.23 s per item).
   */
  perItem?: boolean;
}

/**
 * Loads TensorFlow.js on the first engine that works, starting with `prefer` and then the usual
 * order gpu → node → wasm → cpu. Returns why every engine failed instead of throwing.
 */
export async function loadTfjs(prefer?: TfjsEngine, opts: TfjsOptions = {}): Promise<TfjsBackend | { error: string }> {
  const order = prefer ? [prefer, ...ENGINE_ORDER.filter((e) => e !== prefer)] : [...ENGINE_ORDER];
  const skipped: string[] = [];
  for (const engine of order) {
    try {
      const { tf, backend } = await startEngine(engine);
      const why = skipped.length ? ` (${skipped.join('; ')})` : '';
      return new TfjsBackend(tf, engine, `tfjs ${engine === 'gpu' || engine === 'node' ? `${engine} [${backend}]` : engine}${why}`, opts);
    } catch (e) {
      skipped.push(`${ENGINE_PACKAGE[engine].replace('@tensorflow/', '')} ${describeImportFailure(e, ENGINE_PACKAGE[engine])}`);
    }
  }
  return { error: `no TensorFlow.js engine loaded: ${skipped.join('; ')}; run \`npm install @tensorflow/tfjs-core @tensorflow/tfjs-backend-wasm\`` };
}

/** Imports one engine and makes it tfjs's active backend; throws if it cannot run here. */
async function startEngine(engine: TfjsEngine): Promise<{ tf: Tf; backend: string }> {
  let tf: Tf;
  if (engine === 'gpu' || engine === 'node') {
    // These bundle their own tfjs and register the 'tensorflow' backend on import. The specifier
    // is a variable so TypeScript does not require the (optional, usually absent) package's types.
    tf = namespaceOf<Tf>(await importOptional(ENGINE_PACKAGE[engine]));
    if (!(await tf.setBackend('tensorflow'))) throw new Error('the tensorflow backend failed to initialise');
  } else {
    tf = namespaceOf<Tf>(await import('@tensorflow/tfjs-core'));
    if (engine === 'wasm') {
      const wasm = namespaceOf<typeof import('@tensorflow/tfjs-backend-wasm')>(await import('@tensorflow/tfjs-backend-wasm'));
      // In Node the .wasm binaries are read from disk, next to the package's bundles in dist/.
      const pkgJson = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json');
      wasm.setWasmPaths(path.join(path.dirname(pkgJson), 'dist') + path.sep);
      if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend failed to initialise');
    } else {
      await import('@tensorflow/tfjs-backend-cpu');
      if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend failed to initialise');
    }
  }
  await tf.ready();
  return { tf, backend: tf.getBackend() };
}

function importOptional(specifier: string): Promise<unknown> {
  return import(specifier) as Promise<unknown>;
}

/** CommonJS packages imported from ESM may expose their exports on `default` only. */
function namespaceOf<T extends object>(mod: unknown): T {
  const m = mod as T & { default?: T };
  return 'matMul' in m || 'setWasmPaths' in m || !m.default ? m : m.default;
}

function describeImportFailure(e: unknown, pkg: string): string {
  const code = (e as { code?: unknown } | null)?.code;
  const msg = errorText(e);
  if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && msg.includes(pkg)) return 'not installed';
  // The usual partial install: npm kept the JS but the postinstall download of libtensorflow failed.
  if (/tfjs_binding\.node/.test(msg)) return 'installed without its native addon (its libtensorflow download did not complete)';
  return `failed: ${msg.split('\n')[0]}`;
}

export class TfjsBackend implements LinalgBackend {
  readonly name = 'tfjs' as const;
  /** Every tfjs engine computes matmul in float32. */
  readonly precision = 'float32' as const;
  private readonly maxRunInputBytes: number;
  private readonly perItem: boolean;
  /** The tfjs backend this instance computes on ('wasm', 'cpu', 'tensorflow'), re-selected per call. */
  private readonly tfBackend: string;

  /** Prefer {@link loadTfjs}, which picks and initialises the engine. */
  constructor(
    private readonly tf: Tf,
    /** Which engine is active: 'gpu' and 'node' use libtensorflow, 'wasm' and 'cpu' run in-process. */
    readonly engine: TfjsEngine,
    readonly detail: string,
    opts: TfjsOptions = {},
  ) {
    this.maxRunInputBytes = opts.maxRunInputBytes ?? DEFAULT_MAX_RUN_INPUT_BYTES;
    this.perItem = opts.perItem ?? (engine === 'wasm' || engine === 'cpu');
    this.tfBackend = tf.getBackend();
  }

  /** tfjs has one active backend per process: make it ours again if another user switched it. */
  private async activate(): Promise<Tf> {
    if (this.tf.getBackend() !== this.tfBackend && !(await this.tf.setBackend(this.tfBackend))) {
      throw new Error(`tfjs: could not switch back to the ${this.tfBackend} backend`);
    }
    return this.tf;
  }

  async accumulateCross(a: Float32Array | Float64Array, b: Float32Array | Float64Array, shape: GemmShape, c: Float64Array): Promise<void> {
    const { batch, m, n, k } = shape;
    checkLength('accumulateCross', 'A', a, batch * k * m);
    checkLength('accumulateCross', 'B', b, batch * k * n);
    checkLength('accumulateCross', 'C', c, batch * m * n);
    if (batch * m * n === 0 || k === 0) return;
    const tf = await this.activate();
    const sameInput = a === b;
    if (this.perItem) {
      // Buffers are refilled per item; every engine copies them into its tensor (or, on the cpu
      // engine, reads them synchronously inside tidy), so reuse after the product is safe.
      const at = new Float32Array(m * k);
      const bi32 = new Float32Array(k * n);
      for (let bi = 0; bi < batch; bi++) {
        transposeInto(a, bi * k * m, k, m, at);
        bi32.set(b.subarray(bi * k * n, (bi + 1) * k * n));
        const out = tf.tidy(() => tf.matMul(tf.tensor2d(at, [m, k], 'float32'), tf.tensor2d(bi32, [k, n], 'float32')));
        addInto(c, bi * m * n, await readAndDispose(out));
      }
      return;
    }
    for (const [b0, b1] of batchChunks(batch, this.maxRunInputBytes, 4 * k * (m + (sameInput ? 0 : n)))) {
      const cb = b1 - b0;
      const out = tf.tidy(() => {
        const ta = tf.tensor3d(toFloat32(a, b0 * k * m, b1 * k * m), [cb, k, m], 'float32');
        const tb = sameInput ? ta : tf.tensor3d(toFloat32(b, b0 * k * n, b1 * k * n), [cb, k, n], 'float32');
        return tf.matMul(ta, tb, true, false);
      });
      addInto(c, b0 * m * n, await readAndDispose(out));
    }
  }

  async matmul(a: Float64Array, b: Float64Array, shape: GemmShape, opts: MatmulOptions = {}): Promise<Float64Array> {
    const { batch, m, n, k } = shape;
    const transA = opts.transA ?? false;
    const bBatched = opts.bBatched ?? true;
    checkLength('matmul', 'A', a, batch * m * k);
    checkLength('matmul', 'B', b, (bBatched ? batch : 1) * k * n);
    const result = matmulOutput(opts.out, batch * m * n);
    if (result.length === 0 || k === 0) return result.fill(0);
    const tf = await this.activate();
    // A shared B stays in the engine for every product; it is disposed in `finally`.
    const sharedB = bBatched ? undefined : tf.tensor2d(new Float32Array(b), [k, n], 'float32');
    try {
      if (sharedB && !transA) {
        // Stacked A[b] (m×k each) form one (batch·m)×k matrix: one large 2-D product, in chunks.
        for (const [b0, b1] of batchChunks(batch, this.maxRunInputBytes, 4 * m * k)) {
          const out = tf.tidy(() => tf.matMul(tf.tensor2d(toFloat32(a, b0 * m * k, b1 * m * k), [(b1 - b0) * m, k], 'float32'), sharedB));
          result.set(await readAndDispose(out), b0 * m * n);
        }
      } else if (this.perItem) {
        const ai = new Float32Array(m * k);
        const bi32 = new Float32Array(k * n);
        for (let bi = 0; bi < batch; bi++) {
          if (transA) transposeInto(a, bi * m * k, k, m, ai);
          else ai.set(a.subarray(bi * m * k, (bi + 1) * m * k));
          if (!sharedB) bi32.set(b.subarray(bi * k * n, (bi + 1) * k * n));
          const out = tf.tidy(() => tf.matMul(tf.tensor2d(ai, [m, k], 'float32'), sharedB ?? tf.tensor2d(bi32, [k, n], 'float32')));
          result.set(await readAndDispose(out), bi * m * n);
        }
      } else {
        for (const [b0, b1] of batchChunks(batch, this.maxRunInputBytes, 4 * (m * k + (bBatched ? k * n : 0)))) {
          const cb = b1 - b0;
          const out = tf.tidy(() => {
            const ta = tf.tensor3d(toFloat32(a, b0 * m * k, b1 * m * k), transA ? [cb, k, m] : [cb, m, k], 'float32');
            // tfjs broadcasts the batch dimension of a [1,k,n] B.
            const tb = sharedB ? tf.expandDims(sharedB, 0) : tf.tensor3d(toFloat32(b, b0 * k * n, b1 * k * n), [cb, k, n], 'float32');
            return tf.matMul(ta, tb, transA, false);
          });
          result.set(await readAndDispose(out), b0 * m * n);
        }
      }
    } finally {
      sharedB?.dispose();
    }
    return result;
  }

  async symEig(a: Float64Array, n: number, batch: number, out?: SymEig): Promise<SymEig> {
    return symEigLoops(a, n, batch, out);
  }

  async dispose(): Promise<void> {
    // Tensors never outlive a call, and the tfjs engine is process-wide: nothing else to release.
  }
}

async function readAndDispose(t: Tensor): Promise<Float32Array> {
  try {
    return (await t.data()) as Float32Array;
  } finally {
    t.dispose();
  }
}

/** dst (cols×rows) = transpose of the rows×cols matrix at src[off..], narrowed to float32. */
function transposeInto(src: Float32Array | Float64Array, off: number, rows: number, cols: number, dst: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const o = off + r * cols;
    for (let j = 0; j < cols; j++) dst[j * rows + r] = src[o + j];
  }
}

function toFloat32(src: Float32Array | Float64Array, from: number, to: number): Float32Array {
  return src instanceof Float32Array ? src.subarray(from, to) : new Float32Array(src.subarray(from, to));
}

function batchChunks(batch: number, budget: number, bytesPerItem: number): Array<[number, number]> {
  const per = Math.max(1, Math.floor(budget / Math.max(1, bytesPerItem)));
  const chunks: Array<[number, number]> = [];
  for (let b0 = 0; b0 < batch; b0 += per) chunks.push([b0, Math.min(batch, b0 + per)]);
  return chunks;
}

function addInto(dst: Float64Array, offset: number, src: Float32Array): void {
  for (let i = 0; i < src.length; i++) dst[offset + i] += src[i];
}
