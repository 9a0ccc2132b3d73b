/**
 * Flow control between a source that can wait (file replay, the simulator at "max" speed) and a
 * consumer that works asynchronously (the decoder worker): the consumer counts items taken and
 * finished, the source awaits `whenBelow` before producing more. Live sources (LSL) cannot wait and
 * do not use it; their lag shows in the health panel instead.
 */
export class FlowControl {
  private inFlight = 0;
  private waiters: { limit: number; resolve: () => void }[] = [];

  get pending(): number {
    return this.inFlight;
  }

  taken(n = 1): void {
    this.inFlight += n;
  }

  finished(n = 1): void {
    this.inFlight = Math.max(0, this.inFlight - n);
    const still: typeof this.waiters = [];
    for (const w of this.waiters) (this.inFlight < w.limit ? w.resolve() : still.push(w));
    this.waiters = still;
  }

  /** Resolves once fewer than `limit` items are in flight. */
  whenBelow(limit: number): Promise<void> {
    if (this.inFlight < limit) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ limit, resolve }));
  }
}
