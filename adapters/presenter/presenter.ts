/**
 * The closed-loop presenter: plays one passage at a time and publishes, on an LSL string stream,
 * a marker per word (`"<index>\t<word>"`, the index into the bank) timestamped on the LSL clock at
 * the word's audio onset, plus `#passage-start\t<id>` and `#passage-end\t<id>` at the audio's first
 * and last sample (src/live/wordMarker.ts).
 *
 * Timing: a passage starts `leadSec` after it is asked for; its schedule is then fixed (start +
 * each word's onset in the passage audio + the output's latency). Each marker carries its
 * scheduled time as its timestamp, and is pushed when the clock reaches it: a timer sleeps until
 * `spinSec` before, and the last stretch is a busy wait on the clock (Node's timers fire up to a
 * millisecond or more late). How late each push was is reported (`latenessSec`): the measured
 * marker timing.
 *
 * Owns: the schedule and the pushes. Must not: decide what to play (the controller does) or
 * resolve streams (the command does).
 */
import { encodePassageMarker, encodeWordMarker } from '../../src/live/wordMarker.js';
import type { AudioOutput } from './audioOutput.js';

/** The clock every timestamp of the session is on (LSL's local clock, or a scaled one when simulating faster). */
export interface PresenterClock {
  /** Seconds on the session's clock. */
  now(): number;
  /** Session seconds per wall second (1 = real time). */
  readonly speed: number;
}

/** Where markers go (a StreamOutlet of string samples). */
export interface MarkerSink {
  pushSample(values: string[], timestamp: number): void;
}

export interface PresentedPassage {
  id: string;
  words: ReadonlyArray<{ index: number; word: string; onsetSec: number }>;
  /** Length of the audio, s. */
  durationSec: number;
  audioPath: string | null;
}

export interface PlayReport {
  passage: string;
  /** Scheduled start and end (session clock): the passage markers' timestamps. */
  startSec: number;
  endSec: number;
  /** Per marker pushed (start, words, end): its timestamp and when it was pushed (session clock). */
  markers: Array<{ text: string; scheduledSec: number; pushedSec: number }>;
}

export interface PresenterOptions {
  clock: PresenterClock;
  markers: MarkerSink;
  audio: AudioOutput;
  /** From the request to the passage's start, session seconds (default 0.1). */
  leadSec?: number;
  /** Busy-wait this long (wall) before each marker (default 0.003). */
  spinSec?: number;
  /** Called when a passage's schedule is fixed (before its first marker): every marker's text and timestamp. */
  onScheduled?: (markers: ReadonlyArray<{ text: string; at: number }>) => void;
}

export class Presenter {
  private readonly leadSec: number;
  private readonly spinSec: number;

  constructor(private readonly o: PresenterOptions) {
    this.leadSec = o.leadSec ?? 0.1;
    this.spinSec = o.spinSec ?? 0.003;
  }

  /** Plays a passage; resolves after its end marker (and the audio) are done. */
  async play(p: PresentedPassage): Promise<PlayReport> {
    const clock = this.o.clock;
    const start = clock.now() + this.leadSec;
    const lat = this.o.audio.latencySec;
    const events: Array<{ at: number; text: string }> = [
      { at: start + lat, text: encodePassageMarker('start', p.id) },
      ...p.words.map((w) => ({ at: start + lat + w.onsetSec, text: encodeWordMarker(w.index, w.word) })),
      { at: start + lat + p.durationSec, text: encodePassageMarker('end', p.id) },
    ];
    const markers: PlayReport['markers'] = [];
    this.o.onScheduled?.(events);
    await this.waitUntil(start);
    const playback = this.o.audio.start(p.audioPath, p.id);
    // A failing player must not leave an unhandled rejection while markers are still being pushed.
    const audioDone = playback.done.then(
      () => null,
      (e: unknown) => e,
    );
    for (const e of events) {
      await this.waitUntil(e.at);
      this.o.markers.pushSample([e.text], e.at);
      markers.push({ text: e.text, scheduledSec: e.at, pushedSec: clock.now() });
    }
    const failure = await audioDone;
    if (failure) throw failure;
    return { passage: p.id, startSec: start + lat, endSec: start + lat + p.durationSec, markers };
  }

  /** Resolves once the session clock reads ≥ t: a timer to within spinSec, then a busy wait. */
  private async waitUntil(t: number): Promise<void> {
    const clock = this.o.clock;
    for (;;) {
      const wallLeft = (t - clock.now()) / clock.speed;
      if (wallLeft <= this.spinSec) break;
      await new Promise((r) => setTimeout(r, Math.max(1, (wallLeft - this.spinSec) * 1000)));
    }
    while (clock.now() < t) {
      /* busy wait: the last few milliseconds, where timers are too coarse */
    }
  }
}

/** Lateness statistics of pushed markers, milliseconds. */
export function markerTiming(markers: ReadonlyArray<{ scheduledSec: number; pushedSec: number }>, speed = 1): { n: number; meanMs: number | null; sdMs: number | null; p50Ms: number | null; p99Ms: number | null; maxMs: number | null; within1ms: number | null } {
  // Lateness in wall milliseconds (session seconds / speed).
  const late = markers.map((m) => ((m.pushedSec - m.scheduledSec) / speed) * 1000).sort((a, b) => a - b);
  const n = late.length;
  if (n === 0) return { n, meanMs: null, sdMs: null, p50Ms: null, p99Ms: null, maxMs: null, within1ms: null };
  const mean = late.reduce((s, v) => s + v, 0) / n;
  const sd = Math.sqrt(late.reduce((s, v) => s + (v - mean) ** 2, 0) / Math.max(1, n - 1));
  const q = (p: number) => late[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))];
  return { n, meanMs: mean, sdMs: sd, p50Ms: q(0.5), p99Ms: q(0.99), maxMs: late[n - 1], within1ms: late.filter((v) => v <= 1).length / n };
}
