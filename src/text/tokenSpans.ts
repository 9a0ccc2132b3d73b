/**
 * Where each token of a tokenized text lies in that text. transformers.js returns token ids and
 * token strings but no offset mapping, so spans are recovered from what each token stands for:
 *
 * - byte-level BPE (GPT-2, Pythia/GPT-NeoX, Llama-3, Qwen): every character of a token string is
 *   one byte through GPT-2's byte ↔ printable-character table;
 * - SentencePiece BPE (Llama-2, Mistral): a token is its text with "▁" for a space, or a byte-fallback
 *   token `<0xNN>` for one byte.
 *
 * Walking the tokens' bytes along the text's UTF-8 bytes gives each token a byte span; the walk must
 * consume every byte of the text exactly once, or it stops with an error naming the token and the
 * position (so a tokenizer that rewrote the text, e.g. by lower-casing it, is refused instead of
 * misaligned). The one tolerated difference: a space that the tokenizer itself prepends (SentencePiece's
 * "▁" before the first word, ByteLevel's add_prefix_space), which takes up no text.
 *
 * Byte spans are exact; character spans (UTF-16 code units, as JavaScript strings index) round a
 * byte offset inside a multi-byte character up to the end of that character, so the spans of all
 * tokens still tile the text (a token holding only the first bytes of "“" gets an empty span and the
 * token completing it gets the whole character).
 *
 * Owns: piece → bytes decoding and the byte walk. Must not: load tokenizers or know about words.
 */

/** How a tokenizer's token strings encode text. */
export type PieceEncoding = { kind: 'byteLevel' } | { kind: 'sentencePiece'; replacement: string };

let byteLevelDecoder: Map<string, number> | undefined;

/** GPT-2's printable character → byte table (inverse of bytes_to_unicode). */
function byteLevelTable(): Map<string, number> {
  if (byteLevelDecoder === undefined) {
    const bs: number[] = [];
    for (let b = 33; b <= 126; b++) bs.push(b);
    for (let b = 161; b <= 172; b++) bs.push(b);
    for (let b = 174; b <= 255; b++) bs.push(b);
    const table = new Map<string, number>();
    for (const b of bs) table.set(String.fromCharCode(b), b);
    let n = 0;
    for (let b = 0; b < 256; b++) {
      if (!bs.includes(b)) table.set(String.fromCharCode(256 + n++), b);
    }
    byteLevelDecoder = table;
  }
  return byteLevelDecoder;
}

const BYTE_FALLBACK_RE = /^<0x([0-9A-Fa-f]{2})>$/;
const utf8 = new TextEncoder();

/**
 * The bytes a token string stands for, or null when it stands for no text it can be matched to
 * (e.g. an unknown-token symbol whose byte-level form is invalid).
 */
export function pieceBytes(piece: string, encoding: PieceEncoding): Uint8Array | null {
  if (encoding.kind === 'byteLevel') {
    const table = byteLevelTable();
    const out = new Uint8Array(piece.length);
    let k = 0;
    for (const ch of piece) {
      const b = table.get(ch);
      if (b === undefined) return null;
      out[k++] = b;
    }
    return out.subarray(0, k);
  }
  const m = BYTE_FALLBACK_RE.exec(piece);
  if (m) return Uint8Array.of(parseInt(m[1]!, 16));
  return utf8.encode(piece.split(encoding.replacement).join(' '));
}

/** Token spans in a text: bytes of the text's UTF-8 encoding, and UTF-16 code units. */
export interface TokenSpans {
  /** [token] first byte. */
  byteStart: Int32Array;
  /** [token] one past the last byte. */
  byteStop: Int32Array;
  /** [token] first character (UTF-16 code unit), rounded up to a character boundary. */
  charStart: Int32Array;
  /** [token] one past the last character, rounded up to a character boundary. */
  charStop: Int32Array;
  /** Tokens whose first byte was a space the tokenizer prepended (not in the text). */
  syntheticSpaces: number[];
}

