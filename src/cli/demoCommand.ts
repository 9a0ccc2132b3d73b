/**
 * `lockstep demo`: the whole pipeline on a simulated subject listening to the built-in text —
 * simulated MEG (1200 Hz, 273 channels) → band-pass → resample to 30 Hz → epochs around word
 * onsets → decoder (rolling and exact K-fold) → dashboard, terminal progress and JSON lines.
 */
import { map, mergeMap, from, share, type Observable } from 'rxjs';
import { builtinWords } from '../../adapters/text/builtinText.js';
import { speechTiming } from '../../adapters/simulator/speechTiming.js';
import { syntheticActivations, describe as SYNTHETIC_ACTIVATIONS } from '../../adapters/simulator/syntheticActivations.js';
import { SimulatedSubject } from '../../adapters/simulator/simulatedSubject.js';
import { startDashboard, type Dashboard, type StreamHealth } from '../../dashboard/server.js';
import { pacedChunks, type Speed } from '../../replay/pacedChunks.js';
import { epochs } from '../../streams/epochs.js';
import { FlowControl } from '../../streams/flowControl.js';
import { preprocess, preprocessDelaySec } from '../../streams/preprocess.js';
import { scoreSnapshots } from '../../streams/scoreSnapshots.js';
import { defaultDepths, epochTimes, PAPER_EPOCH, samplesBetween } from '../epochGrid.js';
import type { BackendName } from '../linalg/backend.js';
import type { ScoreSnapshot } from '../snapshot.js';
import type { SampleChunk, WordEvent, WordPair } from '../types.js';

export type Control = 'planted' | 'null' | 'shuffle' | 'flat';

export interface DemoArgs {
  port: number;
  host: string;
  token?: string;
  dashboard: boolean;
  speed: Speed;
  /** Stop after this much simulated recording (minutes); undefined = until the text ends. */
  minutes?: number;
  seed: number;
  control: Control;
  /** Evoked amplitude relative to the simulator's default. */
  snr?: number;
  json: boolean;
  backend: 'auto' | BackendName;
  nDims: number;
  refitEveryWords: number;
  /** Words per contiguous fold block (round-robin over 5 folds); exact scores need every fold filled. */
  foldBlockWords?: number;
  snapshotEveryWords: number;
  halfLifeWords: number | null;
  quiet: boolean;
  /** Called with the dashboard once it listens (tests). */
  onDashboard?: (d: Dashboard) => void;
  /** Every snapshot (tests). */
  onSnapshot?: (s: ScoreSnapshot) => void;
  /** Awaited before the dashboard closes at the end (e.g. a screenshot in progress). */
  beforeClose?: () => Promise<void>;
}

export interface DemoResult {
  last: ScoreSnapshot | null;
  plantedLatenciesSec: number[];
  wordsOutside: number;
  simulatedSeconds: number;
  wallSeconds: number;
}

const N_LAYERS = 9;

