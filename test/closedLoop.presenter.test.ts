/**
 * The presenter over real LSL sockets on loopback: word markers stamped exactly at their scheduled
 * onsets (passage start + the word's onset in the audio), passage start/end markers, never pushed
 * early; the loop from `lockstep-control` decisions to `#end`; aplay on ALSA's null device. And
 * the simulated subject who hears words one at a time: the same MEG as the simulated subject given
 * all the words in advance, and condition effects that scale each word's response.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { PassageBank } from '../adapters/bank/passageBank.js';
import { StreamInlet } from '../adapters/lsl/inlet.js';
import { StreamOutlet } from '../adapters/lsl/outlet.js';
import { resolveQuery } from '../adapters/lsl/resolver.js';
import { StreamInfo } from '../adapters/lsl/streamInfo.js';
import { AplayAudio, SilentAudio } from '../adapters/presenter/audioOutput.js';
import { markerTiming, Presenter } from '../adapters/presenter/presenter.js';
import { ContextCounter, contextGain, effectGain, SIMULATED_EFFECTS } from '../adapters/simulator/conditionEffects.js';
import { ListeningSubject } from '../adapters/simulator/listeningSubject.js';
import { SimulatedSubject } from '../adapters/simulator/simulatedSubject.js';
import { speechTiming } from '../adapters/simulator/speechTiming.js';
import { syntheticActivations } from '../adapters/simulator/syntheticActivations.js';
import { builtinWords } from '../adapters/text/builtinText.js';
import { runPresent } from '../cli/present.js';
import { SessionClock } from '../replay/sessionClock.js';
import { encodeWavPcm16 } from '../src/audio/wav.js';
import { END_MARKER } from '../src/live/wordMarker.js';
import { syntheticBankSummary } from './helpers/closedLoopBank.js';
import { tempDir } from './helpers/paths.js';

process.env.LOCKSTEP_LSL_LOOPBACK_ONLY = '1';

const summary = syntheticBankSummary(4, 7);
const silentBank: PassageBank = { dir: null, label: 'test bank', summary, nLayers: 1, nDims: 1, depths: [0.5], activations: new Float32Array(summary.words.length), featuresLabel: 'none', audioPath: () => null, manifestSha256: null };

/** Pulls string samples from an inlet until `until` matches one (or the timeout). */
async function pullUntil(inlet: StreamInlet, until: (s: string) => boolean, timeoutSec = 30): Promise<Array<{ text: string; timestamp: number }>> {
  const got: Array<{ text: string; timestamp: number }> = [];
  const t0 = performance.now();
  for (;;) {
    const s = await inlet.pullSample(Math.max(0.1, timeoutSec - (performance.now() - t0) / 1000));
    if (!s) throw new Error(`no marker matching within ${timeoutSec} s; got ${got.map((g) => g.text).join(' | ')}`);
    got.push({ text: String(s.values[0]), timestamp: s.timestamp });
    if (until(String(s.values[0]))) return got;
  }
}

