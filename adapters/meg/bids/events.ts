/**
 * `*_events.tsv` → the words a subject heard, in the layouts that language MEG datasets use:
 *
 * - **armeni** (Armeni et al. 2022, Sherlock Holmes): columns `onset duration sample type value`;
 *   word rows have `type = word_onset_0R` (R = story part / run within the session) and
 *   `value` = the word in upper case, sometimes quoted; `value == "sp"` marks silence (dropped);
 *   rows with onset ≤ 0 are triggers (dropped); `phoneme_onset_0R` and `wav_onset` rows are not words.
 * - **masc** (MEG-MASC, Gwilliams et al. 2023): `trial_type` holds `str(dict)` of a Python dict
 *   with `'kind': 'word'` and `'word': '…'` (phonemes and sounds have other kinds).
 * - **trial_type**: `trial_type == 'word'` (or `type == 'word'`), the word in a `word` column,
 *   else in `value`.
 *
 * Onsets stay as written: seconds from the first sample of the matching recording (BIDS).
 * Words are sorted by onset (stable) and numbered 0… in that order.
 *
 * Owns: reading word events from a parsed table. Must not: read files, know recording formats.
 */
import { parsePyLiteral, PyLiteralError, type PyValue } from './pyLiteral.js';
import { BidsFormatError, columnIndex, NA, numberCell, requireColumn, type TsvTable } from './tsv.js';

export type EventsLayout = 'armeni' | 'masc' | 'trial_type' | 'none';

/** A word as heard, in the recording's clock. */
export interface BidsWordEvent {
  /** 0… in onset order within this events file. */
  wordIndex: number;
  word: string;
  onsetSec: number;
  durationSec: number;
  /** Story part (Armeni `word_onset_0R`) or the BIDS `run` of the file; null when neither says. */
  run: number | null;
  /** 1-based line in the events file, for messages. */
  line: number;
}

/** Any row of an events file, for `lockstep info`. */
export interface BidsEventRow {
  onsetSec: number;
  durationSec: number;
  /** `type`/`trial_type` (the whole cell). */
  type: string | null;
  value: string | null;
  sample: number | null;
  line: number;
}

export interface WordEventsOptions {
  /** Force a layout instead of detecting it. */
  layout?: EventsLayout;
  /** The BIDS `run` of the events file, used when rows do not carry one. */
  run?: number | null;
}

export interface WordEventsResult {
  layout: EventsLayout;
  words: BidsWordEvent[];
  /** Rows dropped, by reason (silence, trigger, …), for reporting. */
  dropped: Record<string, number>;
}

const ARMENI_WORD = /^word_onset_0*(\d+)$/;

/** Removes one pair of matching surrounding quotes ("…" or '…'); a doubled quote inside "…" is one quote (CSV). */
export function stripQuotes(s: string): string {
  const t = s.trim();
  if (t.length >= 2 && (t[0] === '"' || t[0] === "'") && t[t.length - 1] === t[0]) {
    const inner = t.slice(1, -1);
    return t[0] === '"' ? inner.replace(/""/g, '"') : inner;
  }
  return t;
}

/** Which layout a table is in (see the module comment). */
export function detectEventsLayout(t: TsvTable): EventsLayout {
  const type = columnIndex(t, 'type');
  const trialType = columnIndex(t, 'trial_type');
  if (type >= 0 && columnIndex(t, 'value') >= 0 && t.rows.some((r) => ARMENI_WORD.test(r[type].trim()))) return 'armeni';
  if (trialType >= 0 && t.rows.some((r) => r[trialType].trim().startsWith('{'))) return 'masc';
  for (const c of [trialType, type]) if (c >= 0 && t.rows.some((r) => r[c].trim().toLowerCase() === 'word')) return 'trial_type';
  return 'none';
}

function onsetOf(t: TsvTable, row: number, onsetCol: number): number {
  const v = numberCell(t, row, onsetCol);
  if (v === null) throw new BidsFormatError(t.file, t.lines[row], 'onset is n/a', 'every event needs an onset in seconds');
  return v;
}

function durationOf(t: TsvTable, row: number, col: number): number {
  if (col < 0) return 0;
  const v = numberCell(t, row, col);
  return v === null ? 0 : v;
}

