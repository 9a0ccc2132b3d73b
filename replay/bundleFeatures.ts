/**
 * The layer activations of a replayed subject's words: every recording's events.tsv words, one
 * stimulus part per recording, read against the original story text (`text`, or the dataset's
 * stimuli/task-<task>.txt), through the extraction cache. `replay` and the experiment cells share it.
 *
 * Owns: pairing recordings with their texts and checking that the extraction saw the same words.
 * Must not: extract (adapters/llm does) or print (warnings go to `report.warn`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { modelFeatures, type ModelFeatureOptions, type ModelFeatureTable } from '../adapters/llm/features.js';
import type { BidsRecordingBundle } from '../adapters/meg/openRecording.js';
import { RecordingQueryError } from './subjectRecordings.js';

/**
 * Features of every recording's events.tsv words, one stimulus part per recording, read against the
 * original text (`--text`, or the dataset's stimuli/task-<task>.txt); the word counts must agree.
 */
export function modelFeaturesForBundles(root: string, o: ModelFeatureOptions & { text?: string[] }): (bundles: BidsRecordingBundle[]) => Promise<ModelFeatureTable> {
  return async (bundles) => {
    if (o.text && o.text.length !== bundles.length) throw new RecordingQueryError(`--text gives ${o.text.length} file(s) for ${bundles.length} recording(s) (${bundles.map((b) => b.entry.key).join(', ')}): give one per recording, in that order`);
    const parts = bundles.map((b, k) => {
      if (!b.entry.eventsTsv) throw new RecordingQueryError(`${b.entry.key}: no events.tsv, so no words to extract`);
      const story = o.text?.[k] ?? path.join(root, 'stimuli', `task-${b.entry.task}.txt`);
      return { text: b.entry.eventsTsv, storyText: fs.existsSync(story) ? [story] : undefined };
    });
    const f = await modelFeatures(parts, o);
    // What the extraction will read is known before it runs (a streaming extraction has no summaries yet).
    f.parts.forEach((s, k) => {
      if (s.words !== bundles[k].words.length) throw new RecordingQueryError(`${bundles[k].entry.key}: the extraction read ${s.words} words from ${bundles[k].entry.eventsTsv}, the replay ${bundles[k].words.length}; they must agree`);
      const n = s.unmatchedWords.length;
      if (n) o.report?.warn?.(`${bundles[k].entry.key}: ${n} word${n === 1 ? '' : 's'} not found in the text get${n === 1 ? 's' : ''} no features (first: "${s.unmatchedWords[0].word}", ${s.unmatchedWords[0].reason})`);
    });
    return f;
  };
}
