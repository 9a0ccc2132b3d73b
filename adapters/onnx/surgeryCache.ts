/**
 * The cache of modified graphs, kept in the user's cache and never in the model folder (a model
 * folder may be read-only, shared, or tracked by git). One folder per original graph, named by its
 * SHA-256, laid out as a model folder of its own so that transformers.js can load it:
 *
 *   <root>/<sha256[0:16]>/
 *     config.json, generation_config.json    copies of the model folder's (what transformers.js reads
 *                                            besides the graph), when it has them
 *     onnx/<name>.lockstep-hs-<sha16>.onnx   the modified graph
 *     onnx/<name>.lockstep-hs-<sha16>.json   its description, plus the checks once they passed;
 *                                            file names only, no paths
 *     onnx/<external data files>             hard links to the model's weights, never copies
 *
 * `<root>` is the `cacheDir` option (`--cache-dir`), else `$LOCKSTEP_CACHE/onnx`, else
 * `~/.cache/lockstep/onnx`. The weights are hard links because onnxruntime refuses external-data
 * locations that leave the graph's folder, symbolic links included; where a hard link is impossible
 * (another file system) the link is missing, the onnxruntime-node runner still reads the weights
 * from the model folder (`externalDataDir`), and transformers.js cannot load the graph.
 *
 * Owns: that folder. Must not: write into the model folder, decide the surgery (residualSurgery.ts)
 * or run graphs (surgeryChecks.ts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomic } from '../atomicFile.js';
import { modelFolderOf } from './modelLocation.js';
import { externalDataFiles, loadModel, spliceModel, type LoadedModel } from './onnxProto.js';
import { describeSurgery, planSurgery, SURGERY_VERSION, type SurgeryDescription, type SurgeryPlan } from './residualSurgery.js';

/** The files of a model folder that transformers.js reads besides the graph (AutoConfig, and a causal LM's optional generation config). */
const CONFIG_FILES = ['config.json', 'generation_config.json'];

/** The cache folder's sub-folder holding the graphs (transformers.js's `subfolder`). */
export const GRAPH_SUBFOLDER = 'onnx';

export interface CachedSurgery {
  /** The modified graph file. */
  file: string;
  /** The cache's model folder holding it (config copies, onnx/): what transformers.js loads. */
  folder: string;
  description: SurgeryDescription;
  /** True when an existing cache file with the same key was reused. */
  reused: boolean;
  /**
   * The original model's folder when the graph refers to external data: onnxruntime-node loads the
   * modified graph from memory with this folder as the external-data root, so it does not depend
   * on the hard links. Null for self-contained graphs.
   */
  externalDataDir: string | null;
  /** External-data files that could not be hard-linked into the cache folder (transformers.js then cannot load the graph). */
  unlinkedExternalData: string[];
  /** The cache's metadata file (the description, plus the checks once they passed). */
  metaFile: string;
  /** Results of the load-time checks recorded when they last passed on this exact modified graph. */
  recordedChecks: RecordedChecks | null;
}

export type PreparedSurgery = CachedSurgery & { loaded: LoadedModel; plan: SurgeryPlan };

/** What the load-time checks measured, kept in the cache metadata. */
export interface RecordedChecks {
  tokens: number[];
  hiddenSize: number;
  outputsMaxAbsDiff: number;
  logitsReconstructionMaxAbsDiff: number | null;
  logitsMaxAbs: number | null;
  outputsCompared: string[];
  /** ISO time of the check. */
  at: string;
}

interface CacheMeta extends SurgeryDescription {
  checks?: RecordedChecks;
}

/** Store passed checks next to the modified graph, so later opens can skip rerunning them. */
export function recordChecks(prepared: CachedSurgery, checks: RecordedChecks): void {
  const meta: CacheMeta = { ...prepared.description, checks };
  try {
    writeFileAtomic(prepared.metaFile, `${JSON.stringify(meta, null, 1)}\n`);
  } catch {
    // a read-only cache only costs rerunning the checks next time
  }
}

/** Where modified graphs are cached: `cacheDir`, else `$LOCKSTEP_CACHE/onnx`, else `~/.cache/lockstep/onnx`. */
export function surgeryCacheRoot(cacheDir?: string): string {
  if (cacheDir) return path.resolve(cacheDir);
  const env = process.env.LOCKSTEP_CACHE;
  return env ? path.resolve(env, 'onnx') : path.join(os.homedir(), '.cache', 'lockstep', 'onnx');
}

/** The cache folder of a graph and the modified graph's files in it. */
export function cachePaths(source: string, sha256: string, cacheDir?: string): { folder: string; onnx: string; meta: string } {
  const base = path.basename(source).replace(/\.onnx$/i, '');
  const key = sha256.slice(0, 16);
  const folder = path.join(surgeryCacheRoot(cacheDir), key);
  const graphDir = path.join(folder, GRAPH_SUBFOLDER);
  return { folder, onnx: path.join(graphDir, `${base}.lockstep-hs-${key}.onnx`), meta: path.join(graphDir, `${base}.lockstep-hs-${key}.json`) };
}

