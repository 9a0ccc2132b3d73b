/**
 * Spans of bad data (non-finite samples, samples a source never delivered) in a stream's source
 * clock, so that epochs overlapping them can be excluded and reported rather than decoded.
 *
 * Owns: the list of spans and the overlap test (with the margin the filters smear a gap over).
 * Must not: detect gaps (streams/nonFiniteGuard.ts does) or know about epochs.
 */

export interface DataGap {
  /** Source-clock seconds of the first bad sample and one sample past the last. */
  startSec: number;
  endSec: number;
  /** Samples affected and the channels that had non-finite values (names or indices). */
  nSamples: number;
  channels: number[];
  why: 'non-finite' | 'missing';
}

/**
 * Bad spans seen so far, in arrival (time) order. Overlap queries extend each span by `marginSec`
 * forward in time: causal filters carry a replaced stretch into the output for their memory (the
 * anti-alias FIR is ~1.3 s long; the band-pass's tail is small once the values are held rather than
 * stepped). Nothing spreads backward: the caller asks about the raw span an output depends on.
 */
export class DataGapLog {
  readonly gaps: DataGap[] = [];
  constructor(readonly marginSec = 1.5) {}

  add(gap: DataGap): void {
    const last = this.gaps.at(-1);
    // One span for a run cut across chunks.
    if (last && last.why === gap.why && Math.abs(last.endSec - gap.startSec) < 1e-9) {
      last.endSec = gap.endSec;
      last.nSamples += gap.nSamples;
      for (const c of gap.channels) if (!last.channels.includes(c)) last.channels.push(c);
      return;
    }
    this.gaps.push({ ...gap, channels: [...gap.channels] });
  }

  /** The first span that, extended forward by the margin, overlaps the raw interval [fromSec, toSec]; or undefined. */
  overlapping(fromSec: number, toSec: number): DataGap | undefined {
    for (const g of this.gaps) if (g.startSec <= toSec && g.endSec + this.marginSec >= fromSec) return g;
    return undefined;
  }
}
