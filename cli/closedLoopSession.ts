/**
 * The closed-loop controller's session (`lockstep closed-loop`, cli/closedLoop.ts). It runs the
 * live pipeline on the MEG stream and the presenter's word markers (LSL, exactly as `lockstep
 * live`), with one extra decoder per condition of the policy (surprisal quartile, context arm),
 * and after each passage — once the MEG covers the epoch of its last word — asks the policy for the
 * next passage or to stop. Each decision goes out as one JSON object on the `lockstep-control`
 * LSL string stream (passage, reason, the inputs it used), to the dashboard, and into a JSON
 * sidecar beside the session's result (every decision with its inputs, the policy's parameters
 * and timestamps: the session's triggering logic can be replayed, BIDS BEP037's idea).
 * `--simulate` runs this with a presenter and a simulated subject over LSL on loopback
 * (cli/simulatedLoop.ts).
 *
 * Owns: the wiring of tracker, controller, control outlet, sidecar and result. Must not: hold
 * policy logic (src/closedLoop), decide timing (streams/closedLoopController) or speak LSL itself.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Subject } from 'rxjs';
import { writeFileAtomic } from '../adapters/atomicFile.js';
import { bankFeatures, passageById, type PassageBank } from '../adapters/bank/passageBank.js';
import type { LslNetworkConfig } from '../adapters/lsl/config.js';
import type { StreamInlet } from '../adapters/lsl/inlet.js';
import { StreamOutlet } from '../adapters/lsl/outlet.js';
import { StreamInfo } from '../adapters/lsl/streamInfo.js';
import type { Dashboard } from '../dashboard/server.js';
import { SessionClock } from '../replay/sessionClock.js';
import { builtinPolicy, checkPolicyDefinition } from '../src/closedLoop/policies.js';
import { resolveParameters, scoreSummary, type ClosedLoopPolicy, type PlayedPassage, type PolicyDefinition, type ScoreSummary } from '../src/closedLoop/policy.js';
import { PassageTracker } from '../src/closedLoop/passageTracker.js';
import { PAPER_EPOCH } from '../src/epochGrid.js';
import type { BackendName } from '../src/linalg/backend.js';
import type { ScoreSnapshot } from '../src/snapshot.js';
import { ALL_WORDS, closedLoopController, type ClosedLoopDecision, type ControllerEvent } from '../streams/closedLoopController.js';
import { preprocessDelaySec } from '../streams/preprocess.js';
import { paperPreprocessing } from '../streams/segmentedEpochs.js';
import { InputError } from './errors.js';
import { runLive, type LiveResult } from './live.js';

export const DECISION_SCHEMA = 'lockstep.decision/1';
export const SIDECAR_SCHEMA = 'lockstep.closed-loop/1';

export interface ClosedLoopArgs {
  bank: PassageBank;
  policy: PolicyDefinition;
  /** Parameters as given (defaults are filled in and checked here). */
  parameters: Record<string, unknown>;
  /** MEG and word-marker streams: names or LSL queries. */
  meg: string;
  words: string;
  controlName: string;
  controlSourceId?: string;
  /** Longest wait for the decoders once a passage's data are complete, s (wall). */
  budgetSec: number;
  maxMinutes?: number;
  allWords: boolean;
  backend: 'auto' | BackendName;
  refitEveryWords: number;
  foldBlockWords: number;
  halfLifeWords: number | null;
  conditionDecoder: { refitEveryWords: number; foldBlockWords: number };
  dashboard?: { host: string; port: number; token?: string };
  /** Result file; the sidecar goes beside it (`<name>.decisions.json`) unless `sidecar` says where. */
  out?: string;
  sidecar?: string;
  quiet: boolean;
  network?: Partial<LslNetworkConfig>;
  resolveTimeoutSec: number;
  /** The session's clock (LSL's local clock at ×1). */
  clock: SessionClock;
  signal?: AbortSignal;
  /** Once the control outlet exists (the simulated presenter resolves it then). */
  onControlOutlet?: (info: StreamInfo) => void;
  onDecision?: (d: DecisionRecord) => void;
  onDashboard?: (d: Dashboard) => void;
}

