/**
 * Residual-stream surgery on real graphs from other exporters (mobius Mistral, PyTorch 1.5/1.6/1.9
 * GPT-2 with numeric names, decomposed LayerNorm and Casts): the walk finds L+1 states, the original
 * outputs stay bit-identical, and independent oracles computed from the graphs' own weights agree
 * with the exposed states (embedding rows, the graph's own last-state output, ln_f of the last state,
 * final norm + LM head of the last state = logits).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import ort from 'onnxruntime-node';
import { decoderFeeds } from '../adapters/onnx/builder/feeds.js';
import { buildTinyCausalLM, type TinyCausalLM, type TinyCausalLMSpec } from '../adapters/onnx/builder/tinyCausalLM.js';
import { OnnxHiddenStateModel } from '../adapters/onnx/hiddenStateRunner.js';
import { loadModel, onnx, spliceModel } from '../adapters/onnx/onnxProto.js';
import { planSurgery } from '../adapters/onnx/residualSurgery.js';
import { prepareSurgery } from '../adapters/onnx/surgeryCache.js';
import { inspectModel, runChecks } from '../adapters/onnx/surgeryChecks.js';
import {
  decodeFile,
  GPT2_ONE,
  GPT2_PAST_12,
  GPT2_PAST_MASK_ONE,
  GPT2_PAST_ONE,
  initializerF32,
  maxAbs,
  maxAbsDiff,
  MEGATRON,
  MISTRAL,
  MISTRAL_DIR,
  toFloat16Model,
  writeExternalDataCopy,
  writeNoEmbeddingModel,
} from './helpers/onnxFixtures.js';
import { tempDir } from './helpers/paths.js';

const CACHE = tempDir('onnx-surgery-cache');
// Calls without a cacheDir use the default root $LOCKSTEP_CACHE/onnx: a temporary one, not the user's.
process.env.LOCKSTEP_CACHE = tempDir('onnx-surgery-lockstep-cache');
const DEFAULT_ROOT = path.join(process.env.LOCKSTEP_CACHE, 'onnx');

/** Every file under `dir` (relative path → bytes), to show a folder was left as it was. */
function snapshot(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const f of fs.readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const p = path.join(dir, f);
    if (fs.statSync(p).isFile()) out.set(f, fs.readFileSync(p));
  }
  return out;
}

interface Expect {
  file: string;
  blocks: number;
  hidden: number;
  states?: string[];
  head: boolean;
  arch: string;
}

const SHARED: Expect[] = [
  { file: MISTRAL, blocks: 2, hidden: 64, states: ['v_model.embed_tokens.Gather_0', 'v_model.layers.0.Add_52', 'v_model.layers.1.Add_78'], head: true, arch: 'llama' },
  { file: GPT2_PAST_12, blocks: 12, hidden: 4, head: false, arch: 'gpt2' },
  // PyTorch 1.9 Megatron GPT-2: decomposed LayerNorm, a Cast after every residual Add
  { file: MEGATRON, blocks: 1, hidden: 8, states: ['23', '190'], head: true, arch: 'gpt2' },
  { file: GPT2_ONE, blocks: 1, hidden: 4, states: ['198', '471'], head: false, arch: 'gpt2' },
  { file: GPT2_PAST_ONE, blocks: 1, hidden: 4, head: false, arch: 'gpt2' },
  { file: GPT2_PAST_MASK_ONE, blocks: 1, hidden: 4, head: false, arch: 'gpt2' },
];

for (const e of SHARED) {
  test(`surgery on ${path.basename(path.dirname(e.file))}/${path.basename(e.file)}: ${e.blocks} blocks, outputs bit-identical${e.head ? ', logits reconstructed' : ''}`, async () => {
    const r = await inspectModel(e.file, { tokenIds: [1, 2, 3, 4, 5], cacheDir: CACHE });
    assert.equal(r.blocks, e.blocks);
    assert.equal(r.hiddenSize, e.hidden);
    assert.equal(r.hiddenStates.length, e.blocks + 1);
    assert.deepEqual(r.hiddenStates, Array.from({ length: e.blocks + 1 }, (_, k) => `hidden_states.${k}`));
    if (e.states) assert.deepEqual(r.stateTensors, e.states);
    assert.equal(new Set(r.stateTensors).size, e.blocks + 1, 'states are distinct tensors');
    assert.equal(r.outputsMaxAbsDiff, 0);
    assert.equal(r.architectureGuess, e.arch);
    if (e.head) {
      assert.ok(r.logitsReconstructionMaxAbsDiff !== null);
      assert.ok(r.logitsReconstructionMaxAbsDiff <= 1e-5 * Math.max(1, r.logitsMaxAbs!), `logits reconstruction ${r.logitsReconstructionMaxAbsDiff}`);
      assert.equal(r.lmHead?.output, 'logits');
    } else {
      assert.equal(r.logitsReconstructionMaxAbsDiff, null);
      assert.equal(r.lmHead, null);
    }
    // every original output is still there, in its place
    const orig = (decodeFile(e.file).graph!.output ?? []).map((o) => o.name);
    const mod = (decodeFile(r.modifiedFile).graph!.output ?? []).map((o) => o.name);
    assert.deepEqual(mod.slice(0, orig.length), orig);
    assert.deepEqual(mod.slice(orig.length), r.hiddenStates);
  });
}

