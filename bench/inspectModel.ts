/**
 * `lockstep inspect-model` cost on the shared exporter graphs and on a generated GPT-2-small-shaped
 * graph (12 layers, hidden 768, vocab 50257, external data ~0.5 GB): cold (surgery + checks,
 * modified graph written) and warm (cache reused, checks rerun), plus one runner forward pass of
 * 64 tokens. Prints one JSON object.
 *
 * Usage: node dist/bench/inspectModel.js [--no-large]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildTinyCausalLM } from '../adapters/onnx/builder/tinyCausalLM.js';
import { OnnxHiddenStateModel } from '../adapters/onnx/hiddenStateRunner.js';
import { inspectModel } from '../adapters/onnx/surgeryChecks.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SHARED = path.join(ROOT, 'test/fixtures/onnx');
const large = !process.argv.includes('--no-large');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lockstep-bench-inspect-'));

const models: Array<{ name: string; file: string; tokens: number[] }> = [
  { name: 'mistral-tiny-mobius-staticcache', file: path.join(SHARED, 'mistral-tiny-mobius-staticcache/model.onnx'), tokens: [1, 2, 3, 4] },
  { name: 'gpt2model-resized-torch16 (12 layers)', file: path.join(SHARED, 'gpt2model-resized-torch16/gpt2_past.onnx'), tokens: [1] },
  ...['gpt2_megatron', 'gpt2_one_layer', 'gpt2_past_one_layer', 'gpt2_past_mask_one_layer'].map((n) => ({ name: n, file: path.join(SHARED, `gpt2-onelayer-torch/${n}.onnx`), tokens: [1, 2, 3, 4] })),
];
if (large) {
  const t0 = performance.now();
  const m = buildTinyCausalLM({ family: 'gpt2', layers: 12, hidden: 768, heads: 12, vocab: 50257, maxPositions: 1024, externalData: true, seed: 1 });
  const dir = path.join(tmp, 'gpt2-small-shape');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'model.onnx'), m.model);
  fs.writeFileSync(path.join(dir, 'model.onnx_data'), m.externalData!);
  process.stderr.write(`built GPT-2-small-shaped graph in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  models.push({ name: 'generated gpt2 12×768, vocab 50257, external data', file: path.join(dir, 'model.onnx'), tokens: Array.from({ length: 64 }, (_, i) => (i * 7919) % 50257) });
}

const results = [];
for (const { name, file, tokens } of models) {
  const cacheDir = path.join(tmp, 'cache', String(results.length));
  const cold = await inspectModel(file, { tokenIds: tokens, cacheDir });
  const warm = await inspectModel(file, { tokenIds: tokens, cacheDir });
  const runner = await OnnxHiddenStateModel.open(file, { tokenIds: tokens, cacheDir });
  const t0 = performance.now();
  await runner.forward(tokens);
  const forwardSeconds = (performance.now() - t0) / 1000;
  await runner.dispose();
  results.push({
    name,
    blocks: cold.blocks,
    hiddenSize: cold.hiddenSize,
    tokens: cold.tokens.length,
    coldSeconds: cold.seconds,
    coldTimings: cold.timings,
    warmSeconds: warm.seconds,
    warmReused: warm.reused,
    forwardSeconds,
    outputsMaxAbsDiff: cold.outputsMaxAbsDiff,
    logitsReconstructionMaxAbsDiff: cold.logitsReconstructionMaxAbsDiff,
  });
  process.stderr.write(`${name}: cold ${cold.seconds.toFixed(2)} s, warm ${warm.seconds.toFixed(2)} s\n`);
}
fs.rmSync(tmp, { recursive: true, force: true });
process.stdout.write(
  `${JSON.stringify({ node: process.version, cpus: os.cpus().length, cpu: os.cpus()[0]?.model, loadavg: os.loadavg(), sessionOptions: 'graphOptimizationLevel basic, default threads', results })}\n`,
);