/** A decision as logged (sidecar), published (`lockstep-control`, without `input`) and returned. */
export interface DecisionRecord {
  seq: number;
  action: 'play' | 'stop';
  passage: string | null;
  label: string | null;
  reason: string;
  detail: string;
  /** Recording time (s since the first MEG sample) when decided. */
  atSec: number;
  /** Session-clock (LSL) time it was published. */
  publishedSec: number;
  /** From the passage's last epoch being complete to the decision on the control outlet, wall s (null for the first). */
  latencySec: number | null;
  /** The passage this decision answers (null for the first). */
  after: string | null;
  /** Decoders that did not yet include the passage's words when the budget ran out. */
  notUpToDate: string[];
  /** Whether the overall decoder was refitting when the decision was taken. */
  duringRefit: boolean;
  state: Record<string, unknown> | null;
  input: ClosedLoopDecision['input'];
}

export interface ConditionResult {
  words: number;
  temporalScore: number | null;
  source: ScoreSummary['source'];
  p: number | null;
  alignmentScore: number | null;
  ci: ScoreSummary['ci'];
  /** The same words scored by the decoder of all words, as they arrived (comparable across conditions of any size). */
  overallModel?: { words: number; temporalScore: number | null; alignmentScore: number | null };
}

export interface ClosedLoopResult {
  command: 'closed-loop';
  policy: { name: string; parameters: Record<string, unknown> };
  bank: { label: string; dir: string | null; manifestSha256: string | null; passages: number; words: number };
  stopped: { reason: string; atSec: number; detail: string };
  decisions: Array<Omit<DecisionRecord, 'input' | 'state'>>;
  /** Per condition of the policy: words decoded and scores (exact when available, else rolling). */
  conditions: Record<string, ConditionResult>;
  decisionLatencySec: { p50: number | null; p99: number | null; max: number | null; n: number };
  /** The overall decoder's refits: how many, how long, and how many decisions came while one ran. */
  refits: { count: number; p50Sec: number | null; maxSec: number | null; decisionsDuring: number };
  wordsHeard: number;
  wordsDecoded: number;
  wordsExcluded: Record<string, number>;
  sourceSeconds: number;
  wallSeconds: number;
  sidecar: string;
  streams: { meg: LiveResult['meg']; words: LiveResult['words'] };
  final: ScoreSnapshot | null;
}

/** Loads a policy by name, or a lab's own from a module path (its default export). */
export async function loadPolicy(name: string): Promise<PolicyDefinition> {
  if (!/[/\\]|\.m?js$/.test(name)) return builtinPolicy(name);
  const file = path.resolve(name);
  if (!fs.existsSync(file)) throw new InputError(`policy module ${file} not found`);
  const mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
  return checkPolicyDefinition(mod.default, file);
}

function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function conditionResult(s: ScoreSummary): ConditionResult {
  return { words: s.nWords, temporalScore: s.temporalScore, source: s.source, p: s.p, alignmentScore: s.alignmentScore, ci: s.ci };
}

/** The sidecar path: given, or beside the result, or a dated file in the working folder. */
export function sidecarPath(out: string | undefined, sidecar: string | undefined): string {
  if (sidecar) return sidecar;
  if (out) return out.replace(/(\.json)?$/i, '.decisions.json');
  return `lockstep-closed-loop-${new Date().toISOString().replace(/[:.]/g, '-')}.decisions.json`;
}

