/**
 * The on-disk activation cache: per-word, per-layer features of one stimulus under one extraction
 * setting, written as they are computed and read back word by word.
 *
 * A cache lives in `<root>/<keyHash>/`, where keyHash is a SHA-256 of the key (model hash, text
 * hash, context, mode, layers and depths, aggregation, PCA setting, format version); any change of
 * the key gives a different folder, so stale features are never read. Files:
 *   raw.npy              float32 [words, layers, hidden]: raw activations, appended window by window
 *                        (header written up front with the final shape); removed after PCA unless kept
 *   meta.partial         float64 [words, 3]: surprisal (NaN = none), tokens per word, word tokens,
 *                        appended alongside raw.npy while extracting
 *   progress.json        resume point: rows and windows done, written (after fsync of the data)
 *                        every `checkpointEvery` words; a resumed run truncates the data files to it
 *   activations.npy      float32 [words, layers, dims]: PCA scores (dims = components); without PCA
 *                        the manifest names raw.npy instead
 *   targets.npy          float32 [layers, words, dims]: the same values in `lockstep decode`'s layout
 *   surprisal.npy        float64 [words] nats, NaN where unknown
 *   tokens_per_word.npy  float64 [words] tokens run through the model per word (amortised)
 *   words.tsv            index, story, word, content, tokens: one row per cached word, in order
 *   pca_mean.npy         float64 [layers, hidden]; pca_components.npy float64 [layers, dims, hidden];
 *   pca_explained_variance.npy float64 [layers, dims] (only with PCA)
 *   manifest.json        the key and shapes, written last: its presence means the cache is complete
 * Every file is a deterministic function of the key and the model's output (no timestamps), so an
 * interrupted and resumed extraction leaves byte-identical files.
 *
 * PCA runs as a second pass over raw.npy in blocks of rows (mean, then centred scatter, then
 * projection), so raw activations are never all in memory at once; only the PCA scores
 * (words × layers × dims) are.
 *
 * With a basis fixed before extraction (key.pcaFit `sample:N` or `reference:…`, pcaBasis.ts), the
 * basis files (and pca_basis.json) are written first and every window's words are projected before
 * they are appended: the rows go straight to activations.npy (no raw.npy), features stream in
 * stimulus order, and a resumed run reads its checkpointed rows back with `readBack`.
 *
 * Owns: the file layout, checkpoints and block-wise PCA passes. Must not: run the model.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LinalgBackend } from '../../src/linalg/backend.js';
import { ReferenceBackend } from '../../src/linalg/reference.js';
import { decodeNpyData, encodeNpyData, npyHeaderBytes } from '../../src/npy.js';
import { fitFromScatter, flipComponents, MeanAccumulator, project, ScatterAccumulator, SignTracker, type PcaFit } from '../../src/llm/pca.js';
import { writeFileAtomic } from '../atomicFile.js';
import { openNpyFile, readNpyFile, writeNpyFile } from '../npyFile.js';
import type { Aggregation, RawWordFeatures } from './extractor.js';
import type { WordActivations } from '../../src/types.js';

export const CACHE_FORMAT = 'lockstep-activations';
export const CACHE_VERSION = 1;

export interface CacheKey {
  modelHash: string;
  textHash: string;
  /** Context in words (method §3). */
  context: number;
  mode: 'exact' | 'chunked';
  /** Words per block in chunked mode (null or absent in exact mode). */
  chunkWords?: number | null;
  layers: number[];
  depths: number[];
  aggregate: Aggregation;
  /** Number of PCA components, or 'none' for raw hidden dimensions. */
  pca: number | 'none';
  /** BOS token id put before every window, or null (absent counts as null). */
  bosTokenId?: number | null;
  /**
   * How the PCA basis is fit (pcaBasis.ts): absent or `all` = on all words after extraction (the
   * original key, so caches made before this field keep their folder); `sample:N`;
   * `reference:N@<basis hash>`.
   */
  pcaFit?: string;
}

/** What the extraction will produce, known before the first forward pass. */
export interface CachePlan {
  /** Stimulus word index of every row, in the order rows are written. */
  rowWords: number[];
  nWindows: number;
  nBlocks: number;
  hiddenSize: number;
  /** A hash of the windows (story, token range, targets): a checkpoint resumes only the same plan. */
  windowsHash: string;
  /**
   * Set when rows arrive already projected on a fixed basis: dims per layer. The rows then go to
   * activations.npy [words, layers, dims] instead of raw.npy.
   */
  projectedDims?: number;
}