/**
 * UTF-8 byte offset of every UTF-16 position of `text` (length text.length + 1); positions inside a
 * surrogate pair get the offset of the pair's start.
 */
export function utf8Offsets(text: string): Int32Array {
  const off = new Int32Array(text.length + 1);
  let b = 0;
  for (let i = 0; i < text.length; i++) {
    off[i] = b;
    const c = text.charCodeAt(i);
    if (c < 0x80) b += 1;
    else if (c < 0x800) b += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        off[i + 1] = b;
        b += 4;
        i++;
        continue;
      }
      b += 3;
    } else b += 3;
  }
  off[text.length] = b;
  return off;
}

/**
 * Character position for each byte offset 0…nBytes, rounding a byte inside a character up to the
 * end of that character.
 */
export function byteToCharCeil(text: string): Int32Array {
  const off = utf8Offsets(text);
  const nBytes = off[text.length]!;
  const out = new Int32Array(nBytes + 1);
  let c = 0;
  for (let b = 0; b <= nBytes; b++) {
    while (c < text.length && off[c]! < b) c++;
    // Skip the low half of a surrogate pair: it shares the pair's byte offset.
    while (c > 0 && c < text.length && off[c] === off[c - 1]) c++;
    out[b] = c;
  }
  return out;
}

/**
 * Walks the tokens' bytes along the text and returns each token's span.
 *
 * @param text the exact string that was tokenized
 * @param pieces token strings, in order (no special tokens)
 * @throws when the tokens do not spell the text, naming the first token that departs from it
 */
export function tokenSpansInText(text: string, pieces: string[], encoding: PieceEncoding, source = 'text'): TokenSpans {
  const bytes = utf8.encode(text);
  const n = pieces.length;
  const byteStart = new Int32Array(n);
  const byteStop = new Int32Array(n);
  const syntheticSpaces: number[] = [];
  let pos = 0;
  for (let k = 0; k < n; k++) {
    const pb = pieceBytes(pieces[k]!, encoding);
    if (pb === null) {
      throw new Error(`${source}: token ${k} ${JSON.stringify(pieces[k])} stands for no text (unknown token?) at byte ${pos}; the tokenizer cannot spell this text`);
    }
    let q = 0;
    // A space the tokenizer prepended: present in the token, absent from the text.
    if (pb.length > 0 && pb[0] === 0x20 && bytes[pos] !== 0x20) {
      syntheticSpaces.push(k);
      q = 1;
    }
    byteStart[k] = pos;
    for (; q < pb.length; q++) {
      if (pos >= bytes.length || bytes[pos] !== pb[q]) {
        const ctx = new TextDecoder().decode(bytes.subarray(Math.max(0, pos - 20), Math.min(bytes.length, pos + 20)));
        throw new Error(
          `${source}: token ${k} ${JSON.stringify(pieces[k])} does not match the text at byte ${pos} (near ${JSON.stringify(ctx)}); ` +
            'the tokenizer changes the text (normalizer?) and its tokens cannot be mapped back to characters',
        );
      }
      pos++;
    }
    byteStop[k] = pos;
  }
  if (pos !== bytes.length) {
    throw new Error(`${source}: the tokens spell only the first ${pos} of ${bytes.length} bytes of the text`);
  }
  if (syntheticSpaces.length > 1) {
    // Only one prepended space per tokenized text is expected (we tokenize one section, no special tokens).
    throw new Error(`${source}: tokens ${syntheticSpaces.slice(0, 5).join(', ')} start with spaces that are not in the text; cannot map tokens to characters`);
  }
  const toChar = byteToCharCeil(text);
  const charStart = new Int32Array(n);
  const charStop = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    charStart[k] = toChar[byteStart[k]!]!;
    charStop[k] = toChar[byteStop[k]!]!;
  }
  return { byteStart, byteStop, charStart, charStop, syntheticSpaces };
}
