/**
 * A feature table that fills while the extraction runs: rows arrive in stimulus order (from
 * `executeExtract`'s onRows, or from a finished cache file) and each word can be asked for before
 * its row exists: `when` answers at once when the row is there (or the word will have none), and
 * with a promise otherwise, settled when the row arrives (or rejected when the extraction fails).
 * Content tags are known from the start (the tagger runs before the model).
 *
 * Owns: rows by stimulus index, and the waiters. Must not: extract, or decide what a missing row
 * means for decoding (the pipeline counts it).
 */
/** (Shaped as features.ts's FeatureTable, which builds on it; not imported, to keep the files acyclic.) */
export class StreamedFeatureTable {
  private readonly rows: (Float32Array | undefined)[] = [];
  private readonly waiters = new Map<number, { resolve: (r: Float32Array | undefined) => void; reject: (e: unknown) => void }[]>();
  private failure: unknown = null;
  private finished = false;
  private received = 0;
  private readonly completion: Promise<void>;
  private settle!: { resolve: () => void; reject: (e: unknown) => void };

  /**
   * @param content per stimulus index: its content tag
   * @param expected per stimulus index: true when a row will come for it (matched words)
   */
  constructor(
    readonly label: string,
    readonly nLayers: number,
    readonly nDims: number,
    readonly depths: number[],
    private readonly content: readonly (boolean | undefined)[],
    private readonly expected: readonly boolean[],
  ) {
    this.completion = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
    // A failure nobody awaits is reported through the waiters and `when`, not as an unhandled rejection.
    this.completion.catch(() => undefined);
  }

  /** Resolves once every row is in; rejects with the extraction's error. */
  get complete(): Promise<void> {
    return this.completion;
  }

  /** Rows received so far. */
  get rowsReceived(): number {
    return this.received;
  }

  /**
   * Adds rows (in stimulus order).
   * @param words stimulus index of each row
   * @param rows [row][layer][dim], rows × nLayers × nDims
   */
  add(words: readonly number[], rows: Float32Array): void {
    const per = this.nLayers * this.nDims;
    if (rows.length !== words.length * per) throw new RangeError(`feature rows: ${rows.length} values for ${words.length} words × ${this.nLayers} layers × ${this.nDims} dims`);
    words.forEach((w, i) => {
      // Unmatched words are stored as NaN rows in a cache: no features.
      const row = rows.subarray(i * per, (i + 1) * per);
      const value = Number.isFinite(row[0]) ? row : undefined;
      if (this.rows[w] === undefined) this.received++;
      this.rows[w] = value;
      const ws = this.waiters.get(w);
      if (ws) {
        this.waiters.delete(w);
        for (const x of ws) x.resolve(value);
      }
    });
  }

  /** Every row is in: waiters for words that got none get undefined. */
  end(): void {
    this.finished = true;
    for (const [w, ws] of this.waiters) for (const x of ws) x.resolve(this.rows[w]);
    this.waiters.clear();
    this.settle.resolve();
  }

  /** The extraction failed: every waiter (now and later) gets the error. */
  fail(e: unknown): void {
    this.failure = e;
    for (const ws of this.waiters.values()) for (const x of ws) x.reject(e);
    this.waiters.clear();
    this.settle.reject(e);
  }

  of(index: number): Float32Array | undefined {
    return this.rows[index];
  }

  isContent(index: number): boolean | undefined {
    return this.content[index];
  }

  when(index: number): Float32Array | undefined | Promise<Float32Array | undefined> {
    const row = this.rows[index];
    if (row !== undefined || this.finished || this.expected[index] !== true) return row;
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const ws = this.waiters.get(index) ?? [];
      ws.push({ resolve, reject });
      this.waiters.set(index, ws);
    });
  }
}
