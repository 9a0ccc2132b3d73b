/**
 * Model folders as transformers.js loads them, and the built-in model models/lockstep-moby-gpt2:
 * - transformers.js (local files only) loads tokenizer and ONNX model from a written folder, and
 *   its forward pass returns exactly the logits onnxruntime-node gives for the same graph, for
 *   every family, with and without KV cache and external data; a second graph next to the first
 *   loads with `model_file_name` and shares the first one's external data;
 * - the built-in tokenizer, loaded by transformers.js, encodes sample text to exactly the ids the
 *   Python training script produced (fixture written by scripts/train_builtin_model.py);
 * - the built-in ONNX graph (made by the TypeScript builder from the trained weights) gives the
 *   logits and last hidden state the torch model gave (fixture), and beats the unigram baseline;
 * - the untrained twin has the same architecture and tokenizer and near-uniform predictions.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { AutoModelForCausalLM, AutoTokenizer, env, Tensor } from '@huggingface/transformers';
import ort from 'onnxruntime-node';

import { builtinModelDir, randomTwinFolder } from '../adapters/onnx/builder/builtinModel.js';
import { decoderFeeds } from '../adapters/onnx/builder/feeds.js';
import { byteLevelTokenizerJson, gpt2TokenizerConfig, writeModelFolder } from '../adapters/onnx/builder/modelFolder.js';
import { buildTinyCausalLM, type TinyCausalLMSpec } from '../adapters/onnx/builder/tinyCausalLM.js';
import { weightsFromModelProto } from '../adapters/onnx/builder/weights.js';
import { REPO_ROOT, tempDir } from './helpers/paths.js';

env.allowRemoteModels = false;
env.allowLocalModels = true;

const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/builtin-model');

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function f32FromBase64(b64: string): Float32Array {
  const buf = Buffer.from(b64, 'base64');
  const out = new Float32Array(buf.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(4 * i);
  return out;
}

function idsTensor(ids: number[]): { input_ids: Tensor; attention_mask: Tensor } {
  return {
    input_ids: new Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]),
    attention_mask: new Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]),
  };
}

describe('model folders load in transformers.js', () => {
  let root = '';
  before(() => (root = tempDir('model-folder')));
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  const specs: TinyCausalLMSpec[] = [
    { family: 'gpt2', kvCache: true },
    { family: 'gpt2' },
    { family: 'llama', kvCache: true, kvHeads: 2, externalData: true },
    { family: 'gpt-neox', kvCache: true },
  ];
  for (const spec of specs) {
    it(`${JSON.stringify(spec)}: tokenizer + model from a local folder; logits equal onnxruntime-node's`, async () => {
      const m = buildTinyCausalLM({ ...spec, vocab: 300, seed: 21 });
      const dir = path.join(root, JSON.stringify(spec).replace(/\W+/g, '_'));
      writeModelFolder(dir, { onnx: m.model, externalData: m.externalData, config: m.config, tokenizerJson: byteLevelTokenizerJson(), tokenizerConfig: gpt2TokenizerConfig('<|endoftext|>', 64) });
      assert.equal(fs.existsSync(path.join(dir, 'onnx/model.onnx')), true);
      assert.equal(fs.existsSync(path.join(dir, 'onnx/model.onnx_data')), spec.externalData === true);
      const tok = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
      const text = 'Call me Ishmael.';
      const enc = tok(text) as { input_ids: Tensor; attention_mask: Tensor };
      const ids = Array.from(enc.input_ids.data as BigInt64Array, Number);
      assert.deepEqual(ids, Array.from(Buffer.from(text, 'utf8')), 'byte-level tokenizer: one id per byte');
      const model = await AutoModelForCausalLM.from_pretrained(dir, { dtype: 'fp32', device: 'cpu', local_files_only: true });
      const out = (await model(enc)) as { logits: Tensor };
      assert.deepEqual(out.logits.dims, [1, ids.length, 300]);
      const session = await ort.InferenceSession.create(path.join(dir, 'onnx/model.onnx'));
      const ref = await session.run(decoderFeeds(m.spec, { ids }));
      assert.equal(maxAbsDiff(out.logits.data as Float32Array, ref.logits!.data as Float32Array), 0);
      await model.dispose();
    });
  }

  it('a second graph (hidden states exposed) loads with model_file_name and shares model.onnx_data', async () => {
    const spec: TinyCausalLMSpec = { family: 'llama', kvCache: true, externalData: true, vocab: 300, seed: 22 };
    const base = buildTinyCausalLM(spec);
    const exposed = buildTinyCausalLM({ ...spec, exposeHiddenStates: true });
    // Same weights in the same order: the blob is byte-identical, so the second graph can point at the first one's file.
    assert.deepEqual(Buffer.from(exposed.externalData!), Buffer.from(base.externalData!));
    const dir = path.join(root, 'shared-data');
    writeModelFolder(dir, { onnx: base.model, externalData: base.externalData, config: base.config, tokenizerJson: byteLevelTokenizerJson(), tokenizerConfig: gpt2TokenizerConfig('<|endoftext|>', 64) });
    fs.writeFileSync(path.join(dir, 'onnx/model_hidden.onnx'), exposed.model);
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    assert.deepEqual(cfg['transformers.js_config']!.use_external_data_format, { 'model.onnx': 1 });
    const model = await AutoModelForCausalLM.from_pretrained(dir, { dtype: 'fp32', device: 'cpu', local_files_only: true, model_file_name: 'model_hidden' });
    const ids = [5, 9, 2, 77, 31];
    const out = (await model(idsTensor(ids))) as Record<string, Tensor>;
    const plain = await (await ort.InferenceSession.create(path.join(dir, 'onnx/model.onnx'))).run(decoderFeeds(base.spec, { ids }));
    assert.equal(maxAbsDiff(out.logits!.data as Float32Array, plain.logits!.data as Float32Array), 0, 'extra outputs leave logits bit-identical');
    // transformers.js returns every graph output, keyed by tensor name.
    for (const h of exposed.expectedHiddenStates.slice(1)) assert.deepEqual(out[h]?.dims, [1, ids.length, base.spec.hidden], h);
    await model.dispose();
  });
});

describe('built-in model models/lockstep-moby-gpt2', () => {
  const dir = builtinModelDir();
  const training = JSON.parse(fs.readFileSync(path.join(dir, 'training.json'), 'utf8')) as Record<string, number | string | Record<string, number>>;
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, number | string>;
  const torchOut = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'torch-logits.json'), 'utf8')) as {
    ids: number[]; logitsShape: number[]; logitsFloat32LEBase64: string; lastHiddenShape: number[]; lastHiddenFloat32LEBase64: string;
  };

  it('is a GPT-2 with at least 10 blocks (the 9 relative depths map to distinct layers), under 20 MB', () => {
    assert.equal(config.model_type, 'gpt2');
    const L = config.n_layer as number;
    assert.ok(L >= 10);
    const layers = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9].map((d) => Math.round(d * L));
    assert.equal(new Set(layers).size, 9);
    let bytes = 0;
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx', 'training.json']) bytes += fs.statSync(path.join(dir, f)).size;
    assert.ok(bytes <= 20e6, `${bytes} bytes`);
  });

  it('training.json: held-out perplexity beats the add-one unigram baseline on the same tokens', () => {
    const ppl = training.heldOutPerplexity as number;
    const uni = training.unigramAddOnePerplexity as number;
    assert.ok(Number.isFinite(ppl) && ppl > 1);
    assert.ok(ppl < uni, `model ${ppl} vs unigram ${uni}`);
    assert.equal((training.config as Record<string, number>).n_layer, config.n_layer);
  });

  it('transformers.js encodes sample text to exactly the ids of the Python tokenizer', async () => {
    const fx = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'tokenizer-samples.json'), 'utf8')) as { samples: { text: string; ids: number[] }[] };
    assert.ok(fx.samples.length >= 4);
    const tok = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
    for (const s of fx.samples) {
      const ids = tok.encode(s.text);
      assert.deepEqual(ids, s.ids, JSON.stringify(s.text.slice(0, 40)));
      assert.equal(tok.decode(ids), s.text);
    }
  });

  it('ONNX logits (onnxruntime-node and transformers.js) equal the torch logits of the fixture', async () => {
    const want = f32FromBase64(torchOut.logitsFloat32LEBase64);
    const bytes = fs.readFileSync(path.join(dir, 'onnx/model.onnx'));
    const session = await ort.InferenceSession.create(bytes);
    const feeds: Record<string, ort.Tensor> = {};
    const S = torchOut.ids.length;
    feeds.input_ids = new ort.Tensor('int64', BigInt64Array.from(torchOut.ids.map(BigInt)), [1, S]);
    feeds.attention_mask = new ort.Tensor('int64', new BigInt64Array(S).fill(1n), [1, S]);
    feeds.position_ids = new ort.Tensor('int64', BigInt64Array.from(torchOut.ids.map((_, i) => BigInt(i))), [1, S]);
    const heads = config.n_head as number;
    const hd = (config.n_embd as number) / heads;
    for (let i = 0; i < (config.n_layer as number); i++) {
      for (const kv of ['key', 'value']) feeds[`past_key_values.${i}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [1, heads, 0, hd]);
    }
    const got = (await session.run(feeds)).logits!.data as Float32Array;
    assert.ok(maxAbsDiff(got, want) <= 1e-4, `onnxruntime vs torch: ${maxAbsDiff(got, want)}`);
    const model = await AutoModelForCausalLM.from_pretrained(dir, { dtype: 'fp32', device: 'cpu', local_files_only: true });
    const viaTjs = ((await model(idsTensor(torchOut.ids))) as { logits: Tensor }).logits.data as Float32Array;
    assert.equal(maxAbsDiff(viaTjs, got), 0);
    await model.dispose();
  });

  it('transformers.js generate() (KV cache) gives the greedy continuation of full forward passes', async () => {
    const model = await AutoModelForCausalLM.from_pretrained(dir, { dtype: 'fp32', device: 'cpu', local_files_only: true });
    const prompt = torchOut.ids;
    const gen = (await model.generate({ ...idsTensor(prompt), max_new_tokens: 6, do_sample: false })) as Tensor;
    const got = Array.from(gen.data as BigInt64Array, Number);
    const want = [...prompt];
    for (let k = 0; k < 6; k++) {
      const logits = ((await model(idsTensor(want))) as { logits: Tensor }).logits;
      const V = logits.dims[2]!;
      const last = (logits.data as Float32Array).subarray((want.length - 1) * V, want.length * V);
      let best = 0;
      for (let t = 1; t < V; t++) if (last[t]! > last[best]!) best = t;
      want.push(best);
    }
    assert.deepEqual(got, want);
    await model.dispose();
  });

  it('rebuilt from its own initializers with hidden states exposed, the last one equals torch', async () => {
    const bytes = fs.readFileSync(path.join(dir, 'onnx/model.onnx'));
    const weights = weightsFromModelProto(bytes, 'models/lockstep-moby-gpt2/onnx/model.onnx');
    const m = buildTinyCausalLM({
      family: 'gpt2', kvCache: true, layers: config.n_layer as number, hidden: config.n_embd as number, heads: config.n_head as number,
      vocab: config.vocab_size as number, maxPositions: config.n_positions as number, intermediate: config.n_inner as number, weights, exposeHiddenStates: true,
    });
    const out = await (await ort.InferenceSession.create(m.model)).run(decoderFeeds(m.spec, { ids: torchOut.ids }));
    const want = f32FromBase64(torchOut.lastHiddenFloat32LEBase64);
    const got = out[m.expectedHiddenStates[m.spec.layers]!]!.data as Float32Array;
    assert.ok(maxAbsDiff(got, want) <= 1e-4, `last hidden state vs torch: ${maxAbsDiff(got, want)}`);
  });

  it('the untrained twin: same architecture and tokenizer, seeded, near-uniform predictions', async () => {
    const tdir = tempDir('twin');
    try {
      const twin = randomTwinFolder(tdir, 1);
      const again = randomTwinFolder(path.join(tdir, 'again'), 1);
      assert.deepEqual(Buffer.from(twin.model.model), Buffer.from(again.model.model));
      assert.equal(fs.readFileSync(path.join(tdir, 'tokenizer.json'), 'utf8'), fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
      const model = await AutoModelForCausalLM.from_pretrained(tdir, { dtype: 'fp32', device: 'cpu', local_files_only: true });
      const logits = ((await model(idsTensor(torchOut.ids))) as { logits: Tensor }).logits.data as Float32Array;
      const trained = f32FromBase64(torchOut.logitsFloat32LEBase64);
      const spread = (a: Float32Array) => Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
      assert.ok(spread(logits) < 0.2 * spread(trained), `untrained logits spread ${spread(logits)} vs trained ${spread(trained)}`);
      await model.dispose();
    } finally {
      fs.rmSync(tdir, { recursive: true, force: true });
    }
  });
});