describe('presenter', () => {
  const root = tempDir('present');
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('stamps every word marker at its scheduled audio onset, with passage start and end, never early', async () => {
    const name = `lockstep-test-markers-${process.pid}`;
    const info = new StreamInfo({ name, type: 'Markers', channelCount: 1, nominalSrate: 0, channelFormat: 'string', sourceId: name });
    const outlet = await StreamOutlet.open(info);
    const [found] = await resolveQuery(`source_id='${name}'`, { timeoutSec: 10, minimum: 1 });
    const inlet = new StreamInlet(found);
    await inlet.open(10);
    try {
      const clock = new SessionClock(1);
      const p = summary.passages[1];
      const words = summary.words.slice(p.firstWord, p.firstWord + p.nWords).map((w) => ({ ...w, onsetSec: w.onsetSec / 10 }));
      const presenter = new Presenter({ clock, markers: outlet, audio: new SilentAudio() });
      const report = await presenter.play({ id: p.id, words, durationSec: p.durationSec / 10, audioPath: null });
      const got = await pullUntil(inlet, (s) => s.startsWith('#passage-end'));
      assert.deepEqual(got.map((g) => g.text), [`#passage-start\t${p.id}`, ...words.map((w) => `${w.index}\t${w.word}`), `#passage-end\t${p.id}`]);
      // Timestamps are the schedule itself, to the bit: start + onset.
      assert.deepEqual(got.map((g) => g.timestamp), [report.startSec, ...words.map((w) => report.startSec + w.onsetSec), report.endSec]);
      assert.ok(report.markers.every((m) => m.pushedSec >= m.scheduledSec), 'no marker pushed before its time');
      const t = markerTiming(report.markers);
      assert.equal(t.n, words.length + 2);
      assert.ok(t.p50Ms !== null && t.p50Ms < 50, `median lateness ${t.p50Ms} ms (BENCHMARKS.md measures it on a quiet machine)`);
    } finally {
      inlet.close();
      await outlet.close();
    }
  });

  it('plays what lockstep-control says, one passage after the other, then sends #end on stop', async () => {
    const ctlName = `lockstep-test-control-${process.pid}`;
    const ctl = await StreamOutlet.open(new StreamInfo({ name: ctlName, type: 'Markers', channelCount: 1, nominalSrate: 0, channelFormat: 'string', sourceId: ctlName }));
    const markersName = `lockstep-test-words-${process.pid}`;
    let inlet: StreamInlet | null = null;
    const ready = new Promise<void>((resolve) => {
      void runPresent({ bank: silentBank, control: `source_id='${ctlName}'`, markersName, markersSourceId: markersName, audio: new SilentAudio(), clock: new SessionClock(4), resolveTimeoutSec: 10, quiet: true, onMarkersOutlet: () => resolve() }).then((r) => (result = r));
    });
    let result: Awaited<ReturnType<typeof runPresent>> | undefined;
    try {
      await ready;
      const [info] = await resolveQuery(`source_id='${markersName}'`, { timeoutSec: 10, minimum: 1 });
      inlet = new StreamInlet(info);
      await inlet.open(10);
      assert.ok(await ctl.waitForConsumers(10), 'the presenter listens');
      for (const [seq, passage] of [[1, 'p0003'], [2, 'p0001']] as const) ctl.pushSample([JSON.stringify({ schema: 'lockstep.decision/1', seq, action: 'play', passage, reason: 'test' })]);
      ctl.pushSample([JSON.stringify({ schema: 'lockstep.decision/1', seq: 3, action: 'stop', reason: 'done' })]);
      const got = await pullUntil(inlet, (s) => s === END_MARKER, 60);
      const starts = got.filter((g) => g.text.startsWith('#passage-start')).map((g) => g.text.split('\t')[1]);
      assert.deepEqual(starts, ['p0003', 'p0001']);
      const p3 = summary.passages[2];
      assert.equal(got.filter((g) => /^\d+\t/.test(g.text)).length, p3.nWords + summary.passages[0].nWords);
      const firstWord = got.find((g) => /^\d+\t/.test(g.text))!;
      assert.equal(firstWord.text, `${p3.firstWord}\t${summary.words[p3.firstWord].word}`, 'the index into the bank');
      for (let k = 0; k < 50 && !result; k++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(result?.stopped.reason, 'done');
      assert.deepEqual(result?.passages.map((p) => p.passage), ['p0003', 'p0001']);
    } finally {
      inlet?.close();
      await ctl.close();
    }
  });

  it('plays audio through aplay (ALSA null device here) with the markers on schedule', async () => {
    const wav = path.join(root, 'tone.wav');
    const n = 22050 / 4;
    fs.writeFileSync(wav, encodeWavPcm16(Int16Array.from({ length: n }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 22050))), 22050));
    const pushed: number[] = [];
    const presenter = new Presenter({ clock: new SessionClock(1), markers: { pushSample: (_v, t) => pushed.push(t) }, audio: new AplayAudio('null', 0.012) });
    const report = await presenter.play({ id: 'tone', words: [{ index: 0, word: 'tone', onsetSec: 0.05 }], durationSec: 0.25, audioPath: wav });
    assert.equal(pushed.length, 3);
    assert.equal(pushed[1], report.startSec + 0.05, 'word marker at start + onset (the output latency is in the start)');
    await assert.rejects(new Presenter({ clock: new SessionClock(1), markers: { pushSample: () => undefined }, audio: new AplayAudio('null') }).play({ id: 'x', words: [], durationSec: 0.1, audioPath: null }), /has no audio file/);
  });
});

