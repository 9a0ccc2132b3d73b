/**
 * Features of a stimulus whose text is not known in advance: a live session whose word markers
 * carry the words. Each word heard is added to the running text, tokenized, read by the model in
 * its exact window (itself and the N words heard before it, as contextWindows.ts plans an exact
 * window, BOS and the model's length limit included), projected on a reference PCA basis
 * (pcaBasis.ts: no word of this stimulus is known when the basis must exist), and its row is
 * handed to the pipeline through `when`.
 *
 * The numbers are those of extracting the same words ahead of time (an events file of these words
 * without an original text, `--pca-fit reference`, exact context), up to float rounding (tested):
 * - the running text is what textFromWords makes of the words: joined by single spaces, and an
 *   all-capitals stream (events-file style, decided at its first word of two letters or more) is
 *   lower-cased with the first word and the pronoun I capitalised;
 * - a word's tokens are those of " word" (of "word" for the first), which equals tokenizing the
 *   whole text for tokenizers that never merge across a space (byte-level BPE such as GPT-2's;
 *   checked when the table opens, refused otherwise);
 * - every word is its own forward pass (a batch of one), so the numbers never depend on timing;
 *   words are computed concurrently on the extraction workers (each pass is independent).
 * Content tags see only the words before (the tagger cannot wait for the rest of the sentence), so
 * a few may differ from an ahead-of-time tagging of the whole text.
 *
 * Words must arrive in stimulus order (increasing index); a repeated or older index is ignored. A
 * word whose marker was missed is absent from the later words' context.
 *
 * Owns: the running text and the per-word extraction. Must not: know about LSL or the pipeline.
 */
import type { StimulusWord, TokenizedStimulus } from '../../src/types.js';
import { tagStimulusWords } from '../text/partOfSpeech.js';
import { textFromWords } from '../text/wordAlignment.js';
import { projectLayers } from '../../src/llm/pca.js';
import { DEFAULT_DEPTHS, layersForDepths } from '../../src/llm/depths.js';
import { planContextWindows } from './contextWindows.js';
import { openExtractionSession, resolveReferenceBasis, type ComputeOptions, type ExtractionSession } from './extract.js';
import { prepareWindow, StimulusIndex, wordVectors, type StoryStimulus, type WordVectors } from './extractor.js';
import type { FeatureTable } from './features.js';
import type { PcaBasis, PcaFitChoice } from './pcaBasis.js';
import { describePcaFit } from './pcaBasis.js';
import type { ExtractReport } from './extract.js';

export interface LiveFeatureOptions extends ComputeOptions {
  /** A model folder (resolved: see features.resolveModel). */
  model: string;
  /** Name for labels (e.g. "built-in model lockstep-moby-gpt2"). */
  modelLabel?: string;
  /** Previous words of context (exact windows only: later words are not known). */
  context: number;
  /** Must be a reference basis (sample and all need the whole stimulus). */
  pcaFit: PcaFitChoice;
  /** Where the reference basis is cached (the activation cache root). */
  cacheRoot: string;
  report?: ExtractReport;
}

interface HeardWord {
  index: number;
  word: string;
  /** How the running text spells it. */
  form: string;
  /** Its tokens, in order. */
  ids: number[];
  isContent: boolean | undefined;
}

/** True when tokenizing a text equals concatenating its words' tokenizations (" word" after the first). */
function tokenizesWordByWord(encode: (s: string) => number[]): boolean {
  const probe = ['Call', 'me', 'Ishmael.', 'Some', "years'", 'ago,', 'never', 'mind', 'how', 'long', '"precisely",', 'I', "don't", 'know', 'GOOD-BYE', '3.14', 'it', '—', 'whale.'];
  const whole = encode(probe.join(' '));
  const pieces = probe.flatMap((w, k) => encode(k === 0 ? w : ` ${w}`));
  return whole.length === pieces.length && whole.every((t, i) => t === pieces[i]);
}