export interface CacheManifest {
  format: typeof CACHE_FORMAT;
  version: number;
  key: CacheKey;
  keyHash: string;
  nWords: number;
  nBlocks: number;
  hiddenSize: number;
  layers: number[];
  depths: number[];
  /** Dimensions per layer in activations.npy. */
  nDims: number;
  files: {
    /** [words, layers, dims], read word by word. */
    activations: string;
    /** The same values as [layers, words, dims]: `lockstep decode --targets`'s layout. */
    targets: string;
    surprisal: string;
    tokensPerWord: string;
    words: string;
    raw: string | null;
    pca: { mean: string; components: string; explainedVariance: string } | null;
  };
  /** Mean over words of tokens run through the model per word. */
  meanTokensPerWord: number;
  /** Words with no surprisal (first words of stories without BOS, zero context, or no LM head). */
  wordsWithoutSurprisal: number;
  /** Fraction of each layer's variance the kept components explain (null without PCA). */
  explainedVarianceRatio: number[] | null;
}

export interface CachedWord {
  index: number;
  story: number;
  word: string;
  isContent?: boolean;
  tokens: number;
}

const RAW = 'raw.npy';
const ACTIVATIONS = 'activations.npy';
const META = 'meta.partial';
const PROGRESS = 'progress.json';
const MANIFEST = 'manifest.json';
const LOCK = 'writer.lock';
const TARGETS = 'targets.npy';
/** Memory for the scatter matrices of one PCA pass (see pcaPasses). */
const SCATTER_BUDGET_BYTES = 512 * 2 ** 20;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the folder's writer lock (a file holding the pid), so two extractions never write one cache.
 * A lock left by a process that no longer runs (a crash) is taken over.
 */
function takeLock(dir: string): string {
  const file = path.join(dir, LOCK);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      return file;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(fs.readFileSync(file, 'utf8'));
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) {
        throw new Error(`${dir}: another extraction (pid ${pid}) is writing this cache; wait for it, or delete ${file} if that process is not lockstep`);
      }
      fs.rmSync(file, { force: true });
    }
  }
  throw new Error(`${dir}: cannot take the writer lock ${file}`);
}
const META_COLS = 3;

/** Canonical JSON of the key (fixed field order), hashed. */
export function cacheKeyHash(key: CacheKey): string {
  const canonical = JSON.stringify({
    format: CACHE_FORMAT,
    version: CACHE_VERSION,
    modelHash: key.modelHash,
    textHash: key.textHash,
    context: key.context,
    mode: key.mode,
    chunkWords: key.chunkWords ?? null,
    layers: key.layers,
    depths: key.depths,
    aggregate: key.aggregate,
    pca: key.pca,
    bosTokenId: key.bosTokenId ?? null,
    ...(key.pcaFit && key.pcaFit !== 'all' ? { pcaFit: key.pcaFit } : {}),
  });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 24);
}

export function cacheDirFor(root: string, key: CacheKey): string {
  return path.join(root, cacheKeyHash(key));
}

function planHash(plan: CachePlan): string {
  return createHash('sha256').update(JSON.stringify(plan)).digest('hex');
}

function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 1) + '\n');
}

/** The manifest of a complete cache in `dir`, or null when there is none (or it is for another key). */
export function readCompleteManifest(dir: string, key?: CacheKey): CacheManifest | null {
  const file = path.join(dir, MANIFEST);
  if (!fs.existsSync(file)) return null;
  let m: CacheManifest;
  try {
    m = JSON.parse(fs.readFileSync(file, 'utf8')) as CacheManifest;
  } catch (e) {
    throw new Error(`${file}: not a readable activation-cache manifest (${(e as Error).message}); delete the folder to recompute it`);
  }
  if (m.format !== CACHE_FORMAT || m.version !== CACHE_VERSION) {
    throw new Error(`${file}: format ${m.format} v${m.version}, expected ${CACHE_FORMAT} v${CACHE_VERSION}; delete the folder to recompute it`);
  }
  if (key && m.keyHash !== cacheKeyHash(key)) return null;
  return m;
}

interface Progress {
  keyHash: string;
  planHash: string;
  rowsDone: number;
  windowsDone: number;
}

