/**
 * The model family (models/family, docs/model-family.md):
 * - four members, each with the built-in model's tokenizer (byte-identical), loading through the
 *   project's own path: the residual-stream surgery finds n_layer + 1 hidden states, the original
 *   outputs stay bit-identical and final norm + LM head of the last state give the logits again;
 * - parameter counts (config → formula = training.json) span ≥ 20×;
 * - positions hold 300 words of context + the target anywhere in the built-in text (the longest
 *   such window, found over the whole text by adapters/llm/modelFamilyReportMain.ts and recorded in
 *   family.json, tokenized again here);
 * - held-out perplexities recorded, below the unigram baseline, falling as the models grow;
 * - every member's random-weights twin resolves by name, with its config and tokenizer;
 * - models/ stays under 20 MB (generated surgery caches of the family not counted: not committed).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';

import ort from 'onnxruntime-node';

import { planContextWindows } from '../adapters/llm/contextWindows.js';
import { builtinFolder, FAMILY_SIZES, familyMembers, familyRoot, parseModelName, resolveModelName, twinFolderPath } from '../adapters/onnx/builder/modelFamily.js';
import { inspectModel } from '../adapters/onnx/surgeryChecks.js';
import { builtinText } from '../adapters/text/builtinText.js';
import { stimulusFromStories } from '../adapters/text/stimulusText.js';
import { loadStimulusTokenizer, tokenizeStimulus } from '../adapters/text/wordAlignment.js';
import { resolveModel } from '../adapters/llm/features.js';
import { REPO_ROOT, tempDir } from './helpers/paths.js';

const CONTEXT_WORDS = 300;

interface FamilySummary {
  tokensPerWord: number;
  contextWindow: { contextWords: number; maxTokens: number; atWord: number; words: [number, number]; chars: [number, number] };
  members: Array<{ size: string; parameters: number; positions: number; heldOutPerplexity: number; bytes: number }>;
}

/** GPT-2 parameters from its config: wte + wpe + blocks (2 LayerNorms, qkv, proj, fc, proj) + ln_f. */
function gpt2Parameters(c: Record<string, unknown>): number {
  const [V, P, D, L] = [c.vocab_size, c.n_positions, c.n_embd, c.n_layer] as number[];
  const I = typeof c.n_inner === 'number' ? c.n_inner : 4 * D!;
  const block = 2 * 2 * D! + (D! * 3 * D! + 3 * D!) + (D! * D! + D!) + (D! * I + I) + (I * D! + D!);
  return V! * D! + P! * D! + L! * block + 2 * D!;
}

