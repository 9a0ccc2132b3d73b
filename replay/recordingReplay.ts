/**
 * Replays recordings as a live source: MEG `SampleChunk`s and the words heard, merged in source
 * time, paced by `pacedChunks` (speed ×N, or "max" as fast as the consumers' gate allows).
 *
 * Several recordings of one subject (runs, sessions) play back to back on ONE source clock, so
 * that the analysis accumulates over all of them: segment k starts at global sample
 * S_k = Σ_{j<k} (nSamples_j + gap), and every chunk and word carries global sample indices and
 * seconds. The plan (`ReplayPlan.segments`) reports each segment's offset.
 *
 * Order (deterministic, the same at every speed): chunks in sample order, never spanning two
 * segments; a word goes out right after the chunk that contains its onset sample
 * (⌊onsetSec·sfreq⌋, to 1e-6 sample), words of one chunk in onset order. Words before the start or
 * at/after the end of their recording cannot be placed in its data and are dropped (counted in
 * the plan).
 *
 * Samples come from the reader's `chunks()` (float32 SI, the reader reading ahead while the
 * scheduler waits); a user gate (backpressure) is awaited before each chunk.
 *
 * Owns: the merge order and the source clock of a replay. Must not: change sample values or
 * words, open or close recordings (the caller owns them).
 */
import { Observable, concat, type SchedulerLike } from 'rxjs';
import type { SampleChunk, WordEvent } from '../src/types.js';
import type { RawRecording } from '../adapters/meg/rawRecording.js';
import type { BidsRecordingBundle } from '../adapters/meg/openRecording.js';
import { pacedChunks, type Speed } from './pacedChunks.js';
import { threadedChunks } from '../adapters/meg/threadedChunks.js';

/** A word as given for one recording: onset in that recording's seconds (sample 0 = 0 s). */
export interface SegmentWord {
  word: string;
  onsetSec: number;
  durationSec?: number;
  run?: number | null;
  isContent?: boolean;
  /** Stable stimulus index (used as the word's wordIndex); default: emission order over all segments. */
  index?: number;
}

export interface ReplaySegment {
  recording: RawRecording;
  words: SegmentWord[];
  /** Shown in progress and the plan (e.g. the BIDS key `sub-001_ses-001_task-compr`). */
  label?: string;
}

/** A word on the global source clock. */
export interface ReplayWord extends WordEvent {
  /** Index over all segments, in emission order. */
  wordIndex: number;
  /** Onset on the global source clock, seconds. */
  onsetSec: number;
  /** Global sample at or before the onset. */
  sample: number;
  segment: number;
  /** Onset in its own recording's seconds, as given. */
  localOnsetSec: number;
  run: number | null;
}

export type ReplayItem = { kind: 'chunk'; segment: number; chunk: SampleChunk } | { kind: 'word'; word: ReplayWord };

export interface ReplaySegmentPlan {
  label: string;
  path: string;
  /** First global sample of the segment. */
  offsetSamples: number;
  offsetSec: number;
  nSamples: number;
  durationSec: number;
  nWords: number;
  /** Words outside the recording's data (before 0 s or at/after its end). */
  droppedWords: number;
}

export interface ReplayPlan {
  sfreqHz: number;
  channels: string[];
  totalSamples: number;
  totalSec: number;
  nWords: number;
  segments: ReplaySegmentPlan[];
}

export interface ReplayProgress {
  /** Source seconds emitted so far (gaps included). */
  replayedSec: number;
  totalSec: number;
  replayedMinutes: number;
  /** Wall seconds since subscription. */
  wallSec: number;
  /** Source seconds per wall second so far (×real time). */
  speedX: number;
  /** Remaining wall seconds at the speed so far; null before any progress. */
  etaSec: number | null;
  segment: number;
  label: string;
  wordsEmitted: number;
}

