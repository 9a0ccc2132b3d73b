/**
 * `lockstep bank build`: a passage bank (passageBank.ts has the format) from
 *   - a text: cut into passages of about `passageWords` words at paragraph/sentence ends, spoken
 *     by espeak-ng word by word (onsets exact to the sample: each word's audio is placed at a known
 *     position, with a short gap between words and the timing model's pauses after punctuation), or
 *   - a user's own recordings: a folder of `<name>.wav` + `<name>.txt` (the passage's text) +
 *     `<name>.tsv` (its words with `word`, `onset` and `offset` columns, in seconds), taken as
 *     they are, in name order; the TSV's words are checked against the text.
 * Every word is annotated by the language model (one extraction over the whole bank text, in bank
 * order): content tag, surprisal, and the layer activations the session will decode; each
 * passage gets its mean surprisal and its content words' counts per surprisal quartile.
 *
 * Owns: the passage plan, speech layout and the writing of the folder (manifest last, so an
 * interrupted build leaves no usable bank). Must not: check a finished bank (passageBank.ts does).
 */
import fs from 'node:fs';
import path from 'node:path';
import { encodeWavPcm16, readWavInfo } from '../../src/audio/wav.js';
import { quartileOf, summarizePassage, surprisalQuartileEdges, type BankWord } from '../../src/closedLoop/bank.js';
import { cutPassages } from '../../src/text/passages.js';
import { writeFileAtomic } from '../atomicFile.js';
import { runExtract, type ExtractReport } from '../llm/extract.js';
import { openActivationCache } from '../llm/activationCache.js';
import { resolveModel } from '../llm/features.js';
import { readNpyFile, writeNpyFile } from '../npyFile.js';
import { pauseAfter } from '../simulator/speechTiming.js';
import { EspeakSynthesizer } from '../speech/espeak.js';
import { splitWords, type TextWord } from '../text/builtinText.js';
import { decodeStimulusBytes, readStimulusText } from '../text/stimulusText.js';
import { BANK_SCHEMA, BankFormatError, formatWordsTsv, type BankManifest, type BankManifestPassage } from './passageBank.js';

export interface BuildBankOptions {
  out: string;
  /** A UTF-8 text (=== title === lines split stories; passages never cross them). */
  text?: string;
  /** Or a folder of recordings (<name>.wav, <name>.txt, <name>.tsv). */
  recordings?: string;
  /** Language model for tags, surprisal and activations (`builtin` or a folder). */
  model: string;
  context?: number;
  mode?: 'exact' | 'chunked';
  cacheRoot: string;
  /** Words per passage aimed at (text only; default 50). */
  passageWords?: number;
  /** Only the first N words of the text. */
  maxWords?: number;
  voice?: string;
  wordsPerMinute?: number;
  /** Silence between words, s (default 0.04), before the punctuation pauses. */
  wordGapSec?: number;
  report?: ExtractReport & { line?(s: string): void };
}

export interface BuildBankResult {
  dir: string;
  passages: number;
  words: number;
  contentWords: number;
  quartileEdgesNats: [number, number, number];
  durationSec: number;
  seconds: number;
}

/** One passage before annotation: its text, its words, and (recordings) its audio and timing. */
export interface PlannedPassage {
  id: string;
  text: string;
  /** The story it belongs to (context resets between stories). */
  story: number;
  storyTitle: string;
  words: TextWord[];
  /** Recordings: the WAV's bytes and each word's onset/offset. */
  recording?: { wav: Uint8Array; timing: Array<{ onsetSec: number; offsetSec: number }> };
}

/** Leading and trailing silence of a synthesised passage, s. */
const LEAD_SEC = 0.1;
const TAIL_SEC = 0.3;

/** Passages cut from a text file's stories. */
export function planTextPassages(file: string, passageWords: number, maxWords?: number): PlannedPassage[] {
  const stories = readStimulusText([file]);
  const out: PlannedPassage[] = [];
  let left = maxWords ?? Infinity;
  for (const s of stories) {
    if (left <= 0) break;
    let words = splitWords(s.text);
    if (words.length > left) words = words.slice(0, left);
    left -= words.length;
    for (const [a, b] of cutPassages(words, { targetWords: passageWords })) {
      const end = b < words.length ? words[b].start : s.text.length;
      const text = s.text.slice(words[a].start, end).trim();
      out.push({ id: `p${String(out.length + 1).padStart(4, '0')}`, text, story: s.story, storyTitle: s.title, words: splitWords(text) });
    }
  }
  return out;
}