describe('the simulated subject who hears words one at a time', () => {
  const L = 9;
  const D = 10;
  const depths = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
  const act = syntheticActivations({ seed: 2, nLayers: L, nDims: D });
  const words = speechTiming(builtinWords(40), { seed: 2, startSec: 2 });
  const calibrationWords = builtinWords(600).map((w, i) => ({ wordIndex: i, word: w.word, onsetSec: 0 }));
  const common = { seed: 2, activation: act, nLayers: L, nDims: D, depths, snr: 3, artefacts: false };
  const picks = [0, 30, 90, 150, 272];

  /** Feeds words as they become due (each heard `aheadSec` before its onset) and renders in 50 ms steps. */
  function listen(gainOf: (i: number) => number): { data: Float32Array; late: number } {
    const s = new ListeningSubject({ ...common, calibrationWords, picks });
    const out: number[] = [];
    let next = 0;
    let w = 0;
    for (let t = 0.05; t < 16; t += 0.05) {
      while (w < words.length && words[w].onsetSec <= t + 0.1) {
        s.hear(words[w], gainOf(w));
        w++;
      }
      const target = Math.floor(t * 1200);
      out.push(...s.chunk(next, target - next).data);
      next = target;
    }
    return { data: Float32Array.from(out), late: s.lateWords };
  }

  it('gives the same MEG as the simulated subject that knew every word in advance', () => {
    const ref = new SimulatedSubject({ ...common, words, calibrationWords });
    const noise = new SimulatedSubject({ ...common, words: [] });
    const { data, late } = listen(() => 1);
    assert.equal(late, 0);
    const n = data.length / picks.length;
    const all = ref.chunk(0, n).data;
    const bg = noise.chunk(0, n).data;
    let err = 0;
    let signal = 0;
    for (let s = 0; s < n; s++) {
      for (let p = 0; p < picks.length; p++) {
        err = Math.max(err, Math.abs(data[s * picks.length + p] - all[s * 273 + picks[p]]));
        signal = Math.max(signal, Math.abs(all[s * 273 + picks[p]] - bg[s * 273 + picks[p]]));
      }
    }
    assert.ok(signal > 1e-13, `there is an evoked signal (${signal} T)`);
    assert.ok(err < 1e-6 * signal, `max difference ${err} T vs evoked ${signal} T`);
  });

  it('scales each word\'s response by its condition gain', () => {
    const noise = new ListeningSubject({ ...common, calibrationWords, picks });
    const base = listen(() => 1).data;
    const half = listen(() => 0.5).data;
    const bg = noise.chunk(0, base.length / picks.length).data;
    let worst = 0;
    let evoked = 0;
    for (let i = 0; i < base.length; i++) {
      worst = Math.max(worst, Math.abs(half[i] - bg[i] - 0.5 * (base[i] - bg[i])));
      evoked = Math.max(evoked, Math.abs(base[i] - bg[i]));
    }
    // float32 data: the noise (~1e-12 T) leaves a rounding error of ~1e-19 T.
    assert.ok(worst < 1e-3 * evoked, `evoked part halved (max error ${worst} T of ${evoked} T)`);
  });

  it('plants weaker responses for surprising words and context that saturates', () => {
    const e = SIMULATED_EFFECTS;
    assert.deepEqual([1, 2, 3, 4].map((q) => effectGain(e, { quartile: q as 1, contextWords: 1000 })), e.surprisalGain);
    assert.equal(contextGain(e, 0), e.context.floorGain);
    assert.equal(contextGain(e, e.context.saturationWords), 1);
    assert.equal(contextGain(e, 10 * e.context.saturationWords), 1, 'no gain past the saturation point');
    const c = new ContextCounter();
    assert.deepEqual([10, 11, 12, 40, 41, 13].map((i) => c.hear(i)), [0, 1, 2, 0, 1, 0], 'context counts words since the last jump');
  });
});