export interface RecordingReplayOptions {
  speed: Speed;
  /** Samples per chunk (e.g. 0.1 s worth). */
  chunkSamples: number;
  /** Channel names to emit, in this order, looked up in every segment (default: all channels of segment 0, which every segment must have). */
  channels?: string[];
  /** Silence between segments, seconds of source clock (default 0): no chunks are emitted for it. */
  gapSec?: number;
  scheduler?: SchedulerLike;
  /** Awaited before each chunk (backpressure). */
  gate?: () => Promise<void> | void;
  onProgress?: (p: ReplayProgress) => void;
  /** Wall-clock time for progress, ms (tests inject one). */
  now?: () => number;
  /**
   * Read each recording in a worker thread (adapters/meg/threadedChunks.ts), reopened from
   * `header.path`: reading overlaps the processing. Only for recordings opened from files.
   */
  threaded?: boolean;
}

/** Segments from opened BIDS recordings (runs/sessions of one subject), in the order given. */
export function segmentsFromBids(bundles: BidsRecordingBundle[]): ReplaySegment[] {
  return bundles.map((b) => {
    if (!b.recording) throw new Error(`${b.entry.key}: no data file to replay`);
    return { recording: b.recording, label: b.entry.key, words: b.words.map((w) => ({ word: w.word, onsetSec: w.onsetSec, durationSec: w.durationSec, run: w.run })) };
  });
}

interface PreparedSegment {
  seg: ReplaySegment;
  picks: number[];
  offset: number;
  /** Words with their global sample, sorted by onset. */
  words: { w: SegmentWord; localSample: number }[];
}

/**
 * Plans and builds the replay source. Nothing is read until the observable is subscribed.
 * @example
 *   const { plan, source } = recordingReplay([{ recording, words }], { speed: 10, chunkSamples: 120 });
 *   source.subscribe((item) => item.kind === 'chunk' ? pipeline.next(item.chunk) : words.next(item.word));
 */