test('the modified graph keeps every original node, initializer and attribute byte; splicing nothing is the identity', () => {
  for (const file of [MISTRAL, MEGATRON]) {
    const loaded = loadModel(file);
    const same = spliceModel(loaded.bytes, { replaceNodes: new Map(), appendNodes: [], appendOutputs: [] }, file);
    assert.ok(Buffer.from(same).equals(Buffer.from(loaded.bytes)), `${file}: identity splice changed bytes`);
    const plan = planSurgery(loaded);
    const modified = onnx.ModelProto.decode(spliceModel(loaded.bytes, plan.edit, file));
    const a = onnx.ModelProto.toObject(loaded.model, { bytes: String });
    const b = onnx.ModelProto.toObject(modified, { bytes: String });
    assert.deepEqual(b.graph.node.slice(0, a.graph.node.length), a.graph.node);
    assert.deepEqual(b.graph.initializer, a.graph.initializer);
    assert.deepEqual(b.opsetImport, a.opsetImport);
    assert.equal(String(b.irVersion), String(a.irVersion));
    const added = b.graph.node.slice(a.graph.node.length);
    assert.equal(added.length, plan.walk.states.length);
    for (const [k, n] of added.entries()) {
      assert.equal(n.opType, 'Identity');
      assert.deepEqual(n.input, [plan.walk.states[k]]);
      assert.deepEqual(n.output, [`hidden_states.${k}`]);
    }
  }
});

test('embedding state = embedding-table rows (+ position rows), from the graphs\' own initializers', async () => {
  const ids = [3, 1, 4, 1, 5];
  // GPT-2 one layer: wte[ids] + wpe[0…T−1]
  {
    const m = await OnnxHiddenStateModel.open(GPT2_ONE, { cacheDir: CACHE });
    const out = await m.forward(ids);
    await m.dispose();
    const wte = initializerF32(GPT2_ONE, 'wte.weight_resize');
    const wpe = initializerF32(GPT2_ONE, 'wpe.weight_resize');
    const H = wte.dims[1]!;
    const expect = new Float32Array(ids.length * H);
    ids.forEach((id, t) => {
      for (let j = 0; j < H; j++) expect[t * H + j] = wte.data[id * H + j]! + wpe.data[t * H + j]!;
    });
    assert.deepEqual(out.hidden[0], expect);
  }
  // Mistral (mobius): embed_tokens[ids], no scaling
  {
    const m = await OnnxHiddenStateModel.open(MISTRAL_DIR, { cacheDir: CACHE });
    const out = await m.forward(ids);
    await m.dispose();
    const emb = initializerF32(MISTRAL, 'model.embed_tokens.weight');
    const H = emb.dims[1]!;
    const expect = new Float32Array(ids.length * H);
    ids.forEach((id, t) => expect.set(emb.data.subarray(id * H, (id + 1) * H), t * H));
    assert.deepEqual(out.hidden[0], expect);
    assert.equal(m.nBlocks, 2);
    assert.equal(m.hiddenSize, 64);
    assert.equal(m.vocabSize, 256);
    assert.equal(m.modelType, 'mistral', 'genai_config.json model.type');
    assert.equal(out.hidden.length, 3);
    for (const h of out.hidden) assert.equal(h.length, ids.length * 64);
    assert.equal(out.logits!.length, ids.length * 256);
  }
});

test('last state = the graph\'s own block output (GPT-2 one layer) and ln_f(last state) = last_state (12-layer GPT2Model)', async () => {
  const ids = [2, 7, 1, 8];
  {
    const r = await inspectModel(GPT2_ONE, { tokenIds: ids, cacheDir: CACHE });
    // output "471" is the block's residual sum: the walk must end exactly there
    assert.equal(r.stateTensors[1], '471');
    assert.equal(r.outputsCompared[0], '471');
  }
  {
    // this graph takes one token at a time (input_ids [batch, 1]); the runner decodes through past_i
    const m = await OnnxHiddenStateModel.open(GPT2_PAST_12, { cacheDir: CACHE });
    const out = await m.forward(ids);
    await m.dispose();
    const w = initializerF32(GPT2_PAST_12, 'ln_f.weight_resize').data;
    const b = initializerF32(GPT2_PAST_12, 'ln_f.bias_resize').data;
    const H = 4;
    const last = out.hidden[12]!;
    // the graph's own last_state, fed the same way, as the oracle
    const ort = await import('onnxruntime-node');
    const s = await ort.InferenceSession.create(GPT2_PAST_12);
    let past: Record<string, import('onnxruntime-node').Tensor> = {};
    for (let i = 0; i < 12; i++) past[`past_${i}`] = new ort.Tensor('float32', new Float32Array(0), [2, 1, 2, 0, 2]);
    for (const [t, id] of ids.entries()) {
      const o = await s.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from([BigInt(id)]), [1, 1]), ...past });
      const ref = o.last_state!.data as Float32Array;
      const x = last.subarray(t * H, (t + 1) * H);
      const mean = x.reduce((a, v) => a + v, 0) / H;
      const variance = x.reduce((a, v) => a + (v - mean) ** 2, 0) / H;
      const ln = Array.from(x, (v, j) => ((v - mean) / Math.sqrt(variance + 1e-5)) * w[j]! + b[j]!);
      assert.ok(maxAbsDiff(ln, ref) <= 1e-5 * Math.max(1, maxAbs(ref)), `token ${t}: ln_f(hidden_states.12) vs last_state ${maxAbsDiff(ln, ref)}`);
      past = {};
      for (let i = 0; i < 12; i++) past[`past_${i}`] = o[`present_${i}`]!;
    }
    await s.release();
  }
});

