/**
 * Extraction speed of `lockstep extract` on a model folder (default: the built-in
 * models/lockstep-moby-gpt2) over the first N words of Moby Dick, in exact and chunked modes, each
 * into a fresh cache (nothing reused). Prints one JSON line per mode.
 * Usage: node dist/bench/llmExtract.js [MODEL_DIR|""] [WORDS] [CONTEXT] [RUNNER]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RunnerChoice } from '../adapters/llm/loadModel.js';
import { builtinModelDir } from '../adapters/onnx/builder/builtinModel.js';
import { runExtract } from '../adapters/llm/extract.js';

const [modelArg, wordsArg, contextArg, runnerArg] = process.argv.slice(2);
const source = modelArg || builtinModelDir();
// A copy, so the surgery's cached graph is not written into the repository's model folder.
const model = fs.mkdtempSync(path.join(os.tmpdir(), 'lockstep-bench-model-'));
fs.cpSync(source, model, { recursive: true });
const maxWords = Number(wordsArg || 500);
const context = Number(contextArg || 50);
for (const mode of ['exact', 'chunked'] as const) {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'lockstep-bench-extract-'));
  const s = await runExtract({ model, text: 'builtin', context, mode, aggregate: 'mean', pca: 50, out, maxWords, runner: (runnerArg as RunnerChoice | undefined) ?? 'auto' });
  process.stdout.write(
    `${JSON.stringify({
      mode,
      context,
      words: s.words,
      layers: s.layers,
      nBlocks: s.nBlocks,
      hiddenSize: s.hiddenSize,
      model: path.basename(source),
      runner: s.runner,
      tokensPerWord: s.tokensPerWord,
      wordsPerSec: s.wordsPerSec,
      secondsTotal: s.seconds,
      cpus: os.cpus().length,
      cpu: os.cpus()[0]?.model,
      node: process.version,
    })}\n`,
  );
  fs.rmSync(out, { recursive: true, force: true });
}
fs.rmSync(model, { recursive: true, force: true });
