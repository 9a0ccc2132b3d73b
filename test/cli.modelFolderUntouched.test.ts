/**
 * Model folders are only read. `lockstep inspect-model` and `lockstep extract` on a copy of the
 * built-in model leave every file of the copy byte-identical and add none: the modified graph goes
 * to $LOCKSTEP_CACHE/onnx/<sha16>/, whose metadata names no path of this machine. transformers.js
 * still runs the modified graph from that cache folder and agrees with the onnxruntime-node runner,
 * also when the weights are external data (hard-linked into the cache folder, not copied).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadLanguageModel } from '../adapters/llm/loadModel.js';
import { builtinModelDir } from '../adapters/onnx/builder/builtinModel.js';
import { byteLevelTokenizerJson, gpt2TokenizerConfig, writeModelFolder } from '../adapters/onnx/builder/modelFolder.js';
import { buildTinyCausalLM } from '../adapters/onnx/builder/tinyCausalLM.js';
import { CLI, tempDir } from './helpers/paths.js';

/** Every file under `dir` (relative path → bytes). */
function snapshot(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const f of fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort()) {
    const p = path.join(dir, f);
    if (fs.statSync(p).isFile()) out.set(f, fs.readFileSync(p));
  }
  return out;
}

/** The cache's metadata files (<root>/onnx/<key>/onnx/*.json). */
function metadataFiles(lockstepCache: string): string[] {
  const root = path.join(lockstepCache, 'onnx');
  return fs.readdirSync(root).flatMap((key) => fs.readdirSync(path.join(root, key, 'onnx')).filter((f) => f.endsWith('.json')).map((f) => path.join(root, key, 'onnx', f)));
}

describe('model folders are only read', () => {
  let root = '';
  let lockstepCache = '';
  before(() => {
    root = tempDir('model-untouched');
    lockstepCache = path.join(root, 'lockstep-cache');
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('inspect-model and extract on a copy of the built-in model leave the copy byte-identical; the modified graph is in $LOCKSTEP_CACHE/onnx', () => {
    const copy = path.join(root, 'lockstep-moby-gpt2');
    fs.cpSync(builtinModelDir(), copy, { recursive: true });
    const before = snapshot(copy);
    const env = { ...process.env, LOCKSTEP_CACHE: lockstepCache };
    const inspect = spawnSync(process.execPath, [CLI, 'inspect-model', copy, '--json'], { encoding: 'utf8', env });
    assert.equal(inspect.status, 0, inspect.stderr);
    const j = JSON.parse(inspect.stdout) as { modifiedFile: string; outputsMaxAbsDiff: number };
    assert.equal(j.outputsMaxAbsDiff, 0);
    assert.ok(j.modifiedFile.startsWith(path.join(lockstepCache, 'onnx') + path.sep), j.modifiedFile);
    // In this thread (--extract-workers 0), so that the passes go through transformers.js.
    const extract = spawnSync(process.execPath, [CLI, 'extract', '--model', copy, '--text', 'builtin', '--max-words', '30', '--extract-workers', '0', '--out', path.join(root, 'activations'), '--json'], { encoding: 'utf8', env });
    assert.equal(extract.status, 0, extract.stderr);
    const s = JSON.parse(extract.stdout) as { runner: string; runnerNote: string; words: number };
    assert.equal(s.words, 30);
    // transformers.js ran the cached graph, after agreeing with the onnxruntime-node runner on a probe
    assert.equal(s.runner, 'transformers.js', s.runnerNote);
    assert.match(s.runnerNote, /agrees with the onnxruntime-node runner/);
    assert.deepEqual(snapshot(copy), before);
    const metas = metadataFiles(lockstepCache);
    assert.equal(metas.length, 1);
    const text = fs.readFileSync(metas[0]!, 'utf8');
    assert.equal((JSON.parse(text) as { source: string }).source, 'model.onnx');
    assert.ok(!text.includes(root) && !text.includes(os.homedir()) && !text.includes(process.cwd()), 'no absolute path in the cache metadata');
  });

  it('external weights: transformers.js loads the cached graph, whose folder hard-links the model\'s .onnx_data', async () => {
    const dir = path.join(root, 'llama-external');
    const m = buildTinyCausalLM({ family: 'llama', kvCache: true, externalData: true, vocab: 300, seed: 22 });
    writeModelFolder(dir, { onnx: m.model, externalData: m.externalData, config: m.config, tokenizerJson: byteLevelTokenizerJson(), tokenizerConfig: gpt2TokenizerConfig('<|endoftext|>', 64) });
    const before = snapshot(dir);
    const saved = process.env.LOCKSTEP_CACHE;
    process.env.LOCKSTEP_CACHE = lockstepCache;
    try {
      const loaded = await loadLanguageModel(dir);
      await loaded.model.dispose();
      assert.equal(loaded.runner, 'transformers.js', loaded.runnerNote);
      assert.ok(loaded.modifiedFile.startsWith(path.join(lockstepCache, 'onnx') + path.sep), loaded.modifiedFile);
      const link = path.join(path.dirname(loaded.modifiedFile), 'model.onnx_data');
      assert.equal(fs.statSync(link).ino, fs.statSync(path.join(dir, 'onnx/model.onnx_data')).ino, 'a hard link, not a copy');
    } finally {
      if (saved === undefined) delete process.env.LOCKSTEP_CACHE;
      else process.env.LOCKSTEP_CACHE = saved;
    }
    assert.deepEqual(snapshot(dir), before);
  });
});
