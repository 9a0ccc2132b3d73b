/**
 * A passage bank on disk, read and checked before a closed-loop session starts. The folder:
 *
 *   manifest.json            schema lockstep.bank/1: the passages in order (id, files, counts,
 *                            duration), the model the words were annotated with, the surprisal
 *                            quartile edges, how the audio was made
 *   bank.txt                 the passages' text in bank order (what the language model read)
 *   activations.npy          float32 [words, layers, dims]: every word's layer activations, extracted
 *                            ahead of the session
 *   passages/<id>.txt        the passage's text
 *   passages/<id>.wav        its audio (PCM WAV)
 *   passages/<id>.tsv        its words, one per line in text order, tab-separated with a header:
 *                            index (in the bank), word, onset, offset (s, in the WAV), content
 *                            (1/0/n/a), surprisal (nats or n/a), quartile (1–4 or n/a)
 *
 * Everything is checked up front: a missing or unreadable WAV, audio shorter than its words, a
 * words TSV whose words are not the text's (line by line), indices out of sequence, onsets out of
 * order, activations of the wrong shape. Each error names the file and the line.
 *
 * Owns: the format and its checks. Must not: build banks (buildBank.ts) or play audio.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { readWavInfo } from '../../src/audio/wav.js';
import { summarizePassage, type BankPassage, type BankSummary, type BankWord, type Quartile } from '../../src/closedLoop/bank.js';
import { readNpyFile } from '../npyFile.js';
import { decodeStimulusBytes } from '../text/stimulusText.js';
import { splitWords } from '../text/builtinText.js';
import type { FeatureTable } from '../llm/features.js';

export const BANK_SCHEMA = 'lockstep.bank/1';
export const WORDS_TSV_COLUMNS = ['index', 'word', 'onset', 'offset', 'content', 'surprisal', 'quartile'] as const;

export class BankFormatError extends Error {
  override name = 'BankFormatError';
}

export interface BankManifestPassage {
  id: string;
  text: string;
  audio: string;
  words: string;
  firstWord: number;
  nWords: number;
  nContent: number;
  quartileCounts: [number, number, number, number];
  meanSurprisalNats: number | null;
  durationSec: number;
}

export interface BankManifest {
  schema: typeof BANK_SCHEMA;
  created: string;
  source: string;
  audio: { kind: 'espeak-ng' | 'recordings'; detail: string; sampleRateHz: number | null };
  model: { label: string; context: number; mode: string; depths: number[]; nLayers: number; nDims: number };
  nWords: number;
  surprisalQuartileEdgesNats: [number, number, number];
  activations: string;
  passages: BankManifestPassage[];
}

/** A bank ready for a session: from a folder, or built in memory (the simulated default). */
export interface PassageBank {
  /** The folder (null for a bank built in memory). */
  dir: string | null;
  /** For results and the dashboard. */
  label: string;
  summary: BankSummary;
  nLayers: number;
  nDims: number;
  depths: number[];
  /** [word][layer][dim]. */
  activations: Float32Array;
  /** What the activations are (the model and how it read the text). */
  featuresLabel: string;
  /** The passage's audio file, or null (a bank without audio: silent schedules only). */
  audioPath(ordinal: number): string | null;
  /** SHA-256 of manifest.json (null in memory): ties a session's sidecar to the bank it used. */
  manifestSha256: string | null;
}

/** The bank's words as a FeatureTable (activations and content tags by bank index). */
export function bankFeatures(bank: PassageBank): FeatureTable {
  const per = bank.nLayers * bank.nDims;
  const words = bank.summary.words;
  return {
    label: bank.featuresLabel,
    nLayers: bank.nLayers,
    nDims: bank.nDims,
    depths: bank.depths,
    of: (i) => {
      if (!(i >= 0 && i < words.length)) return undefined;
      const row = bank.activations.subarray(i * per, (i + 1) * per);
      return Number.isFinite(row[0]) ? row : undefined;
    },
    isContent: (i) => words[i]?.isContent,
  };
}

/**
 * The bank with only the first `nDims` dimensions of each layer's activations (PCA components come
 * in order of variance, so these are the main ones): a smaller decoding problem, for tests and
 * quick sessions.
 */
export function withDims(bank: PassageBank, nDims: number): PassageBank {
  if (!(Number.isInteger(nDims) && nDims >= 1)) throw new RangeError(`dims must be a positive integer, got ${nDims}`);
  if (nDims >= bank.nDims) return bank;
  const W = bank.summary.words.length;
  const L = bank.nLayers;
  const activations = new Float32Array(W * L * nDims);
  for (let w = 0; w < W; w++) for (let l = 0; l < L; l++) activations.set(bank.activations.subarray((w * L + l) * bank.nDims, (w * L + l) * bank.nDims + nDims), (w * L + l) * nDims);
  return { ...bank, nDims, activations, featuresLabel: `${bank.featuresLabel}, first ${nDims} dims` };
}