export interface FinishOptions {
  backend?: LinalgBackend;
  blockRows?: number;
  keepRaw?: boolean;
  onPass?: (pass: string, rowsDone: number) => void;
  /** With projected rows: each layer's fraction of variance the fixed basis explains (on its own words). */
  explainedVarianceRatio?: number[];
}

export interface WriterOptions {
  /** Checkpoint after at least this many new words (at a window boundary). Default 256. */
  checkpointEvery?: number;
}

/**
 * Writes one cache. Open it, `append` each window's words in order, then `finish`.
 * When the folder holds a checkpoint for the same key and plan, `resumeWindow` says where to
 * continue and the data files are cut back to that checkpoint.
 */
export class ActivationCacheWriter {
  readonly dir: string;
  readonly keyHash: string;
  /** The first window still to compute (0 for a fresh cache). */
  readonly resumeWindow: number;
  /** Rows already in the files from a previous run. */
  readonly resumedRows: number;
  private rowsDone: number;
  private windowsDone: number;
  private sinceCheckpoint = 0;
  private rawFd: number;
  private metaFd: number;
  private readonly rawHeaderBytes: number;
  private readonly rowFloats: number;
  private readonly checkpointEvery: number;
  private readonly planHashValue: string;
  private readonly lockFile: string;
  /** raw.npy, or activations.npy when rows arrive projected. */
  private readonly dataFile: string;

  constructor(
    root: string,
    readonly key: CacheKey,
    readonly plan: CachePlan,
    opts: WriterOptions = {},
  ) {
    this.keyHash = cacheKeyHash(key);
    this.dir = path.join(root, this.keyHash);
    this.checkpointEvery = opts.checkpointEvery ?? 256;
    this.planHashValue = planHash(plan);
    const width = plan.projectedDims ?? plan.hiddenSize;
    this.rowFloats = key.layers.length * width;
    this.dataFile = plan.projectedDims !== undefined ? ACTIVATIONS : RAW;
    fs.mkdirSync(this.dir, { recursive: true });
    this.lockFile = takeLock(this.dir);
    const header = npyHeaderBytes('float32', [plan.rowWords.length, key.layers.length, width]);
    this.rawHeaderBytes = header.length;

    let progress: Progress | null = null;
    const pFile = path.join(this.dir, PROGRESS);
    if (fs.existsSync(pFile) && fs.existsSync(path.join(this.dir, this.dataFile)) && fs.existsSync(path.join(this.dir, META))) {
      try {
        const p = JSON.parse(fs.readFileSync(pFile, 'utf8')) as Progress;
        if (p.keyHash === this.keyHash && p.planHash === this.planHashValue) progress = p;
      } catch {
        progress = null; // a torn checkpoint cannot happen (atomic rename); anything unreadable restarts
      }
    }
    fs.rmSync(path.join(this.dir, MANIFEST), { force: true });
    if (progress) {
      const rawBytes = this.rawHeaderBytes + progress.rowsDone * this.rowFloats * 4;
      const metaBytes = progress.rowsDone * META_COLS * 8;
      if (fs.statSync(path.join(this.dir, this.dataFile)).size < rawBytes || fs.statSync(path.join(this.dir, META)).size < metaBytes) progress = null;
    }
    if (progress) {
      this.rawFd = fs.openSync(path.join(this.dir, this.dataFile), 'r+');
      this.metaFd = fs.openSync(path.join(this.dir, META), 'r+');
      fs.ftruncateSync(this.rawFd, this.rawHeaderBytes + progress.rowsDone * this.rowFloats * 4);
      fs.ftruncateSync(this.metaFd, progress.rowsDone * META_COLS * 8);
      this.rowsDone = progress.rowsDone;
      this.windowsDone = progress.windowsDone;
    } else {
      for (const f of fs.readdirSync(this.dir)) if (f !== LOCK) fs.rmSync(path.join(this.dir, f), { force: true, recursive: true });
      this.rawFd = fs.openSync(path.join(this.dir, this.dataFile), 'w+');
      this.metaFd = fs.openSync(path.join(this.dir, META), 'w+');
      fs.writeSync(this.rawFd, header, 0, header.length, 0);
      this.rowsDone = 0;
      this.windowsDone = 0;
    }
    this.resumeWindow = this.windowsDone;
    this.resumedRows = this.rowsDone;
  }

  get rows(): number {
    return this.rowsDone;
  }