/** Copy the model folder's config files into the cache folder (rewritten only when they differ; a stale copy is removed). */
function mirrorConfigFiles(modelFolder: string, cacheFolder: string): void {
  for (const name of CONFIG_FILES) {
    const src = path.join(modelFolder, name);
    const dst = path.join(cacheFolder, name);
    const want = fs.existsSync(src) ? fs.readFileSync(src) : null;
    const have = fs.existsSync(dst) ? fs.readFileSync(dst) : null;
    if (want === null) {
      if (have !== null) fs.rmSync(dst);
    } else if (have === null || !have.equals(want)) {
      writeFileAtomic(dst, want);
    }
  }
}

/**
 * Hard-link the graph's external-data files from the model's graph folder into the cache's graph
 * folder, at the same relative locations (replacing a link to an older file). Locations that leave
 * the graph's folder are skipped: onnxruntime refuses them anyway.
 * @returns the locations that could not be linked
 */
function linkExternalData(locations: string[], modelGraphDir: string, cacheGraphDir: string): string[] {
  const unlinked: string[] = [];
  for (const location of locations) {
    const rel = path.normalize(location);
    if (path.isAbsolute(rel) || rel.split(path.sep)[0] === '..') continue;
    const src = path.join(modelGraphDir, rel);
    const dst = path.join(cacheGraphDir, rel);
    let srcStat: fs.Stats;
    try {
      srcStat = fs.statSync(src);
    } catch {
      continue; // missing weights: onnxruntime names the file when it loads the graph
    }
    try {
      const dstStat = fs.statSync(dst);
      if (dstStat.ino === srcStat.ino && dstStat.dev === srcStat.dev) continue;
    } catch {
      // not linked yet
    }
    const tmp = `${dst}.tmp-${process.pid}`;
    try {
      fs.mkdirSync(path.dirname(dst), { recursive: true });
      fs.rmSync(tmp, { force: true });
      fs.linkSync(src, tmp);
      fs.renameSync(tmp, dst);
    } catch {
      fs.rmSync(tmp, { force: true });
      unlinked.push(location);
    }
  }
  return unlinked;
}

/** The recorded checks of a cached modified graph that is exactly `bytes` for this source, or undefined when it must be (re)written. */
function reusableChecks(paths: { onnx: string; meta: string }, sha256: string, bytes: Uint8Array): RecordedChecks | null | undefined {
  if (!fs.existsSync(paths.onnx) || !fs.existsSync(paths.meta)) return undefined;
  try {
    const meta = JSON.parse(fs.readFileSync(paths.meta, 'utf8')) as CacheMeta;
    if (meta.version === SURGERY_VERSION && meta.sha256 === sha256 && fs.readFileSync(paths.onnx).equals(bytes)) return meta.checks ?? null;
  } catch {
    // unreadable metadata: rebuild
  }
  return undefined;
}

/**
 * Load `source`, run the walk, and write (or reuse) the modified graph in its cache folder.
 * @param opts.cacheDir the cache root (tests, `--cache-dir`); default `$LOCKSTEP_CACHE/onnx` or `~/.cache/lockstep/onnx`
 * @throws Error naming the file when the walk fails, or the cache folder when it cannot be written
 */
export function prepareSurgery(source: string, opts: { cacheDir?: string } = {}): PreparedSurgery {
  const loaded = loadModel(source);
  const paths = cachePaths(loaded.file, loaded.sha256, opts.cacheDir);
  const plan = planSurgery(loaded);
  const description = describeSurgery(loaded, plan);
  const dataFiles = externalDataFiles(loaded.model);
  const externalDataDir = dataFiles.length > 0 ? path.dirname(loaded.file) : null;
  // Splicing is a copy of the graph bytes, cheap next to loading the weights; comparing with the cached
  // file catches a stale or overwritten cache as well as a changed model.
  const bytes = spliceModel(loaded.bytes, plan.edit, loaded.file);
  const base = { file: paths.onnx, folder: paths.folder, description, externalDataDir, metaFile: paths.meta, loaded, plan };
  try {
    fs.mkdirSync(path.dirname(paths.onnx), { recursive: true });
    mirrorConfigFiles(modelFolderOf(loaded.file), paths.folder);
    const unlinkedExternalData = linkExternalData(dataFiles, path.dirname(loaded.file), path.dirname(paths.onnx));
    const checks = reusableChecks(paths, loaded.sha256, bytes);
    if (checks !== undefined) return { ...base, unlinkedExternalData, reused: true, recordedChecks: checks };
    writeFileAtomic(paths.onnx, bytes);
    writeFileAtomic(paths.meta, `${JSON.stringify(description, null, 1)}\n`);
    return { ...base, unlinkedExternalData, reused: false, recordedChecks: null };
  } catch (e) {
    throw new Error(`${paths.folder}: cannot write the modified graph of ${loaded.file} there (${(e as Error).message}); set LOCKSTEP_CACHE (or --cache-dir) to a writable folder`);
  }
}