test('KV-cache incremental decoding through the modified graph = one full pass (dynamic and static caches)', async () => {
  const ids = [1, 2, 3, 4, 5, 6];
  for (const [file, tol] of [[GPT2_PAST_ONE, 1e-6], [GPT2_PAST_MASK_ONE, 1e-6], [MEGATRON, 1e-6], [MISTRAL_DIR, 1e-6]] as const) {
    const m = await OnnxHiddenStateModel.open(file, { cacheDir: CACHE });
    const full = await m.forward(ids);
    for (const chunk of [1, 4]) {
      const inc = await m.forwardIncremental(ids, chunk);
      for (let k = 0; k < full.hidden.length; k++) {
        const d = maxAbsDiff(full.hidden[k]!, inc.hidden[k]!);
        assert.ok(d <= tol * Math.max(1, maxAbs(full.hidden[k]!)), `${file} chunk ${chunk} hidden_states.${k}: ${d}`);
      }
      if (full.logits) assert.ok(maxAbsDiff(full.logits, inc.logits!) <= tol * Math.max(1, maxAbs(full.logits)));
    }
    await m.dispose();
  }
});

test('cache: modified graph written to <root>/<sha16>/onnx/<name>.lockstep-hs-<sha16>.onnx with a copy of config.json, never into the model folder; reused; rebuilt when the model changes', async () => {
  const dir = tempDir('onnx-model-folder');
  const file = path.join(dir, 'onnx', 'model.onnx');
  fs.mkdirSync(path.dirname(file));
  fs.copyFileSync(MEGATRON, file);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'gpt2', n_layer: 1 }));
  const before = snapshot(dir);
  const first = prepareSurgery(file);
  assert.equal(first.reused, false);
  const key = first.loaded.sha256.slice(0, 16);
  assert.equal(first.folder, path.join(DEFAULT_ROOT, key));
  assert.equal(first.file, path.join(DEFAULT_ROOT, key, 'onnx', `model.lockstep-hs-${key}.onnx`));
  assert.equal(first.metaFile, path.join(DEFAULT_ROOT, key, 'onnx', `model.lockstep-hs-${key}.json`));
  // a model folder of its own for transformers.js: config.json copied
  assert.ok(fs.readFileSync(path.join(first.folder, 'config.json')).equals(fs.readFileSync(path.join(dir, 'config.json'))));
  assert.deepEqual(fs.readdirSync(first.folder).sort(), ['config.json', 'onnx']);
  // the metadata names the source by file name: no path of this machine
  const metaText = fs.readFileSync(first.metaFile, 'utf8');
  assert.equal(JSON.parse(metaText).source, 'model.onnx');
  assert.ok(!metaText.includes(dir) && !metaText.includes(os.homedir()), metaText);
  const mtime = fs.statSync(first.file).mtimeMs;
  const second = prepareSurgery(file);
  assert.equal(second.reused, true);
  assert.equal(second.file, first.file);
  assert.equal(fs.statSync(first.file).mtimeMs, mtime);
  // --cache-dir / cacheDir replaces the root
  const elsewhere = tempDir('onnx-cache-dir');
  assert.equal(prepareSurgery(file, { cacheDir: elsewhere }).file, path.join(elsewhere, key, 'onnx', `model.lockstep-hs-${key}.onnx`));
  // a changed model (doc string edited) gets a new key and a new folder
  const m = decodeFile(file);
  m.docString = 'edited';
  fs.writeFileSync(file, onnx.ModelProto.encode(m).finish());
  const edited = snapshot(dir);
  const third = prepareSurgery(file);
  assert.equal(third.reused, false);
  assert.notEqual(third.folder, first.folder);
  const r = await inspectModel(file, { tokenIds: [1, 2] });
  assert.equal(r.reused, true);
  assert.equal(r.outputsMaxAbsDiff, 0);
  assert.equal(r.sourceFile, file);
  assert.equal(r.cacheFolder, third.folder);
  // the runner trusts checks recorded for this exact modified graph, and reruns them on request
  const a = await OnnxHiddenStateModel.open(file);
  assert.equal(a.checksFromCache, true);
  assert.deepEqual(a.report.tokens, [1, 2]);
  const b = await OnnxHiddenStateModel.open(file, { recheck: true });
  assert.equal(b.checksFromCache, false);
  assert.deepEqual((await a.forward([4, 5, 6])).hidden, (await b.forward([4, 5, 6])).hidden);
  await a.dispose();
  await b.dispose();
  // nothing was written into the model folder
  assert.deepEqual([...before.keys()].sort(), ['config.json', path.join('onnx', 'model.onnx')]);
  assert.deepEqual(snapshot(dir), edited);
});