  /** True when the folder resumed a checkpoint (its basis files, if any, are the ones to use). */
  get resumed(): boolean {
    return this.resumedRows > 0 || this.resumeWindow > 0;
  }

  /** Rows [0, n) already in the data file (n ≤ rows), as [row][layer][width] float32. */
  readBack(n: number): Float32Array {
    if (n > this.rowsDone) throw new RangeError(`activation cache ${this.dir}: ${n} rows asked, ${this.rowsDone} written`);
    const out = new Float32Array(n * this.rowFloats);
    const bytes = new Uint8Array(out.buffer);
    let done = 0;
    while (done < bytes.length) {
      const got = fs.readSync(this.rawFd, bytes, done, bytes.length - done, this.rawHeaderBytes + done);
      if (got === 0) throw new Error(`activation cache ${this.dir}: ${this.dataFile} ends before row ${n}`);
      done += got;
    }
    decodeNpyData(bytes.slice(), out);
    return out;
  }

  /** Appends the words of window `windowIndex` (which must be the next window). */
  append(windowIndex: number, words: readonly RawWordFeatures[]): void {
    if (windowIndex !== this.windowsDone) throw new Error(`activation cache ${this.dir}: window ${windowIndex} appended, expected window ${this.windowsDone}`);
    const rowBytes = this.rowFloats * 4;
    for (const w of words) {
      const expected = this.plan.rowWords[this.rowsDone];
      if (w.wordIndex !== expected) throw new Error(`activation cache ${this.dir}: row ${this.rowsDone} is word ${w.wordIndex}, the plan expects word ${expected}`);
      if (w.activations.length !== this.rowFloats) throw new Error(`activation cache ${this.dir}: word ${w.wordIndex} has ${w.activations.length} values, expected ${this.rowFloats}`);
      // encodeNpyData: little-endian bytes (a view of the array on little-endian hosts).
      writeAll(this.rawFd, encodeNpyData(w.activations), this.rawHeaderBytes + this.rowsDone * rowBytes);
      const meta = new Float64Array([w.surprisalNats ?? NaN, w.tokensPerWord, w.wordTokenCount]);
      writeAll(this.metaFd, encodeNpyData(meta), this.rowsDone * META_COLS * 8);
      this.rowsDone++;
      this.sinceCheckpoint++;
    }
    this.windowsDone++;
    if (this.sinceCheckpoint >= this.checkpointEvery) this.checkpoint();
  }

  /** Flushes the data to disk, then records the resume point. */
  checkpoint(): void {
    fs.fsyncSync(this.rawFd);
    fs.fsyncSync(this.metaFd);
    const p: Progress = { keyHash: this.keyHash, planHash: this.planHashValue, rowsDone: this.rowsDone, windowsDone: this.windowsDone };
    writeJsonAtomic(path.join(this.dir, PROGRESS), p);
    this.sinceCheckpoint = 0;
  }

  /** Closes the files without finishing (the checkpoint stays for a later resume). */
  abandon(): void {
    this.closeFiles();
    fs.rmSync(this.lockFile, { force: true });
  }

  /** Closes the data files once (a closed fd number may be reused by the next open, so never twice). */
  private closeFiles(): void {
    if (this.rawFd >= 0) closeQuietly(this.rawFd);
    if (this.metaFd >= 0) closeQuietly(this.metaFd);
    this.rawFd = -1;
    this.metaFd = -1;
  }

  /**
   * Completes the cache: PCA (when the key asks for it) in block-wise passes over raw.npy, then the
   * per-word files and, last, the manifest.
   */
  async finish(words: readonly CachedWord[], opts: FinishOptions = {}): Promise<CacheManifest> {
    try {
      return await this.finishFiles(words, opts);
    } finally {
      this.closeFiles();
      fs.rmSync(this.lockFile, { force: true });
    }
  }

