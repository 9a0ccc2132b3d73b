/**
 * The simulated subject and the built-in stimulus: text splitting, speech timing, synthetic
 * activations, the CTF-275 channel set, and the continuous MEG (reproducible, chunking-invariant,
 * with a realistic noise spectrum, and with the planted layer latencies recoverable from the data).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import FFT from 'fft.js';
import { ctf275Channels, ctf275Positions, ctfRegion } from '../adapters/meg/ctf/ctf275.js';
import { blockGrid } from '../adapters/simulator/blocks.js';
import { EvokedResponses } from '../adapters/simulator/evokedResponses.js';
import { SimulatedSubject, defaultLatencySec, type SimulatorOptions } from '../adapters/simulator/simulatedSubject.js';
import { pauseAfter, speechTiming, syllableCount } from '../adapters/simulator/speechTiming.js';
import { describe as activationsDescribe, LAYER_CORRELATION, syntheticActivations } from '../adapters/simulator/syntheticActivations.js';
import { builtinText, builtinWords, splitWords } from '../adapters/text/builtinText.js';
import { openBlasLapack } from '../src/linalg/openblas.js';
import { pearson } from '../src/scores/pearson.js';
import { mulberry32 } from '../src/scores/prng.js';
import type { WordEvent } from '../src/types.js';

const DEPTHS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
const L = DEPTHS.length;
const D = 20;

/** The built-in text, timed: the stimulus every simulator test listens to. */
function stimulus(nWords: number, seed = 3): WordEvent[] {
  return speechTiming(builtinWords(nWords), { seed, startSec: 2 });
}

function subject(over: Partial<SimulatorOptions> = {}): SimulatedSubject {
  const seed = over.seed ?? 5;
  return new SimulatedSubject({
    seed,
    words: stimulus(900),
    activation: syntheticActivations({ seed, nLayers: L, nDims: D }),
    nLayers: L,
    nDims: D,
    depths: DEPTHS,
    ...over,
  });
}


describe('built-in text', () => {
  it('splits words with offsets, keeping contractions and hyphenated words whole', () => {
    const text = `"Don't," said the sea-captain; 'The whale—ago!'\n\nNew para.`;
    const w = splitWords(text);
    assert.deepEqual(
      w.map((x) => x.word),
      ["Don't", 'said', 'the', 'sea-captain', 'The', 'whale', 'ago', 'New', 'para'],
    );
    for (const x of w) assert.equal(text.slice(x.start, x.end), x.word);
    assert.deepEqual(
      w.map((x) => x.trailingPunct),
      [',"', '', '', ";'", '', '—', "!'\n", '', '.'],
    );
  });

  it('starts at Chapter 1 of Moby Dick, front matter skipped', () => {
    const words = builtinWords(12);
    assert.equal(words.length, 12);
    assert.deepEqual(
      words.slice(0, 3).map((w) => w.word),
      ['Call', 'me', 'Ishmael'],
    );
    assert.equal(words[2].trailingPunct, '.');
    assert.equal(builtinText().slice(words[5].start, words[5].end), 'ago');
    assert.equal(words[5].trailingPunct, '—');
    // A prefix split agrees with splitting the whole book.
    const all = builtinWords();
    assert.ok(all.length > 200_000, `${all.length} words`);
    assert.deepEqual(builtinWords(5000), all.slice(0, 5000));
  });
});

