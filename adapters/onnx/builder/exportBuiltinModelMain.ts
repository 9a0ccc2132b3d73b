/**
 * Command-line entry that turns the training script's weights into the built-in model folder:
 *
 *   node dist/adapters/onnx/builder/exportBuiltinModelMain.js [--weights DIR] [--tokenizer FILE] [--out DIR]
 *
 * Defaults: --weights /tmp/lockstep-moby-gpt2-weights (scripts/train_builtin_model.py's default),
 * --tokenizer and --out models/lockstep-moby-gpt2. Prints one JSON line with what it wrote.
 * When the weights folder also holds the script's torch-logits.json (the family's trainings put it
 * there with --fixtures-dir), the new graph is run on its input in onnxruntime-node and the largest
 * |logit difference| to torch is reported, and recorded in <out>/training.json as "export" (fails
 * above 1e-3).
 *
 * Owns: argument handling and that check. Must not: build graphs itself (builtinModel.ts does).
 */
import fs from 'node:fs';
import path from 'node:path';

import ort from 'onnxruntime-node';

import { builtinModelDir, exportBuiltinModel } from './builtinModel.js';
import { decoderFeeds } from './feeds.js';

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
const bytes = fs.statSync(r.onnxPath).size;
let torchMaxAbsDiff: number | null = null;
const fixture = path.join(weights, 'torch-logits.json');
if (fs.existsSync(fixture)) {
  const fx = JSON.parse(fs.readFileSync(fixture, 'utf8')) as { ids: number[]; logitsFloat32LEBase64: string };
  const buf = Buffer.from(fx.logitsFloat32LEBase64, 'base64');
  const session = await ort.InferenceSession.create(r.onnxPath);
  const got = (await session.run(decoderFeeds(r.model.spec, { ids: fx.ids }))).logits!.data as Float32Array;
  if (got.length * 4 !== buf.length) throw new Error(`${fixture}: ${buf.length / 4} logits, the graph gives ${got.length}`);
  torchMaxAbsDiff = 0;
  for (let i = 0; i < got.length; i++) torchMaxAbsDiff = Math.max(torchMaxAbsDiff, Math.abs(got[i]! - buf.readFloatLE(4 * i)));
  await session.release();
  const trainingPath = path.join(out, 'training.json');
  if (fs.existsSync(trainingPath)) {
    const t = JSON.parse(fs.readFileSync(trainingPath, 'utf8')) as Record<string, unknown>;
    t.export = { by: 'adapters/onnx/builder/exportBuiltinModelMain.ts', onnxBytes: bytes, onnxVsTorchMaxAbsLogitDiff: torchMaxAbsDiff, onTokens: fx.ids.length };
    fs.writeFileSync(trainingPath, JSON.stringify(t, null, 1));
  }
}
process.stdout.write(JSON.stringify({ dir: r.dir, onnx: r.onnxPath, bytes, layers: r.model.spec.layers, hidden: r.model.spec.hidden, vocab: r.model.spec.vocab, torchMaxAbsDiff }) + '\n');
if (torchMaxAbsDiff !== null && !(torchMaxAbsDiff <= 1e-3)) {
  process.stderr.write(`exportBuiltinModel: ONNX logits differ from torch by ${torchMaxAbsDiff}\n`);
  process.exit(1);
}