  private async finishFiles(words: readonly CachedWord[], opts: FinishOptions): Promise<CacheManifest> {
    const n = this.plan.rowWords.length;
    if (this.rowsDone !== n) throw new Error(`activation cache ${this.dir}: ${this.rowsDone} of ${n} words written; cannot finish`);
    if (words.length !== n) throw new Error(`activation cache ${this.dir}: ${words.length} word descriptions for ${n} rows`);
    this.checkpoint();
    this.closeFiles();
    const dir = this.dir;
    const nL = this.key.layers.length;
    const H = this.plan.hiddenSize;

    const meta = readMeta(path.join(dir, META), n);
    const surprisal = new Float64Array(n);
    const tokensPerWord = new Float64Array(n);
    for (let r = 0; r < n; r++) {
      surprisal[r] = meta[r * META_COLS];
      tokensPerWord[r] = meta[r * META_COLS + 1];
    }
    writeNpyFile(path.join(dir, 'surprisal.npy'), surprisal, [n]);
    writeNpyFile(path.join(dir, 'tokens_per_word.npy'), tokensPerWord, [n]);
    fs.writeFileSync(
      path.join(dir, 'words.tsv'),
      'index\tstory\tword\tcontent\ttokens\n' +
        words.map((w, r) => `${w.index}\t${w.story}\t${w.word.replace(/[\t\r\n]/g, ' ')}\t${w.isContent === undefined ? 'n/a' : w.isContent ? '1' : '0'}\t${meta[r * META_COLS + 2]}`).join('\n') +
        '\n',
    );

    let nDims = H;
    let pcaFiles: CacheManifest['files']['pca'] = null;
    let explainedVarianceRatio: number[] | null = null;
    let activationsFile = RAW;
    let rawFile: string | null = RAW;
    if (this.plan.projectedDims !== undefined) {
      // Rows were projected on a fixed basis as they came (its files are already in the folder).
      nDims = this.plan.projectedDims;
      activationsFile = ACTIVATIONS;
      rawFile = null;
      pcaFiles = { mean: 'pca_mean.npy', components: 'pca_components.npy', explainedVariance: 'pca_explained_variance.npy' };
      explainedVarianceRatio = opts.explainedVarianceRatio ?? null;
    } else if (this.key.pca !== 'none') {
      const fits = await pcaPasses(path.join(dir, RAW), this.key.pca, opts.backend ?? new ReferenceBackend(), opts.blockRows ?? 256, opts.onPass);
      nDims = fits.fits[0].nComponents;
      writeNpyFile(path.join(dir, ACTIVATIONS), fits.scores, [n, nL, nDims]);
      const means = new Float64Array(nL * H);
      const comps = new Float64Array(nL * nDims * H);
      const ev = new Float64Array(nL * nDims);
      fits.fits.forEach((f, l) => {
        means.set(f.mean, l * H);
        comps.set(f.components, l * nDims * H);
        ev.set(f.explainedVariance, l * nDims);
      });
      writeNpyFile(path.join(dir, 'pca_mean.npy'), means, [nL, H]);
      writeNpyFile(path.join(dir, 'pca_components.npy'), comps, [nL, nDims, H]);
      writeNpyFile(path.join(dir, 'pca_explained_variance.npy'), ev, [nL, nDims]);
      pcaFiles = { mean: 'pca_mean.npy', components: 'pca_components.npy', explainedVariance: 'pca_explained_variance.npy' };
      explainedVarianceRatio = fits.fits.map((f) => f.explainedVarianceRatio.reduce((a, b) => a + b, 0));
      activationsFile = ACTIVATIONS;
      if (!opts.keepRaw) {
        fs.rmSync(path.join(dir, RAW), { force: true });
        rawFile = null;
      }
    }
    writeLayerMajor(path.join(dir, activationsFile), path.join(dir, TARGETS), opts.blockRows ?? 256);
    fs.rmSync(path.join(dir, META), { force: true });
    fs.rmSync(path.join(dir, PROGRESS), { force: true });

    let sumTpw = 0;
    let noSurprisal = 0;
    for (let r = 0; r < n; r++) {
      sumTpw += tokensPerWord[r];
      if (Number.isNaN(surprisal[r])) noSurprisal++;
    }
    const manifest: CacheManifest = {
      format: CACHE_FORMAT,
      version: CACHE_VERSION,
      key: this.key,
      keyHash: this.keyHash,
      nWords: n,
      nBlocks: this.plan.nBlocks,
      hiddenSize: H,
      layers: this.key.layers,
      depths: this.key.depths,
      nDims,
      files: { activations: activationsFile, targets: TARGETS, surprisal: 'surprisal.npy', tokensPerWord: 'tokens_per_word.npy', words: 'words.tsv', raw: rawFile, pca: pcaFiles },
      meanTokensPerWord: n > 0 ? sumTpw / n : 0,
      wordsWithoutSurprisal: noSurprisal,
      explainedVarianceRatio,
    };
    writeJsonAtomic(path.join(dir, MANIFEST), manifest);
    return manifest;
  }
}

