/**
 * Small but real Hugging Face `tokenizer.json` files, trained in test code, so the words ↔ tokens
 * tests run the same transformers.js code paths that real GPT-2 and Llama tokenizers take, with no
 * downloads.
 *
 * - `gpt2`: byte-level BPE (GPT-2, Pythia/GPT-NeoX, Llama-3, Qwen family): ByteLevel pre-tokenizer
 *   with the GPT-2 split regex, 256 byte symbols, ByteLevel decoder, `<|endoftext|>` special token.
 * - `llama2`: SentencePiece-converted BPE as Llama-2 ships it: normalizer Prepend("▁") +
 *   Replace(" " → "▁"), no pre-tokenizer, byte fallback `<0xNN>` for characters outside the vocab,
 *   decoder Replace/ByteFallback/Fuse/Strip, `<s>` BOS added by a TemplateProcessing post-processor.
 * - `metaspace`: the newer SentencePiece conversion (Mistral, Llama-2 with legacy=false): a
 *   Metaspace pre-tokenizer (prepend_scheme "first", split false) and Metaspace decoder, byte fallback.
 *
 * Merges are learned by plain BPE (most frequent adjacent pair first) on a training text, so the
 * token boundaries are the irregular ones real tokenizers produce (sub-words, merged spaces).
 *
 * Owns: writing tokenizer folders into a temp directory. Must not: be used outside tests.
 */
import fs from 'node:fs';
import path from 'node:path';

export type TokenizerKind = 'gpt2' | 'llama2' | 'metaspace';

/** GPT-2's reversible byte → printable-character table (bytes_to_unicode in the GPT-2 repo). */
function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const table = new Array<string>(256);
  for (const b of bs) table[b] = String.fromCharCode(b);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (table[b] === undefined) table[b] = String.fromCharCode(256 + n++);
  }
  return table;
}

const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/**
 * Learns `nMerges` BPE merges from words given as symbol sequences (with counts).
 * Ties are broken by the pair's first appearance so the result is deterministic.
 */
function learnMerges(words: Map<string, { symbols: string[]; count: number }>, nMerges: number): Array<[string, string]> {
  const merges: Array<[string, string]> = [];
  const entries = [...words.values()];
  for (let m = 0; m < nMerges; m++) {
    const counts = new Map<string, number>();
    for (const { symbols, count } of entries) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = `${symbols[i]}\u0000${symbols[i + 1]}`;
        counts.set(key, (counts.get(key) ?? 0) + count);
      }
    }
    let best: string | undefined;
    let bestCount = 1;
    for (const [key, c] of counts) {
      if (c > bestCount) {
        best = key;
        bestCount = c;
      }
    }
    if (best === undefined) break;
    const [a, b] = best.split('\u0000') as [string, string];
    merges.push([a, b]);
    for (const e of entries) {
      const out: string[] = [];
      for (let i = 0; i < e.symbols.length; i++) {
        if (i + 1 < e.symbols.length && e.symbols[i] === a && e.symbols[i + 1] === b) {
          out.push(a + b);
          i++;
        } else {
          out.push(e.symbols[i]!);
        }
      }
      e.symbols = out;
    }
  }
  return merges;
}

function addWord(words: Map<string, { symbols: string[]; count: number }>, symbols: string[]): void {
  const key = symbols.join('\u0001');
  const e = words.get(key);
  if (e) e.count++;
  else words.set(key, { symbols, count: 1 });
}