describe('speech timing', () => {
  it('speaks at 2.5–3.5 words/s over long stretches, reproducibly', () => {
    const words = builtinWords(20_000);
    const ev = speechTiming(words, { seed: 1 });
    const rate = (a: number, b: number): number => (b - a) / (ev[b].onsetSec - ev[a].onsetSec);
    // Ten-minute stretches (~1800 words) across the first two hours of the book.
    for (let a = 0; a + 1800 < ev.length; a += 1800) {
      const r = rate(a, a + 1800);
      assert.ok(r >= 2.5 && r <= 3.5, `words ${a}–${a + 1800}: ${r.toFixed(2)} words/s`);
    }
    const overall = rate(0, ev.length - 1);
    assert.ok(Math.abs(overall - 3) < 0.25, `overall ${overall.toFixed(2)} words/s`);
    assert.deepEqual(speechTiming(words.slice(0, 100), { seed: 1 }), ev.slice(0, 100));
    assert.notDeepEqual(speechTiming(words.slice(0, 100), { seed: 2 }), ev.slice(0, 100));
    ev.forEach((e, i) => assert.equal(e.wordIndex, i));
  });

  it('pauses longer after sentence ends than after commas, and longest at paragraph ends', () => {
    const words = builtinWords(20_000);
    const ev = speechTiming(words, { seed: 4, startSec: 10 });
    assert.equal(ev[0].onsetSec, 10);
    const gaps: Record<'none' | 'comma' | 'sentence' | 'paragraph', number[]> = { none: [], comma: [], sentence: [], paragraph: [] };
    for (let i = 0; i + 1 < ev.length; i++) {
      const gap = ev[i + 1].onsetSec - ev[i].onsetSec - (ev[i].durationSec ?? 0);
      const p = words[i].trailingPunct;
      if (p.includes('\n')) gaps.paragraph.push(gap);
      else if (/[.!?]/.test(p)) gaps.sentence.push(gap);
      else if (p === ',') gaps.comma.push(gap);
      else if (p === '') gaps.none.push(gap);
    }
    const mean = (a: number[]): number => a.reduce((s, v) => s + v, 0) / a.length;
    assert.ok(mean(gaps.none) < 1e-12);
    assert.ok(mean(gaps.comma) > 0.1, `comma ${mean(gaps.comma)}`);
    assert.ok(mean(gaps.sentence) > 2 * mean(gaps.comma), `sentence ${mean(gaps.sentence)} vs comma ${mean(gaps.comma)}`);
    assert.ok(mean(gaps.paragraph) > 1.5 * mean(gaps.sentence), `paragraph ${mean(gaps.paragraph)}`);
    assert.ok(pauseAfter('.') > pauseAfter(';') && pauseAfter(';') > pauseAfter(',') && pauseAfter(',') > pauseAfter(''));
    // Longer words take longer.
    assert.equal(syllableCount('whale'), 1);
    assert.equal(syllableCount('November'), 3);
    assert.ok(syllableCount('circulation') >= 4);
  });
});

describe('synthetic activations', () => {
  const act = syntheticActivations({ seed: 9, nLayers: L, nDims: D });
  const n = 3000;
  const words = builtinWords(n);
  const X = words.map((w, i) => act(i, w.word)); // [word] → [layer][dim]

  it('is deterministic per (seed, word, index) and says it is not a language model', () => {
    assert.equal(activationsDescribe, 'synthetic activations (seeded, not a language model)');
    assert.deepEqual(act(17, 'whale'), syntheticActivations({ seed: 9, nLayers: L, nDims: D })(17, 'whale'));
    assert.notDeepEqual(act(17, 'whale'), act(18, 'whale'));
    assert.notDeepEqual(act(17, 'whale'), syntheticActivations({ seed: 10, nLayers: L, nDims: D })(17, 'whale'));
    assert.equal(act(0, 'x').length, L * D);
  });

  it('has unit variance per dim, correlated adjacent layers, and distinguishable layers', () => {
    const column = (l: number, d: number): Float64Array => Float64Array.from(X, (x) => x[l * D + d]);
    for (const [l, d] of [
      [0, 0],
      [4, 7],
      [8, 19],
    ]) {
      const c = column(l, d);
      const mean = c.reduce((s, v) => s + v, 0) / n;
      const variance = c.reduce((s, v) => s + (v - mean) ** 2, 0) / n;
      assert.ok(Math.abs(variance - 1) < 0.2, `layer ${l} dim ${d}: variance ${variance}`);
    }
    const corr = (l1: number, l2: number): number => {
      let s = 0;
      for (let d = 0; d < D; d++) s += pearson(column(l1, d), column(l2, d));
      return s / D;
    };
    const adjacent = corr(3, 4);
    const distant = corr(0, 8);
    // The chain correlation is LAYER_CORRELATION (0.5): adjacent layers share about half their variance.
    assert.ok(Math.abs(adjacent - LAYER_CORRELATION) < 0.1, `adjacent layers r = ${adjacent}`);
    assert.ok(distant < adjacent - 0.2, `distant layers r = ${distant}`);
    // Deeper layers carry more context: their neighbouring words are more alike.
    const lag1 = (l: number): number => {
      let s = 0;
      for (let d = 0; d < D; d++) {
        const c = column(l, d);
        s += pearson(c.subarray(0, n - 1), c.subarray(1));
      }
      return s / D;
    };
    assert.ok(lag1(8) > lag1(0) + 0.2, `lag-1 autocorrelation: layer 0 ${lag1(0)}, layer 8 ${lag1(8)}`);
  });
});