test('external data: hard-linked into the cache folder (not copied), so the modified graph loads by path; the onnxruntime runner reads the weights from the model folder', async () => {
  const dir = tempDir('onnx-external');
  const { onnxFile, dataFile, moved } = writeExternalDataCopy(MISTRAL, dir);
  assert.ok(moved >= 10);
  const before = snapshot(dir);
  const r = await inspectModel(onnxFile, { tokenIds: [7, 8, 9] });
  assert.equal(r.blocks, 2);
  assert.equal(r.outputsMaxAbsDiff, 0);
  assert.ok(r.logitsReconstructionMaxAbsDiff! <= 1e-5 * Math.max(1, r.logitsMaxAbs!));
  assert.equal(path.dirname(r.modifiedFile), path.join(r.cacheFolder, 'onnx'));
  assert.ok(fs.statSync(r.modifiedFile).size < fs.statSync(onnxFile).size + 4096, 'weights not inlined into the modified graph');
  const mod = decodeFile(r.modifiedFile);
  const locations = new Set((mod.graph!.initializer ?? []).filter((t) => t.dataLocation === 1).flatMap((t) => (t.externalData ?? []).filter((kv) => kv.key === 'location').map((kv) => kv.value)));
  assert.deepEqual([...locations], ['model.onnx_data']);
  // the cache's weights are the model's file (same inode), not a copy
  const link = path.join(path.dirname(r.modifiedFile), 'model.onnx_data');
  assert.equal(fs.statSync(link).ino, fs.statSync(dataFile).ino);
  assert.deepEqual(r.unlinkedExternalData, []);
  assert.deepEqual(snapshot(dir), before);
  // what transformers.js does: onnxruntime loads the modified graph by its path
  const byPath = await ort.InferenceSession.create(r.modifiedFile);
  assert.ok(byPath.outputNames.includes('hidden_states.2'));
  await byPath.release();
  const c = await OnnxHiddenStateModel.open(onnxFile);
  const hc = await c.forward([7, 8, 9]);
  await c.dispose();
  // weights replaced by a new file (same bytes, new inode): the link follows on the next open
  fs.rmSync(dataFile);
  fs.writeFileSync(dataFile, before.get('model.onnx_data')!);
  const relinked = await OnnxHiddenStateModel.open(onnxFile);
  assert.equal(relinked.checksFromCache, true);
  assert.equal(fs.statSync(link).ino, fs.statSync(dataFile).ino);
  const hr = await relinked.forward([7, 8, 9]);
  await relinked.dispose();
  // same hidden states as without external data
  const b = await OnnxHiddenStateModel.open(MISTRAL, { cacheDir: CACHE });
  const hb = await b.forward([7, 8, 9]);
  await b.dispose();
  for (let k = 0; k < 3; k++) {
    assert.deepEqual(hc.hidden[k], hb.hidden[k]);
    assert.deepEqual(hr.hidden[k], hb.hidden[k]);
  }
});

test('refusals: no embedding, token outside the vocabulary, a cached graph that changes the outputs', async () => {
  const dir = tempDir('onnx-refuse');
  const bad = path.join(dir, 'softmax.onnx');
  writeNoEmbeddingModel(bad);
  await assert.rejects(inspectModel(bad, { cacheDir: dir }), (e: Error) => e.message.startsWith(`${bad}: residual-stream walk failed: no embedding found`));
  await assert.rejects(inspectModel(MEGATRON, { tokenIds: [1, 10], cacheDir: CACHE }), /token id 10 is outside the vocabulary \(0…9\)/);
  const notOnnx = path.join(dir, 'junk.onnx');
  fs.writeFileSync(notOnnx, Buffer.from('this is not protobuf at all, just text\n'));
  await assert.rejects(inspectModel(notOnnx, { cacheDir: dir }), (e: Error) => e.message.startsWith(`${notOnnx}:`));
  // a modified graph that computes something else must be refused by the check …
  const copy = path.join(dir, 'model.onnx');
  fs.copyFileSync(GPT2_PAST_ONE, copy);
  const good = prepareSurgery(copy);
  const wrong = onnx.ModelProto.decode(fs.readFileSync(good.file));
  const nodes = wrong.graph!.node ?? [];
  const addIdx = nodes.findIndex((n) => (n.output ?? [])[0] === good.description.stateTensors[1]);
  nodes[addIdx]!.opType = 'Sub'; // the residual Add becomes a Sub: same output names, other values
  const wrongFile = path.join(dir, 'wrong.onnx');
  fs.writeFileSync(wrongFile, onnx.ModelProto.encode(wrong).finish());
  await assert.rejects(runChecks({ ...good, file: wrongFile }), (e: Error) => /check "original outputs unchanged" failed: output "\w+" differs by [0-9.e+-]+/.test(e.message) && e.message.startsWith(copy));
  // … and an overwritten cache file is not reused: it is rebuilt
  fs.copyFileSync(wrongFile, good.file);
  const again = await inspectModel(copy);
  assert.equal(again.reused, false);
  assert.equal(again.outputsMaxAbsDiff, 0);
});

