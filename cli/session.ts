/**
 * One analysis session as a command runs it: the pipeline (streams/pipeline.ts) plus what a person
 * at a terminal needs around it: the dashboard's lifecycle, stream health at 4 Hz, a progress line
 * (words, minutes of recording, × real time, an ETA once it means something, and whether a refit is
 * running), `--json` snapshot lines, Ctrl-C, and the final line.
 * `demo`, `replay` and `live` call it with their own sources.
 *
 * Owns: presentation and lifecycle. Must not: compose operators (the pipeline does) or pace sources.
 */
import { startDashboard, type Dashboard, type StreamHealth } from '../dashboard/server.js';
import type { ScoreSnapshot } from '../src/snapshot.js';
import { analysisPipeline, type AnalysisPipelineOptions, type ResumeReport } from '../streams/pipeline.js';
import type { DataGap } from '../src/quality/dataGapLog.js';
import { minWordsForExact } from '../src/stats/foldPlan.js';
import { etaSec, formatEta } from './progress.js';
import { countOf, fixed } from './format.js';

export interface SessionDashboardOptions {
  port: number;
  host: string;
  token?: string;
}

export interface AnalysisSessionOptions extends AnalysisPipelineOptions {
  /** Name of the command, for the terminal lines. */
  label: string;
  /** Start a dashboard for this session (closed at its end)… */
  dashboard?: SessionDashboardOptions;
  /** …or publish to one that outlives it (several subjects in turn); left open. */
  sharedDashboard?: Dashboard;
  /** One JSON line per snapshot on stdout. */
  json: boolean;
  quiet: boolean;
  /** Shown on the dashboard. */
  sourceLabel: string;
  activationsLabel: string;
  /**
   * Simulated sources: the latency planted per layer (s, NaN where nothing is planted), sent to the
   * dashboard as the ground truth beside the measured Tmax. Recordings and live sources leave it out.
   */
  plantedLatenciesSec?: number[];
  /** Total source seconds when known (progress and ETA). */
  totalSec?: number;
  /** Extra health fields (LSL connection state, …), read at every health tick. */
  extraHealth?: () => Partial<StreamHealth>;
  onDashboard?: (d: Dashboard) => void;
  onSnapshot?: (s: ScoreSnapshot) => void;
  beforeClose?: () => Promise<void>;
}

export interface AnalysisSessionResult {
  last: ScoreSnapshot | null;
  wordsOutside: number;
  /** Words excluded because their window overlapped bad data, and the spans. */
  wordsInGaps: number;
  gaps: DataGap[];
  wordsWithoutActivations: number;
  functionWordsSkipped: number;
  /** Every exclusion before and in the decoder, by reason. */
  wordsExcluded: Record<string, number>;
  sourceSeconds: number;
  wallSeconds: number;
  /** Where a resumed session went on from, and the gap (streams/pipeline.ts ResumeReport). */
  resumed?: ResumeReport;
}

/** Why there is no exact score yet, in words a user can act on (null when there is one). */
export function exactScoreStatus(s: ScoreSnapshot | null, foldBlockWords: number, folds = 5): string | null {
  if (s?.exact) return null;
  const plan = s?.foldPlan ?? { kind: 'blocks', folds, blockWords: foldBlockWords };
  const need = minWordsForExact(plan);
  const have = s?.nWords ?? 0;
  if (need === null) return `no exact score: ${plan.folds} folds over ${plan.kind === 'total' ? plan.totalWords : have} words leave a fold with fewer than 2 words`;
  if (have >= need) return `no exact score yet: ${have} words, enough (${need}) for the next refit`;
  const filling = plan.kind === 'blocks' ? `folds fill in blocks of ${plan.blockWords} words, dealt round-robin` : `contiguous folds over ${plan.totalWords} words fill one after the other`;
  return `no exact score yet: ${have} / ${need} words before the first exact score (every one of the ${plan.folds} folds needs at least 2 words; ${filling})`;
}

/**
 * Runs the pipeline until the sources complete (or SIGINT), and returns the last snapshot.
 * @example
 *   const r = await runAnalysisSession({ label: 'replay', chunks$, words$, sfreqHz: 1200, nChannels: 273, … });
 */
