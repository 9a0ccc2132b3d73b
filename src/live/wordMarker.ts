/**
 * The word-marker format of lockstep's LSL marker streams: one string sample per word onset, its
 * timestamp the onset. `"<index>\t<word>"` (index = the word's position in the stimulus, as in the
 * events file / text) or a JSON object `{"index": 12, "word": "HOLMES"}`; `#end` says the stimulus
 * is over (lockstep publish sends it last; a stimulus program may too).
 *
 * Owns: encoding and parsing. Must not: touch sockets.
 */

export type WordMarker = { kind: 'word'; index: number; word: string } | { kind: 'end' };

export const END_MARKER = '#end';

export function encodeWordMarker(index: number, word: string): string {
  return `${index}\t${word}`;
}

/**
 * @throws Error naming the marker and the accepted forms
 */
export function parseWordMarker(text: string): WordMarker {
  const t = text.trim();
  if (t === END_MARKER) return { kind: 'end' };
  const tab = /^(\d+)\t(.+)$/.exec(t);
  if (tab) return { kind: 'word', index: Number(tab[1]), word: tab[2] };
  if (t.startsWith('{')) {
    try {
      const j = JSON.parse(t) as { index?: unknown; word?: unknown };
      if (Number.isInteger(j.index) && (j.index as number) >= 0 && typeof j.word === 'string') return { kind: 'word', index: j.index as number, word: j.word };
    } catch {
      /* fall through to the error */
    }
  }
  throw new Error(`word marker "${t.slice(0, 80)}" is not "<index>\\t<word>", {"index": n, "word": "…"} or "${END_MARKER}"`);
}