// ---- generated tiny models with ground truth (adapters/onnx/builder) ----

const VARIANTS: TinyCausalLMSpec[] = [
  { family: 'gpt2', naming: 'optimum' },
  { family: 'gpt2', naming: 'optimum', tiedEmbeddings: false },
  { family: 'gpt2', naming: 'numeric' },
  { family: 'gpt2', naming: 'numeric', castOnResidual: true },
  { family: 'gpt2', naming: 'mobius' },
  { family: 'gpt2', naming: 'optimum', fusion: 'ort-fused' },
  { family: 'gpt2', naming: 'numeric', fusion: 'ort-fused' },
  { family: 'gpt2', fusion: 'ort-fused', embedLayerNorm: true },
  { family: 'gpt2', inputsEmbeds: true },
  { family: 'gpt2', kvCache: true },
  { family: 'gpt2', externalData: true },
  { family: 'llama', naming: 'optimum' },
  { family: 'llama', naming: 'optimum', kvHeads: 2, kvCache: true },
  { family: 'llama', naming: 'numeric', castOnResidual: true },
  { family: 'llama', naming: 'mobius' },
  { family: 'llama', fusion: 'genai', kvHeads: 2 },
  { family: 'llama', fusion: 'genai', kvCache: true },
  { family: 'llama', inputsEmbeds: true, sandwichNorms: true },
  { family: 'llama', sandwichNorms: true },
  { family: 'llama', externalData: true, kvCache: true },
  { family: 'gpt-neox', naming: 'optimum' },
  { family: 'gpt-neox', naming: 'numeric' },
  { family: 'gpt-neox', naming: 'mobius', rotaryPct: 1 },
  { family: 'gpt-neox', inputsEmbeds: true },
  { family: 'gpt-neox', kvCache: true },
];

function writeTiny(m: TinyCausalLM, dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'model.onnx');
  fs.writeFileSync(file, m.model);
  if (m.externalData) fs.writeFileSync(path.join(dir, m.spec.externalDataLocation), m.externalData);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(m.config));
  return file;
}

/** (node name, output slot) of each state the surgery exposes, read back from the modified graph. */
function sourcesOf(modifiedFile: string, stateTensors: string[]): Array<{ node: string | null; output: number }> {
  const g = decodeFile(modifiedFile).graph!;
  return stateTensors.map((t) => {
    for (const n of g.node ?? []) {
      const slot = (n.output ?? []).indexOf(t);
      if (slot >= 0) return { node: n.name ?? '', output: slot };
    }
    return { node: null, output: 0 };
  });
}

const TINY_IDS = [3, 17, 42, 5, 88, 1, 60];

test('generated tiny models (GPT-2/Llama/GPT-NeoX × optimum/numeric/mobius × ORT-fused/genai, inputs_embeds, KV cache, external data): the surgery finds exactly the ground-truth tensors', async () => {
  const root = tempDir('onnx-tiny');
  for (const [i, spec] of VARIANTS.entries()) {
    const label = JSON.stringify(spec);
    const m = buildTinyCausalLM({ ...spec, seed: 11 });
    const file = writeTiny(m, path.join(root, String(i)));
    const r = await inspectModel(file, { tokenIds: TINY_IDS });
    assert.equal(r.blocks, m.spec.layers, label);
    assert.equal(r.hiddenSize, m.spec.hidden, label);
    assert.equal(r.outputsMaxAbsDiff, 0, label);
    assert.ok(r.logitsReconstructionMaxAbsDiff !== null && r.logitsReconstructionMaxAbsDiff <= 1e-5 * Math.max(1, r.logitsMaxAbs!), `${label}: logits reconstruction ${r.logitsReconstructionMaxAbsDiff}`);
    // ground truth by (producing node, output slot): for ORT-fused graphs the last state is output 3
    // of the final fused norm, which the builder names only when it declares it
    assert.deepEqual(sourcesOf(r.modifiedFile, r.stateTensors), m.hiddenStateSources, `${label}: states ${r.stateTensors.join(', ')} vs ${m.expectedHiddenStates.join(', ')}`);
    if (spec.fusion !== 'ort-fused') assert.deepEqual(r.stateTensors, m.expectedHiddenStates, label);
    assert.equal(r.architectureGuess, spec.family, label);
    assert.equal(r.parallelResidual, spec.family === 'gpt-neox', label);
    if (spec.fusion === 'ort-fused') {
      assert.equal(r.finalNorm?.fused, true, label);
      assert.equal(r.materialized.length, 1, `${label}: output 3 of the final fused norm is added`);
    }
  }
});