/**
 * Writes [words, layers, dims] float32 `src` transposed to [layers, words, dims] at `dst`, reading
 * `blockRows` words at a time and writing each layer's slice of the block at its place in `dst`.
 */
export function writeLayerMajor(src: string, dst: string, blockRows: number): void {
  const input = openNpyFile(src);
  try {
    const [n, nL, D] = input.shape;
    if (input.shape.length !== 3 || input.dtype !== 'float32') throw new Error(`${src}: expected float32 [words, layers, dims], got ${input.dtype} [${input.shape.join(', ')}]`);
    writeFileAtomic(dst, (fd) => {
      const header = npyHeaderBytes('float32', [nL, n, D]);
      writeAll(fd, header, 0);
      const slice = new Float32Array(blockRows * D);
      for (let first = 0; first < n; first += blockRows) {
        const rows = Math.min(blockRows, n - first);
        const block = input.read(first * nL * D, rows * nL * D);
        for (let l = 0; l < nL; l++) {
          for (let r = 0; r < rows; r++) for (let j = 0; j < D; j++) slice[r * D + j] = block[(r * nL + l) * D + j];
          writeAll(fd, encodeNpyData(slice.subarray(0, rows * D)), header.length + (l * n + first) * D * 4);
        }
      }
    });
  } finally {
    input.close();
  }
}

function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done, position + done);
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    /* already closed */
  }
}

function readMeta(file: string, n: number): Float64Array {
  const buf = fs.readFileSync(file);
  if (buf.length !== n * META_COLS * 8) throw new Error(`${file}: ${buf.length} bytes, expected ${n * META_COLS * 8} for ${n} words`);
  const out = new Float64Array(n * META_COLS);
  decodeNpyData(new Uint8Array(buf.buffer, buf.byteOffset, buf.length), out);
  return out;
}

/**
 * PCA per layer over raw.npy ([words, layers, hidden] float32), reading `blockRows` words at a time:
 * pass 1 means, pass 2 centred scatter, eigendecomposition, pass 3 scores; then svd_flip signs.
 */
export async function pcaPasses(
  rawPath: string,
  nComponents: number,
  backend: LinalgBackend,
  blockRows: number,
  onPass?: (pass: string, rowsDone: number) => void,
  scatterBudgetBytes = SCATTER_BUDGET_BYTES,
): Promise<{ fits: PcaFit[]; scores: Float32Array }> {
  const raw = openNpyFile(rawPath);
  try {
    const [n, nL, H] = raw.shape;
    if (raw.shape.length !== 3 || raw.dtype !== 'float32') throw new Error(`${rawPath}: expected float32 [words, layers, hidden], got ${raw.dtype} [${raw.shape.join(', ')}]`);
    const rowFloats = nL * H;
    const eachBlock = async (pass: string, f: (block: Float32Array | Float64Array, rows: number, first: number) => void | Promise<void>) => {
      for (let first = 0; first < n; first += blockRows) {
        const rows = Math.min(blockRows, n - first);
        await f(raw.read(first * rowFloats, rows * rowFloats), rows, first);
        onPass?.(pass, first + rows);
      }
    };
    const means = Array.from({ length: nL }, () => new MeanAccumulator(H));
    await eachBlock('pca-mean', (b, rows) => means.forEach((m, l) => m.add(b, rows, l * H, rowFloats)));
    // One H×H float64 scatter per layer: for wide models (H = 4096: 134 MB each) the layers are
    // done a group at a time, within scatterBudgetBytes, at the cost of one more read per group.
    const perGroup = Math.max(1, Math.floor(scatterBudgetBytes / (H * H * 8)));
    const fits: PcaFit[] = [];
    for (let g0 = 0; g0 < nL; g0 += perGroup) {
      const group = Array.from({ length: Math.min(perGroup, nL - g0) }, (_, i) => g0 + i);
      const scatters = group.map((l) => new ScatterAccumulator(means[l].mean(), backend));
      await eachBlock('pca-scatter', async (b, rows) => {
        for (let i = 0; i < group.length; i++) await scatters[i].add(b, rows, group[i] * H, rowFloats);
      });
      for (const sc of scatters) fits.push(await fitFromScatter(sc.scatter, sc.mean, n, nComponents, backend));
    }
    const k = fits[0].nComponents;
    const scores = new Float64Array(n * nL * k);
    const trackers = fits.map(() => new SignTracker(k));
    const layerScores = new Float64Array(blockRows * k);
    await eachBlock('pca-project', (b, rows, first) => {
      for (let l = 0; l < nL; l++) {
        project(fits[l], b, rows, layerScores, l * H, rowFloats);
        trackers[l].add(layerScores, rows);
        for (let r = 0; r < rows; r++) for (let c = 0; c < k; c++) scores[((first + r) * nL + l) * k + c] = layerScores[r * k + c];
      }
    });
    const out = new Float32Array(n * nL * k);
    fits.forEach((fit, l) => {
      const signs = trackers[l].signs();
      flipComponents(fit, signs);
      for (let r = 0; r < n; r++) {
        for (let c = 0; c < k; c++) {
          const i = (r * nL + l) * k + c;
          out[i] = signs[c] < 0 ? -scores[i] : scores[i];
        }
      }
    });
    return { fits, scores: out };
  } finally {
    raw.close();
  }
}