/** Passages from a folder of recordings (name order). */
export function planRecordedPassages(dir: string): PlannedPassage[] {
  const wavs = fs.readdirSync(dir).filter((f) => /\.wav$/i.test(f)).sort();
  if (wavs.length === 0) throw new BankFormatError(`${dir}: no .wav files (a recordings folder holds <name>.wav, <name>.txt and <name>.tsv per passage)`);
  return wavs.map((wavName) => {
    const base = wavName.replace(/\.wav$/i, '');
    const wavPath = path.join(dir, wavName);
    const txtPath = path.join(dir, `${base}.txt`);
    const tsvPath = path.join(dir, `${base}.tsv`);
    for (const f of [txtPath, tsvPath]) if (!fs.existsSync(f)) throw new BankFormatError(`${f}: missing (each recording needs its text and its word alignment)`);
    const text = decodeStimulusBytes(fs.readFileSync(txtPath), txtPath).trim();
    const words = splitWords(text);
    const wav = new Uint8Array(fs.readFileSync(wavPath));
    const info = readWavInfo(wav, wavPath);
    const lines = decodeStimulusBytes(fs.readFileSync(tsvPath), tsvPath).split('\n').filter((l) => l.trim() !== '');
    const header = (lines[0] ?? '').split('\t').map((h) => h.trim().toLowerCase());
    const [wc, oc, fc] = ['word', 'onset', 'offset'].map((c) => header.indexOf(c));
    if (wc < 0 || oc < 0 || fc < 0) throw new BankFormatError(`${tsvPath}:1: the header must name word, onset and offset columns (seconds in the WAV)`);
    const timing = lines.slice(1).map((line, k) => {
      const f = line.split('\t');
      const at = `${tsvPath}:${k + 2}`;
      if (k >= words.length) throw new BankFormatError(`${at}: more words than the text ${txtPath} has (${words.length}); the alignment does not match the text`);
      const w = f[wc]?.trim();
      if (w !== words[k].word) throw new BankFormatError(`${at}: word "${w}" is not the text's word ${k + 1} "${words[k].word}" (${txtPath})`);
      const onsetSec = Number(f[oc]);
      const offsetSec = Number(f[fc]);
      if (!Number.isFinite(onsetSec) || !Number.isFinite(offsetSec) || onsetSec < 0 || offsetSec < onsetSec || offsetSec > info.durationSec + 1e-3) {
        throw new BankFormatError(`${at}: onset ${f[oc]} / offset ${f[fc]} must be seconds with 0 ≤ onset ≤ offset ≤ the WAV's ${info.durationSec.toFixed(3)} s`);
      }
      return { onsetSec, offsetSec };
    });
    if (timing.length !== words.length) throw new BankFormatError(`${tsvPath}:${lines.length + 1}: ${timing.length} words aligned, the text ${txtPath} has ${words.length}`);
    return { id: base.replace(/\s+/g, '_'), text, story: 0, storyTitle: '', words, recording: { wav, timing } };
  });
}

/** The bank's text: passages in order, blank lines between, a `=== title ===` line where a story starts. */
export function bankText(passages: readonly PlannedPassage[]): string {
  const multi = new Set(passages.map((p) => p.story)).size > 1;
  const parts: string[] = [];
  passages.forEach((p, k) => {
    if (multi && (k === 0 || passages[k - 1].story !== p.story)) parts.push(`=== ${p.storyTitle || `story ${p.story + 1}`} ===`);
    parts.push(p.text);
  });
  return `${parts.join('\n\n')}\n`;
}

/** A synthesised passage: the WAV and each word's onset/offset in it. */
async function speakPassage(p: PlannedPassage, tts: EspeakSynthesizer, gapSec: number): Promise<{ wav: Uint8Array; timing: Array<{ onsetSec: number; offsetSec: number }> }> {
  const audio = await Promise.all(p.words.map((w) => tts.word(w.word)));
  const rate = audio[0]?.sampleRateHz ?? 22050;
  const timing: Array<{ onsetSec: number; offsetSec: number }> = [];
  let pos = Math.round(LEAD_SEC * rate);
  const starts: number[] = [];
  p.words.forEach((w, k) => {
    if (audio[k].sampleRateHz !== rate) throw new Error(`espeak-ng changed its sample rate within a passage (${audio[k].sampleRateHz} vs ${rate} Hz)`);
    starts.push(pos);
    timing.push({ onsetSec: pos / rate, offsetSec: (pos + audio[k].samples.length) / rate });
    pos += audio[k].samples.length;
    // The pause after the last word is the passage's tail instead.
    if (k < p.words.length - 1) pos += Math.round((gapSec + pauseAfter(w.trailingPunct)) * rate);
  });
  const samples = new Int16Array(pos + Math.round(TAIL_SEC * rate));
  starts.forEach((s, k) => samples.set(audio[k].samples, s));
  return { wav: encodeWavPcm16(samples, rate), timing };
}

