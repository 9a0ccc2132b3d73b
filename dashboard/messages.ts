/**
 * The dashboard's wire format: the JSON messages the server pushes to every WebSocket client
 * (README "Messages" documents them) and the stream-health record the pipeline reports.
 * Owns the shapes only; must not compute scores or hold state.
 */
import type { GroupScores } from '../src/scores/group.js';
import type { ScoreSnapshot } from '../src/snapshot.js';
import type { WordEvent } from '../src/types.js';

/** How the input stream is doing, as the pipeline sees it. Every field is shown as given. */
export interface StreamHealth {
  state: 'starting' | 'live' | 'stalled' | 'disconnected' | 'ended';
  /** Source-clock time of the latest MEG sample received, seconds. */
  sourceTimeSec: number | null;
  /** How far processing lags the wall clock (live sources), seconds. */
  wallLagSec: number | null;
  /** MEG samples per second received (per channel). */
  inputRateHz: number | null;
  /** Replay speed, × real time. */
  speed: number | null;
  wordsAccepted: number;
  /**
   * Every word not decoded, reason → count: the decoder's skips and the pipeline's exclusions
   * (`function-word`: excluded by design when content words only are decoded, the paper's default;
   * `outside-recording`, `overlaps-data-gap`, `no-activations`, `nonfinite-epoch`,
   * `nonfinite-activations`). The page shows these numbers, in both panels.
   */
  wordsSkipped: Record<string, number>;
  /** Duration of the latest exact (K-fold) refit, seconds. */
  refitSeconds: number | null;
  backend: string;
  /** e.g. 'simulated subject (seed 1)' */
  source: string;
  /** e.g. 'synthetic activations (not a language model)' */
  activations: string;
  /**
   * Simulated sources only: the latency (s) the simulation planted per layer, in the snapshot's
   * layer order, after the control (--shuffle permutes them, --flat makes them equal; null for every
   * layer under --null, where nothing is planted). The ground truth the page draws beside the
   * measured Tmax. Absent for recordings and live sources.
   */
  plantedLatenciesSec?: (number | null)[];
}

/** The word being heard and the ones before it (most recent last). */
export interface WordsUpdate {
  current: WordEvent | null;
  recent: WordEvent[];
}

/**
 * The temporal score over the recording so far (one point per snapshot, thinned to a bounded
 * count), sent once to each client when it connects so a late page still draws the emergence curve.
 */
export interface ScoreHistory {
  /** Source time of each snapshot, seconds. */
  sourceTimeSec: number[];
  rolling: (number | null)[];
  exact: (number | null)[];
}

/** A closed-loop session's state (`lockstep closed-loop`): the policy, its decisions and the per-condition scores. */
export interface ClosedLoopPanel {
  policy: { name: string; parameters: Record<string, unknown> };
  /** The policy's own report of its state at the latest decision (small JSON), or null before any. */
  state: Record<string, unknown> | null;
  /** Decisions so far, oldest first (at most the last 200), on the recording's time axis. */
  decisions: Array<{
    seq: number;
    action: 'play' | 'stop';
    passage: string | null;
    label: string | null;
    reason: string;
    detail: string;
    /** Recording time, s since the first MEG sample. */
    atSec: number;
    /** From the passage's last epoch being complete to the decision on the control stream, s (null for the first). */
    latencySec: number | null;
  }>;
  /** Per condition of the policy (in its order): its decoder's words and scores (exact when there is one, else rolling). */
  conditions: Array<{ condition: string; words: number; temporalScore: number | null; source: 'exact' | 'rolling' | null; ci: { method: string; level: number; low: number; high: number } | null; alignmentScore: number | null }>;
  /** Recording time now, s (the timeline's right end). */
  elapsedSec: number;
  stopped: { reason: string; atSec: number; detail: string } | null;
}

/** One subject of a several-subject replay, once it is done: its final exact scores (null without). */
export interface SubjectSummary {
  subject: string;
  temporalScore: number | null;
  /** The paper's p and the fold test's. */
  p: number | null;
  foldTestP: number | null;
  /** per layer, seconds */
  tmax: number[] | null;
  /** Why there is no exact score, else null. */
  status: string | null;
}

/**
 * Several subjects decoded one after another (`replay --subject a,b,c | all`): the subjects done so
 * far, the group summary of those with exact scores (mean ± SEM, src/scores/group.ts), and those to
 * come. The live snapshots meanwhile are the current subject's.
 */
export interface GroupUpdate {
  depths: number[];
  /** Sample times of the group's mean curves, seconds. */
  times: number[];
  subjects: SubjectSummary[];
  group: GroupScores | null;
  pending: string[];
}

export type DashboardMessage =
  | { type: 'snapshot'; snapshot: ScoreSnapshot }
  | { type: 'health'; health: StreamHealth }
  | { type: 'words'; words: WordsUpdate }
  | { type: 'history'; history: ScoreHistory }
  | { type: 'closedLoop'; closedLoop: ClosedLoopPanel }
  | { type: 'group'; group: GroupUpdate };

export type DashboardMessageType = DashboardMessage['type'];

/** The order in which a newly connected client receives the latest state. */
export const MESSAGE_TYPES: readonly DashboardMessageType[] = ['health', 'words', 'history', 'snapshot', 'closedLoop', 'group'];