test('generated tiny models: the runner\'s hidden states equal the builder\'s declared ground-truth outputs, and KV-cache decoding equals a full pass', async () => {
  const root = tempDir('onnx-tiny-values');
  // one of each layout and cache kind (the walk itself is checked on every variant above)
  const chosen: TinyCausalLMSpec[] = [
    { family: 'gpt2', naming: 'numeric', castOnResidual: true },
    { family: 'gpt2', naming: 'optimum', fusion: 'ort-fused' },
    { family: 'gpt2', fusion: 'ort-fused', embedLayerNorm: true, kvCache: true },
    { family: 'gpt2', kvCache: true },
    { family: 'llama', naming: 'mobius' },
    { family: 'llama', fusion: 'genai', kvCache: true },
    { family: 'llama', externalData: true, kvCache: true },
    { family: 'gpt-neox', kvCache: true },
  ];
  for (const [i, spec] of chosen.entries()) {
    const label = JSON.stringify(spec);
    const m = buildTinyCausalLM({ ...spec, seed: 5 });
    const file = writeTiny(m, path.join(root, String(i)));
    const model = await OnnxHiddenStateModel.open(path.dirname(file));
    assert.equal(model.modelType, m.config.model_type, label);
    const got = await model.forward(TINY_IDS);
    // oracle: the same weights with the ground-truth states declared as outputs by the builder itself
    const truth = buildTinyCausalLM({ ...spec, seed: 5, exposeHiddenStates: true, externalData: false });
    const session = await ort.InferenceSession.create(truth.model);
    const ref = await session.run(decoderFeeds(truth.spec, { ids: TINY_IDS }));
    await session.release();
    for (let k = 0; k <= m.spec.layers; k++) {
      const want = ref[truth.expectedHiddenStates[k]!]!.data as Float32Array;
      assert.ok(maxAbsDiff(got.hidden[k]!, want) <= 1e-6 * Math.max(1, maxAbs(want)), `${label} hidden_states.${k}: ${maxAbsDiff(got.hidden[k]!, want)}`);
    }
    const wantLogits = ref.logits!.data as Float32Array;
    assert.ok(maxAbsDiff(got.logits!, wantLogits) <= 1e-6 * Math.max(1, maxAbs(wantLogits)), `${label} logits`);
    if (spec.kvCache) {
      for (const chunk of [1, 3]) {
        const inc = await model.forwardIncremental(TINY_IDS, chunk);
        for (let k = 0; k <= m.spec.layers; k++) {
          const d = maxAbsDiff(inc.hidden[k]!, got.hidden[k]!);
          assert.ok(d <= 1e-5 * Math.max(1, maxAbs(got.hidden[k]!)), `${label} chunk ${chunk} hidden_states.${k}: ${d}`);
        }
      }
    }
    await model.dispose();
  }
});

test('inputs_embeds graphs: the walk starts at the input; the runner refuses token ids with a clear error', async () => {
  const m = buildTinyCausalLM({ family: 'llama', inputsEmbeds: true, seed: 2 });
  const file = writeTiny(m, tempDir('onnx-embeds'));
  const r = await inspectModel(file);
  assert.equal(r.start, 'inputs-embeds');
  assert.equal(r.stateTensors[0], 'inputs_embeds');
  await assert.rejects(OnnxHiddenStateModel.open(file), /takes inputs_embeds/);
});

test('refusal: an ambiguous stream (two Adds could continue it) names the tensor and the candidates', async () => {
  const m = buildTinyCausalLM({ family: 'llama', seed: 3 });
  const model = onnx.ModelProto.decode(m.model);
  const [s0, s1] = [m.expectedHiddenStates[0]!, m.expectedHiddenStates[1]!];
  model.graph!.node!.push(onnx.NodeProto.create({ name: 'extra_add', opType: 'Add', input: [s0, s1], output: ['extra_sum'] }));
  model.graph!.output!.push(onnx.ValueInfoProto.create({ name: 'extra_sum', type: { tensorType: { elemType: 1 } } }));
  const file = path.join(tempDir('onnx-ambiguous'), 'model.onnx');
  fs.writeFileSync(file, onnx.ModelProto.encode(model).finish());
  await assert.rejects(inspectModel(file), (e: Error) => e.message.startsWith(`${file}: residual-stream walk failed: the residual stream is ambiguous at tensor "${s0}": 2 consumers could continue it`) && e.message.includes('Add "extra_add"'));
});

