/**
 * The tiny causal-LM ONNX builder: every family × naming × fusion combination loads and runs in
 * onnxruntime-node; the ground-truth hidden states are the real residual stream (the final norm
 * and LM head, recomputed in TypeScript from the generated weights, turn the last one back into
 * the graph's logits; the first is the embedding lookup); naming and fusion do not change the
 * numbers; KV-cache incremental decoding equals a full pass; external data loads from a path.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';

import { decoderFeeds } from '../adapters/onnx/builder/feeds.js';
import { finalNormAndHead } from '../adapters/onnx/builder/referenceMath.js';
import { buildTinyCausalLM, type TinyCausalLM, type TinyCausalLMSpec } from '../adapters/onnx/builder/tinyCausalLM.js';
import { need, writeWeightsDir } from '../adapters/onnx/builder/weights.js';
import { DEBIAN_PYTHON, REPO_ROOT, tempDir } from './helpers/paths.js';
import { execFileSync } from 'node:child_process';

const IDS = [3, 17, 42, 5, 88, 1, 60];

async function run(m: TinyCausalLM, ids = IDS): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(m.model);
  const embeds = m.spec.inputsEmbeds ? embedsFor(m, ids) : undefined;
  return session.run(decoderFeeds(m.spec, m.spec.inputsEmbeds ? { embeds } : { ids }));
}

/** Deterministic inputs_embeds for graphs without a token embedding. */
function embedsFor(m: TinyCausalLM, ids: number[]): Float32Array {
  const D = m.spec.hidden;
  const out = new Float32Array(ids.length * D);
  for (let s = 0; s < ids.length; s++) for (let d = 0; d < D; d++) out[s * D + d] = Math.sin(ids[s]! * 0.7 + d * 1.3);
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

interface PlainNode {
  name: string;
  opType: string;
  domain: string;
  output: string[];
}

function decode(m: TinyCausalLM): onnxProto.onnx.ModelProto {
  return onnxProto.onnx.ModelProto.decode(m.model);
}

function nodesOf(m: TinyCausalLM): PlainNode[] {
  return (decode(m).graph?.node ?? []).map((n) => ({ name: n.name ?? '', opType: n.opType ?? '', domain: n.domain ?? '', output: n.output ?? [] }));
}

const COMBOS: TinyCausalLMSpec[] = [
  { family: 'gpt2', naming: 'optimum' },
  { family: 'gpt2', naming: 'optimum', tiedEmbeddings: false },
  { family: 'gpt2', naming: 'numeric' },
  { family: 'gpt2', naming: 'numeric', castOnResidual: true },
  { family: 'gpt2', naming: 'mobius' },
  { family: 'gpt2', naming: 'optimum', fusion: 'ort-fused' },
  { family: 'gpt2', naming: 'numeric', fusion: 'ort-fused' },
  { family: 'gpt2', fusion: 'ort-fused', embedLayerNorm: true },
  { family: 'gpt2', inputsEmbeds: true },
  { family: 'llama', naming: 'optimum' },
  { family: 'llama', naming: 'optimum', kvHeads: 2 },
  { family: 'llama', naming: 'numeric', castOnResidual: true },
  { family: 'llama', naming: 'mobius' },
  { family: 'llama', fusion: 'genai', kvHeads: 2 },
  { family: 'llama', inputsEmbeds: true, sandwichNorms: true },
  { family: 'gpt-neox', naming: 'optimum' },
  { family: 'gpt-neox', naming: 'numeric' },
  { family: 'gpt-neox', naming: 'mobius', rotaryPct: 1 },
  { family: 'gpt-neox', inputsEmbeds: true },
];

describe('tiny causal LMs: ground-truth hidden states', () => {
  for (const spec of COMBOS) {
    it(`${JSON.stringify(spec)}: L+1 states; final norm + head of the last reproduce the logits`, async () => {
      const m = buildTinyCausalLM({ ...spec, exposeHiddenStates: true, seed: 7 });
      const L = m.spec.layers;
      assert.equal(m.expectedHiddenStates.length, L + 1);
      assert.equal(new Set(m.expectedHiddenStates).size, L + 1);
      const out = await run(m);
      const S = IDS.length;
      const logits = out.logits!;
      assert.deepEqual(logits.dims, [1, S, m.spec.vocab]);
      const last = out[m.expectedHiddenStates[L]!]!;
      assert.ok(last !== undefined, `hidden state ${m.expectedHiddenStates[L]} is a graph output`);
      assert.deepEqual(last.dims, [1, S, m.spec.hidden]);
      const ref = finalNormAndHead(m.spec, m.weights, last.data as Float32Array, S);
      const got = logits.data as Float32Array;
      const scale = Math.max(1, maxAbs(ref));
      assert.ok(maxAbsDiff(got, ref) <= 2e-6 * scale * m.spec.hidden, `logits vs TS head: ${maxAbsDiff(got, ref)} (scale ${scale})`);
      // Every block changes the stream, and states are not repeated under two names.
      for (let i = 1; i <= L; i++) {
        const prev = m.spec.inputsEmbeds && i === 1 && m.spec.family !== 'gpt2' ? embedsFor(m, IDS) : (out[m.expectedHiddenStates[i - 1]!]!.data as Float32Array);
        const cur = out[m.expectedHiddenStates[i]!]!.data as Float32Array;
        assert.ok(maxAbsDiff(prev, cur) > 1e-3, `block ${i - 1} changes the residual stream`);
      }
      // hidden_states[0] is the embedding output.
      const h0 = m.spec.inputsEmbeds && m.spec.family !== 'gpt2' ? embedsFor(m, IDS) : (out[m.expectedHiddenStates[0]!]!.data as Float32Array);
      const expected0 = new Float32Array(S * m.spec.hidden);
      const D = m.spec.hidden;
      for (let s = 0; s < S; s++) {
        for (let d = 0; d < D; d++) {
          let v: number;
          if (m.spec.inputsEmbeds) v = embedsFor(m, IDS)[s * D + d]!;
          else {
            const emb = m.spec.family === 'gpt2' ? 'transformer.wte.weight' : m.spec.family === 'llama' ? 'model.embed_tokens.weight' : 'gpt_neox.embed_in.weight';
            v = need(m.weights, emb).data[IDS[s]! * D + d]!;
          }
          if (m.spec.family === 'gpt2') v += need(m.weights, 'transformer.wpe.weight').data[s * D + d]!;
          expected0[s * D + d] = v;
        }
      }
      assert.ok(maxAbsDiff(h0, expected0) <= 1e-6, 'hidden_states[0] = token (+ position) embedding');
    });
  }

  it('exposing hidden states leaves the logits bit-identical', async () => {
    for (const spec of [{ family: 'gpt2', fusion: 'ort-fused' }, { family: 'llama', fusion: 'genai' }, { family: 'gpt-neox' }] as TinyCausalLMSpec[]) {
      const a = await run(buildTinyCausalLM({ ...spec, seed: 3 }));
      const b = await run(buildTinyCausalLM({ ...spec, seed: 3, exposeHiddenStates: true }));
      assert.deepEqual(Array.from(a.logits!.data as Float32Array), Array.from(b.logits!.data as Float32Array));
    }
  });

  it('numeric, optimum and mobius names (and ORT fusion) give the same logits for the same seed', async () => {
    for (const family of ['gpt2', 'llama', 'gpt-neox'] as const) {
      const base = (await run(buildTinyCausalLM({ family, naming: 'optimum', seed: 11 }))).logits!.data as Float32Array;
      const variants: TinyCausalLMSpec[] = [
        { family, naming: 'numeric' },
        { family, naming: 'numeric', castOnResidual: true },
        { family, naming: 'mobius' },
        ...(family === 'gpt2' ? [{ family, fusion: 'ort-fused' }, { family, fusion: 'ort-fused', embedLayerNorm: true }] as TinyCausalLMSpec[] : []),
        ...(family === 'llama' ? [{ family, fusion: 'genai' } as TinyCausalLMSpec] : []),
      ];
      for (const v of variants) {
        const got = (await run(buildTinyCausalLM({ ...v, seed: 11 }))).logits!.data as Float32Array;
        const d = maxAbsDiff(base, got);
        assert.ok(d <= 1e-5 * Math.max(1, maxAbs(base)), `${JSON.stringify(v)}: ${d}`);
        assert.ok(d < 1e-3, `${JSON.stringify(v)} differs by ${d}`);
      }
    }
  });

  it('names: optimum block outputs are /…/h.N/Add_1, numeric are numbers, mobius are v_… tensors', () => {
    const opt = buildTinyCausalLM({ family: 'gpt2', seed: 1 });
    assert.deepEqual(opt.expectedHiddenStates.slice(1), ['/transformer/h.0/Add_1_output_0', '/transformer/h.1/Add_1_output_0', '/transformer/h.2/Add_1_output_0']);
    const llama = buildTinyCausalLM({ family: 'llama', seed: 1 });
    assert.equal(llama.expectedHiddenStates[2], '/model/layers.1/Add_1_output_0');
    const neox = buildTinyCausalLM({ family: 'gpt-neox', seed: 1 });
    assert.equal(neox.expectedHiddenStates[1], '/gpt_neox/layers.0/Add_1_output_0');
    const num = buildTinyCausalLM({ family: 'gpt2', naming: 'numeric', seed: 1 });
    for (const h of num.expectedHiddenStates) assert.match(h, /^\d+$/);
    for (const n of nodesOf(num)) assert.match(n.name, /^[A-Za-z]+_\d+$/);
    const mob = buildTinyCausalLM({ family: 'llama', naming: 'mobius', seed: 1 });
    assert.match(mob.expectedHiddenStates[1]!, /^v_model\.layers\.0\.Add_\d+$/);
    assert.match(mob.hiddenStateSources[1]!.node!, /^model\/layers\.0\/Add_node_\d+$/);
  });

  it('ort-fused: block sums are SkipLayerNormalization output 3; the final fused norm declares none', () => {
    const m = buildTinyCausalLM({ family: 'gpt2', fusion: 'ort-fused', seed: 2 });
    const nodes = nodesOf(m);
    const byName = new Map(nodes.map((n) => [n.name, n]));
    const L = m.spec.layers;
    for (let i = 1; i < L; i++) {
      const src = m.hiddenStateSources[i]!;
      const n = byName.get(src.node!)!;
      assert.equal(n.opType, 'SkipLayerNormalization');
      assert.equal(n.domain, 'com.microsoft');
      assert.equal(n.output[3], m.expectedHiddenStates[i]);
    }
    const fin = byName.get(m.finalNormNode)!;
    assert.equal(fin.opType, 'SkipLayerNormalization');
    assert.equal(fin.output.length, 1, 'final fused norm declares only its normalised output');
    assert.deepEqual(m.hiddenStateSources[L], { node: m.finalNormNode, output: 3 });
    assert.ok(!nodes.some((n) => n.output.includes(m.expectedHiddenStates[L]!)), 'the last sum has no tensor until the surgery declares it');
    assert.ok(!nodes.some((n) => n.opType === 'Add' && /\/h\.\d+\/Add/.test(n.name)), 'no residual Add left');
    const e = buildTinyCausalLM({ family: 'gpt2', fusion: 'ort-fused', embedLayerNorm: true, seed: 2 });
    assert.deepEqual(e.hiddenStateSources[0], { node: 'EmbedLayerNormalization_0', output: 2 });
  });

  it('genai: SkipSimplifiedLayerNormalization output 3, named one layer late; no Add inside blocks', () => {
    const m = buildTinyCausalLM({ family: 'llama', fusion: 'genai', seed: 2 });
    const L = m.spec.layers;
    for (let i = 0; i < L; i++) {
      const want = i < L - 1 ? `/model/layers.${i + 1}/input_layernorm/SkipLayerNorm` : `/model/layers.${L}/final_norm_layernorm/SkipLayerNorm`;
      assert.deepEqual(m.hiddenStateSources[i + 1], { node: want, output: 3 });
      assert.equal(m.expectedHiddenStates[i + 1], `${want}/output_3`);
    }
    assert.equal(m.expectedHiddenStates[0], '/model/embed_tokens/Gather/output_0');
    const nodes = nodesOf(m);
    assert.ok(!nodes.some((n) => n.opType === 'Add' && /\/layers\.\d+\/Add/.test(n.name)));
    assert.ok(nodes.some((n) => n.opType === 'SimplifiedLayerNormalization' && n.name === '/model/layers.0/input_layernorm/LayerNorm'));
  });

  it('Gemma-style inputs_embeds: hidden_states[0] is the graph input', () => {
    const m = buildTinyCausalLM({ family: 'llama', inputsEmbeds: true, sandwichNorms: true, seed: 1 });
    assert.equal(m.expectedHiddenStates[0], 'inputs_embeds');
    assert.deepEqual(m.hiddenStateSources[0], { node: null, output: 0 });
    assert.equal(m.inputNames[0], 'inputs_embeds');
  });

  it('rejects combinations no exporter writes', () => {
    assert.throws(() => buildTinyCausalLM({ family: 'llama', fusion: 'ort-fused' }), /ort-fused/);
    assert.throws(() => buildTinyCausalLM({ family: 'gpt2', fusion: 'genai' }), /genai/);
    assert.throws(() => buildTinyCausalLM({ family: 'gpt2', castOnResidual: true }), /numeric/);
    assert.throws(() => buildTinyCausalLM({ family: 'gpt2', hidden: 30, heads: 4 }), /divisible/);
  });
});

describe('tiny causal LMs: independent NumPy forward pass (scripts/tiny_lm_reference.py)', () => {
  // (Plain GPT-2 is also checked against torch through the built-in model, test/builtinModel.test.ts.)
  const specs: TinyCausalLMSpec[] = [
    { family: 'gpt2', tiedEmbeddings: false, inputsEmbeds: true },
    { family: 'llama', kvHeads: 2 },
    { family: 'llama', inputsEmbeds: true, sandwichNorms: true },
    { family: 'gpt-neox' },
  ];
  for (const spec of specs) {
    it(`${JSON.stringify(spec)}: every hidden state and the logits match HF semantics computed in NumPy`, async () => {
      const m = buildTinyCausalLM({ ...spec, exposeHiddenStates: true, seed: 13 });
      const dir = tempDir('tiny-ref');
      try {
        writeWeightsDir(dir, m.weights, { ...m.spec });
        const input = m.spec.inputsEmbeds ? { embeds: Array.from(embedsFor(m, IDS)), seq: IDS.length } : { ids: IDS };
        fs.writeFileSync(path.join(dir, 'input.json'), JSON.stringify(input));
        execFileSync(DEBIAN_PYTHON, [path.join(REPO_ROOT, 'scripts/tiny_lm_reference.py'), '--weights', dir, '--input', path.join(dir, 'input.json'), '--out', path.join(dir, 'out.json')], { stdio: ['ignore', 'ignore', 'inherit'] });
        const ref = JSON.parse(fs.readFileSync(path.join(dir, 'out.json'), 'utf8')) as { hiddenStates: number[][]; logits: number[] };
        const out = await run(m);
        assert.equal(ref.hiddenStates.length, m.spec.layers + 1);
        for (let i = 0; i <= m.spec.layers; i++) {
          const name = m.expectedHiddenStates[i]!;
          const got = name === 'inputs_embeds' ? embedsFor(m, IDS) : (out[name]!.data as Float32Array);
          const d = maxAbsDiff(got, ref.hiddenStates[i]!);
          assert.ok(d <= 1e-4 * Math.max(1, maxAbs(ref.hiddenStates[i]!)), `hidden_states[${i}] (${name}): ${d}`);
        }
        const d = maxAbsDiff(out.logits!.data as Float32Array, ref.logits);
        assert.ok(d <= 1e-4 * Math.max(1, maxAbs(ref.logits)), `logits: ${d}`);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('tiny causal LMs: KV cache', () => {
  const specs: TinyCausalLMSpec[] = [
    { family: 'gpt2' },
    { family: 'gpt2', fusion: 'ort-fused', embedLayerNorm: true },
    { family: 'llama', kvHeads: 2 },
    { family: 'llama', fusion: 'genai' },
    { family: 'gpt-neox', naming: 'numeric' },
    { family: 'llama', inputsEmbeds: true, sandwichNorms: true },
  ];
  for (const spec of specs) {
    it(`${JSON.stringify(spec)}: prefill + one-token steps equal the full pass (logits and hidden states)`, async () => {
      const m = buildTinyCausalLM({ ...spec, kvCache: true, exposeHiddenStates: true, seed: 5 });
      assert.ok(m.inputNames.includes('past_key_values.0.key') && m.outputNames.includes('present.0.value'));
      const session = await ort.InferenceSession.create(m.model);
      const V = m.spec.vocab;
      const D = m.spec.hidden;
      const S = IDS.length;
      const embeds = embedsFor(m, IDS);
      const step = (from: number, to: number, past?: Record<string, ort.Tensor>) =>
        session.run(decoderFeeds(m.spec, m.spec.inputsEmbeds ? { embeds: embeds.slice(from * D, to * D), past } : { ids: IDS.slice(from, to), past }));
      const full = await step(0, S);
      const prefix = 4;
      let out = await step(0, prefix);
      const gotLogits = Array.from((out.logits!.data as Float32Array));
      const gotLast = Array.from(out[m.expectedHiddenStates[m.spec.layers]!]!.data as Float32Array);
      for (let t = prefix; t < S; t++) {
        assert.deepEqual(out['present.0.key']!.dims, [1, m.spec.kvHeads, t, m.spec.headDim]);
        out = await step(t, t + 1, out);
        gotLogits.push(...(out.logits!.data as Float32Array));
        gotLast.push(...(out[m.expectedHiddenStates[m.spec.layers]!]!.data as Float32Array));
      }
      assert.equal(gotLogits.length, S * V);
      const fl = full.logits!.data as Float32Array;
      assert.ok(maxAbsDiff(fl, gotLogits) <= 1e-5 * Math.max(1, maxAbs(fl)), `logits ${maxAbsDiff(fl, gotLogits)}`);
      const fh = full[m.expectedHiddenStates[m.spec.layers]!]!.data as Float32Array;
      assert.ok(maxAbsDiff(fh, gotLast) <= 1e-5 * Math.max(1, maxAbs(fh)), `last hidden ${maxAbsDiff(fh, gotLast)}`);
    });
  }

  it('left padding: a padded row gives the same logits at its real tokens as the unpadded row', async () => {
    const m = buildTinyCausalLM({ family: 'llama', kvCache: true, seed: 9 });
    const session = await ort.InferenceSession.create(m.model);
    const ids = IDS.slice(0, 5);
    const alone = await session.run(decoderFeeds(m.spec, { ids }));
    // Batch of two: row 0 is [pad, pad, ids...] with mask 0 on pads and positions counting real tokens only.
    const padded = [0, 0, ...ids.slice(0, 3), ...ids.slice(0, 5)];
    const both = await session.run(decoderFeeds(m.spec, {
      ids: padded, batch: 2,
      mask: [0, 0, 1, 1, 1, 1, 1, 1, 1, 1],
      positions: [0, 0, 0, 1, 2, 0, 1, 2, 3, 4],
    }));
    const V = m.spec.vocab;
    const a = (alone.logits!.data as Float32Array).slice(0, 3 * V);
    const b = (both.logits!.data as Float32Array).slice(2 * V, 5 * V);
    assert.ok(maxAbsDiff(a, b) <= 1e-5 * Math.max(1, maxAbs(a)));
    const c = (both.logits!.data as Float32Array).slice(5 * V, 10 * V);
    assert.ok(maxAbsDiff(alone.logits!.data as Float32Array, c) <= 1e-5 * Math.max(1, maxAbs(c)));
  });
});

describe('tiny causal LMs: external data', () => {
  it('weights in model.onnx_data (location/offset/length) load from a path and give the same logits', async () => {
    const inMem = buildTinyCausalLM({ family: 'llama', seed: 4 });
    const ext = buildTinyCausalLM({ family: 'llama', seed: 4, externalData: true });
    assert.ok(ext.externalData !== undefined && ext.externalData.length > 0);
    const proto = decode(ext);
    const external = (proto.graph?.initializer ?? []).filter((t) => t.dataLocation === onnxProto.onnx.TensorProto.DataLocation.EXTERNAL);
    assert.ok(external.length > 0);
    for (const t of external) {
      const kv = Object.fromEntries((t.externalData ?? []).map((e) => [e.key, e.value]));
      assert.equal(kv.location, 'model.onnx_data');
      assert.equal(Number(kv.offset) % 64, 0);
      assert.ok(Number(kv.offset) + Number(kv.length) <= ext.externalData.length);
      assert.equal(t.rawData?.length ?? 0, 0);
    }
    const dir = tempDir('onnx-ext');
    fs.writeFileSync(path.join(dir, 'model.onnx'), ext.model);
    fs.writeFileSync(path.join(dir, 'model.onnx_data'), ext.externalData);
    assert.ok(ext.model.length < inMem.model.length / 4, 'the .onnx file no longer carries the weights');
    const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'));
    const a = await session.run(decoderFeeds(ext.spec, { ids: IDS }));
    const b = await run(inMem);
    assert.deepEqual(Array.from(a.logits!.data as Float32Array), Array.from(b.logits!.data as Float32Array));
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
