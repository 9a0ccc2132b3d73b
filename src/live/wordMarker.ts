/**
 * The word-marker format of lockstep's LSL marker streams: one string sample per word onset, its
 * timestamp the onset. `"<index>\t<word>"` (index = the word's position in the stimulus, as in the
 * events file / text) or a JSON object `{"index": 12, "word": "HOLMES"}`; `#end` says the stimulus
 * is over (lockstep publish sends it last; a stimulus program may too).
 * A closed-loop presenter (`lockstep present`) also marks each passage of its bank:
 * `"#passage-start\t<id>"` at the passage audio's first sample and `"#passage-end\t<id>"` at its
 * last; consumers that do not care about passages skip them.
 *
 * Owns: encoding and parsing. Must not: touch sockets.
 */

export type WordMarker =
  | { kind: 'word'; index: number; word: string }
  | { kind: 'end' }
  | { kind: 'passage'; event: 'start' | 'end'; passage: string };

export const END_MARKER = '#end';
const PASSAGE_MARKER = /^#passage-(start|end)\t(\S+)$/;

/** `"#passage-start\t<id>"` or `"#passage-end\t<id>"` (ids have no whitespace). */
export function encodePassageMarker(event: 'start' | 'end', passage: string): string {
  if (!/^\S+$/.test(passage)) throw new RangeError(`passage id "${passage}" must be non-empty and have no whitespace`);
  return `#passage-${event}\t${passage}`;
}

export function encodeWordMarker(index: number, word: string): string {
  return `${index}\t${word}`;
}

/**
 * @throws Error naming the marker and the accepted forms
 */
export function parseWordMarker(text: string): WordMarker {
  const t = text.trim();
  if (t === END_MARKER) return { kind: 'end' };
  const passage = PASSAGE_MARKER.exec(t);
  if (passage) return { kind: 'passage', event: passage[1] as 'start' | 'end', passage: passage[2] };
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
  throw new Error(`word marker "${t.slice(0, 80)}" is not "<index>\\t<word>", {"index": n, "word": "…"}, "${END_MARKER}" or "#passage-start|end\\t<id>"`);
}