test('refusal: a last state that is not the final residual stream fails the logits check, naming the tensor and the difference', async () => {
  const m = buildTinyCausalLM({ family: 'llama', seed: 4 });
  const dir = tempDir('onnx-wrong-last');
  const file = writeTiny(m, dir);
  const good = prepareSurgery(file);
  // expose the wrong tensor as the last state: hidden_states.L copies block L−1's output
  const states = good.plan.walk.states;
  const L = states.length - 1;
  const appendNodes = good.plan.edit.appendNodes.map((n, k) => (k === L ? { ...n, input: [states[L - 1]!] } : n));
  const wrongFile = path.join(dir, 'wrong.onnx');
  fs.writeFileSync(wrongFile, spliceModel(good.loaded.bytes, { ...good.plan.edit, appendNodes }, file));
  await assert.rejects(
    runChecks({ ...good, file: wrongFile }),
    (e: Error) => e.message.startsWith(`${file}: check "final norm + LM head of hidden_states.${L} (tensor "${states[L]}") gives the logits" failed: max abs difference`),
  );
});

test('refusal: a merged decoder (If sub-graphs) points to decoder_model.onnx', async () => {
  const dir = tempDir('onnx-merged');
  const file = path.join(dir, 'decoder_model_merged.onnx');
  const vi = (name: string, elemType: number) => ({ name, type: { tensorType: { elemType, shape: { dim: [{ dimValue: 1 }] } } } });
  const branch = (v: number) => ({ name: `b${v}`, node: [{ opType: 'Constant', output: [`c${v}`], attribute: [{ name: 'value', type: 4, t: { dims: [1], dataType: 1, floatData: [v] } }] }], output: [vi(`c${v}`, 1)] });
  const model = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'merged',
      node: [{ opType: 'If', input: ['use_cache_branch'], output: ['y'], name: 'optimum::if', attribute: [{ name: 'then_branch', type: 5, g: branch(1) }, { name: 'else_branch', type: 5, g: branch(0) }] }],
      input: [vi('use_cache_branch', 9)],
      output: [vi('y', 1)],
    },
  };
  fs.writeFileSync(file, onnx.ModelProto.encode(model).finish());
  await assert.rejects(inspectModel(file, { cacheDir: dir }), /decoder sits inside If\/Loop sub-graphs .*give decoder_model\.onnx or model\.onnx/);
});

test('refusal: a stream that ends before the last attention (post-norm LayerNorm on the sum) is not reported as a shallow model', async () => {
  const m = buildTinyCausalLM({ family: 'gpt2', naming: 'optimum', seed: 6 });
  const model = onnx.ModelProto.decode(m.model);
  const s1 = m.expectedHiddenStates[1]!;
  const nodes = model.graph!.node!;
  // route every consumer of block 0's output through a LayerNormalization (BERT/OPT-350m post-norm style)
  for (const n of nodes) n.input = (n.input ?? []).map((t) => (t === s1 ? 'post_norm_0' : t));
  const gamma = nodes.find((n) => n.opType === 'LayerNormalization')!.input![1]!;
  const beta = nodes.find((n) => n.opType === 'LayerNormalization')!.input![2]!;
  nodes.push(onnx.NodeProto.create({ name: 'post_ln_0', opType: 'LayerNormalization', input: [s1, gamma, beta], output: ['post_norm_0'], attribute: [{ name: 'axis', type: 2, i: -1 }] }));
  const file = path.join(tempDir('onnx-post-ln'), 'model.onnx');
  fs.writeFileSync(file, onnx.ModelProto.encode(model).finish());
  await assert.rejects(inspectModel(file), (e: Error) => e.message.includes(`the residual stream ends at "${s1}" (consumed by LayerNormalization "post_ln_0") but output "logits" still goes through attention`));
});