export async function buildBank(o: BuildBankOptions): Promise<BuildBankResult> {
  const t0 = performance.now();
  if (Boolean(o.text) === Boolean(o.recordings)) throw new RangeError('give either --text <file> or --recordings <folder>');
  const say = (s: string) => o.report?.line?.(s);
  const planned = o.text ? planTextPassages(o.text, o.passageWords ?? 50, o.maxWords) : planRecordedPassages(o.recordings!);
  if (planned.length === 0) throw new BankFormatError(`${o.text ?? o.recordings}: no words`);
  fs.mkdirSync(path.join(o.out, 'passages'), { recursive: true });
  // A manifest from an earlier build would make a half-rebuilt folder look complete.
  fs.rmSync(path.join(o.out, 'manifest.json'), { force: true });
  const textPath = path.join(o.out, 'bank.txt');
  writeFileAtomic(textPath, bankText(planned));
  const nWords = planned.reduce((n, p) => n + p.words.length, 0);
  say(`bank: ${planned.length} passages, ${nWords} words; annotating with ${o.model}`);

  // Tags, surprisal and activations: one extraction over the bank's text, in bank order.
  const context = o.context ?? 50;
  const mode = o.mode ?? 'exact';
  const ex = await runExtract({ model: await resolveModel(o.model), text: textPath, context, mode, aggregate: 'mean', pca: 50, out: o.cacheRoot }, o.report);
  const cache = openActivationCache(ex.cacheDir);
  if (cache.words.length !== nWords) throw new Error(`the extraction of ${textPath} has ${cache.words.length} words, the passages ${nWords}`);
  const acts = readNpyFile(path.join(ex.cacheDir, cache.manifest.files.activations));
  const [, nLayers, nDims] = acts.shape;
  const surprisal = Array.from(cache.surprisal, (v) => (Number.isNaN(v) ? null : v));
  const edges = surprisalQuartileEdges(cache.words.map((w, i) => ({ isContent: w.isContent, surprisalNats: surprisal[i] })));

  // Audio: the recordings as they are, or espeak-ng word by word.
  const tts = o.text ? new EspeakSynthesizer({ voice: o.voice, wordsPerMinute: o.wordsPerMinute }) : null;
  const audioDetail = tts ? `${await tts.version()}, voice ${tts.voice}, ${tts.wordsPerMinute} words/min, word by word` : `recordings from ${path.basename(path.resolve(o.recordings!))}/, copied as they are`;
  const manifestPassages: BankManifestPassage[] = [];
  let first = 0;
  let total = 0;
  let rate: number | null = null;
  for (const [ordinal, p] of planned.entries()) {
    const audio = p.recording ?? (await speakPassage(p, tts!, o.wordGapSec ?? 0.04));
    const wavInfo = readWavInfo(audio.wav, `${p.id}.wav`);
    rate ??= wavInfo.sampleRateHz;
    const words: BankWord[] = p.words.map((w, k) => {
      const i = first + k;
      if (cache.words[i].word !== w.word) throw new Error(`word ${i} is "${cache.words[i].word}" in the extraction and "${w.word}" in passage ${p.id}`);
      return { index: i, word: w.word, passage: ordinal, onsetSec: audio.timing[k].onsetSec, offsetSec: audio.timing[k].offsetSec, isContent: cache.words[i].isContent, surprisalNats: surprisal[i], quartile: quartileOf(surprisal[i], edges) };
    });
    const files = { text: `passages/${p.id}.txt`, audio: `passages/${p.id}.wav`, words: `passages/${p.id}.tsv` };
    writeFileAtomic(path.join(o.out, files.text), `${p.text}\n`);
    writeFileAtomic(path.join(o.out, files.audio), audio.wav);
    writeFileAtomic(path.join(o.out, files.words), formatWordsTsv(words));
    const s = summarizePassage(p.id, ordinal, words, wavInfo.durationSec);
    manifestPassages.push({ id: p.id, ...files, firstWord: first, nWords: s.nWords, nContent: s.nContent, quartileCounts: s.quartileCounts, meanSurprisalNats: s.meanSurprisalNats, durationSec: s.durationSec });
    first += words.length;
    total += s.durationSec;
    if ((ordinal + 1) % 10 === 0 || ordinal === planned.length - 1) say(`bank: audio ${ordinal + 1}/${planned.length} passages (${(total / 60).toFixed(1)} min)`);
  }
  writeNpyFile(path.join(o.out, 'activations.npy'), acts.data instanceof Float32Array ? acts.data : Float32Array.from(acts.data), [nWords, nLayers, nDims]);
  const modelName = o.model === 'builtin' ? 'built-in model lockstep-moby-gpt2' : path.basename(path.resolve(o.model));
  const manifest: BankManifest = {
    schema: BANK_SCHEMA,
    created: new Date().toISOString(),
    source: o.text ? path.basename(o.text) : path.basename(path.resolve(o.recordings!)),
    audio: { kind: tts ? 'espeak-ng' : 'recordings', detail: audioDetail, sampleRateHz: rate },
    model: { label: `${modelName}, ${ex.depths.length} layers at depths ${ex.depths.join(',')}, context ${context} words (${mode}), PCA ${nDims}`, context, mode, depths: ex.depths, nLayers, nDims },
    nWords,
    surprisalQuartileEdgesNats: edges,
    activations: 'activations.npy',
    passages: manifestPassages,
  };
  writeFileAtomic(path.join(o.out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const contentWords = cache.words.filter((w) => w.isContent !== false).length;
  return { dir: o.out, passages: planned.length, words: nWords, contentWords, quartileEdgesNats: edges, durationSec: total, seconds: (performance.now() - t0) / 1000 };
}
