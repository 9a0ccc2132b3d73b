/**
 * `lockstep inspect-model` as a user runs it: a real process on real exporter graphs (a bare .onnx
 * without tokenizer, an onnxruntime-genai folder) and a generated Hugging Face-style folder
 * (config.json + onnx/model.onnx); one JSON object on stdout; bad input exits 2 with one line
 * naming the file and what to do.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { buildTinyCausalLM } from '../adapters/onnx/builder/tinyCausalLM.js';
import { GPT2_PAST_12, MEGATRON, MISTRAL_DIR, ONNX_DIR } from './helpers/onnxFixtures.js';
import { CLI, tempDir } from './helpers/paths.js';

// Runs without --cache-dir use the default root $LOCKSTEP_CACHE/onnx: a temporary one, not the user's.
const LOCKSTEP_CACHE = tempDir('cli-inspect-lockstep-cache');

function lockstep(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, LOCKSTEP_CACHE } });
}

const KEYS = ['architecture', 'blocks', 'hiddenSize', 'hiddenStates', 'outputsMaxAbsDiff', 'logitsReconstructionMaxAbsDiff', 'seconds'];

describe('lockstep inspect-model (command line)', () => {
  const cache = tempDir('cli-inspect-cache');

  it('bare .onnx without tokenizer (12-layer GPT2Model, numeric names, no LM head) with --token-ids', () => {
    const res = lockstep(['inspect-model', GPT2_PAST_12, '--token-ids', '3', '--json', '--cache-dir', cache]);
    assert.equal(res.status, 0, res.stderr);
    const j = JSON.parse(res.stdout);
    for (const k of KEYS) assert.ok(k in j, `missing ${k}`);
    assert.equal(j.blocks, 12);
    assert.equal(j.hiddenSize, 4);
    assert.deepEqual(j.hiddenStates, Array.from({ length: 13 }, (_, k) => `hidden_states.${k}`));
    assert.equal(j.stateTensors.length, 13);
    assert.equal(j.outputsMaxAbsDiff, 0);
    assert.equal(j.logitsReconstructionMaxAbsDiff, null);
    assert.equal(j.architecture, 'gpt2');
    assert.equal(j.modelType, null);
    assert.deepEqual(j.tokens, [3]);
    assert.ok(j.seconds > 0);
    // <cache-dir>/<sha16>/onnx/gpt2_past.lockstep-hs-<sha16>.onnx
    assert.equal(path.dirname(path.dirname(path.dirname(j.modifiedFile))), cache);
    assert.match(path.relative(cache, j.modifiedFile), /^([0-9a-f]{16})\/onnx\/gpt2_past\.lockstep-hs-\1\.onnx$/);
  });

  it('onnxruntime-genai model folder (mobius Mistral, static KV cache): model type from genai_config.json, logits reconstructed', () => {
    const res = lockstep(['inspect-model', MISTRAL_DIR, '--json', '--cache-dir', cache]);
    assert.equal(res.status, 0, res.stderr);
    const j = JSON.parse(res.stdout);
    assert.equal(j.architecture, 'mistral');
    assert.equal(j.architectureGuess, 'llama');
    assert.equal(j.blocks, 2);
    assert.equal(j.hiddenSize, 64);
    assert.equal(j.outputsMaxAbsDiff, 0);
    assert.ok(typeof j.logitsReconstructionMaxAbsDiff === 'number' && j.logitsReconstructionMaxAbsDiff <= 1e-4, String(j.logitsReconstructionMaxAbsDiff));
    assert.equal(j.lmHead.output, 'logits');
    assert.equal(j.finalNorm.op, 'RMSNormalization');
  });

  it('Hugging Face folder (config.json + onnx/model.onnx, ORT-fused GPT-2): modified graph cached under $LOCKSTEP_CACHE/onnx, the model folder untouched, reused on the second run', () => {
    const dir = tempDir('cli-hf-folder');
    const m = buildTinyCausalLM({ family: 'gpt2', fusion: 'ort-fused', seed: 9 });
    fs.mkdirSync(path.join(dir, 'onnx'));
    fs.writeFileSync(path.join(dir, 'onnx/model.onnx'), m.model);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(m.config));
    const first = JSON.parse(lockstep(['inspect-model', dir, '--json']).stdout);
    assert.equal(first.architecture, 'gpt2');
    assert.equal(first.blocks, m.spec.layers);
    assert.equal(first.outputsMaxAbsDiff, 0);
    assert.equal(first.finalNorm.fused, true);
    assert.equal(first.materialized.length, 1);
    assert.equal(path.dirname(path.dirname(path.dirname(first.modifiedFile))), path.join(LOCKSTEP_CACHE, 'onnx'));
    assert.equal(fs.readFileSync(path.join(path.dirname(path.dirname(first.modifiedFile)), 'config.json'), 'utf8'), JSON.stringify(m.config));
    assert.deepEqual(fs.readdirSync(dir, { recursive: true }).sort(), ['config.json', 'onnx', path.join('onnx', 'model.onnx')]);
    assert.equal(first.reused, false);
    const second = JSON.parse(lockstep(['inspect-model', dir, '--json']).stdout);
    assert.equal(second.reused, true);
    assert.equal(second.modifiedFile, first.modifiedFile);
    const human = lockstep(['inspect-model', dir]);
    assert.equal(human.status, 0, human.stderr);
    assert.match(human.stdout, new RegExp(`${m.spec.layers} blocks, hidden size ${m.spec.hidden}`));
    assert.match(human.stdout, /original outputs max \|diff\| 0;/);
  });

  it('bad input: exit 2 with one line naming the file and what to do', () => {
    const dir = tempDir('cli-inspect-bad');
    const junk = path.join(dir, 'junk.onnx');
    fs.writeFileSync(junk, 'not a protobuf\n');
    const cases: Array<[string[], RegExp]> = [
      [['inspect-model', path.join(dir, 'missing.onnx')], /missing\.onnx: no such file or folder; give a model folder/],
      [['inspect-model', path.join(ONNX_DIR, 'SOURCES.md')], /SOURCES\.md: not an \.onnx file/],
      [['inspect-model', dir], /no ONNX graph in this folder/],
      [['inspect-model', junk, '--cache-dir', dir], /junk\.onnx: /],
      [['inspect-model', MEGATRON, '--token-ids', '1,x', '--cache-dir', dir], /--token-ids: expected comma-separated non-negative integers/],
      [['inspect-model', MEGATRON, '--token-ids', '1,99', '--cache-dir', dir], /gpt2_megatron\.onnx: token id 99 is outside the vocabulary \(0…9\); pass --token-ids below 10/],
    ];
    for (const [args, re] of cases) {
      const res = lockstep(args);
      assert.equal(res.status, 2, `${args.join(' ')}: status ${res.status} ${res.stderr}`);
      assert.equal(res.stdout, '');
      const lines = res.stderr.trim().split('\n');
      assert.equal(lines.length, 1, res.stderr);
      assert.match(lines[0]!, re);
    }
  });
});
