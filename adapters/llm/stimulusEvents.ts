/**
 * Words of a BIDS `*_events.tsv` as `EventWord`s for the stimulus (adapters/text/stimulusText.ts),
 * through the BIDS events reader (adapters/meg/bids/events.ts: Armeni, MEG-MASC and trial_type
 * layouts). The run comes from the rows (Armeni `word_onset_0R`), else from the file name's `run-`
 * entity, else 0 (one story).
 *
 * Owns: file → EventWord[]. Must not: parse TSV itself or decide stories (stimulusFromEvents does).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseBidsName } from '../meg/bids/entities.js';
import { wordEvents } from '../meg/bids/events.js';
import { parseTsv } from '../meg/bids/tsv.js';
import type { EventWord } from '../text/stimulusText.js';

/**
 * @throws Error naming the file (and line, from the BIDS reader) when it cannot be read or holds no words
 */
export function readEventWords(file: string): EventWord[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: cannot read the events file (${(e as Error).message})`);
  }
  const runEntity = parseBidsName(path.basename(file))?.entities.run;
  const fileRun = runEntity !== undefined && /^\d+$/.test(runEntity) ? Number(runEntity) : null;
  const res = wordEvents(parseTsv(text, file), { run: fileRun });
  if (res.layout === 'none' || res.words.length === 0) {
    throw new RangeError(`${file}: no word events found (layout ${res.layout}; dropped ${JSON.stringify(res.dropped)}); lockstep reads Armeni (type word_onset_0R), MEG-MASC (trial_type dict with 'kind': 'word') or trial_type == 'word' rows`);
  }
  return res.words.map((w) => ({ word: w.word, onsetSec: w.onsetSec, run: w.run ?? 0 }));
}