function gpt2Tokenizer(trainingText: string, nMerges: number): { json: object; config: object } {
  const byteChars = bytesToUnicode();
  const enc = new TextEncoder();
  const words = new Map<string, { symbols: string[]; count: number }>();
  for (const piece of trainingText.match(GPT2_SPLIT) ?? []) {
    addWord(words, Array.from(enc.encode(piece), (b) => byteChars[b]!));
  }
  const merges = learnMerges(words, nMerges);
  const vocab: Record<string, number> = {};
  // GPT-2 orders its base vocabulary by byte value through the table.
  for (let b = 0; b < 256; b++) vocab[byteChars[b]!] = Object.keys(vocab).length;
  for (const [a, b] of merges) if (!((a + b) in vocab)) vocab[a + b] = Object.keys(vocab).length;
  const eos = Object.keys(vocab).length;
  return {
    json: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [{ id: eos, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges: merges.map(([a, b]) => `${a} ${b}`) },
    },
    config: {
      tokenizer_class: 'GPT2Tokenizer',
      add_prefix_space: false,
      bos_token: '<|endoftext|>',
      eos_token: '<|endoftext|>',
      unk_token: '<|endoftext|>',
      model_max_length: 1024,
      clean_up_tokenization_spaces: true,
    },
  };
}

function sentencePieceTokenizer(trainingText: string, nMerges: number, kind: 'llama2' | 'metaspace'): { json: object; config: object } {
  const words = new Map<string, { symbols: string[]; count: number }>();
  // SentencePiece sees "▁word" pieces: each space becomes ▁ and starts the next piece.
  const spaced = `▁${trainingText.replace(/ /g, '▁')}`;
  for (const piece of spaced.match(/▁*[^▁]+|▁+/gu) ?? []) addWord(words, Array.from(piece));
  // Base symbols: characters seen at least twice (rarer ones, like "é" or curly quotes, go through
  // byte fallback, as in real Llama vocabularies where rare characters are not pieces).
  const charCount = new Map<string, number>();
  for (const ch of spaced) charCount.set(ch, (charCount.get(ch) ?? 0) + 1);
  const chars = [...charCount].filter(([, c]) => c >= 2).map(([ch]) => ch).filter((ch) => ch !== '\n' && ch !== '\t');
  for (const e of words.values()) {
    if (e.symbols.some((s) => !chars.includes(s))) e.count = 0; // words with rare characters teach no merges
  }
  const merges = learnMerges(words, nMerges);
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = Object.keys(vocab).length;
  for (const ch of chars) if (!(ch in vocab)) vocab[ch] = Object.keys(vocab).length;
  for (const [a, b] of merges) if (!((a + b) in vocab)) vocab[a + b] = Object.keys(vocab).length;
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const model = { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, vocab, merges: merges.map(([a, b]) => `${a} ${b}`) };
  const post_processor = {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<s>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
    special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
  };
  const base = { version: '1.0', truncation: null, padding: null, added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')], post_processor, model };
  const json = kind === 'llama2'
    ? {
        ...base,
        normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
        pre_tokenizer: null,
        decoder: {
          type: 'Sequence',
          decoders: [
            { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
            { type: 'ByteFallback' },
            { type: 'Fuse' },
            { type: 'Strip', content: ' ', start: 1, stop: 0 },
          ],
        },
      }
    : {
        ...base,
        normalizer: null,
        pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false },
        decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false },
      };
  return {
    json,
    config: {
      tokenizer_class: 'LlamaTokenizer',
      add_bos_token: true,
      add_eos_token: false,
      bos_token: '<s>',
      eos_token: '</s>',
      unk_token: '<unk>',
      legacy: kind === 'llama2',
      model_max_length: 4096,
      clean_up_tokenization_spaces: false,
    },
  };
}

/**
 * Writes a tokenizer folder (`tokenizer.json`, `tokenizer_config.json`) trained on `trainingText`
 * and returns its path.
 */
export function writeTokenizer(dir: string, kind: TokenizerKind, trainingText: string, nMerges = 400): string {
  const out = path.join(dir, `tokenizer-${kind}`);
  fs.mkdirSync(out, { recursive: true });
  const { json, config } = kind === 'gpt2' ? gpt2Tokenizer(trainingText, nMerges) : sentencePieceTokenizer(trainingText, nMerges, kind);
  fs.writeFileSync(path.join(out, 'tokenizer.json'), JSON.stringify(json));
  fs.writeFileSync(path.join(out, 'tokenizer_config.json'), JSON.stringify(config));
  return out;
}