test('ORT EmbedLayerNormalization start (BERT-style fusion of token + position embedding and ln_1): state 0 is its output 2', async () => {
  const m = buildTinyCausalLM({ family: 'gpt2', naming: 'optimum', seed: 8 });
  const model = onnx.ModelProto.decode(m.model);
  const g = model.graph!;
  const drop = new Set(['/transformer/wte/Gather', '/transformer/wpe/Gather', '/transformer/Add_1', '/transformer/h.0/attn/ln_1/LayerNormalization']);
  assert.equal((g.node ?? []).filter((n) => drop.has(n.name ?? '')).length, 4, 'builder layout changed: update this test');
  const at = (g.node ?? []).findIndex((n) => drop.has(n.name ?? ''));
  g.node = (g.node ?? []).filter((n) => !drop.has(n.name ?? ''));
  g.node.splice(
    at,
    0,
    onnx.NodeProto.create({ name: 'ids_int32', opType: 'Cast', input: ['input_ids'], output: ['input_ids_int32'], attribute: [{ name: 'to', type: 2, i: 6 }] }),
    onnx.NodeProto.create({
      name: 'EmbedLayerNorm_0', opType: 'EmbedLayerNormalization', domain: 'com.microsoft',
      input: ['input_ids_int32', '', 'transformer.wte.weight', 'transformer.wpe.weight', '', 'transformer.h.0.ln_1.weight', 'transformer.h.0.ln_1.bias'],
      output: ['/transformer/h.0/attn/ln_1/LayerNormalization_output_0', '', 'embedding_sum'],
      attribute: [{ name: 'epsilon', type: 1, f: m.spec.eps }],
    }),
  );
  for (const n of g.node) n.input = (n.input ?? []).map((t) => (t === '/transformer/Add_1_output_0' ? 'embedding_sum' : t));
  model.opsetImport!.push({ domain: 'com.microsoft', version: 1 });
  const file = path.join(tempDir('onnx-embed-ln'), 'model.onnx');
  fs.writeFileSync(file, onnx.ModelProto.encode(model).finish());
  const r = await inspectModel(file, { tokenIds: TINY_IDS });
  assert.equal(r.start, 'embed-layernorm');
  assert.deepEqual(r.stateTensors, ['embedding_sum', ...m.expectedHiddenStates.slice(1)]);
  assert.equal(r.outputsMaxAbsDiff, 0);
  assert.ok(r.logitsReconstructionMaxAbsDiff! <= 1e-5 * Math.max(1, r.logitsMaxAbs!));
  assert.equal(r.vocabSize, m.spec.vocab);
  assert.equal(r.positions, 'learned');
  // values: the fused graph's states equal the unfused builder's ground truth
  const model2 = await OnnxHiddenStateModel.open(file);
  const got = await model2.forward(TINY_IDS);
  await model2.dispose();
  const truth = buildTinyCausalLM({ family: 'gpt2', naming: 'optimum', seed: 8, exposeHiddenStates: true });
  const session = await ort.InferenceSession.create(truth.model);
  const ref = await session.run(decoderFeeds(truth.spec, { ids: TINY_IDS }));
  await session.release();
  for (let k = 0; k <= m.spec.layers; k++) {
    const want = ref[truth.expectedHiddenStates[k]!]!.data as Float32Array;
    assert.ok(maxAbsDiff(got.hidden[k]!, want) <= 1e-5 * Math.max(1, maxAbs(want)), `hidden_states.${k}`);
  }
});

test('float16 graphs (model_fp16.onnx style): same walk, outputs bit-identical, logits reconstructed to fp16 tolerance, states close to the fp32 ground truth', async () => {
  const root = tempDir('onnx-fp16');
  for (const [i, spec] of ([{ family: 'llama', kvCache: true }, { family: 'gpt2', fusion: 'ort-fused' }, { family: 'llama', fusion: 'genai' }, { family: 'gpt-neox' }] as TinyCausalLMSpec[]).entries()) {
    const label = `fp16 ${JSON.stringify(spec)}`;
    const m = buildTinyCausalLM({ ...spec, seed: 3 });
    const file = writeTiny({ ...m, model: toFloat16Model(m.model) }, path.join(root, String(i)));
    const model = await OnnxHiddenStateModel.open(file);
    const r = model.report;
    assert.deepEqual(sourcesOf(r.modifiedFile, r.stateTensors), m.hiddenStateSources, label);
    assert.equal(r.outputsMaxAbsDiff, 0, label);
    assert.ok(r.logitsReconstructionMaxAbsDiff! <= 2e-3 * Math.max(1, r.logitsMaxAbs!), `${label}: ${r.logitsReconstructionMaxAbsDiff}`);
    const got = await model.forward(TINY_IDS);
    const truth = buildTinyCausalLM({ ...spec, seed: 3, exposeHiddenStates: true });
    const session = await ort.InferenceSession.create(truth.model);
    const ref = await session.run(decoderFeeds(truth.spec, { ids: TINY_IDS }));
    await session.release();
    for (let k = 0; k <= m.spec.layers; k++) {
      const want = ref[truth.expectedHiddenStates[k]!]!.data as Float32Array;
      // fp16 keeps ~3 significant digits; through 3 blocks the error stays ~1e-3 of the scale
      assert.ok(maxAbsDiff(got.hidden[k]!, want) <= 5e-3 * Math.max(1, maxAbs(want)), `${label} hidden_states.${k}: ${maxAbsDiff(got.hidden[k]!, want)}`);
    }
    if (spec.kvCache) {
      const inc = await model.forwardIncremental(TINY_IDS, 2);
      for (let k = 0; k <= m.spec.layers; k++) assert.ok(maxAbsDiff(inc.hidden[k]!, got.hidden[k]!) <= 2e-3 * Math.max(1, maxAbs(got.hidden[k]!)), `${label} incremental ${k}`);
    }
    await model.dispose();
  }
});