export async function runDemo(a: DemoArgs): Promise<DemoResult> {
  const t0 = performance.now();
  const sfreqHz = 1200;
  const depths = defaultDepths(N_LAYERS);
  const text = builtinWords();
  const words = speechTiming(text, { seed: a.seed, startSec: 3 });
  const activation = syntheticActivations({ seed: a.seed, nLayers: N_LAYERS, nDims: a.nDims });
  const subject = new SimulatedSubject({ seed: a.seed, words, activation, nLayers: N_LAYERS, nDims: a.nDims, depths, control: a.control, snr: a.snr, sfreqHz });
  const lastOnset = words.at(-1)!.onsetSec;
  const durationSec = Math.min(a.minutes !== undefined ? a.minutes * 60 : Infinity, subject.durationSec, lastOnset + PAPER_EPOCH.tEndSec + 1);
  const totalSamples = Math.floor(durationSec * sfreqHz);
  const nTimes = samplesBetween(PAPER_EPOCH.tStartSec, PAPER_EPOCH.tEndSec, PAPER_EPOCH.sfreqHz);
  const times = epochTimes(PAPER_EPOCH.tStartSec, PAPER_EPOCH.sfreqHz, nTimes);
  const prep = { bandpass: { lowHz: 0.1, highHz: 20 }, toHz: PAPER_EPOCH.sfreqHz };
  const delaySec = preprocessDelaySec(prep, sfreqHz);

  const dashboard = a.dashboard ? await startDashboard({ host: a.host, port: a.port, token: a.token }) : undefined;
  if (dashboard) a.onDashboard?.(dashboard);
  const log = (line: string) => !a.quiet && process.stderr.write(`${line}\n`);
  log(`lockstep demo: simulated subject (seed ${a.seed}, ${a.control} latencies ${subject.latenciesSec.map((l) => l.toFixed(2)).join(' ')} s), ${SYNTHETIC_ACTIVATIONS}`);
  if (dashboard) log(`dashboard: ${dashboard.url}`);

  const flow = new FlowControl();
  const health: StreamHealth = {
    state: 'starting',
    sourceTimeSec: null,
    wallLagSec: null,
    inputRateHz: null,
    speed: null,
    wordsAccepted: 0,
    wordsSkipped: {},
    refitSeconds: null,
    backend: '',
    source: `simulated subject (seed ${a.seed}, ${a.control})`,
    activations: SYNTHETIC_ACTIVATIONS,
  };
  let samplesIn = 0;
  let wordsOutside = 0;
  const recent: WordEvent[] = [];
  const wallStart = performance.now();

  const chunks$ = pacedChunks((first, n) => subject.chunk(first, n), {
    sfreqHz,
    totalSamples,
    chunkSamples: sfreqHz / 10,
    speed: a.speed,
    // Hold the simulator back while the decoder has many words queued (bounded memory, same results at any speed).
    gate: () => flow.whenBelow(256),
  }).pipe(share());
  let nextWord = 0;
  const words$: Observable<WordEvent> = chunks$.pipe(
    mergeMap((c: SampleChunk) => {
      samplesIn += c.nSamples;
      const end = c.tStartSec + c.nSamples / c.sfreqHz;
      const out: WordEvent[] = [];
      while (nextWord < words.length && words[nextWord].onsetSec < end) out.push(words[nextWord++]);
      for (const w of out) {
        recent.push(w);
        if (recent.length > 12) recent.shift();
      }
      health.sourceTimeSec = end;
      return from(out);
    }),
    share(),
  );
  const pairs$ = chunks$.pipe(
    preprocess(prep),
    epochs(words$, { tminSec: PAPER_EPOCH.tStartSec, tmaxSec: PAPER_EPOCH.tEndSec, delaySec, onOutside: () => void wordsOutside++ }),
    map((e): WordPair => ({ wordIndex: e.word.wordIndex, onsetSec: e.word.onsetSec, word: e.word.word, epoch: e.epoch, activations: activation(e.word.wordIndex, e.word.word) })),
  );

  let last: ScoreSnapshot | null = null;
  // The dashboard gets health and words at 4 Hz; the terminal line is rewritten at that pace on a
  // TTY and printed every 5 s otherwise (logs stay readable).
  let lastLogMs = -Infinity;
  const healthTimer = setInterval(() => {
    const wall = (performance.now() - wallStart) / 1000;
    health.inputRateHz = samplesIn / wall;
    health.speed = (samplesIn / sfreqHz) / wall;
    if (health.state === 'starting' && samplesIn > 0) health.state = 'live';
    dashboard?.publishHealth({ ...health });
    dashboard?.publishWords({ current: recent.at(-1) ?? null, recent: [...recent] });
    const score = last?.exact ? `exact r = ${last.exact.temporalScore.toFixed(3)} (p = ${last.exact.p.toPrecision(2)})` : last?.rolling ? `rolling r = ${last.rolling.temporalScore.toFixed(3)}` : 'no score yet';
    const nowMs = performance.now();
    if (!a.quiet && (process.stderr.isTTY || nowMs - lastLogMs >= 5000)) {
      lastLogMs = nowMs;
      const line = `words ${last?.nWords ?? 0}, ${(samplesIn / sfreqHz / 60).toFixed(1)} min recorded, ×${(health.speed ?? 0).toFixed(1)} real time, temporal score ${score}`;
      process.stderr.write(process.stderr.isTTY ? `\r\x1b[K${line}` : `${line}\n`);
    }
  }, 250);

  let stop: (() => void) | undefined;
  const onSigint = () => {
    log('\ninterrupted: stopping (the last snapshot stands)');
    stop?.();
  };
  process.once('SIGINT', onSigint);
  try {
    await new Promise<void>((resolve, reject) => {
      stop = () => {
        sub.unsubscribe();
        resolve();
      };
      const sub = pairs$
        .pipe(
          scoreSnapshots({
            decoder: { dims: { nChannels: subject.channels.length, nTimes, nLayers: N_LAYERS, nDims: a.nDims }, foldPlan: { kind: 'blocks', folds: 5, blockWords: a.foldBlockWords ?? 100 }, halfLifeWords: a.halfLifeWords },
            backend: a.backend,
            times,
            depths,
            refitEveryWords: a.refitEveryWords,
            snapshotEveryWords: a.snapshotEveryWords,
            flow,
            onHost: (h) => (health.backend = h.backend),
            onRefit: (r) => (health.refitSeconds = r.seconds),
          }),
        )
        .subscribe({
          next: (s) => {
            last = s;
            health.wordsAccepted = s.nWords;
            health.wordsSkipped = { ...s.skipped, ...(wordsOutside ? { 'outside-recording': wordsOutside } : {}) };
            dashboard?.publishSnapshot(s);
            a.onSnapshot?.(s);
            if (a.json) process.stdout.write(`${JSON.stringify(s)}\n`);
          },
          error: reject,
          complete: resolve,
        });
    });
  } finally {
    process.off('SIGINT', onSigint);
    clearInterval(healthTimer);
    if (!a.quiet && process.stderr.isTTY) process.stderr.write('\n');
  }
  health.state = 'ended';
  dashboard?.publishHealth({ ...health });
  const final = last as ScoreSnapshot | null;
  if (final?.exact) {
    log(`final: ${final.nWords} words, temporal score r = ${final.exact.temporalScore.toFixed(3)} (p = ${final.exact.p.toPrecision(3)}), Tmax ${final.exact.tmax.map((t) => t.toFixed(3)).join(' ')} s`);
    log(`planted latencies ${subject.latenciesSec.map((t) => t.toFixed(3)).join(' ')} s`);
  }
  await a.beforeClose?.();
  await dashboard?.close();
  return { last: final, plantedLatenciesSec: subject.latenciesSec, wordsOutside, simulatedSeconds: totalSamples / sfreqHz, wallSeconds: (performance.now() - t0) / 1000 };
}
