/**
 * `lslWordEvents`: a word-marker inlet (`fromInlet` on a string stream) as WordEvents on the local
 * clock (marker timestamp + that inlet's time correction), the same clock `lslSampleChunks` puts the
 * MEG on. Markers may arrive before or after the MEG that covers them (the epochs operator waits).
 * The `#end` marker completes the stream.
 *
 * Owns: parsing markers into words. Must not: decide content words (the feature table's tags do).
 */
import type { OperatorFunction } from 'rxjs';
import { errorText } from '../src/errorText.js';
import { parseWordMarker } from '../src/live/wordMarker.js';
import type { WordEvent } from '../src/types.js';
import type { InletEvent } from './fromInlet.js';
import { operate } from './operate.js';

export interface LslWordEventsOptions {
  /** Tags a word (content or not) from its stimulus index. */
  isContent?: (index: number) => boolean | undefined;
  /** The end marker's local time (the session then stops once the MEG reaches it). */
  onEnd?: (localSec: number) => void;
  /** Markers that could not be parsed (reported, skipped). */
  onBadMarker?: (text: string, why: string) => void;
  /** As lslSampleChunks: 'none' when the marker sender runs on this machine (same clock). */
  correction?: 'measured' | 'none';
}

export function lslWordEvents(o: LslWordEventsOptions = {}): OperatorFunction<InletEvent, WordEvent> {
  return operate<InletEvent, WordEvent>((subscriber) => ({
    next: (e) => {
      if (e.kind !== 'chunk') return;
      const { chunk, timeCorrection } = e;
      const texts = chunk.data as unknown as string[];
      for (let i = 0; i < chunk.nSamples; i++) {
        const text = String(texts[i * chunk.nChannels]);
        let m;
        try {
          m = parseWordMarker(text);
        } catch (err) {
          o.onBadMarker?.(text, errorText(err));
          continue;
        }
        const at = chunk.timestamps[i] + (o.correction === 'none' ? 0 : (timeCorrection ?? 0));
        if (m.kind === 'end') {
          o.onEnd?.(at);
          subscriber.complete();
          return;
        }
        subscriber.next({ wordIndex: m.index, word: m.word, onsetSec: at, isContent: o.isContent?.(m.index) });
      }
    },
  }));
}