describe('CTF-275 channels', () => {
  it('has 273 named CTF channels in tesla with 2-D positions', () => {
    const ch = ctf275Channels();
    assert.equal(ch.length, 273);
    assert.equal(new Set(ch.map((c) => c.name)).size, 273);
    for (const c of ch) {
      assert.match(c.name, /^M[LRZ][CFOPT]\d\d$/);
      assert.equal(c.type, 'mag');
      assert.equal(c.unit, 'T');
    }
    assert.equal(ch[0].name, 'MLC11');
    assert.equal(ch[272].name, 'MZP01');
    const pos = ctf275Positions();
    assert.deepEqual(
      pos.map((p) => p.name),
      ch.map((c) => c.name),
    );
    for (const p of pos) assert.ok(Math.hypot(p.x, p.y) <= 1.0001, `${p.name} at radius ${Math.hypot(p.x, p.y)}`);
    // Layout orientation: frontal sensors in front, left hemisphere on the left.
    const at = (name: string) => pos.find((p) => p.name === name)!;
    assert.ok(at('MZF01').y > 0.5 && at('MZO03').y < -0.5);
    assert.ok(at('MLT31').x < -0.5 && at('MRT31').x > 0.5);
    assert.deepEqual(ctfRegion('MRO14'), { hemisphere: 'R', region: 'O' });
    assert.equal(ctfRegion('UPPT001'), undefined);
  });
});

