/**
 * Command-line entry that turns the training script's weights into the built-in model folder:
 *
 *   node dist/adapters/onnx/builder/exportBuiltinModelMain.js [--weights DIR] [--tokenizer FILE] [--out DIR]
 *
 * Defaults: --weights /tmp/lockstep-moby-gpt2-weights (scripts/train_builtin_model.py's default),
 * --tokenizer and --out models/lockstep-moby-gpt2. Prints one JSON line with what it wrote.
 *
 * Owns: argument handling only. Must not: build graphs itself (builtinModel.ts does).
 */
import fs from 'node:fs';
import path from 'node:path';

import { builtinModelDir, exportBuiltinModel } from './builtinModel.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const v = process.argv[i + 1];
  if (v === undefined || v.startsWith('--')) {
    process.stderr.write(`exportBuiltinModel: ${name} needs a value\n`);
    process.exit(2);
  }
  return v;
}

const out = arg('--out', builtinModelDir());
const weights = arg('--weights', '/tmp/lockstep-moby-gpt2-weights');
const tokenizer = arg('--tokenizer', path.join(out, 'tokenizer.json'));
for (const p of [path.join(weights, 'weights.json'), path.join(weights, 'weights.bin'), tokenizer]) {
  if (!fs.existsSync(p)) {
    process.stderr.write(`exportBuiltinModel: ${p} not found (run /usr/bin/python3 scripts/train_builtin_model.py first)\n`);
    process.exit(2);
  }
}
const r = exportBuiltinModel(weights, tokenizer, out);
process.stdout.write(JSON.stringify({ dir: r.dir, onnx: r.onnxPath, bytes: fs.statSync(r.onnxPath).size, layers: r.model.spec.layers, hidden: r.model.spec.hidden, vocab: r.model.spec.vocab }) + '\n');
