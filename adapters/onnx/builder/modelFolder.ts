/**
 * Writes a model folder laid out the way transformers.js (@huggingface/transformers 4.x) loads a
 * causal LM from local files:
 *
 *   <dir>/config.json               model_type + sizes (+ "transformers.js_config")
 *   <dir>/tokenizer.json            Hugging Face tokenizers format
 *   <dir>/tokenizer_config.json
 *   <dir>/onnx/model.onnx           fp32 graph: `${subfolder}/${model_file_name}${dtype suffix}.onnx`,
 *                                   subfolder 'onnx', model_file_name 'model', suffix '' for fp32
 *   <dir>/onnx/model.onnx_data      external weights, when used: `${onnx file name}_data`
 *
 * transformers.js fetches `model.onnx_data` only when `use_external_data_format` is set (the
 * from_pretrained option, or config.json's "transformers.js_config".use_external_data_format), so
 * this writer sets that config field whenever it writes external data. In Node it then hands
 * onnxruntime the *paths*, and onnxruntime resolves each initializer's `location` relative to the
 * .onnx file: the location inside the graph must be the data file's name.
 *
 * Owns: file layout and the small JSON files. Must not: build graphs or tokenizers.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface ModelFolderContents {
  /** ModelProto bytes. */
  onnx: Uint8Array;
  /** External weights blob; the graph must reference it by location `${modelFileName}.onnx_data`. */
  externalData?: Uint8Array;
  /** Hugging Face config (model_type and sizes). */
  config: Record<string, unknown>;
  /** tokenizer.json contents (object or string). */
  tokenizerJson: unknown;
  tokenizerConfig: Record<string, unknown>;
  /** Base name of the ONNX file in onnx/ (default 'model'; transformers.js option `model_file_name`). */
  modelFileName?: string;
  /** Extra files, path relative to the folder → contents. */
  extraFiles?: Record<string, string | Uint8Array>;
}

/** Paths written. */
export interface ModelFolderPaths {
  dir: string;
  onnxPath: string;
  externalDataPath?: string;
}

export function writeModelFolder(dir: string, c: ModelFolderContents): ModelFolderPaths {
  const name = c.modelFileName ?? 'model';
  if (!/^[\w.-]+$/.test(name)) throw new Error(`writeModelFolder: model file name "${name}" must be a plain file name`);
  fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  const config: Record<string, unknown> = { ...c.config };
  if (c.externalData !== undefined) {
    const tjs = { ...((config['transformers.js_config'] as Record<string, unknown> | undefined) ?? {}) };
    const ext = { ...((tjs.use_external_data_format as Record<string, unknown> | undefined) ?? {}) };
    ext[`${name}.onnx`] = 1; // one chunk, named `${name}.onnx_data`
    tjs.use_external_data_format = ext;
    config['transformers.js_config'] = tjs;
  }
  writeJson(path.join(dir, 'config.json'), config);
  const tok = typeof c.tokenizerJson === 'string' ? c.tokenizerJson : JSON.stringify(c.tokenizerJson);
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), tok);
  writeJson(path.join(dir, 'tokenizer_config.json'), c.tokenizerConfig);
  const onnxPath = path.join(dir, 'onnx', `${name}.onnx`);
  fs.writeFileSync(onnxPath, c.onnx);
  let externalDataPath: string | undefined;
  if (c.externalData !== undefined) {
    externalDataPath = `${onnxPath}_data`;
    fs.writeFileSync(externalDataPath, c.externalData);
  }
  for (const [rel, contents] of Object.entries(c.extraFiles ?? {})) {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, contents);
  }
  return { dir, onnxPath, externalDataPath };
}

function writeJson(p: string, v: unknown): void {
  fs.writeFileSync(p, JSON.stringify(v, null, 2) + '\n');
}

/** tokenizer_config.json for a GPT-2-style byte-level BPE tokenizer with one special token. */
export function gpt2TokenizerConfig(special: string, maxLength: number): Record<string, unknown> {
  return {
    tokenizer_class: 'GPT2Tokenizer',
    bos_token: special,
    eos_token: special,
    unk_token: special,
    add_prefix_space: false,
    add_bos_token: false,
    clean_up_tokenization_spaces: false,
    model_max_length: maxLength,
  };
}

/**
 * GPT-2's bytes_to_unicode table: byte → printable character (so byte-level tokens are strings
 * without spaces or control characters).
 */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const map = new Array<string>(256);
  for (const b of bs) map[b] = String.fromCharCode(b);
  let n = 0;
  for (let b = 0; b < 256; b++) if (map[b] === undefined) map[b] = String.fromCharCode(256 + n++);
  return map;
}

/**
 * A byte-level tokenizer.json with no merges: ids 0…255 are the bytes, 256 is `<|endoftext|>`.
 * Enough for loading tests of tiny models (their vocab must be ≥ 257).
 */
export function byteLevelTokenizerJson(): Record<string, unknown> {
  const chars = bytesToUnicode();
  const vocab: Record<string, number> = {};
  chars.forEach((c, b) => (vocab[c] = b));
  vocab['<|endoftext|>'] = 256;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: 256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges: [] },
  };
}