describe('simulated subject', () => {
  it('mixes the fields on OpenBLAS as the JavaScript loop does, whatever OpenBLAS\'s thread count', () => {
    const first = 3 * 1200 + 17;
    const n = 12 * 1200;
    const auto = subject({ seed: 2 });
    const blas = openBlasLapack();
    if ('error' in blas) {
      // Without OpenBLAS the subject falls back to the loop, and says why; CI requires OpenBLAS.
      assert.ok(!(process.env.CI && process.env.LOCKSTEP_REQUIRE_BLAS === '1'), `OpenBLAS is required here: ${blas.error}`);
      assert.equal(auto.mixKernel.kernel, 'js');
      assert.match(auto.mixKernel.detail, /no BLAS/);
      return;
    }
    assert.equal(auto.mixKernel.kernel, 'blas');
    const onBlas = auto.chunk(first, n).data;
    const onJs = subject({ seed: 2, mixKernel: 'js' });
    assert.equal(onJs.mixKernel.kernel, 'js');
    const loop = onJs.chunk(first, n).data;
    // The float64 sums differ in order only: after rounding to float32 almost every sample is equal
    // (measured: 4 of 155.6 M over five configurations), and none by more than one float32 ulp.
    let differ = 0;
    for (let i = 0; i < loop.length; i++) {
      if (onBlas[i] === loop[i]) continue;
      differ += 1;
      assert.ok(Math.abs(onBlas[i] - loop[i]) <= Math.abs(loop[i]) * 2 ** -23, `sample ${i}: ${onBlas[i]} vs ${loop[i]}`);
    }
    assert.ok(differ <= loop.length * 1e-5, `${differ} of ${loop.length} samples differ`);
    // The tiles are small enough that OpenBLAS never threads them: two threads give the same bits.
    blas.setThreads?.(2);
    const two = subject({ seed: 2 }).chunk(first, n).data;
    blas.setThreads?.(1);
    const one = subject({ seed: 2 }).chunk(first, n).data;
    assert.deepEqual(two, onBlas);
    assert.deepEqual(one, onBlas);
    assert.throws(() => subject({ mixKernel: 'gpu' as never }), /mixing kernel must be/);
  });

  it('reproduces the same data for the same seed, however the range is chunked', () => {
    const sfreq = 1200;
    const first = 7 * sfreq + 123; // not on a block boundary
    const n = 10 * sfreq;
    const a = subject().chunk(first, n);
    assert.equal(a.nChannels, 273);
    assert.equal(a.nSamples, n);
    assert.equal(a.tStartSec, first / sfreq);
    // Same seed, random chunk sizes, on a fresh subject.
    const b = subject();
    const rng = mulberry32(77);
    const pieces = new Float32Array(n * 273);
    for (let s = 0; s < n; ) {
      const len = Math.min(n - s, 1 + Math.floor(rng() * 2500));
      const c = b.chunk(first + s, len);
      assert.equal(c.firstSample, first + s);
      pieces.set(c.data, s * 273);
      s += len;
    }
    assert.deepEqual(pieces, a.data);
    // Out of order on the same subject (the block cache must not leak state).
    const tail = b.chunk(first + n - 5000, 5000);
    const head = b.chunk(first, 3000);
    assert.deepEqual(tail.data, a.data.subarray((n - 5000) * 273));
    assert.deepEqual(head.data, a.data.subarray(0, 3000 * 273));
    // Tesla scale, finite.
    let ss = 0;
    for (const v of a.data) {
      assert.ok(Number.isFinite(v));
      ss += v * v;
    }
    const rms = Math.sqrt(ss / a.data.length);
    assert.ok(rms > 1e-14 && rms < 1e-11, `RMS ${rms} T`);
    // Another seed gives other data.
    const c = subject({ seed: 6 }).chunk(first, 100);
    assert.notDeepEqual(c.data, a.data.subarray(0, 100 * 273));
    assert.equal(subject().chunk(0, 0).data.length, 0);
    assert.throws(() => subject().chunk(-1, 10), /firstSample/);
  });

  it('widens later stages under the population coupling, keeping each stage\'s energy; equal widths under projections', () => {
    const stageDepths = Array.from({ length: 11 }, (_, i) => i / 10);
    const rate = blockGrid(1200).lowRateHz;
    const profile = (coupling: 'population' | 'projections') => {
      const words = stimulus(1);
      const ev = new EvokedResponses(
        { seed: 3, words, activation: syntheticActivations({ seed: 3, nLayers: 11, nDims: D }), nLayers: 11, nDims: D, depths: stageDepths, coupling },
        ctf275Positions(),
        blockGrid(1200),
      );
      const K = ev.nLatent;
      const S = ev.nSources;
      const n = Math.ceil((words[0].onsetSec + 1.2) * rate);
      const latent = new Float64Array(n * K);
      ev.addLatent(latent, 0, K, 0, n);
      const weights = ev.weightsOf(0);
      return ev.latenciesSec.map((lat, l) => {
        const w = weights[l * S];
        let support = 0;
        let energy = 0;
        for (let j = 0; j < n; j++) {
          const v = latent[j * K + l * S] / w;
          if (v !== 0) support += 1;
          energy += v * v;
        }
        return { lat, widthSec: support / rate, energy: energy / rate };
      });
    };
    const pop = profile('population');
    const mean = pop.reduce((a, p) => a + p.lat, 0) / pop.length;
    for (const p of pop) {
      // cos² bump: support = width (to a low-rate sample), energy = 3/8 · width · peak² = 3/8 · 0.15 s.
      const width = 0.15 * (p.lat / mean) ** 0.75;
      assert.ok(Math.abs(p.widthSec - width) <= 1.5 / rate, `stage at ${p.lat.toFixed(3)} s: ${p.widthSec} s wide, expected ${width.toFixed(3)}`);
      assert.ok(Math.abs(p.energy / ((3 / 8) * 0.15) - 1) < 0.05, `stage at ${p.lat.toFixed(3)} s: energy ${p.energy}`);
    }
    assert.ok(pop[10].widthSec > 1.8 * pop[0].widthSec, 'the last stage is about twice as wide as the first');
    for (const p of profile('projections')) assert.ok(Math.abs(p.widthSec - 0.15) <= 1.5 / rate, `projections: ${p.widthSec} s wide`);
  });

  it('runs a whole-model stack with the population coupling: whitened, seeded, chunking-invariant, latencies by depth', () => {
    // 11 stages at depths 0, 0.1, …, 1 (a 10-block model's hidden states), as the demo plants them.
    const stageDepths = Array.from({ length: 11 }, (_, i) => i / 10);
    const base = syntheticActivations({ seed: 4, nLayers: 11, nDims: D });
    // One dim with a huge scale and offset: whitening makes it count like any other.
    const skewed = (w: number, s: string): Float32Array => base(w, s).map((v, k) => (k % D === 0 ? 1000 * v + 50 : v));
    const make = (activation: SimulatorOptions['activation'] = skewed, over: Partial<SimulatorOptions> = {}): SimulatedSubject =>
      subject({ seed: 4, activation, nLayers: 11, depths: stageDepths, coupling: 'population', ...over });
    const sim = make();
    assert.equal(sim.nSources, 50);
    assert.equal(sim.coupling, 'population');
    assert.match(sim.describe, /11 layers × 50 sources, population coupling/);
    // The decoded depths 0.1 … 0.9 are stages 1 … 9.
    assert.deepEqual(sim.latenciesAtDepthsSec(DEPTHS), DEPTHS.map(defaultLatencySec));
    assert.ok(Math.abs(sim.latenciesSec[0] - 0.25625) < 1e-12 && Math.abs(sim.latenciesSec[10] - 0.69375) < 1e-12);
    // Shuffle permutes all 11 stages in runs of 3 neighbours (the last of 2), each run kept in order and
    // no run followed by its old successor; the decoded depths report their stage's shuffled latency.
    const shuffled = make(skewed, { control: 'shuffle' });
    assert.deepEqual([...shuffled.latenciesSec].sort(), [...sim.latenciesSec].sort());
    const stageOf = shuffled.latenciesSec.map((v) => sim.latenciesSec.indexOf(v));
    const runs: number[][] = [];
    for (const st of stageOf) {
      if (runs.length && st === runs.at(-1)!.at(-1)! + 1 && st % 3 !== 0) runs.at(-1)!.push(st);
      else runs.push([st]);
    }
    assert.deepEqual(runs.map((r) => r.length).sort(), [2, 3, 3, 3], `runs ${JSON.stringify(runs)}`);
    for (let i = 1; i < runs.length; i++) assert.notEqual(runs[i][0], runs[i - 1].at(-1)! + 1, `run ${i} follows its old predecessor`);
    const rankR = pearson(stageOf, stageOf.map((_, i) => i));
    assert.ok(Math.abs(rankR) <= 0.3, `rank r ${rankR}`);
    assert.deepEqual(shuffled.latenciesAtDepthsSec(DEPTHS), shuffled.latenciesSec.slice(1, 10));
    assert.ok(make(skewed, { control: 'null' }).latenciesAtDepthsSec(DEPTHS).every(Number.isNaN));
    // Whitening: any per-dim scale and offset gives the same weights (the raw projections would not).
    const w = sim.sourceWeights(200);
    const maxDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, k) => Math.max(m, Math.abs(v - b[k])), 0);
    assert.ok(maxDiff(make(base).sourceWeights(200), w) < 1e-3, 'whitened: the scale of a dim does not matter');
    assert.ok(maxDiff(subject({ seed: 4, activation: base, nLayers: 11, depths: stageDepths, nSources: 50 }).sourceWeights(200), subject({ seed: 4, activation: skewed, nLayers: 11, depths: stageDepths, nSources: 50 }).sourceWeights(200)) > 0.5, 'raw projections: it does');
    // A word without features reads as the mean word.
    const gap = make((i, s) => (i === 200 ? undefined : skewed(i, s)));
    assert.ok(gap.sourceWeights(200).every((v) => Math.abs(v) < 1), 'the mean word is an average response');
    // Chunking invariance.
    const first = 5 * 1200 + 77;
    const whole = sim.chunk(first, 6000).data;
    const pieces = new Float32Array(whole.length);
    const other = make();
    for (let s = 0; s < 6000; s += 1750) pieces.set(other.chunk(first + s, Math.min(1750, 6000 - s)).data, s * 273);
    assert.deepEqual(pieces, whole);
    assert.throws(() => make(skewed, { coupling: 'dense' as never }), /coupling/);
  });

  it('stays chunking-invariant at other rates, including one where mains is not periodic in samples', () => {
    for (const sfreqHz of [600, 1017.25]) {
      const sim = subject({ sfreqHz });
      assert.equal(sim.sfreqHz, sfreqHz);
      const n = 3 * 1017;
      const whole = subject({ sfreqHz }).chunk(500, n);
      const parts = new Float32Array(n * 273);
      for (let s = 0, len = 1; s < n; s += len, len = (len * 7) % 613 + 1) {
        const m = Math.min(len, n - s);
        parts.set(sim.chunk(500 + s, m).data, s * 273);
      }
      assert.deepEqual(parts, whole.data, `${sfreqHz} Hz`);
      assert.equal(whole.tStartSec, 500 / sfreqHz);
      assert.ok(whole.data.every(Number.isFinite));
    }
  });

  it('plants the documented latencies under each control', () => {
    const planted = DEPTHS.map(defaultLatencySec);
    assert.ok(Math.abs(planted[0] - 0.3) < 1e-12 && Math.abs(planted[8] - 0.65) < 1e-12);
    assert.deepEqual(subject().latenciesSec, planted);
    const mean = planted.reduce((s, v) => s + v, 0) / L;
    for (const v of subject({ control: 'flat' }).latenciesSec) assert.ok(Math.abs(v - mean) < 1e-12);
    const shuffled = subject({ control: 'shuffle' }).latenciesSec;
    assert.deepEqual([...shuffled].sort(), [...planted].sort());
    assert.notDeepEqual(shuffled, planted);
    assert.deepEqual(subject({ control: 'shuffle' }).latenciesSec, shuffled);
    assert.ok(subject({ control: 'null' }).latenciesSec.every(Number.isNaN));
    const custom = DEPTHS.map((d) => 0.2 + d);
    assert.deepEqual(subject({ latenciesSec: custom }).latenciesSec, custom);
    assert.match(subject().describe, /273 channels at 1200 Hz/);
    assert.throws(() => subject({ depths: [0.5] }), /depths/);
    assert.throws(() => subject({ nDims: D + 1 }), /activation/);
  });

  it('has a 1/f background, an alpha peak near 10 Hz and a 50 Hz mains peak', () => {
    const sim = subject({ control: 'null' });
    const sfreq = sim.sfreqHz;
    const seconds = 60;
    const x = sim.chunk(0, seconds * sfreq);
    const C = x.nChannels;
    const seg = 2048;
    const hop = 1024;
    const fft = new FFT(seg);
    const win = Float64Array.from({ length: seg }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / seg));
    const psd = new Float64Array(seg / 2 + 1);
    const frame = new Array<number>(seg).fill(0);
    const spec = fft.createComplexArray() as number[];
    let nFrames = 0;
    for (let c = 0; c < C; c += 3) {
      for (let s0 = 0; s0 + seg <= x.nSamples; s0 += hop) {
        let mean = 0;
        for (let i = 0; i < seg; i++) mean += x.data[(s0 + i) * C + c];
        mean /= seg;
        for (let i = 0; i < seg; i++) frame[i] = (x.data[(s0 + i) * C + c] - mean) * win[i];
        fft.realTransform(spec, frame);
        for (let k = 0; k <= seg / 2; k++) psd[k] += spec[2 * k] ** 2 + spec[2 * k + 1] ** 2;
        nFrames++;
      }
    }
    for (let k = 0; k < psd.length; k++) psd[k] /= nFrames;
    const df = sfreq / seg;
    const at = (hz: number): number => psd[Math.round(hz / df)];
    const band = (lo: number, hi: number): number => {
      let s = 0;
      let n = 0;
      for (let k = Math.ceil(lo / df); k <= Math.floor(hi / df); k++) {
        s += psd[k];
        n++;
      }
      return s / n;
    };
    // 1/f: least-squares slope of log PSD against log f between 1 and 8 Hz.
    const lf: number[] = [];
    const lp: number[] = [];
    for (let k = Math.ceil(1 / df); k <= Math.floor(8 / df); k++) {
      lf.push(Math.log(k * df));
      lp.push(Math.log(psd[k]));
    }
    const slope = (pearson(lf, lp) * Math.sqrt(variance(lp))) / Math.sqrt(variance(lf));
    assert.ok(slope < -0.5, `log-log slope 1–8 Hz = ${slope.toFixed(2)}`);
    // Alpha: the 8.5–11.5 Hz maximum stands above both neighbouring bands.
    let alphaPeak = 0;
    for (let k = Math.ceil(8.5 / df); k <= Math.floor(11.5 / df); k++) alphaPeak = Math.max(alphaPeak, psd[k]);
    assert.ok(alphaPeak > 1.5 * band(6, 7), `alpha ${alphaPeak} vs 6–7 Hz ${band(6, 7)}`);
    assert.ok(alphaPeak > 3 * band(14, 16), `alpha ${alphaPeak} vs 14–16 Hz ${band(14, 16)}`);
    // Mains.
    assert.ok(at(50) > 10 * band(44, 47) && at(50) > 10 * band(53, 56), `50 Hz ${at(50)} vs ${band(44, 47)}, ${band(53, 56)}`);
  });

  it('recovers each layer’s planted latency from the MEG, and finds none under the null control', () => {
    const seconds = 120;
    const strong = { snr: 64, seed: 12 }; // 320 fT per source: evoked clearly above the noise
    const planted = subject(strong);
    const lags = crossCorrelationByLayer(planted, seconds);
    const peaks = lags.curves.map((curve) => lags.lagsSec[argmax(curve)]);
    for (let l = 0; l < L; l++) {
      assert.ok(Math.abs(peaks[l] - planted.latenciesSec[l]) <= 0.04, `layer ${l}: peak at ${peaks[l].toFixed(3)} s, planted ${planted.latenciesSec[l].toFixed(3)} s`);
    }
    const plantedPeak = Math.min(...lags.curves.map((c) => Math.max(...c)));

    // Same seed, same noise, no coupling: no peak anywhere near the planted size.
    const nullLags = crossCorrelationByLayer(subject({ ...strong, control: 'null' }), seconds);
    const nullPeak = Math.max(...nullLags.curves.map((c) => Math.max(...c.map(Math.abs))));
    assert.ok(nullPeak < 0.25 * plantedPeak, `null max |xcorr| ${nullPeak} vs planted peaks ≥ ${plantedPeak}`);
    const nullPeaks = nullLags.curves.map((curve) => nullLags.lagsSec[argmax(curve)]);
    assert.ok(pearson(nullPeaks, DEPTHS) < 0.9, `null peak lags ${nullPeaks.map((v) => v.toFixed(2)).join(', ')}`);

    // Shuffled latencies are what the data show.
    const shuffled = subject({ ...strong, control: 'shuffle' });
    const shuffledLags = crossCorrelationByLayer(shuffled, seconds);
    for (let l = 0; l < L; l++) {
      const peak = shuffledLags.lagsSec[argmax(shuffledLags.curves[l])];
      assert.ok(Math.abs(peak - shuffled.latenciesSec[l]) <= 0.04, `shuffle layer ${l}: ${peak} vs ${shuffled.latenciesSec[l]}`);
    }
  });

  it('adds blinks on frontal sensors and SQUID jumps on single channels only when artefacts are on', () => {
    const seconds = 90;
    const on = subject({ control: 'null' }).chunk(0, seconds * 1200);
    const off = subject({ control: 'null', artefacts: false }).chunk(0, seconds * 1200);
    const C = on.nChannels;
    const pos = ctf275Positions();
    // Everything else is identical, so the difference is the artefacts alone.
    const peak = new Float64Array(C);
    for (let i = 0; i < on.data.length; i++) peak[i % C] = Math.max(peak[i % C], Math.abs(on.data[i] - off.data[i]));
    const frontal = pos.map((p, c) => (p.y > 0.6 ? peak[c] : 0));
    const back = pos.map((p, c) => (p.y < -0.3 ? peak[c] : 0));
    assert.ok(Math.max(...frontal) > 5e-13, `frontal blink peak ${Math.max(...frontal)} T`);
    // Blinks fade toward the back; only a jump could reach a posterior channel, on one channel.
    const bigBack = back.filter((v) => v > 0.2 * Math.max(...frontal)).length;
    assert.ok(bigBack <= 2, `${bigBack} posterior channels with large artefacts`);
  });
});