/** The passage whose id is `id`, or undefined. */
export function passageById(bank: PassageBank, id: string): BankPassage | undefined {
  return bank.summary.passages.find((p) => p.id === id);
}

/** 1-based line of the first line of `text` containing `needle` (for messages), or 1. */
function lineOf(text: string, needle: string): number {
  const i = text.indexOf(needle);
  return i < 0 ? 1 : text.slice(0, i).split('\n').length;
}

/**
 * Opens and checks a bank folder.
 * @throws BankFormatError naming the file and line of the first problem
 */
export function openPassageBank(dir: string): PassageBank {
  const manifestPath = path.join(dir, 'manifest.json');
  let raw: string;
  try {
    raw = fs.readFileSync(manifestPath, 'utf8');
  } catch (e) {
    throw new BankFormatError(`${manifestPath}: cannot read the bank's manifest (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); build a bank with \`lockstep bank build\``);
  }
  let m: BankManifest;
  try {
    m = JSON.parse(raw) as BankManifest;
  } catch (e) {
    throw new BankFormatError(`${manifestPath}: not valid JSON (${(e as Error).message})`);
  }
  if (m.schema !== BANK_SCHEMA) throw new BankFormatError(`${manifestPath}:${lineOf(raw, '"schema"')}: schema is ${JSON.stringify(m.schema)}, expected "${BANK_SCHEMA}"`);
  if (!Array.isArray(m.passages) || m.passages.length === 0) throw new BankFormatError(`${manifestPath}:${lineOf(raw, '"passages"')}: no passages`);
  const edges = m.surprisalQuartileEdgesNats;
  const words: BankWord[] = [];
  const passages: BankPassage[] = [];
  const ids = new Set<string>();
  m.passages.forEach((p, ordinal) => {
    const at = `${manifestPath}:${lineOf(raw, `"id": ${JSON.stringify(p.id)}`)}`;
    if (typeof p.id !== 'string' || !/^\S+$/.test(p.id)) throw new BankFormatError(`${at}: passage ${ordinal + 1} has no usable id (non-empty, no spaces)`);
    if (ids.has(p.id)) throw new BankFormatError(`${at}: passage id "${p.id}" is used twice`);
    ids.add(p.id);
    for (const key of ['text', 'audio', 'words'] as const) {
      if (typeof p[key] !== 'string') throw new BankFormatError(`${at}: passage ${p.id} names no ${key} file`);
    }
    const textPath = path.join(dir, p.text);
    const wavPath = path.join(dir, p.audio);
    const tsvPath = path.join(dir, p.words);
    const fileLine = (file: string) => `${manifestPath}:${lineOf(raw, JSON.stringify(file))}`;
    if (!fs.existsSync(wavPath)) throw new BankFormatError(`${fileLine(p.audio)}: passage ${p.id}'s audio ${wavPath} is missing`);
    if (!fs.existsSync(textPath)) throw new BankFormatError(`${fileLine(p.text)}: passage ${p.id}'s text ${textPath} is missing`);
    if (!fs.existsSync(tsvPath)) throw new BankFormatError(`${fileLine(p.words)}: passage ${p.id}'s words ${tsvPath} is missing`);
    const textWords = splitWords(decodeStimulusBytes(fs.readFileSync(textPath), textPath));
    const pw = readWordsTsv(tsvPath, textPath, textWords.map((w) => w.word), words.length, ordinal);
    let wav;
    try {
      wav = readWavInfo(new Uint8Array(fs.readFileSync(wavPath)), wavPath);
    } catch (e) {
      throw new BankFormatError((e as Error).message);
    }
    const lastOffset = pw.at(-1)?.offsetSec ?? 0;
    if (wav.durationSec + 1e-3 < lastOffset) {
      throw new BankFormatError(`${tsvPath}:${pw.length + 1}: the last word ends at ${lastOffset.toFixed(3)} s, after the end of ${wavPath} (${wav.durationSec.toFixed(3)} s)`);
    }
    words.push(...pw);
    passages.push(summarizePassage(p.id, ordinal, pw, wav.durationSec));
  });
  if (m.nWords !== words.length) throw new BankFormatError(`${manifestPath}:${lineOf(raw, '"nWords"')}: nWords is ${m.nWords}, the passages' words TSVs hold ${words.length}`);
  const actPath = path.join(dir, m.activations ?? 'activations.npy');
  const acts = readNpyFile(actPath);
  const { nLayers, nDims } = m.model;
  if (acts.shape.join(',') !== [words.length, nLayers, nDims].join(',')) {
    throw new BankFormatError(`${actPath}: shape [${acts.shape.join(', ')}], the manifest says [${words.length}, ${nLayers}, ${nDims}] (words, layers, dims)`);
  }
  const activations = acts.data instanceof Float32Array ? acts.data : Float32Array.from(acts.data);
  return {
    dir,
    label: `bank ${path.basename(path.resolve(dir))} (${passages.length} passages, ${words.length} words, ${m.audio.kind})`,
    summary: { passages, words, quartileEdgesNats: edges },
    nLayers,
    nDims,
    depths: m.model.depths,
    activations,
    featuresLabel: m.model.label,
    audioPath: (k) => path.join(dir, m.passages[k].audio),
    manifestSha256: createHash('sha256').update(raw).digest('hex'),
  };
}

