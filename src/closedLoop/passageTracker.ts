/**
 * Which passage each heard word belongs to, and when a passage's data are complete. Fed, in the
 * order they arrive, the presenter's markers (passage start, words, passage end) and how far the
 * received MEG reaches; it reports a passage as complete once the MEG covers the epoch of its last
 * word (onset + epoch end + the causal filters' delay): from then on every epoch of the passage
 * can be cut, and the controller may decide.
 *
 * Owns: passage membership and the completion rule. Must not: read clocks (times are passed in)
 * or decide anything.
 */

export interface HeardWord {
  index: number;
  word: string;
  /** Onset, local (session) clock, seconds. */
  onsetSec: number;
}

export interface TrackedPassage {
  passage: string;
  startSec: number;
  endSec: number | null;
  words: HeardWord[];
}

export interface CompletedPassage extends TrackedPassage {
  endSec: number;
  /** Time (local clock) the MEG had to reach: the last word's onset + epoch end + delay, or the passage end without words. */
  needsDataUntilSec: number;
}

export class PassageTracker {
  private open: TrackedPassage | null = null;
  private ended: TrackedPassage[] = [];
  private readonly byWord = new Map<string, string>();
  /** Words heard outside any passage (a presenter that sends no passage markers). */
  wordsOutside = 0;

  /**
   * @param epochEndSec the epoch's end after onset (3.0 s)
   * @param delaySec the preprocessing delay: data for time t leave the filters this much later
   */
  constructor(private readonly epochEndSec: number, private readonly delaySec: number) {}

  passageStart(passage: string, atSec: number): void {
    // A start without the previous end (a lost marker): close the previous passage at this time.
    if (this.open) this.passageEnd(this.open.passage, atSec);
    this.open = { passage, startSec: atSec, endSec: null, words: [] };
  }

  /** @returns the passage the word was heard in, or null */
  word(w: HeardWord): string | null {
    if (!this.open) {
      this.wordsOutside++;
      return null;
    }
    this.open.words.push(w);
    this.byWord.set(key(w.index, w.onsetSec), this.open.passage);
    return this.open.passage;
  }

  passageEnd(passage: string, atSec: number): void {
    if (!this.open || this.open.passage !== passage) return;
    this.open.endSec = atSec;
    this.ended.push(this.open);
    this.open = null;
  }

  /** The passage a word (by index and onset) was heard in. */
  passageOf(index: number, onsetSec: number): string | null {
    return this.byWord.get(key(index, onsetSec)) ?? null;
  }

  /** The passages whose data the MEG now covers (each reported once, in order). */
  megReached(lastSampleSec: number): CompletedPassage[] {
    const done: CompletedPassage[] = [];
    while (this.ended.length > 0) {
      const p = this.ended[0];
      const last = p.words.at(-1);
      const needs = last ? last.onsetSec + this.epochEndSec + this.delaySec : p.endSec!;
      if (lastSampleSec < needs) break;
      this.ended.shift();
      done.push({ ...p, endSec: p.endSec!, needsDataUntilSec: needs });
    }
    return done;
  }

  get current(): string | null {
    return this.open?.passage ?? null;
  }
}

function key(index: number, onsetSec: number): string {
  return `${index}@${onsetSec}`;
}