/** Every row as onset, duration, type, value, sample (`lockstep info`). */
export function eventRows(t: TsvTable): BidsEventRow[] {
  const onset = requireColumn(t, 'onset');
  const duration = columnIndex(t, 'duration');
  const type = columnIndex(t, 'trial_type') >= 0 ? columnIndex(t, 'trial_type') : columnIndex(t, 'type');
  const value = columnIndex(t, 'value');
  const sample = columnIndex(t, 'sample');
  return t.rows.map((r, i) => ({
    onsetSec: onsetOf(t, i, onset),
    durationSec: durationOf(t, i, duration),
    type: type >= 0 && r[type] !== NA ? r[type] : null,
    value: value >= 0 && r[value] !== NA ? stripQuotes(r[value]) : null,
    sample: sample >= 0 ? numberCell(t, i, sample) : null,
    line: t.lines[i],
  }));
}

/**
 * The words of an events table.
 * @example wordEvents(parseTsv(text, 'sub-001_ses-001_task-compr_events.tsv')).words[0] // { wordIndex: 0, word: 'THE', onsetSec: 12.3, … }
 */
export function wordEvents(t: TsvTable, o: WordEventsOptions = {}): WordEventsResult {
  const layout = o.layout ?? detectEventsLayout(t);
  const dropped: Record<string, number> = {};
  const drop = (why: string) => (dropped[why] = (dropped[why] ?? 0) + 1);
  const words: Omit<BidsWordEvent, 'wordIndex'>[] = [];
  if (layout === 'none') return { layout, words: [], dropped };
  const onset = requireColumn(t, 'onset');
  const duration = columnIndex(t, 'duration');
  const fileRun = o.run ?? null;

  if (layout === 'armeni') {
    const type = requireColumn(t, 'type');
    const value = requireColumn(t, 'value');
    t.rows.forEach((r, i) => {
      const m = ARMENI_WORD.exec(r[type].trim());
      if (!m) return drop(r[type].startsWith('phoneme_onset') ? 'phoneme' : 'other type');
      const on = onsetOf(t, i, onset);
      if (on <= 0) return drop('trigger (onset ≤ 0)');
      const word = stripQuotes(r[value]);
      if (word === 'sp') return drop('silence (sp)');
      if (word === '' || word === NA) return drop('empty word');
      words.push({ word, onsetSec: on, durationSec: durationOf(t, i, duration), run: Number(m[1]), line: t.lines[i] });
    });
  } else if (layout === 'masc') {
    const trialType = requireColumn(t, 'trial_type');
    t.rows.forEach((r, i) => {
      const cell = r[trialType].trim();
      if (!cell.startsWith('{')) return drop('not a dict');
      let d: PyValue;
      try {
        d = parsePyLiteral(cell);
      } catch (e) {
        if (e instanceof PyLiteralError) throw new BidsFormatError(t.file, t.lines[i], `trial_type is not a Python dict literal: ${e.message}`, 'MEG-MASC writes str(dict) of the event; re-export the events or fix the cell');
        throw e;
      }
      if (typeof d !== 'object' || d === null || Array.isArray(d)) return drop('not a dict');
      if (d.kind !== 'word') return drop(typeof d.kind === 'string' ? String(d.kind) : 'no kind');
      if (typeof d.word !== 'string' || d.word.trim() === '') throw new BidsFormatError(t.file, t.lines[i], "a 'kind': 'word' event without a 'word' string", 'each word event needs its word');
      words.push({ word: d.word.trim(), onsetSec: onsetOf(t, i, onset), durationSec: durationOf(t, i, duration), run: fileRun, line: t.lines[i] });
    });
  } else {
    const typeCol = columnIndex(t, 'trial_type') >= 0 && t.rows.some((r) => r[columnIndex(t, 'trial_type')].trim().toLowerCase() === 'word') ? columnIndex(t, 'trial_type') : requireColumn(t, 'type');
    const wordCol = columnIndex(t, 'word') >= 0 ? columnIndex(t, 'word') : columnIndex(t, 'value');
    if (wordCol < 0) throw new BidsFormatError(t.file, 1, `word rows but no "word" or "value" column (columns: ${t.columns.join(', ')})`, 'the word must be in a "word" or "value" column');
    t.rows.forEach((r, i) => {
      if (r[typeCol].trim().toLowerCase() !== 'word') return drop('not a word');
      const word = stripQuotes(r[wordCol]);
      if (word === '' || word === NA) return drop('empty word');
      words.push({ word, onsetSec: onsetOf(t, i, onset), durationSec: durationOf(t, i, duration), run: fileRun, line: t.lines[i] });
    });
  }
  // Stable sort by onset: files are normally sorted already; a stable order keeps ties as written.
  const order = words.map((w, k) => k).sort((a, b) => words[a].onsetSec - words[b].onsetSec || a - b);
  return { layout, words: order.map((k, wordIndex) => ({ wordIndex, ...words[k] })), dropped };
}