/** A passage's words TSV, checked against its text's words, line by line. */
function readWordsTsv(tsvPath: string, textPath: string, textWords: string[], firstIndex: number, ordinal: number): BankWord[] {
  const lines = decodeStimulusBytes(fs.readFileSync(tsvPath), tsvPath).split('\n');
  while (lines.length > 0 && lines.at(-1)!.trim() === '') lines.pop();
  const header = (lines[0] ?? '').split('\t').map((h) => h.trim().toLowerCase());
  const col = (name: string) => header.indexOf(name);
  for (const need of ['index', 'word', 'onset', 'offset']) {
    if (col(need) < 0) throw new BankFormatError(`${tsvPath}:1: no "${need}" column (the header must name ${WORDS_TSV_COLUMNS.join(', ')})`);
  }
  const out: BankWord[] = [];
  let prevOnset = -Infinity;
  for (let k = 1; k < lines.length; k++) {
    const at = `${tsvPath}:${k + 1}`;
    const f = lines[k].split('\t');
    const n = k - 1;
    if (n >= textWords.length) throw new BankFormatError(`${at}: more words than the text has (${textPath} has ${textWords.length}); the TSV does not match the text`);
    const word = f[col('word')]?.trim() ?? '';
    if (word !== textWords[n]) throw new BankFormatError(`${at}: word "${word}" is not the text's word ${n + 1} "${textWords[n]}" (${textPath}); the TSV does not match the text`);
    const index = Number(f[col('index')]);
    if (index !== firstIndex + n) throw new BankFormatError(`${at}: index ${f[col('index')]} should be ${firstIndex + n} (words are numbered through the bank in order)`);
    const onsetSec = Number(f[col('onset')]);
    const offsetSec = Number(f[col('offset')]);
    if (!Number.isFinite(onsetSec) || !Number.isFinite(offsetSec) || onsetSec < 0 || offsetSec < onsetSec) {
      throw new BankFormatError(`${at}: onset ${f[col('onset')]} / offset ${f[col('offset')]} are not times in seconds with 0 ≤ onset ≤ offset`);
    }
    if (onsetSec < prevOnset) throw new BankFormatError(`${at}: onset ${onsetSec} s comes before the previous word's (${prevOnset} s)`);
    prevOnset = onsetSec;
    const content = col('content') >= 0 ? f[col('content')]?.trim() : 'n/a';
    const s = col('surprisal') >= 0 ? f[col('surprisal')]?.trim() : 'n/a';
    const surprisalNats = s === undefined || s === 'n/a' || s === '' ? null : Number(s);
    if (surprisalNats !== null && !Number.isFinite(surprisalNats)) throw new BankFormatError(`${at}: surprisal "${s}" is not a number or n/a`);
    const q = col('quartile') >= 0 ? f[col('quartile')]?.trim() : 'n/a';
    const quartile = q === undefined || q === 'n/a' || q === '' ? null : (Number(q) as Quartile);
    if (quartile !== null && ![1, 2, 3, 4].includes(quartile)) throw new BankFormatError(`${at}: quartile "${q}" is not 1–4 or n/a`);
    out.push({ index, word, passage: ordinal, onsetSec, offsetSec, isContent: content === '1' ? true : content === '0' ? false : undefined, surprisalNats, quartile });
  }
  if (out.length < textWords.length) {
    throw new BankFormatError(`${tsvPath}:${lines.length + 1}: ${out.length} words, but the text has ${textWords.length} (${textPath}: next word "${textWords[out.length]}"); the TSV does not match the text`);
  }
  return out;
}

/** A words TSV's text (header + one line per word), as the builder writes it. */
export function formatWordsTsv(words: readonly BankWord[]): string {
  const fmt = (v: number | null, digits: number) => (v === null || !Number.isFinite(v) ? 'n/a' : v.toFixed(digits));
  const rows = words.map((w) => [w.index, w.word, w.onsetSec.toFixed(6), w.offsetSec.toFixed(6), w.isContent === undefined ? 'n/a' : w.isContent ? '1' : '0', fmt(w.surprisalNats, 4), w.quartile ?? 'n/a'].join('\t'));
  return `${WORDS_TSV_COLUMNS.join('\t')}\n${rows.join('\n')}\n`;
}
