/**
 * `lockstep closed-loop --simulate`: the whole loop in one process, over real LSL sockets on
 * loopback, the three parts talking only through their streams:
 *
 *   controller (cli/closedLoop.ts) ──lockstep-control──► presenter (cli/present.ts, silent)
 *        ▲                                                   │ lockstep-words: passage and word
 *        │ lockstep-sim-MEG                                  ▼ markers at their onsets
 *        └──────────────────────────── simulated subject (adapters/simulator/listeningSubject.ts)
 *
 * The subject hears exactly what the presenter published: each word marker (its bank index and
 * timestamp) becomes a word it hears at that onset, with the planted condition effects
 * (adapters/simulator/conditionEffects.ts: weaker responses to surprising words, alignment growing
 * with uninterrupted context up to a saturation point). Presenter and subject run in a worker
 * thread of their own (cli/simulatedLab.ts), as they would on machines of their own, so the
 * controller's work never delays a marker. The MEG is rendered just behind the clock (as an
 * amplifier delivers its samples a little late), never before the markers that reach those samples
 * have arrived, and pushed stamped with the samples' true times. All
 * three share one SessionClock (same origin and speed in both threads): at ×N every timestamp is
 * on the same sped-up timeline.
 * Stream source ids carry this process's id, so simulations running side by side do not meet.
 *
 * Owns: starting, connecting and stopping the three parts, and the simulation's report. Must not:
 * decide (the controller), schedule markers (the presenter) or model the brain (the simulator).
 */
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { PassageBank } from '../adapters/bank/passageBank.js';
import type { LslNetworkConfig } from '../adapters/lsl/config.js';
import type { ConditionEffects } from '../adapters/simulator/conditionEffects.js';
import { SessionClock } from '../replay/sessionClock.js';
import { writeFileAtomic } from '../adapters/atomicFile.js';
import { runClosedLoop, sidecarPath, type ClosedLoopArgs, type ClosedLoopResult } from './closedLoopSession.js';
import { InputError } from './errors.js';
import type { PresentResult } from './present.js';

/**
 * How far behind the session clock the subject's MEG is rendered and sent, session seconds (an
 * amplifier's delivery delay; markers in flight hold rendering back further, cli/simulatedLab.ts):
 * 0.05 s of wall time, at least 0.1 s of session time.
 */
export function renderLagSec(speed: number): number {
  return Math.max(0.1, 0.05 * speed);
}

/** What the lab thread (cli/simulatedLab.ts) is started with. */
export interface LabStart {
  bank: Omit<PassageBank, 'audioPath'>;
  ids: { meg: string; words: string; control: string };
  speed: number;
  clockOriginSec: number;
  seed: number;
  sfreqHz: number;
  channels: number;
  snr: number;
  effects: ConditionEffects | null;
  resolveTimeoutSec: number;
  network?: Partial<LslNetworkConfig>;
}

export interface LabReport {
  heardPassages: string[];
  heardWords: number;
  lateWords: number;
  presenter: Omit<PresentResult, 'reports'>;
}

export type LabToParent = { kind: 'ready' } | { kind: 'done'; report: LabReport } | { kind: 'error'; message: string; name: string };

export interface SimulatedLoopArgs extends Omit<ClosedLoopArgs, 'meg' | 'words' | 'clock' | 'controlSourceId' | 'onControlOutlet'> {
  speed: number;
  seed: number;
  /** MEG channels sent, spread over the CTF-275 helmet. */
  channels: number;
  sfreqHz: number;
  snr: number;
  /** Planted condition effects (null: none). */
  effects: ConditionEffects | null;
}

export interface SimulatedLoopResult extends ClosedLoopResult {
  simulation: {
    speed: number;
    seed: number;
    channels: number;
    sfreqHz: number;
    snr: number;
    effects: ConditionEffects | null;
    /** The passages the subject heard (from the presenter's markers), in order. */
    heardPassages: string[];
    heardWords: number;
    /** Words whose marker came after the subject had rendered samples their response reaches (0 expected). */
    lateWords: number;
    presenter: Omit<PresentResult, 'reports'>;
  };
}

/** n channel indices spread evenly over `total`. */
export function spreadPicks(total: number, n: number): number[] {
  if (n >= total) return Array.from({ length: total }, (_, i) => i);
  return Array.from({ length: n }, (_, i) => Math.floor((i * total) / n));
}

export async function runSimulatedLoop(a: SimulatedLoopArgs): Promise<SimulatedLoopResult> {
  if (a.channels < 2) throw new InputError('--channels must be at least 2');
  const clock = new SessionClock(a.speed);
  const id = `${process.pid}-${randomBytes(3).toString('hex')}`;
  const ids = { meg: `lockstep-sim-meg-${id}`, words: `lockstep-words-${id}`, control: `lockstep-control-${id}` };
  const { audioPath: _audio, ...bank } = a.bank;
  const start: LabStart = { bank, ids, speed: a.speed, clockOriginSec: clock.originSec, seed: a.seed, sfreqHz: a.sfreqHz, channels: a.channels, snr: a.snr, effects: a.effects, resolveTimeoutSec: a.resolveTimeoutSec, network: a.network };
  const lab = new Worker(new URL('./simulatedLab.js', import.meta.url), { workerData: start });
  let report: LabReport | null = null;
  let failure: Error | null = null;
  let ready!: () => void;
  const started = new Promise<void>((resolve, reject) => {
    ready = resolve;
    lab.once('error', reject);
  });
  const finished = new Promise<void>((resolve) => {
    lab.on('message', (m: LabToParent) => {
      if (m.kind === 'ready') ready();
      else {
        if (m.kind === 'done') report = m.report;
        else failure = Object.assign(new Error(`simulated lab: ${m.message}`), { name: m.name });
        resolve();
      }
    });
    lab.on('error', (e) => {
      failure = e;
      resolve();
    });
    lab.on('exit', () => resolve());
  });
  let result: ClosedLoopResult;
  try {
    await Promise.race([started, finished.then(() => Promise.reject(failure ?? new Error('the simulated lab ended before it was ready')))]);
    // The controller, on the subject's MEG and the presenter's markers.
    // The result file gets the simulation's report too: written here, not by the controller.
    result = await runClosedLoop({ ...a, out: undefined, sidecar: sidecarPath(a.out, a.sidecar), meg: `source_id='${ids.meg}'`, words: `source_id='${ids.words}'`, controlSourceId: ids.control, clock });
    lab.postMessage({ kind: 'stop' });
    await Promise.race([finished, new Promise((r) => setTimeout(r, 10_000))]);
  } finally {
    await lab.terminate();
  }
  const r = report as LabReport | null;
  if (!r) throw failure ?? new Error('the simulated lab did not report');
  const full: SimulatedLoopResult = {
    ...result,
    simulation: {
      speed: a.speed,
      seed: a.seed,
      channels: Math.min(a.channels, 273),
      sfreqHz: a.sfreqHz,
      snr: a.snr,
      effects: a.effects,
      heardPassages: r.heardPassages,
      heardWords: r.heardWords,
      lateWords: r.lateWords,
      presenter: r.presenter,
    },
  };
  if (a.out) writeFileAtomic(a.out, `${JSON.stringify(full)}\n`);
  return full;
}