export async function runAnalysisSession(a: AnalysisSessionOptions): Promise<AnalysisSessionResult> {
  const wallStart = performance.now();
  const owned = !a.sharedDashboard && a.dashboard ? await startDashboard(a.dashboard) : undefined;
  const dashboard = a.sharedDashboard ?? owned;
  if (owned) a.onDashboard?.(owned);
  const log = (line: string) => !a.quiet && process.stderr.write(`${line}\n`);
  if (owned) log(`dashboard: ${owned.url}`);

  const pipeline = analysisPipeline({
    ...a,
    onGap: (g) => {
      log(`\n${a.label}: bad data (${g.why}) ${g.startSec.toFixed(3)}–${g.endSec.toFixed(3)} s, ${countOf(g.nSamples, 'sample')}, ${countOf(g.channels.length, 'channel')}: words within ${pipeline.counters.gaps.marginSec} s are excluded`);
      a.onGap?.(g);
    },
  });
  const counters = pipeline.counters;
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
    source: a.sourceLabel,
    activations: a.activationsLabel,
    // NaN (nothing planted, --null) travels as null, as JSON would write it anyway.
    ...(a.plantedLatenciesSec ? { plantedLatenciesSec: a.plantedLatenciesSec.map((v) => (Number.isFinite(v) ? v : null)) } : {}),
  };

  let last: ScoreSnapshot | null = null;
  // The dashboard gets health and words at 4 Hz; the terminal line is rewritten at that pace on a
  // TTY and printed every 5 s otherwise (logs stay readable).
  let lastLogMs = -Infinity;
  const healthTimer = setInterval(() => {
    const wall = (performance.now() - wallStart) / 1000;
    health.inputRateHz = counters.samplesIn / wall;
    health.speed = counters.samplesIn / a.sfreqHz / wall;
    health.sourceTimeSec = counters.sourceEndSec || null;
    health.backend = counters.backend;
    health.refitSeconds = counters.lastRefitSeconds;
    if (health.state === 'starting' && counters.samplesIn > 0) health.state = 'live';
    Object.assign(health, a.extraHealth?.() ?? {});
    dashboard?.publishHealth({ ...health });
    dashboard?.publishWords({ current: counters.recent.at(-1) ?? null, recent: [...counters.recent] });
    const nowMs = performance.now();
    if (!a.quiet && (process.stderr.isTTY || nowMs - lastLogMs >= 5000)) {
      lastLogMs = nowMs;
      const line = `${a.label}: ${progressLine(a, counters.sourceSeconds, health.speed ?? 0, wall, last, counters.refitStartedMs, counters.lastRefitSeconds)}`;
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
      const sub = pipeline.snapshots$.subscribe({
        next: (s) => {
          last = s;
          health.wordsAccepted = s.nWords;
          health.wordsSkipped = { ...s.skipped, ...counters.excluded() };
          dashboard?.publishSnapshot(s);
          a.onSnapshot?.(s);
          if (a.json) process.stdout.write(`${JSON.stringify(s)}\n`);
        },
        error: reject,
        complete: resolve,
      });
      stop = () => {
        sub.unsubscribe();
        resolve();
      };
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
    log(`final: ${countOf(final.nWords, 'word')}, temporal score r = ${fixed(final.exact.temporalScore, 3)} (p = ${final.exact.p.toPrecision(3)}), Tmax ${final.exact.tmax.map((t) => fixed(t, 3)).join(' ')} s`);
  } else {
    log(`final: ${exactScoreStatus(final, a.foldBlockWords)}`);
  }
  await a.beforeClose?.();
  await owned?.close();
  return {
    last: final,
    wordsOutside: counters.wordsOutside,
    wordsInGaps: counters.wordsInGaps,
    gaps: counters.gaps.gaps,
    wordsWithoutActivations: counters.wordsWithoutActivations,
    functionWordsSkipped: counters.functionWordsSkipped,
    wordsExcluded: { ...(final?.skipped ?? {}), ...counters.excluded() },
    sourceSeconds: counters.sourceSeconds,
    wallSeconds: (performance.now() - wallStart) / 1000,
    ...(counters.resumed ? { resumed: counters.resumed } : {}),
  };
}

/** The terminal's progress line (without the label). */
function progressLine(a: AnalysisSessionOptions, doneSec: number, speed: number, wallSec: number, last: ScoreSnapshot | null, refitStartedMs: number | null, lastRefitSec: number | null): string {
  const of = a.totalSec ? ` of ${(a.totalSec / 60).toFixed(1)}` : '';
  // The ETA from the pace so far includes the refits and the waits for extraction that happened, in
  // proportion; the final refit comes after the last data, so the last refit's time is added.
  const dataEta = a.totalSec ? etaSec(wallSec, doneSec / a.totalSec) : null;
  const eta = formatEta(dataEta === null ? null : dataEta + (lastRefitSec ?? 0));
  const refit =
    refitStartedMs !== null
      ? `, refit running ${((performance.now() - refitStartedMs) / 1000).toFixed(0)} s${lastRefitSec !== null ? ` (last took ${lastRefitSec.toFixed(1)} s)` : ''}`
      : '';
  const e = last?.exact;
  const score = e ? `exact r = ${fixed(e.temporalScore, 3)} (p = ${e.p.toPrecision(2)})` : last?.rolling ? `rolling r = ${fixed(last.rolling.temporalScore, 3)}` : 'no score yet';
  return `words ${last?.nWords ?? 0}, ${(doneSec / 60).toFixed(1)}${of} min, ×${speed.toFixed(1)} real time${eta}${refit}, temporal score ${score}`;
}