export function recordingReplay(segments: ReplaySegment[], o: RecordingReplayOptions): { plan: ReplayPlan; source: Observable<ReplayItem> } {
  if (segments.length === 0) throw new RangeError('recordingReplay: no recordings to replay');
  if (!(Number.isInteger(o.chunkSamples) && o.chunkSamples >= 1)) throw new RangeError(`chunkSamples must be a positive integer, got ${o.chunkSamples}`);
  const sfreqHz = segments[0].recording.header.sfreqHz;
  const names = o.channels ?? segments[0].recording.header.channels.map((c) => c.name);
  const gapSamples = Math.round((o.gapSec ?? 0) * sfreqHz);
  if (!(gapSamples >= 0)) throw new RangeError(`gapSec must be ≥ 0, got ${o.gapSec}`);
  const prepared: PreparedSegment[] = [];
  const plans: ReplaySegmentPlan[] = [];
  let offset = 0;
  segments.forEach((seg, k) => {
    const h = seg.recording.header;
    const label = seg.label ?? h.path;
    if (h.sfreqHz !== sfreqHz) throw new RangeError(`${label}: sampling rate ${h.sfreqHz} Hz, the first recording has ${sfreqHz} Hz; recordings replayed on one clock must share it (resample first)`);
    const byName = new Map(h.channels.map((c, i) => [c.name, i]));
    const picks = names.map((n) => {
      const i = byName.get(n);
      if (i === undefined) throw new RangeError(`${label}: no channel "${n}" (replayed recordings must all have the replayed channels; pass channels: [...] to choose common ones)`);
      return i;
    });
    let dropped = 0;
    const words: PreparedSegment['words'] = [];
    for (const w of seg.words) {
      const localSample = Math.floor(w.onsetSec * sfreqHz + 1e-6);
      if (!(w.onsetSec >= 0) || localSample >= h.nSamples) dropped++;
      else words.push({ w, localSample });
    }
    words.sort((a, b) => a.w.onsetSec - b.w.onsetSec);
    prepared.push({ seg, picks, offset, words });
    plans.push({ label, path: h.path, offsetSamples: offset, offsetSec: offset / sfreqHz, nSamples: h.nSamples, durationSec: h.nSamples / sfreqHz, nWords: words.length, droppedWords: dropped });
    offset += h.nSamples + (k < segments.length - 1 ? gapSamples : 0);
  });
  const plan: ReplayPlan = { sfreqHz, channels: names, totalSamples: offset, totalSec: offset / sfreqHz, nWords: plans.reduce((a, p) => a + p.nWords, 0), segments: plans };

  const source = new Observable<ReplayItem>((subscriber) => {
    const now = o.now ?? (() => performance.now());
    const t0 = now();
    let wordIndex = 0;
    const sources = prepared.map((p, k) => {
      const h = p.seg.recording.header;
      let nextWord = 0;
      // The reader streams the chunks (it reads ahead itself); the gate, awaited by pacedChunks
      // before each chunk, pulls the next one, and `read` hands it over synchronously.
      let it: AsyncIterator<SampleChunk> | null = null;
      let ready: SampleChunk | null = null;
      const gate = async () => {
        await o.gate?.();
        const opts = { picks: p.picks, chunkSamples: o.chunkSamples };
        it ??= (o.threaded ? threadedChunks(h.path, opts) : p.seg.recording.chunks(opts))[Symbol.asyncIterator]();
        const r = await it.next();
        ready = r.done ? null : r.value;
      };
      const read = (first: number, n: number): SampleChunk => {
        const c = ready;
        ready = null;
        if (!c || c.firstSample !== first || c.nSamples !== n || c.nChannels !== p.picks.length)
          throw new Error(`${p.seg.label ?? h.path}: the reader gave ${c ? `samples ${c.firstSample}…${c.firstSample + c.nSamples - 1} × ${c.nChannels} channels` : 'no chunk'} where samples ${first}…${first + n - 1} × ${p.picks.length} were due (its chunks() must honour chunkSamples)`);
        const g = p.offset + first;
        return { ...c, firstSample: g, tStartSec: g / sfreqHz };
      };
      return new Observable<ReplayItem>((sub) => {
        const inner = pacedChunks(read, { sfreqHz, totalSamples: h.nSamples, chunkSamples: o.chunkSamples, speed: o.speed, scheduler: o.scheduler, gate }).subscribe({
          next: (chunk) => {
            sub.next({ kind: 'chunk', segment: k, chunk });
            const end = chunk.firstSample - p.offset + chunk.nSamples;
            while (nextWord < p.words.length && p.words[nextWord].localSample < end) {
              const { w, localSample } = p.words[nextWord++];
              const word: ReplayWord = {
                wordIndex: w.index ?? wordIndex,
                word: w.word,
                onsetSec: p.offset / sfreqHz + w.onsetSec,
                durationSec: w.durationSec,
                isContent: w.isContent,
                sample: p.offset + localSample,
                segment: k,
                localOnsetSec: w.onsetSec,
                run: w.run ?? null,
              };
              wordIndex++;
              sub.next({ kind: 'word', word });
            }
            if (o.onProgress) {
              const replayedSec = (chunk.firstSample + chunk.nSamples) / sfreqHz;
              const wallSec = (now() - t0) / 1000;
              const speedX = wallSec > 0 ? replayedSec / wallSec : Infinity;
              o.onProgress({
                replayedSec,
                totalSec: plan.totalSec,
                replayedMinutes: replayedSec / 60,
                wallSec,
                speedX,
                etaSec: Number.isFinite(speedX) && speedX > 0 ? (plan.totalSec - replayedSec) / speedX : null,
                segment: k,
                label: plans[k].label,
                wordsEmitted: wordIndex,
              });
            }
          },
          error: (e) => sub.error(e),
          complete: () => sub.complete(),
        });
        return () => {
          inner.unsubscribe();
          // Let the reader release what it read ahead (a replay stopped early).
          void it?.return?.()?.catch(() => undefined);
        };
      });
    });
    const all = concat(...sources).subscribe(subscriber);
    return () => all.unsubscribe();
  });
  return { plan, source };
}