export class LiveFeatureTable implements FeatureTable {
  readonly label: string;
  readonly nLayers: number;
  readonly nDims: number;
  readonly depths: number[];
  private readonly heard: HeardWord[] = [];
  private readonly byIndex = new Map<number, HeardWord>();
  private readonly rows = new Map<number, Float32Array>();
  private readonly pending = new Map<number, Promise<Float32Array | undefined>>();
  private shouting: boolean | null = null;
  /** Words being computed (close waits for them). */
  private readonly inFlight = new Set<Promise<unknown>>();
  private failure: unknown = null;
  /** Seconds from `hear` to the word's row, per word (performance.now differences). */
  readonly latenciesSec: number[] = [];

  private constructor(
    private readonly session: ExtractionSession,
    private readonly layers: number[],
    depths: number[],
    private readonly basis: PcaBasis,
    private readonly context: number,
    fit: PcaFitChoice,
    modelLabel: string,
  ) {
    this.nLayers = layers.length;
    this.nDims = basis.fits[0]!.nComponents;
    this.depths = depths;
    this.label = `${modelLabel}, ${layers.length} layers at depths ${depths.join(',')}, context ${context} words (exact, computed as the words arrive), PCA ${this.nDims} (basis: ${describePcaFit(fit)})`;
  }

  /**
   * Loads the model, checks that its tokenizer reads text word by word, and resolves the reference
   * basis (fit once on the built-in text, then cached).
   */
  static async open(o: LiveFeatureOptions): Promise<LiveFeatureTable> {
    if (o.pcaFit.kind !== 'reference') throw new RangeError(`a live session without its text needs --pca-fit reference[:N]: the ${o.pcaFit.kind === 'all' ? 'all-words fit needs every word' : 'sample fit needs words spread over the whole stimulus'} before the first one is decoded`);
    if (!(Number.isInteger(o.context) && o.context >= 0)) throw new RangeError(`context must be a non-negative integer, got ${o.context}`);
    const session = await openExtractionSession(o);
    try {
      const tok = session.loaded.tokenizer.tokenizer;
      const encode = (s: string) => tok.encode(s, { add_special_tokens: false }) as number[];
      if (!tokenizesWordByWord(encode)) {
        throw new Error(`${o.model}: this tokenizer merges tokens across spaces, so words cannot be tokenized one by one as they arrive; give the stimulus text (--text) instead`);
      }
      const sel = layersForDepths(DEFAULT_DEPTHS, session.loaded.model.nBlocks);
      const basis = await resolveReferenceBasis(session, { context: o.context, mode: 'exact', aggregate: 'mean', out: o.cacheRoot, pca: 50, words: o.pcaFit.words, layers: sel.layers }, o.report);
      return new LiveFeatureTable(session, sel.layers, sel.depths, basis, o.context, o.pcaFit, o.modelLabel ?? o.model);
    } catch (e) {
      await session.close();
      throw e;
    }
  }

  /** How the running text spells the k-th word heard (textFromWords' rules, see the header). */
  private formOf(word: string, k: number): string {
    if (this.shouting === null && (word.match(/\p{L}/gu)?.length ?? 0) >= 2) this.shouting = word === word.toUpperCase();
    if (!this.shouting) return word;
    // textFromWords on an all-capitals list: this word's spelling depends only on itself and k.
    const forms = textFromWords(k === 0 ? [word] : ['X', word]).split(' ');
    return forms[forms.length - 1]!;
  }

  /**
   * A word heard: adds it to the running text, tags it from the words before it, and starts its
   * extraction. Returns its content tag.
   */
  hear(index: number, word: string): boolean | undefined {
    const last = this.heard[this.heard.length - 1];
    if (last && index <= last.index) return this.byIndex.get(index)?.isContent;
    const t0 = performance.now();
    const k = this.heard.length;
    const form = this.formOf(word, k);
    const tok = this.session.loaded.tokenizer.tokenizer;
    const ids = tok.encode(k === 0 ? form : ` ${form}`, { add_special_tokens: false }) as number[];
    const h: HeardWord = { index, word, form, ids, isContent: undefined };
    this.heard.push(h);
    this.byIndex.set(index, h);
    const from = Math.max(0, k - this.context);
    const recent = this.heard.slice(from);
    h.isContent = this.tagLast(recent);
    if (ids.length === 0) return h.isContent;
    const story = this.storyOf(recent);
    const result = this.compute(story, index).then((row) => {
      this.latenciesSec.push((performance.now() - t0) / 1000);
      this.pending.delete(index);
      if (row) this.rows.set(index, row);
      return row;
    });
    const settled = result.then(
      () => undefined,
      (e: unknown) => {
        this.failure ??= e;
      },
    );
    this.inFlight.add(settled);
    void settled.then(() => this.inFlight.delete(settled));
    this.pending.set(index, result);
    return h.isContent;
  }