/** A complete cache opened for reading: word descriptions up front, activations streamed in blocks. */
export interface ActivationCacheReader {
  dir: string;
  manifest: CacheManifest;
  words: CachedWord[];
  surprisal: Float64Array;
  tokensPerWord: Float64Array;
  /** Yields the words in order, reading `blockRows` rows of activations.npy at a time. */
  rows(blockRows?: number): Generator<WordActivations>;
}

/**
 * Opens a complete cache folder (one that has manifest.json).
 * @throws Error naming the folder when it is incomplete or its files disagree with the manifest
 */
export function openActivationCache(dir: string): ActivationCacheReader {
  const manifest = readCompleteManifest(dir);
  if (!manifest) {
    const hint = fs.existsSync(path.join(dir, PROGRESS)) ? 'an extraction into it was interrupted; rerun the same `lockstep extract` to resume it' : 'run `lockstep extract` first';
    throw new Error(`${dir}: not a complete activation cache (no manifest.json); ${hint}`);
  }
  const n = manifest.nWords;
  const surprisal = readNpyFile(path.join(dir, manifest.files.surprisal)).data as Float64Array;
  const tokensPerWord = readNpyFile(path.join(dir, manifest.files.tokensPerWord)).data as Float64Array;
  if (surprisal.length !== n || tokensPerWord.length !== n) throw new Error(`${dir}: surprisal/tokens-per-word files do not hold ${n} words as the manifest says; delete the folder to recompute it`);
  const lines = fs.readFileSync(path.join(dir, manifest.files.words), 'utf8').split('\n').filter((l) => l.length > 0);
  const words: CachedWord[] = lines.slice(1).map((line, i) => {
    const [index, story, word, content, tokens] = line.split('\t');
    if (tokens === undefined) throw new Error(`${path.join(dir, manifest.files.words)}, line ${i + 2}: expected 5 tab-separated fields`);
    return { index: Number(index), story: Number(story), word, isContent: content === 'n/a' ? undefined : content === '1', tokens: Number(tokens) };
  });
  if (words.length !== n) throw new Error(`${path.join(dir, manifest.files.words)}: ${words.length} words, the manifest says ${n}`);
  const actPath = path.join(dir, manifest.files.activations);
  const nL = manifest.layers.length;
  const D = manifest.nDims;
  return {
    dir,
    manifest,
    words,
    surprisal,
    tokensPerWord,
    *rows(blockRows = 256) {
      const file = openNpyFile(actPath);
      try {
        if (file.shape.join(',') !== [n, nL, D].join(',')) throw new Error(`${actPath}: shape [${file.shape.join(', ')}], the manifest says [${n}, ${nL}, ${D}]; delete the folder to recompute it`);
        for (let first = 0; first < n; first += blockRows) {
          const rows = Math.min(blockRows, n - first);
          const block = file.read(first * nL * D, rows * nL * D) as Float32Array;
          for (let r = 0; r < rows; r++) {
            const i = first + r;
            const w = words[i];
            yield {
              wordIndex: w.index,
              word: w.word,
              layers: manifest.layers,
              depths: manifest.depths,
              nDims: D,
              activations: block.slice(r * nL * D, (r + 1) * nL * D),
              surprisalNats: Number.isNaN(surprisal[i]) ? null : surprisal[i],
              tokensPerWord: tokensPerWord[i],
              isContent: w.isContent,
            };
          }
        }
      } finally {
        file.close();
      }
    },
  };
}