describe('the model family (models/family)', () => {
  const members = familyMembers();
  const summary = JSON.parse(fs.readFileSync(path.join(familyRoot(), 'family.json'), 'utf8')) as FamilySummary;
  const tmp = tempDir('family');
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('has every size, each with the built-in model\'s tokenizer, and family.json agrees with the folders', () => {
    assert.deepEqual(members.map((m) => m.size), [...FAMILY_SIZES]);
    const tokenizer = fs.readFileSync(path.join(builtinFolder(), 'tokenizer.json'));
    for (const m of members) {
      assert.ok(fs.readFileSync(path.join(m.dir, 'tokenizer.json')).equals(tokenizer), `${m.name}: tokenizer.json differs from the built-in one`);
      const row = summary.members.find((r) => r.size === m.size);
      assert.ok(row, `${m.name} missing from family.json`);
      assert.equal(row.parameters, m.parameters);
      assert.equal(row.positions, m.positions);
      assert.equal(row.heldOutPerplexity, m.training.heldOutPerplexity);
    }
  });

  it('parameter counts match the configs and span at least 20×', () => {
    for (const m of members) assert.equal(gpt2Parameters(m.config), m.parameters, m.name);
    const p = members.map((m) => m.parameters);
    assert.ok(Math.max(...p) / Math.min(...p) >= 20, `parameters ${p.join(', ')}: ratio ${(Math.max(...p) / Math.min(...p)).toFixed(1)}`);
  });

  it('held-out perplexities are recorded, beat the unigram baseline, and fall as the models grow', () => {
    let prev = Infinity;
    for (const m of members) {
      const t = m.training;
      assert.ok(Number.isFinite(t.heldOutPerplexity) && t.heldOutPerplexity > 1, `${m.name}: heldOutPerplexity ${t.heldOutPerplexity}`);
      assert.ok(t.heldOutPerplexity < t.unigramAddOnePerplexity, `${m.name}: ${t.heldOutPerplexity} vs unigram ${t.unigramAddOnePerplexity}`);
      assert.ok(t.heldOutPerplexity < prev, `${m.name}: perplexity ${t.heldOutPerplexity} not below the smaller model's ${prev}`);
      assert.ok(typeof t.command === 'string' && t.command.includes('train_builtin_model.py'), `${m.name}: no command recorded`);
      prev = t.heldOutPerplexity;
    }
  });

  it(`positions hold ${CONTEXT_WORDS} words of context anywhere in the built-in text`, async () => {
    const w = summary.contextWindow;
    assert.equal(w.contextWords, CONTEXT_WORDS);
    for (const m of members) assert.ok(m.positions >= w.maxTokens + 1, `${m.name}: ${m.positions} positions < ${w.maxTokens} tokens + a BOS`);
    // The recorded longest window, tokenized again through the project's path: its words and tokens.
    const slice = builtinText().slice(w.chars[0], w.chars[1]);
    const st = stimulusFromStories([{ story: 0, title: 'longest window', text: slice, source: 'test' }]);
    assert.equal(st.words.length, CONTEXT_WORDS + 1);
    const tok = await loadStimulusTokenizer(members[0]!.dir);
    const [tz] = tokenizeStimulus(tok, st.words, st.texts);
    const n = tz!.wordTokens.at(-1)![1] - tz!.wordTokens[0]![0];
    // Cut out of the text, the first word loses the white space before it (±1 token).
    assert.ok(Math.abs(n - w.maxTokens) <= 2, `${n} tokens here, ${w.maxTokens} recorded`);
    for (const m of members) {
      const plan = planContextWindows([{ story: 0, words: st.words, tokenized: tz! }], { contextWords: CONTEXT_WORDS, mode: 'exact', maxTokens: m.positions });
      assert.equal(plan.truncatedTargets, 0, m.name);
    }
  });

  for (const size of FAMILY_SIZES) {
    it(`family:${size} loads through the residual-stream surgery (checks pass)`, async () => {
      const m = members.find((x) => x.size === size)!;
      assert.equal(await resolveModelName(`family:${size}`, tmp), m.dir);
      const r = await inspectModel(path.join(m.dir, 'onnx', 'model.onnx'), { tokenIds: [464, 995, 11, 290, 262, 2047, 7, 0], cacheDir: path.join(tmp, 'surgery') });
      await r.session?.release();
      assert.equal(r.blocks, m.config.n_layer);
      assert.equal(r.hiddenSize, m.config.n_embd);
      assert.equal(r.hiddenStates.length, (m.config.n_layer as number) + 1);
      assert.equal(r.outputsMaxAbsDiff, 0);
      assert.ok(r.logitsReconstructionMaxAbsDiff !== null && r.logitsReconstructionMaxAbsDiff <= 1e-4 * Math.max(1, r.logitsMaxAbs!), `logits reconstruction ${r.logitsReconstructionMaxAbsDiff}`);
    });
  }

  it('each member\'s twin resolves: family:<size>-untrained[:seed], same config and tokenizer, other weights', async () => {
    const twinRoot = path.join(tmp, 'twins');
    for (const m of members) {
      const dir = await resolveModelName(`${m.name}-untrained:3`, twinRoot);
      assert.equal(dir, twinFolderPath(m.dir, 3, twinRoot));
      const cfg = JSON.parse(fs.readFileSync(path.join(dir!, 'config.json'), 'utf8')) as Record<string, unknown>;
      for (const k of ['n_embd', 'n_layer', 'n_head', 'n_positions', 'vocab_size']) assert.equal(cfg[k], m.config[k], `${m.name} twin ${k}`);
      assert.deepEqual(cfg.lockstep_untrained_twin, { of: path.basename(m.dir), seed: 3, init: 'Hugging Face GPT-2 initialisation' });
      assert.ok(fs.readFileSync(path.join(dir!, 'tokenizer.json')).equals(fs.readFileSync(path.join(m.dir, 'tokenizer.json'))));
      const twinBytes = fs.readFileSync(path.join(dir!, 'onnx', 'model.onnx'));
      assert.ok(!twinBytes.equals(fs.readFileSync(path.join(m.dir, 'onnx', 'model.onnx'))));
      // written once: resolving again reuses it; the default seed is 1
      const mtime = fs.statSync(path.join(dir!, 'onnx', 'model.onnx')).mtimeMs;
      assert.equal(await resolveModelName(`${m.name}-untrained:3`, twinRoot), dir);
      assert.equal(fs.statSync(path.join(dir!, 'onnx', 'model.onnx')).mtimeMs, mtime);
      assert.deepEqual(parseModelName(`${m.name}-untrained`), { source: m.dir, untrainedSeed: 1 });
    }
    // the smallest twin runs
    const xs = await resolveModelName('family:xs-untrained:3', twinRoot);
    const session = await ort.InferenceSession.create(path.join(xs!, 'onnx', 'model.onnx'));
    assert.ok(session.outputNames.includes('logits'));
    await session.release();
    // the built-in model's twin keeps its name and folder; the CLI resolves names under <cache>/models
    assert.equal(await resolveModelName('builtin', twinRoot), builtinFolder());
    assert.equal(await resolveModelName('builtin-untrained:2', twinRoot), path.join(twinRoot, 'lockstep-moby-gpt2-untrained-seed2'));
    const saved = process.env.LOCKSTEP_CACHE;
    process.env.LOCKSTEP_CACHE = path.join(tmp, 'cache');
    try {
      assert.equal(await resolveModel('family:s-untrained:4'), path.join(tmp, 'cache', 'models', 'lockstep-moby-gpt2-s-untrained-seed4'));
      assert.equal(await resolveModel('family:m'), members.find((m) => m.size === 'm')!.dir);
      assert.equal(await resolveModel('some/folder'), 'some/folder');
    } finally {
      if (saved === undefined) delete process.env.LOCKSTEP_CACHE;
      else process.env.LOCKSTEP_CACHE = saved;
    }
    assert.throws(() => parseModelName('family:xxl'), /unknown model name/);
    assert.equal(parseModelName('models/family/lockstep-moby-gpt2-s'), null);
  });

  it('models/ stays under 20 MB (surgery caches of the family are generated, not committed)', () => {
    let bytes = 0;
    for (const e of fs.readdirSync(path.join(REPO_ROOT, 'models'), { withFileTypes: true, recursive: true })) {
      if (!e.isFile()) continue;
      const p = path.join(e.parentPath, e.name);
      if (p.startsWith(familyRoot() + path.sep) && /^model\.lockstep-hs-/.test(e.name)) continue;
      bytes += fs.statSync(p).size;
    }
    assert.ok(bytes < 20e6, `models/ holds ${(bytes / 1e6).toFixed(1)} MB`);
  });
});