export async function runClosedLoop(a: ClosedLoopArgs): Promise<ClosedLoopResult> {
  const log = (line: string) => !a.quiet && process.stderr.write(`${line}\n`);
  const bank = a.bank;
  const parameters = resolveParameters(a.policy, a.parameters);
  const policy: ClosedLoopPolicy = a.policy.create(bank.summary, parameters);
  const features = bankFeatures(bank);
  const clock = a.clock;
  const sidecar = sidecarPath(a.out, a.sidecar);
  const maxSec = a.maxMinutes !== undefined ? a.maxMinutes * 60 : undefined;

  const controlInfo = new StreamInfo({ name: a.controlName, type: 'Markers', channelCount: 1, nominalSrate: 0, channelFormat: 'string', sourceId: a.controlSourceId ?? `lockstep-control-${process.pid}` });
  const control = await StreamOutlet.open(controlInfo, { config: a.network });
  a.onControlOutlet?.(controlInfo);
  log(`closed-loop: policy ${policy.name} ${JSON.stringify(parameters)}; ${bank.label}; decisions on "${a.controlName}"; sidecar ${sidecar}`);

  // Session state the hooks share.
  let tracker: PassageTracker | null = null;
  let firstMegSec: number | null = null;
  const playedById = new Map<string, PlayedPassage>();
  const conditionLatest = new Map<string, ScoreSummary>();
  const decisions: DecisionRecord[] = [];
  let stopped: ClosedLoopResult['stopped'] | null = null;
  let dashboard: Dashboard | undefined;
  let wordsHeard = 0;
  let refitRunning = false;
  const refitSeconds: number[] = [];
  const abort = new AbortController();
  const onOuterAbort = () => abort.abort();
  a.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const elapsed = () => (firstMegSec === null ? 0 : clock.now() - firstMegSec);

  const sidecarHead = {
    schema: SIDECAR_SCHEMA,
    created: new Date().toISOString(),
    policy: { name: policy.name, parameters },
    bank: { label: bank.label, dir: bank.dir ? path.resolve(bank.dir) : null, manifestSha256: bank.manifestSha256 },
    clock: { kind: clock.speed === 1 ? 'LSL local clock' : `session clock at ×${clock.speed} (simulation)`, speed: clock.speed },
    controller: { budgetSec: a.budgetSec, maxMinutes: a.maxMinutes ?? null, epochEndSec: PAPER_EPOCH.tEndSec },
  };
  const writeSidecar = () => writeFileAtomic(sidecar, `${JSON.stringify({ ...sidecarHead, decisions, stopped }, null, 1)}\n`);
  writeSidecar();

  const decodable = (index: number): boolean => (a.allWords || bank.summary.words[index]?.isContent !== false) && features.of(index, '') !== undefined;
  const conditionsOf = policy.conditionsOf
    ? (index: number, onsetSec: number): string[] => {
        const passage = tracker?.passageOf(index, onsetSec);
        const play = passage ? playedById.get(passage) : undefined;
        const word = bank.summary.words[index];
        return play && word ? policy.conditionsOf!(word, play) : [];
      }
    : null;

  const events$ = new Subject<ControllerEvent>();
  const decisionSub = events$
    .pipe(
      closedLoopController({
        policy,
        budgetSec: a.budgetSec,
        elapsedSec: elapsed,
        maxSec,
        durationOf: (id) => passageById(bank, id)?.durationSec ?? 0,
        ordinalOf: (id) => passageById(bank, id)?.ordinal ?? -1,
      }),
    )
    .subscribe({
      next: (d) => {
        const dec = d.decision;
        const msg = {
          schema: DECISION_SCHEMA,
          seq: d.seq,
          policy: policy.name,
          action: dec.action,
          passage: dec.action === 'play' ? dec.passage : null,
          label: dec.action === 'play' ? (dec.label ?? null) : null,
          reason: dec.reason,
          detail: dec.detail,
          atSec: d.atSec,
          after: d.after,
          upToDate: d.notUpToDate.length === 0,
          inputs: d.input,
          state: dec.state ?? null,
        };
        const publishedSec = clock.now();
        control.pushSample([JSON.stringify(msg)], publishedSec);
        const publishedWall = performance.now() / 1000;
        const record: DecisionRecord = {
          seq: d.seq,
          action: dec.action,
          passage: msg.passage,
          label: msg.label,
          reason: dec.reason,
          detail: dec.detail,
          atSec: d.atSec,
          publishedSec,
          latencySec: d.completeWallSec === null ? null : publishedWall - d.completeWallSec,
          after: d.after,
          notUpToDate: d.notUpToDate,
          duringRefit: refitRunning,
          state: dec.state ?? null,
          input: d.input,
        };
        decisions.push(record);
        if (dec.action === 'play') playedById.set(dec.passage, { passage: dec.passage, ordinal: passageById(bank, dec.passage)!.ordinal, ...(dec.label !== undefined ? { label: dec.label } : {}) });
        else {
          stopped = { reason: dec.reason, atSec: d.atSec, detail: dec.detail };
          // The presenter answers a stop with #end, which ends the live session; if it does not, end it anyway.
          setTimeout(() => abort.abort(), 15_000).unref();
        }
        writeSidecar();
        log(`\nclosed-loop: decision ${d.seq} at ${d.atSec.toFixed(1)} s: ${dec.action === 'play' ? `play ${dec.passage}` : 'stop'} (${dec.reason}: ${dec.detail})${record.latencySec !== null ? `, ${(record.latencySec * 1000).toFixed(0)} ms after the passage's data` : ''}`);
        a.onDecision?.(record);
        publishPanel();
      },
      error: (e) => {
        log(`\nclosed-loop: the controller failed: ${(e as Error).message}`);
        abort.abort();
      },
    });

  /** The dashboard's closed-loop panel: published at each decision and once a second (the scores move). */
  const publishPanel = () => {
    if (!dashboard) return;
    const lastState = decisions.at(-1)?.state ?? null;
    const conditionRows = (policy.conditions ?? []).map((c) => {
      const s = conditionLatest.get(c);
      return { condition: c, words: s?.nWords ?? 0, temporalScore: s?.temporalScore ?? null, source: s?.source ?? null, ci: s?.ci ?? null, alignmentScore: s?.alignmentScore ?? null };
    });
    dashboard.publishClosedLoop({
      policy: { name: policy.name, parameters },
      state: lastState,
      decisions: decisions.slice(-200).map((d) => ({ seq: d.seq, action: d.action, passage: d.passage, label: d.label, reason: d.reason, detail: d.detail, atSec: d.atSec, latencySec: d.latencySec })),
      conditions: conditionRows,
      elapsedSec: stopped ? (stopped as ClosedLoopResult['stopped']).atSec : elapsed(),
      stopped,
    });
  };
  const panelTimer = setInterval(publishPanel, 1000);
  panelTimer.unref();

  /** Waits until both inlets are live, the MEG covers an epoch's baseline, and the presenter listens; then the first decision. */
  const begin = async (inlets: { meg: StreamInlet; words: StreamInlet }) => {
    const baselineSec = -PAPER_EPOCH.tStartSec + 2;
    while (!abort.signal.aborted) {
      const ready = inlets.meg.state === 'live' && inlets.words.state === 'live' && control.haveConsumers() && elapsed() >= baselineSec;
      if (ready) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    if (!abort.signal.aborted) events$.next({ kind: 'begin' });
  };

  let live: LiveResult;
  try {
    live = await runLive({
      label: 'closed-loop',
      meg: a.meg,
      words: a.words,
      features,
      allWords: a.allWords,
      resolveTimeoutSec: a.resolveTimeoutSec,
      backend: a.backend,
      refitEveryWords: a.refitEveryWords,
      snapshotEveryWords: 1,
      foldBlockWords: a.foldBlockWords,
      halfLifeWords: a.halfLifeWords,
      dashboard: a.dashboard,
      quiet: a.quiet,
      network: a.network,
      signal: abort.signal,
      conditionDecoder: a.conditionDecoder,
      // A live session cannot wait for the decoders: a refit falling due while one computes runs once after it.
      refitPolicy: 'coalesce',
      conditionsOf: conditionsOf ? (w) => conditionsOf(w.wordIndex, w.onsetSec) : undefined,
      onConditionSnapshot: (condition, s) => {
        const summary = scoreSummary(s);
        conditionLatest.set(condition, summary);
        events$.next({ kind: 'scores', decoder: condition, summary });
      },
      onSnapshot: (s) => {
        events$.next({ kind: 'scores', decoder: ALL_WORDS, summary: scoreSummary(s) });
      },
      onRefitStart: () => (refitRunning = true),
      onRefit: (r) => {
        refitRunning = false;
        refitSeconds.push(r.seconds);
      },
      onInlets: (inlets) => {
        tracker = new PassageTracker(PAPER_EPOCH.tEndSec, preprocessDelaySec(paperPreprocessing(), inlets.sfreqHz));
        void begin(inlets);
      },
      onPassageMarker: (event, passage, t) => (event === 'start' ? tracker?.passageStart(passage, t) : tracker?.passageEnd(passage, t)),
      onWord: (w) => {
        wordsHeard++;
        tracker?.word({ index: w.wordIndex, word: w.word, onsetSec: w.onsetSec });
      },
      onMegTime: (last, chunkStart) => {
        firstMegSec ??= chunkStart;
        if (!tracker) return;
        const now = performance.now() / 1000;
        for (const p of tracker.megReached(last)) {
          // What each decoder must have included: the passage's last word it gets.
          const awaited: Record<string, number> = {};
          for (const w of p.words) {
            if (!decodable(w.index)) continue;
            awaited[ALL_WORDS] = w.onsetSec;
            for (const c of conditionsOf?.(w.index, w.onsetSec) ?? []) awaited[c] = w.onsetSec;
          }
          events$.next({ kind: 'passage-complete', passage: p.passage, completeWallSec: now, awaited });
        }
        // A hard stop well past the time limit (a presenter that went silent must not hold the session).
        if (maxSec !== undefined && elapsed() > maxSec + 60 && !abort.signal.aborted) {
          stopped ??= { reason: 'max-minutes', atSec: elapsed(), detail: 'no stop decision by 60 s after the time limit: session ended' };
          abort.abort();
        }
      },
      onDashboard: (d) => {
        dashboard = d;
        a.onDashboard?.(d);
      },
      // The final per-condition scores (after the decoders' last refits) reach the page before it closes.
      beforeClose: async () => publishPanel(),
    });
  } finally {
    clearInterval(panelTimer);
    a.signal?.removeEventListener('abort', onOuterAbort);
    events$.complete();
    decisionSub.unsubscribe();
    await control.close();
  }
  stopped ??= { reason: a.signal?.aborted ? 'interrupted' : 'stream-ended', atSec: elapsed(), detail: a.signal?.aborted ? 'stopped from outside' : 'the MEG or marker stream ended before a stop decision' };
  writeSidecar();
  const latencies = decisions.map((d) => d.latencySec).filter((v): v is number => v !== null).sort((x, y) => x - y);
  const conditions: Record<string, ConditionResult> = {};
  for (const c of policy.conditions ?? []) {
    const s = conditionLatest.get(c);
    conditions[c] = s ? conditionResult(s) : { words: 0, temporalScore: null, source: null, p: null, alignmentScore: null, ci: null };
  }
  for (const [c, s] of conditionLatest) conditions[c] ??= conditionResult(s);
  const shared = live.final ? scoreSummary(live.final).byCondition : undefined;
  for (const [c, v] of Object.entries(shared ?? {})) {
    if (conditions[c]) conditions[c].overallModel = { words: v.nScored, temporalScore: v.temporalScore, alignmentScore: v.alignmentScore };
  }
  const result: ClosedLoopResult = {
    command: 'closed-loop',
    policy: { name: policy.name, parameters },
    bank: { label: bank.label, dir: bank.dir, manifestSha256: bank.manifestSha256, passages: bank.summary.passages.length, words: bank.summary.words.length },
    stopped,
    decisions: decisions.map(({ input: _input, state: _state, ...d }) => d),
    conditions,
    decisionLatencySec: { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), max: latencies.at(-1) ?? null, n: latencies.length },
    refits: { count: refitSeconds.length, p50Sec: quantile([...refitSeconds].sort((x, y) => x - y), 0.5), maxSec: refitSeconds.length ? Math.max(...refitSeconds) : null, decisionsDuring: decisions.filter((d) => d.duringRefit).length },
    wordsHeard,
    wordsDecoded: live.wordsDecoded,
    wordsExcluded: live.wordsExcluded,
    sourceSeconds: live.sourceSeconds,
    wallSeconds: live.wallSeconds,
    sidecar,
    streams: { meg: live.meg, words: live.words },
    final: live.final,
  };
  if (a.out) writeFileAtomic(a.out, `${JSON.stringify(result)}\n`);
  return result;
}

