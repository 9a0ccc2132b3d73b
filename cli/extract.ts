/**
 * `lockstep extract`: per-word, per-layer LLM features of a stimulus text, written to the activation
 * cache (adapters/llm/activationCache.ts) for `decode` and the live pipeline. The work is
 * adapters/llm/extract.ts; this file parses options and prints progress and the summary.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { runExtract, type ExtractSummary } from '../adapters/llm/extract.js';
import { AGGREGATIONS } from '../adapters/llm/extractor.js';
import { resolveModel } from '../adapters/llm/features.js';
import { RUNNER_CHOICES } from '../adapters/llm/loadModel.js';
import { InputError } from './errors.js';
import { addExtractionOptions, backendOption, extractionCompute, nonNegativeInt, positiveInt } from './options.js';
import { extractReport } from './progress.js';
import { countOf } from './format.js';

function depthList(value: string): number[] {
  const out = value.split(',').map((s) => Number(s.trim()));
  const bad = out.findIndex((v) => !Number.isFinite(v) || v < 0 || v > 1);
  if (value.trim() === '' || bad >= 0) throw new InvalidArgumentError(`expected comma-separated relative depths in [0, 1], got "${value}"${bad >= 0 ? ` (item ${bad + 1})` : ''}`);
  return out;
}

function pcaSetting(value: string): number | 'none' {
  if (value === 'none') return 'none';
  const v = Number(value);
  if (!Number.isInteger(v) || v < 1) throw new InvalidArgumentError(`expected a number of components (e.g. 50) or "none", got "${value}"`);
  return v;
}

function printSummary(s: ExtractSummary): void {
  const lines = [
    `${s.fromCache ? 'found' : 'wrote'} ${s.cacheDir}`,
    `${countOf(s.words, 'word')} (${s.contentWords} content), layers ${s.layers.join(',')} of ${countOf(s.nBlocks, 'block')}, ${countOf(s.dims, 'dim')} per layer`,
    `${s.tokensPerWord.toFixed(2)} tokens per word, ${countOf(s.windows, 'window')}, ${s.seconds.toFixed(1)} s${s.wordsPerSec ? `, ${s.wordsPerSec.toFixed(1)} words/s` : ''}`,
    `runner: ${s.runner} (${s.runnerNote}); ${s.compute}; PCA basis: ${s.pcaFit}`,
  ];
  if (s.unmatchedWords.length > 0) lines.push(`${countOf(s.unmatchedWords.length, 'word')} not found in the text (no features): first "${s.unmatchedWords[0].word}" (word ${s.unmatchedWords[0].index}: ${s.unmatchedWords[0].reason})`);
  process.stdout.write(lines.join('\n') + '\n');
}

/** Adds `extract` to the program. */
export function registerExtractCommand(program: Command): void {
  const cmd = program
    .command('extract')
    .description('Per-word, per-layer language-model features of a stimulus (mean over each word\'s tokens, PCA per layer), cached on disk. Layer for depth d: hidden state round(d × L), 0 = embedding output (L = blocks). Resumes an interrupted run.')
    .requiredOption('--model <folder>', '(required) model folder (config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx), builtin (the shipped model), family:<xs|s|m|l> (the model family) or <name>-untrained[:seed] (a random-weights twin, e.g. family:s-untrained:2)')
    .requiredOption('--text <file>', '(required) stimulus: a UTF-8 text file (=== title === lines split stories), an events.tsv, or "builtin" (Moby Dick)')
    .option('--story-text <files...>', 'with an events.tsv: the original text of each run, in run order')
    .option('--context <words>', 'previous words of context per word (paper: 50)', nonNegativeInt, 50)
    .addOption(new Option('--mode <mode>', 'exact: one window per word; chunked: blocks of words share a window (≥ context words each)').choices(['exact', 'chunked']).default('exact'))
    .option('--chunk-words <n>', 'chunked mode: words per block (default: the context)', positiveInt)
    .option('--depths <list>', 'relative depths (default 0.1,…,0.9)', depthList)
    .option('--all-layers', 'every hidden state 0…L instead of depths')
    .addOption(new Option('--aggregate <how>', "a word's vector from its tokens").choices([...AGGREGATIONS]).default('mean'))
    .option('--pca <n|none>', 'PCA components per layer (basis: --pca-fit), or "none" for raw dims', pcaSetting, 50 as number | 'none')
    .option('--keep-raw', 'keep raw.npy (raw activations) next to the PCA scores')
    .requiredOption('--out <dir>', '(required) cache root: the cache goes to <dir>/<key hash>/')
    .option('--max-words <n>', 'only the first n words of the stimulus', positiveInt)
    .addOption(new Option('--runner <name>', 'forward passes through transformers.js or onnxruntime-node (auto: transformers.js when it agrees)').choices([...RUNNER_CHOICES]).default('auto'))
    .option('--threads <n>', 'onnxruntime threads per extraction worker (default: cores / workers), or of the transformers.js runner with --extract-workers 0 (default 1)', positiveInt)
    .addOption(backendOption())
    .option('--checkpoint-every <words>', 'checkpoint the cache every n words', positiveInt, 256)
    .option('--include-proper-nouns', 'count PROPN as content words')
    .option('--allow-download', 'let transformers.js fetch a Hugging Face hub id (needs network; off by default)')
    .option('--json', 'print one JSON object on stdout')
    .option('--quiet', 'no progress on stderr');
  addExtractionOptions(cmd, 'all', 'default all')
    .action(async (opts) => {
      const out = path.resolve(opts.out as string);
      if (fs.existsSync(out) && !fs.statSync(out).isDirectory()) throw new InputError(`--out ${out}: exists and is not a folder; give a folder for the cache`);
      if (opts.text !== 'builtin' && !fs.existsSync(opts.text)) throw new InputError(`--text ${opts.text}: no such file; give a text file, an events.tsv or "builtin"`);
      // builtin, family:<size> and <name>-untrained[:seed] name the shipped models and their random-weights twins.
      opts.model = await resolveModel(opts.model as string);
      if (!fs.existsSync(opts.model) && !opts.allowDownload) throw new InputError(`--model ${opts.model}: no such folder; give a model folder (config.json, tokenizer.json, onnx/model.onnx), builtin, family:<size> or <name>-untrained`);
      if (opts.allLayers && opts.depths) throw new InputError('give --depths or --all-layers, not both');
      // Ctrl-C: stop after the current window with a checkpoint, so the same command resumes.
      const stop = new AbortController();
      const onSigint = () => stop.abort();
      process.once('SIGINT', onSigint);
      const report = extractReport(opts.quiet ? null : process.stderr);
      const summary = await runExtract({
        signal: stop.signal,
        model: opts.model,
        text: opts.text,
        storyText: opts.storyText,
        context: opts.context,
        mode: opts.mode,
        chunkWords: opts.chunkWords,
        depths: opts.depths,
        allLayers: opts.allLayers,
        aggregate: opts.aggregate,
        pca: opts.pca,
        keepRaw: opts.keepRaw,
        out,
        maxWords: opts.maxWords,
        allowDownload: opts.allowDownload,
        runner: opts.runner,
        threads: opts.threads,
        backend: opts.backend,
        checkpointEvery: opts.checkpointEvery,
        includeProperNouns: opts.includeProperNouns,
        pcaFit: opts.pcaFit,
        ...extractionCompute(opts),
      }, report).finally(() => {
        report.done();
        process.off('SIGINT', onSigint);
      });
      // The word list behind truncatedContextWords is for callers that exclude those words, not for the summary.
      const { truncatedContextIndices: _indices, ...printed } = summary;
      if (opts.json) process.stdout.write(JSON.stringify(printed) + '\n');
      else printSummary(summary);
    });
}
