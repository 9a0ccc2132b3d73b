/**
 * Marker timing of the closed loop's presenter in `--no-audio` mode, against its schedule: passages
 * of a synthetic bank (speech-rate timing, ~3 words/s) played back to back at real time, the markers
 * pushed on a real LSL outlet and read by an inlet on loopback. Reports, in wall milliseconds:
 *   - push lateness: when each marker was pushed minus its scheduled time (= its timestamp): the
 *     presenter's own timing error (never negative: markers are never pushed early);
 *   - timestamp error at the inlet: received timestamp minus schedule (0 when the clock is shared);
 *   - arrival delay at the inlet: local clock at arrival minus the timestamp (loopback transport).
 * Prints one JSON object.
 *
 * Usage: node dist/bench/presenterTiming.js [--passages 20] [--spin-ms 3]
 */
import os from 'node:os';
import { StreamInlet } from '../adapters/lsl/inlet.js';
import { localClock } from '../adapters/lsl/clock.js';
import { StreamOutlet } from '../adapters/lsl/outlet.js';
import { resolveQuery } from '../adapters/lsl/resolver.js';
import { StreamInfo } from '../adapters/lsl/streamInfo.js';
import { SilentAudio } from '../adapters/presenter/audioOutput.js';
import { markerTiming, Presenter } from '../adapters/presenter/presenter.js';
import { speechTiming } from '../adapters/simulator/speechTiming.js';
import { builtinWords } from '../adapters/text/builtinText.js';
import { SessionClock } from '../replay/sessionClock.js';

process.env.LOCKSTEP_LSL_LOOPBACK_ONLY = '1';
const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const nPassages = opt('passages', 20);
const spinSec = opt('spin-ms', 3) / 1000;

const text = builtinWords(nPassages * 50);
const name = `lockstep-bench-markers-${process.pid}`;
const outlet = await StreamOutlet.open(new StreamInfo({ name, type: 'Markers', channelCount: 1, nominalSrate: 0, channelFormat: 'string', sourceId: name }));
const [info] = await resolveQuery(`source_id='${name}'`, { timeoutSec: 10, minimum: 1 });
const inlet = new StreamInlet(info);
await inlet.open(10);
const received: Array<{ timestamp: number; arrivalSec: number }> = [];
inlet.setChunkSink((c) => {
  const now = localClock();
  for (let i = 0; i < c.nSamples; i++) received.push({ timestamp: c.timestamps[i], arrivalSec: now });
});

const clock = new SessionClock(1);
const presenter = new Presenter({ clock, markers: outlet, audio: new SilentAudio(), spinSec });
const markers: Array<{ scheduledSec: number; pushedSec: number }> = [];
const t0 = performance.now();
for (let p = 0; p < nPassages; p++) {
  const words = speechTiming(text.slice(p * 50, (p + 1) * 50), { seed: p, startSec: 0.1 }).map((w) => ({ index: p * 50 + w.wordIndex, word: w.word, onsetSec: w.onsetSec }));
  const report = await presenter.play({ id: `p${p}`, words, durationSec: words.at(-1)!.onsetSec + 0.5, audioPath: null });
  markers.push(...report.markers);
  // The controller's decision gap between passages, roughly.
  await new Promise((r) => setTimeout(r, 300));
}
await new Promise((r) => setTimeout(r, 500));
inlet.close();
await outlet.close();

const ms = (v: number) => Number((v * 1000).toFixed(4));
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return { n: s.length, meanMs: ms(mean), sdMs: ms(Math.sqrt(s.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, s.length - 1))), p50Ms: ms(q(0.5)), p99Ms: ms(q(0.99)), maxMs: ms(s[s.length - 1]), minMs: ms(s[0]) };
};
const timestampErr = received.map((r, i) => Math.abs(r.timestamp - markers[i].scheduledSec));
process.stdout.write(
  `${JSON.stringify({
    benchmark: 'presenterTiming',
    mode: 'no-audio, real time, LSL on loopback',
    passages: nPassages,
    markers: markers.length,
    received: received.length,
    spinMs: spinSec * 1000,
    pushLateness: { ...markerTiming(markers), minMs: Math.min(...markers.map((m) => (m.pushedSec - m.scheduledSec) * 1000)) },
    timestampErrorAtInletMaxMs: ms(Math.max(...timestampErr)),
    arrivalAfterTimestamp: stats(received.map((r) => r.arrivalSec - r.timestamp)),
    wallSeconds: (performance.now() - t0) / 1000,
    loadAverage: os.loadavg(),
    cpus: os.cpus().length,
    node: process.version,
  })}\n`,
);