function variance(a: number[]): number {
  const m = a.reduce((s, v) => s + v, 0) / a.length;
  return a.reduce((s, v) => s + (v - m) ** 2, 0) / a.length;
}

function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

/**
 * For each layer: Σ over its sources and over words of (the word's source weight) × (the source's
 * least-squares estimate from the MEG at onset + lag), for lags 0 … 1.2 s at 100 Hz. The MEG is
 * first low-passed and decimated to 100 Hz by 12-sample means and high-passed by subtracting a
 * 1-s moving average, the least a test needs to see an evoked response under drift and 50 Hz.
 */
function crossCorrelationByLayer(sim: SimulatedSubject, seconds: number): { lagsSec: number[]; curves: number[][] } {
  const sfreq = sim.sfreqHz;
  const decim = 12;
  const rate = sfreq / decim;
  const x = sim.chunk(0, seconds * sfreq);
  const C = x.nChannels;
  const T = Math.floor(x.nSamples / decim);
  const S = sim.nSources;
  const nSrc = L * S;
  // Unmixing: (PᵀP)⁻¹Pᵀ with P = patterns [channel][source].
  const P = sim.sourcePatterns; // [source][channel]
  const gram = new Float64Array(nSrc * nSrc);
  for (let a = 0; a < nSrc; a++) {
    for (let b = 0; b < nSrc; b++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += P[a * C + c] * P[b * C + c];
      gram[a * nSrc + b] = s;
    }
  }
  const inv = invert(gram, nSrc);
  const unmix = new Float64Array(nSrc * C);
  for (let a = 0; a < nSrc; a++) {
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let b = 0; b < nSrc; b++) s += inv[a * nSrc + b] * P[b * C + c];
      unmix[a * C + c] = s;
    }
  }
  // Decimate channels, then estimate sources: src[source][t].
  const meg = new Float64Array(C);
  const src = new Float64Array(nSrc * T);
  for (let t = 0; t < T; t++) {
    meg.fill(0);
    for (let i = 0; i < decim; i++) {
      const o = (t * decim + i) * C;
      for (let c = 0; c < C; c++) meg[c] += x.data[o + c] / decim;
    }
    for (let a = 0; a < nSrc; a++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += unmix[a * C + c] * meg[c];
      src[a * T + t] = s;
    }
  }
  // High-pass: minus a centred 1-s moving average.
  const half = Math.round(rate / 2);
  for (let a = 0; a < nSrc; a++) {
    const row = src.slice(a * T, (a + 1) * T);
    const cum = new Float64Array(T + 1);
    for (let t = 0; t < T; t++) cum[t + 1] = cum[t] + row[t];
    for (let t = 0; t < T; t++) {
      const lo = Math.max(0, t - half);
      const hi = Math.min(T, t + half + 1);
      src[a * T + t] = row[t] - (cum[hi] - cum[lo]) / (hi - lo);
    }
  }
  const nLags = Math.round(1.2 * rate) + 1;
  const lagsSec = Array.from({ length: nLags }, (_, k) => k / rate);
  const curves = Array.from({ length: L }, () => new Array<number>(nLags).fill(0));
  let nWords = 0;
  for (let i = 0; i < sim.words.length; i++) {
    const t0 = Math.round(sim.words[i].onsetSec * rate);
    if (t0 + nLags >= T) break;
    const w = sim.sourceWeights(i);
    nWords++;
    for (let l = 0; l < L; l++) {
      for (let k = 0; k < S; k++) {
        const a = l * S + k;
        const weight = w[a];
        for (let lag = 0; lag < nLags; lag++) curves[l][lag] += weight * src[a * T + t0 + lag];
      }
    }
  }
  for (const c of curves) for (let k = 0; k < nLags; k++) c[k] /= nWords * S;
  return { lagsSec, curves };
}

/** Gauss–Jordan inverse of a small symmetric positive-definite matrix. */
function invert(a: Float64Array, n: number): Float64Array {
  const m = Float64Array.from(a);
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let col = 0; col < n; col++) {
    let p = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r * n + col]) > Math.abs(m[p * n + col])) p = r;
    for (let k = 0; k < n; k++) {
      [m[col * n + k], m[p * n + k]] = [m[p * n + k], m[col * n + k]];
      [inv[col * n + k], inv[p * n + k]] = [inv[p * n + k], inv[col * n + k]];
    }
    const d = m[col * n + col];
    for (let k = 0; k < n; k++) {
      m[col * n + k] /= d;
      inv[col * n + k] /= d;
    }
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = m[r * n + col];
      if (f === 0) continue;
      for (let k = 0; k < n; k++) {
        m[r * n + k] -= f * m[col * n + k];
        inv[r * n + k] -= f * inv[col * n + k];
      }
    }
  }
  return inv;
}
