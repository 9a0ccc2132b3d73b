/**
 * Extraction speed with exact context (one window of N previous words per word) over the first
 * WORDS words of Moby Dick, on the built-in model or on a GPT-2-small-shaped model with random
 * weights (12 blocks, hidden 768, 12 heads, vocab 50257, written to a temporary folder by the
 * ONNX builder and removed afterwards; the built-in tokenizer reads the text). Prints JSON lines:
 *
 * - `sameBatches`: onnxruntime's raw forward throughput against the extractor's, on the same
 *   padded batches in the same worker threads and the same process: raw = `session.run` with the
 *   same feeds and fetches and nothing read back (ExtractionPool.forwardOnly); extractor = windows
 *   prepared, passes, per-word vectors (mean over tokens, surprisal), transfer and ordering
 *   (poolExtractWords). Rounds alternate the two; the ratio is per round (the machine is shared:
 *   compare within one run), with its median.
 * - `extract`: whole `lockstep extract` runs into fresh caches (PCA 50, all-words fit): batched on
 *   the worker pool, and (built-in model, or --unbatched) one window per pass in this thread, the
 *   path before batching.
 *
 * - `live` (--live): words fed one by one at speech pace (--word-interval, default 0.3 s) to the
 *   live extractor (adapters/llm/liveFeatures.ts: each word its own pass, reference basis of
 *   --reference-words words fit first), latency from a word's arrival to its features; an epoch is
 *   complete 3.68 s after its word's onset.
 *
 * `sameBatches` measures the windows of words [skip, skip + WORDS) (default skip = the context: the
 * first N words of a story have shorter windows); `extract` runs on the first WORDS words.
 *
 * Usage: node dist/bench/llmExtract.js [--model builtin|gpt2-small|<folder>] [--words 600]
 *   [--context 50] [--skip N] [--rounds 3] [--batch-tokens 4096] [--workers N] [--unbatched] [--no-extract]
 *   [--no-same-batches] [--live [--live-words 100] [--word-interval 0.3] [--reference-words 200]]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openExtractionSession, prepareStimulus, runExtract } from '../adapters/llm/extract.js';
import { LiveFeatureTable } from '../adapters/llm/liveFeatures.js';
import { parsePcaFit } from '../adapters/llm/pcaBasis.js';
import { builtinWords } from '../adapters/text/builtinText.js';
import { poolExtractWords } from '../adapters/llm/extractionPool.js';
import { prepareWindow, StimulusIndex } from '../adapters/llm/extractor.js';
import { planWindowBatches } from '../adapters/llm/windowBatches.js';
import { builtinModelDir } from '../adapters/onnx/builder/builtinModel.js';
import { writeModelFolder } from '../adapters/onnx/builder/modelFolder.js';
import { buildTinyCausalLM } from '../adapters/onnx/builder/tinyCausalLM.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
};
const flag = (name: string): boolean => args.includes(`--${name}`);
const modelArg = opt('model', 'builtin');
const words = Number(opt('words', '600'));
const context = Number(opt('context', '50'));
const rounds = Number(opt('rounds', '3'));
const batchTokens = Number(opt('batch-tokens', '4096'));
const workers = args.includes('--workers') ? Number(opt('workers', '2')) : undefined;
const skip = Number(opt('skip', String(context)));

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lockstep-bench-extract-'));
// The surgery's modified graph and every cache go to the temporary folder.
process.env.LOCKSTEP_CACHE = path.join(tmp, 'cache');
const machine = () => ({ cpus: os.cpus().length, cpu: os.cpus()[0]?.model.trim(), loadavg1: Number(os.loadavg()[0]!.toFixed(2)), node: process.version });
const print = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);

/** A GPT-2-small-shaped model folder with seeded random weights and the built-in tokenizer. */
function gpt2SmallFolder(dir: string): string {
  const t0 = performance.now();
  const lm = buildTinyCausalLM({ family: 'gpt2', layers: 12, hidden: 768, heads: 12, vocab: 50257, maxPositions: 1024, kvCache: true, externalData: true, seed: 1 });
  const tokDir = builtinModelDir();
  writeModelFolder(dir, {
    onnx: lm.model,
    externalData: lm.externalData,
    config: lm.config,
    tokenizerJson: fs.readFileSync(path.join(tokDir, 'tokenizer.json'), 'utf8'),
    tokenizerConfig: JSON.parse(fs.readFileSync(path.join(tokDir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>,
  });
  print({ bench: 'build', model: 'gpt2-small (random weights)', seconds: (performance.now() - t0) / 1000 });
  return dir;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

try {
  const model = modelArg === 'builtin' ? builtinModelDir() : modelArg === 'gpt2-small' ? gpt2SmallFolder(path.join(tmp, 'gpt2-small')) : modelArg;
  const label = modelArg === 'builtin' ? 'lockstep-moby-gpt2 (built-in)' : modelArg === 'gpt2-small' ? 'gpt2-small-shaped (random weights)' : path.basename(model);
  const stimulus = { text: 'builtin', maxWords: words, context, mode: 'exact' as const, aggregate: 'mean' as const, pca: 50, out: path.join(tmp, 'activations') };

  // ---- raw onnxruntime vs the extractor, same batches, same workers
  const session = flag('no-same-batches') ? null : await openExtractionSession({ model, workers, batchTokens });
  if (session) try {
    const pool = session.pool;
    if (!pool) throw new Error(`${model}: the graph takes no batch; nothing to compare`);
    const prepared = await prepareStimulus(session, { ...stimulus, maxWords: skip + words });
    const windows = prepared.plan.windows.slice(skip);
    const bos = session.loaded.tokenizer.bosTokenId;
    const opts = { layers: prepared.layers, aggregate: 'mean' as const, bosTokenId: bos ?? undefined };
    const batches = planWindowBatches(windows, { maxBatchTokens: batchTokens, prependBos: bos !== null });
    const index = new StimulusIndex(prepared.stories);
    const preparedBatches = batches.map((b) => b.map((i) => prepareWindow(index, windows[i]!, opts, pool.recipe.vocabSize)));
    const nWords = windows.reduce((n, w) => n + w.targetWords.length, 0);
    const raw = async () => {
      const t0 = performance.now();
      const ahead = 2 * pool.workers;
      const inFlight: Promise<void>[] = [];
      for (const b of preparedBatches) {
        inFlight.push(pool.forwardOnly(b, prepared.layers));
        if (inFlight.length >= ahead) await inFlight.shift();
      }
      await Promise.all(inFlight);
      return (performance.now() - t0) / 1000;
    };
    const extractor = async () => {
      const t0 = performance.now();
      let n = 0;
      for await (const w of poolExtractWords(pool, prepared.stories, windows, opts, batches)) n += w.words.length;
      if (n !== nWords) throw new Error(`extracted ${n} words, expected ${nWords}`);
      return (performance.now() - t0) / 1000;
    };
    // Warm-up: each session's first passes allocate.
    await Promise.all(preparedBatches.slice(0, 2 * pool.workers).map((b) => pool.forwardOnly(b, prepared.layers)));
    const perRound: { rawWordsPerSec: number; extractorWordsPerSec: number; ratio: number }[] = [];
    for (let r = 0; r < rounds; r++) {
      const [a, b] = r % 2 === 0 ? [await raw(), await extractor()] : [0, 0];
      const [c, d] = r % 2 === 1 ? [await extractor(), await raw()] : [b, a];
      const rawSec = r % 2 === 0 ? a : d;
      const extSec = r % 2 === 0 ? b : c;
      perRound.push({ rawWordsPerSec: nWords / rawSec, extractorWordsPerSec: nWords / extSec, ratio: rawSec / extSec });
    }
    const tokens = preparedBatches.flat().reduce((n, p) => n + p.ids.length, 0);
    const padded = batches.reduce((n, b) => n + b.length * Math.max(...b.map((i) => windows[i]!.tokenStop - windows[i]!.tokenStart + (bos !== null ? 1 : 0))), 0);
    print({
      bench: 'sameBatches',
      model: label,
      nBlocks: session.loaded.model.nBlocks,
      hiddenSize: session.loaded.model.hiddenSize,
      words: nWords,
      context,
      windows: windows.length,
      batches: batches.length,
      batchTokens,
      tokensPerWord: tokens / nWords,
      paddingFraction: 1 - tokens / padded,
      compute: session.compute,
      rounds: perRound.map((x) => ({ raw: Number(x.rawWordsPerSec.toFixed(1)), extractor: Number(x.extractorWordsPerSec.toFixed(1)), ratio: Number(x.ratio.toFixed(3)) })),
      medianRatio: Number(median(perRound.map((x) => x.ratio)).toFixed(3)),
      medianExtractorWordsPerSec: Number(median(perRound.map((x) => x.extractorWordsPerSec)).toFixed(1)),
      ...machine(),
    });
  } finally {
    await session.close();
  }

  // ---- live: one word at a time, at speech pace
  if (flag('live')) {
    const n = Number(opt('live-words', '100'));
    const intervalSec = Number(opt('word-interval', '0.3'));
    const t0 = performance.now();
    const live = await LiveFeatureTable.open({ model, context, pcaFit: parsePcaFit(`reference:${opt('reference-words', '200')}`), cacheRoot: path.join(tmp, 'live'), workers });
    const openSec = (performance.now() - t0) / 1000;
    const heard = builtinWords(skip + n).slice(skip).map((w) => w.word.replace(/[^A-Za-z'-]/g, '').toUpperCase()).filter((w) => w.length > 0);
    const waits: Promise<unknown>[] = [];
    const start = performance.now();
    for (let i = 0; i < heard.length; i++) {
      const due = start + i * intervalSec * 1000;
      await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
      live.hear(i, heard[i]!);
      waits.push(Promise.resolve(live.when(i)));
    }
    await Promise.all(waits);
    await live.close();
    const lat = [...live.latenciesSec].sort((a, b) => a - b);
    const q = (p: number) => Number(lat[Math.min(lat.length - 1, Math.ceil(p * lat.length) - 1)]!.toFixed(3));
    print({ bench: 'live', model: label, words: heard.length, context, wordIntervalSec: intervalSec, openSeconds: Number(openSec.toFixed(1)), latencySec: { p50: q(0.5), p99: q(0.99), max: q(1) }, ...machine() });
  }

  // ---- whole extractions into fresh caches: batched on the pool vs one window per pass in this thread
  if (!flag('no-extract')) {
    const runs: [string, { workers?: number; batchTokens: number }][] = [['batched, worker pool', { workers, batchTokens }]];
    if (modelArg === 'builtin' || flag('unbatched')) runs.push(['one window per pass, this thread (before batching)', { workers: 0, batchTokens: 0 }]);
    for (const [how, compute] of runs) {
      const out = fs.mkdtempSync(path.join(tmp, 'run-'));
      const s = await runExtract({ model, ...stimulus, out, runner: 'onnxruntime', ...compute });
      print({ bench: 'extract', model: label, how, words: s.words, context, tokensPerWord: Number(s.tokensPerWord.toFixed(1)), batches: s.batches, wordsPerSec: s.wordsPerSec === null ? null : Number(s.wordsPerSec.toFixed(1)), secondsTotal: Number(s.seconds.toFixed(1)), compute: s.compute, ...machine() });
    }
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