  /** The content tag of the last of `recent`, tagged on the running text of `recent`. */
  private tagLast(recent: readonly HeardWord[]): boolean | undefined {
    const words: StimulusWord[] = recent.map((w, i) => ({ index: i, word: w.word, story: 0 }));
    const text = recent.map((w) => w.form).join(' ');
    try {
      return tagStimulusWords(words, new Map([[0, text]])).words.at(-1)?.isContent;
    } catch {
      return undefined;
    }
  }

  /** The recent words as a one-story stimulus (word indices = stimulus indices). */
  private storyOf(recent: readonly HeardWord[]): StoryStimulus {
    const inputIds: number[] = [];
    const tokenWord: number[] = [];
    const wordTokens: Array<[number, number]> = [];
    for (const w of recent) {
      wordTokens.push(w.ids.length > 0 ? [inputIds.length, inputIds.length + w.ids.length] : [-1, -1]);
      for (const id of w.ids) {
        inputIds.push(id);
        tokenWord.push(w.index);
      }
    }
    const tokens: TokenizedStimulus = { inputIds, tokenWord: Int32Array.from(tokenWord), wordTokens, unmatched: [] };
    return { story: 0, words: recent.map((w) => ({ index: w.index, word: w.word, story: 0, isContent: w.isContent })), tokens };
  }

  /** The word's exact window (planned like the ahead-of-time plan), its forward pass, its row. */
  private async compute(story: StoryStimulus, index: number): Promise<Float32Array | undefined> {
    const { loaded, pool } = this.session;
    const bos = loaded.tokenizer.bosTokenId;
    // The story holds only the context: the planner's window for its last word is the exact one.
    const plan = planContextWindows([{ story: 0, words: story.words, tokenized: story.tokens }], { contextWords: this.context, mode: 'exact', prependBos: bos !== null, maxTokens: loaded.maxTokens ?? undefined });
    const window = plan.windows.find((w) => w.targetWords.includes(index));
    if (!window) return undefined;
    const opts = { layers: this.layers, aggregate: 'mean' as const, bosTokenId: bos ?? undefined };
    const prepared = prepareWindow(new StimulusIndex([story]), window, opts, loaded.model.vocabSize);
    let vectors: WordVectors[];
    if (pool) {
      vectors = (await pool.computeBatch([prepared], this.layers, 'mean'))[0]!;
    } else {
      const model = loaded.model;
      const out = model.forwardBatch ? await model.forwardBatch([prepared.ids], { layers: this.layers, logits: false }) : { maxTokens: prepared.ids.length, ...(await model.forward(prepared.ids)) };
      vectors = wordVectors(out, 0, prepared.ids, prepared.targets, this.layers, 'mean', model.hiddenSize, model.vocabSize);
    }
    const v = vectors[prepared.targets.findIndex((t) => t.wordIndex === index)]!;
    return projectLayers(this.basis.fits, v.activations);
  }

  of(index: number): Float32Array | undefined {
    return this.rows.get(index);
  }

  isContent(index: number): boolean | undefined {
    return this.byIndex.get(index)?.isContent;
  }

  when(index: number): Float32Array | undefined | Promise<Float32Array | undefined> {
    const row = this.rows.get(index);
    if (row) return row;
    const p = this.pending.get(index);
    if (p) return p;
    if (this.failure !== null) return Promise.reject(this.failure);
    return undefined;
  }

  /** Waits for the words in progress, then releases the model and its workers. */
  async close(): Promise<void> {
    await Promise.all(this.inFlight);
    await this.session.close();
  }
}
