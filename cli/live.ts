/**
 * `lockstep live`: a live session from Lab Streaming Layer streams: the MEG (float32 samples,
 * channel labels in the stream's desc) and the stimulus program's word markers ("<index>\t<word>",
 * see src/live/wordMarker.ts), each put on the local clock with its own time correction, through
 * exactly the operators `replay` uses. Activations of a known stimulus (`--text`) are extracted
 * while the session runs (streamed in stimulus order, as in `replay`); without `--text` each word
 * is read by the model as its marker arrives (adapters/llm/liveFeatures.ts). It stops at the `#end`
 * marker (once the MEG has covered it), after `--seconds`, when the MEG stream is lost, or on
 * Ctrl-C; the final scores are written as JSON.
 *
 * Owns: resolving the streams, the stop rule and the live health fields. Must not: speak the LSL
 * protocol (adapters/lsl) or compute (the analysis session).
 */
import fs from 'node:fs';
import os from 'node:os';
import { Option, type Command } from 'commander';
import { map, Subject, shareReplay, takeUntil, tap, timer, type Observable } from 'rxjs';
import { networkConfigFromEnv, type LslNetworkConfig } from '../adapters/lsl/config.js';
import { StreamInlet, type ConnectionState } from '../adapters/lsl/inlet.js';
import { resolveByProp, resolveQuery } from '../adapters/lsl/resolver.js';
import type { StreamInfo } from '../adapters/lsl/streamInfo.js';
import { fromInlet } from '../streams/fromInlet.js';
import { lslSampleChunks } from '../streams/lslSampleChunks.js';
import { lslWordEvents } from '../streams/lslWordEvents.js';
import { pickChannels } from '../streams/pickChannels.js';
import type { BackendName } from '../src/linalg/backend.js';
import type { ScoreSnapshot } from '../src/snapshot.js';
import type { Dashboard } from '../dashboard/server.js';
import type { SampleChunk, WordEvent } from '../src/types.js';
import { activationLookup, defaultActivationCache, modelFeatures, modelName, resolveModel, type FeatureTable } from '../adapters/llm/features.js';
import { LiveFeatureTable } from '../adapters/llm/liveFeatures.js';
import { parsePcaFit } from '../adapters/llm/pcaBasis.js';
import { InputError } from './errors.js';
import { addExtractionOptions, backendOption, extractionCompute, featureSource, positive, positiveInt } from './options.js';
import { extractReport } from './progress.js';
import type { ResumeReport } from '../streams/pipeline.js';
import { addCheckpointOptions, checkpointArgs, checkpointPlan, type CheckpointArgs } from './resume.js';
import { runAnalysisSession } from './session.js';
import { countOf, fixed } from './format.js';
import type { AnalysisPipelineOptions } from '../streams/pipeline.js';


export interface LiveArgs {
  /** Stream name, or an LSL query (XPath predicate such as "type='MEG' and name='CTF'"). */
  meg: string;
  words: string;
  features: FeatureTable;
  allWords: boolean;
  /** Stop after this many seconds of MEG (undefined: at the end marker, loss or Ctrl-C). */
  seconds?: number;
  resolveTimeoutSec: number;
  backend: 'auto' | BackendName;
  refitEveryWords: number;
  snapshotEveryWords: number;
  foldBlockWords: number;
  halfLifeWords: number | null;
  dashboard?: { host: string; port: number; token?: string };
  out?: string;
  quiet: boolean;
  network?: Partial<LslNetworkConfig>;
  onSnapshot?: (s: ScoreSnapshot) => void;
  /** When a word's epoch became complete: the receipt of the chunk or marker that let it be cut (performance.now() seconds; benchmarks). */
  onWordReady?: (wordIndex: number, atSec: number) => void;
  onDashboard?: (d: Dashboard) => void;
  /** Terminal label (default "live"; the closed loop runs a live session too). */
  label?: string;
  /** Per-condition decoding (see AnalysisPipelineOptions.conditionsOf) and its snapshots. */
  conditionsOf?: AnalysisPipelineOptions['conditionsOf'];
  conditionDecoder?: AnalysisPipelineOptions['conditionDecoder'];
  onConditionSnapshot?: AnalysisPipelineOptions['onConditionSnapshot'];
  /** Default `every` (as `lockstep live` always did); the closed loop coalesces. */
  refitPolicy?: AnalysisPipelineOptions['refitPolicy'];
  /** A presenter's passage markers (local clock). */
  onPassageMarker?: (event: 'start' | 'end', passage: string, localSec: number) => void;
  /** Every word marker as it is parsed (local clock), before the pipeline sees it. */
  onWord?: (w: WordEvent) => void;
  /** After each MEG chunk arrives: the local time its last sample covers, and its first sample's. */
  onMegTime?: (lastSampleSec: number, chunkStartSec: number) => void;
  /** Both inlets, once created (callers that must know when they are live), and the MEG rate. */
  onInlets?: (inlets: { meg: StreamInlet; words: StreamInlet; sfreqHz: number }) => void;
  /** Aborting ends the session as Ctrl-C does (the last snapshot stands). */
  signal?: AbortSignal;
  /** Awaited after the last snapshot, before the dashboard closes. */
  beforeClose?: () => Promise<void>;
  /** The overall decoder's refits: when one starts (the words it covers) and when it ends. */
  onRefitStart?: AnalysisPipelineOptions['onRefitStart'];
  onRefit?: AnalysisPipelineOptions['onRefit'];
  /** Checkpoints as the session goes, and going on from one after a crash (cli/resume.ts). */
  checkpoints?: CheckpointArgs;
}

export interface LiveResult {
  command: 'live';
  meg: { name: string; sourceId: string; channels: number; channelsDecoded: number; sfreqHz: number; samplesReceived: number; states: string[]; gaps: { spanSec: number; insertedSamples: number }[] };
  words: { name: string; received: number; badMarkers: number };
  features: string;
  wordsDecoded: number;
  wordsExcluded: Record<string, number>;
  sourceSeconds: number;
  wallSeconds: number;
  /**
   * From the moment the received MEG covers a word's epoch (onset + 3.0 s + the filters' delay) to the
   * snapshot that includes it, seconds (p50, p90, p99 and max over the words; the dashboard send adds ~1 ms).
   */
  latencySec: { p50: number | null; p90: number | null; p99: number | null; max: number | null; n: number };
  /** Words read by the model as they arrived (no --text): from the marker to the word's features, s. */
  extractionLatencySec: { p50: number | null; p99: number | null; n: number } | null;
  final: ScoreSnapshot | null;
  /**
   * Present when the session went on from a checkpoint: the words it held, its last word's onset,
   * the first new word's, and the gap between them (source seconds whose words were not decoded).
   */
  resumed?: ResumeReport;
}

async function resolveOne(what: string, role: string, timeoutSec: number, config: Partial<LslNetworkConfig> | undefined): Promise<StreamInfo> {
  const isQuery = /[=<>()]/.test(what);
  const found = isQuery ? await resolveQuery(what, { timeoutSec, config, minimum: 1 }) : await resolveByProp('name', what, { timeoutSec, config, minimum: 1 });
  if (found.length === 0) throw new InputError(`no LSL ${role} stream ${isQuery ? `matches ${what}` : `named "${what}"`} within ${timeoutSec} s (run \`lockstep lsl list\` to see what is visible; --multicast/--peers for other hosts)`);
  if (found.length > 1 && new Set(found.map((f) => f.sourceId || f.uid)).size > 1) {
    throw new InputError(`${found.length} LSL ${role} streams match "${what}" (${found.map((f) => `${f.name}@${f.hostname}`).join(', ')}): give a query that picks one, e.g. "name='${found[0].name}' and source_id='${found[0].sourceId}'"`);
  }
  return found[0];
}

const MEG_TYPES = new Set(['MEG', 'MAG', 'MEGMAG', 'GRAD', 'MEGGRADAXIAL', 'MEGGRADPLANAR', 'MEGGRAD']);

/** MEG channels by the desc types (BIDS/LSL naming), or all channels when the stream has no desc. */
function megChannelPicks(info: StreamInfo): number[] {
  const all = Array.from({ length: info.channelCount }, (_, i) => i);
  const chans = info.channels();
  if (!chans || chans.length !== info.channelCount) return all;
  const picks = all.filter((i) => chans[i].type !== undefined && MEG_TYPES.has(chans[i].type!.toUpperCase()));
  return picks.length ? picks : all;
}

/**
 * Streams from this machine share its clock (LSL's local_clock is the system's monotonic clock), so
 * their true time correction is 0; the measured estimate would only add jitter (~0.1–1 ms, enough
 * to move an onset across a 33 ms epoch-sample boundary now and then). Others use the estimate.
 */
function correctionFor(info: StreamInfo): 'measured' | 'none' {
  return info.hostname === os.hostname() ? 'none' : 'measured';
}

function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** Word markers whose arrival time is kept while their epoch may still be cut (~5 minutes of speech). */
const MARKERS_KEPT = 1024;

export async function runLive(a: LiveArgs): Promise<LiveResult> {
  const label = a.label ?? 'live';
  const log = (line: string) => !a.quiet && process.stderr.write(`${line}\n`);
  const config = a.network;
  const [megInfo, wordsInfo] = await Promise.all([resolveOne(a.meg, 'MEG', a.resolveTimeoutSec, config), resolveOne(a.words, 'word-marker', a.resolveTimeoutSec, config)]);
  if (!(megInfo.nominalSrate > 0)) throw new InputError(`LSL stream "${megInfo.name}" is irregular (nominal rate 0): the MEG stream must have a sampling rate`);
  if (wordsInfo.channelFormat !== 'string') throw new InputError(`LSL stream "${wordsInfo.name}" carries ${wordsInfo.channelFormat}, word markers must be strings ("<index>\\t<word>")`);
  const megInlet = new StreamInlet(megInfo, { recover: true, config });
  const wordsInlet = new StreamInlet(wordsInfo, { recover: true, config });
  const full = await megInlet.info();
  const picks = megChannelPicks(full);
  a.onInlets?.({ meg: megInlet, words: wordsInlet, sfreqHz: full.nominalSrate });
  log(`${label}: MEG "${full.name}" (${countOf(full.channelCount, 'channel')}, ${picks.length} MEG, ${full.nominalSrate} Hz, ${full.hostname}); words "${wordsInfo.name}"; features: ${a.features.label}`);

  const states: string[] = [];
  let megState: ConnectionState = 'connecting';
  const gaps: LiveResult['meg']['gaps'] = [];
  let wordsReceived = 0;
  let samplesReceived = 0;
  let badMarkers = 0;
  let endAt: number | null = null;
  let lastSampleSec = -Infinity;
  const stop$ = new Subject<void>();
  // Latency: a word's epoch is complete when the last of its data and its marker have arrived. The
  // epoch is cut synchronously while the chunk (or marker) that completes it is processed, so that
  // moment is the newer of the latest chunk's receipt and the marker's arrival.
  const epochCompleteAt = new Map<number, number>();
  const markerArrivedAt = new Map<number, number>();
  let chunkReceivedAt = 0;
  const latencies: number[] = [];

  const fs_ = full.nominalSrate;
  const chunks$: Observable<SampleChunk> = fromInlet(megInlet).pipe(
    lslSampleChunks({
      correction: correctionFor(full),
      sfreqHz: fs_,
      nChannels: full.channelCount,
      onGap: (g, n) => {
        gaps.push({ spanSec: g.spanSec, insertedSamples: n });
        log(`\n${label}: MEG outage of ${g.spanSec.toFixed(3)} s (${countOf(n, 'sample')} filled as missing); the accumulated statistics are kept`);
      },
      onChunk: (c) => {
        samplesReceived += c.nSamples;
        lastSampleSec = c.tStartSec + c.nSamples / c.sfreqHz;
        a.onMegTime?.(lastSampleSec, c.tStartSec);
        chunkReceivedAt = performance.now() / 1000;
        if (a.seconds !== undefined && (c.firstSample + c.nSamples) / c.sfreqHz >= a.seconds) stop$.next();
        // The end marker is stamped at the end of the data: stop once the MEG has reached it.
        if (endAt !== null && lastSampleSec >= endAt - 0.5 / c.sfreqHz) stop$.next();
      },
    }),
    picks.length === full.channelCount ? (s) => s : pickChannels(picks),
    takeUntil(stop$),
  );
  megInlet.on('state', (c: { state: ConnectionState }) => {
    megState = c.state;
    states.push(c.state);
    if (c.state === 'lost') stop$.next();
  });
  const live = a.features instanceof LiveFeatureTable ? a.features : null;
  const words$: Observable<WordEvent> = fromInlet(wordsInlet).pipe(
    lslWordEvents({
      correction: correctionFor(wordsInfo),
      isContent: (i) => a.features.isContent(i),
      onEnd: (t) => {
        endAt = t;
        if (lastSampleSec >= t - 0.5 / fs_) stop$.next();
      },
      onBadMarker: (text, why) => {
        badMarkers++;
        log(`\n${label}: skipped a marker: ${why}`);
      },
      onPassage: a.onPassageMarker,
    }),
    tap((w) => {
      markerArrivedAt.set(w.wordIndex, performance.now() / 1000);
      // Markers whose epoch is never cut (function words, words outside the data) are dropped once
      // they are far older than the epochs' 30 s buffer, so hours of words do not accumulate here.
      if (markerArrivedAt.size > MARKERS_KEPT) for (const k of [...markerArrivedAt.keys()].slice(0, MARKERS_KEPT / 2)) markerArrivedAt.delete(k);
    }),
    // Words whose text was not known: the model reads each as it arrives, which also tags it.
    tap((w) => live?.hear(w.wordIndex, w.word)),
    map((w) => (live ? { ...w, isContent: live.isContent(w.wordIndex) } : w)),
    takeUntil(stop$),
    shareReplay({ refCount: true }),
  );
  words$.subscribe((w) => {
    a.onWord?.(w);
    wordsReceived++;
  });

  const onSigint = () => stop$.next();
  process.once('SIGINT', onSigint);
  const onAbort = () => stop$.next();
  a.signal?.addEventListener('abort', onAbort, { once: true });
  const checkpoints = a.checkpoints ? checkpointPlan(a.checkpoints, 'live', { nChannels: picks.length, nLayers: a.features.nLayers, nDims: a.features.nDims, foldBlockWords: a.foldBlockWords }) : {};
  if (checkpoints.resume) {
    const p = checkpoints.resume.position;
    log(`live: resuming from ${checkpoints.resume.from}: ${p.pairs} words decoded${p.lastWord ? `, the last heard at ${p.lastWord.onsetSec.toFixed(3)} s` : ''}; words up to then are dropped, the gap is reported`);
  }
  let r;
  try {
    r = await runAnalysisSession({
      ...checkpoints,
      label,
      chunks$,
      words$,
      sfreqHz: fs_,
      nChannels: picks.length,
      activationOf: activationLookup(a.features),
      nLayers: a.features.nLayers,
      nDims: a.features.nDims,
      depths: a.features.depths,
      contentWordsOnly: !a.allWords,
      backend: a.backend,
      refitEveryWords: a.refitEveryWords,
      // A live source cannot wait: refits compute beside scoring, and every word's snapshot goes out at once.
      refits: 'concurrent',
      snapshotEveryWords: a.snapshotEveryWords,
      foldBlockWords: a.foldBlockWords,
      halfLifeWords: a.halfLifeWords,
      dashboard: a.dashboard,
      json: false,
      quiet: a.quiet,
      sourceLabel: `LSL ${full.name}@${full.hostname} + ${wordsInfo.name}`,
      activationsLabel: a.features.label,
      extraHealth: () => ({ state: megState === 'live' ? 'live' : megState === 'stalled' ? 'stalled' : megState === 'lost' ? 'ended' : 'starting' }),
      onDashboard: a.onDashboard,
      conditionsOf: a.conditionsOf,
      conditionDecoder: a.conditionDecoder,
      onConditionSnapshot: a.onConditionSnapshot,
      refitPolicy: a.refitPolicy,
      beforeClose: a.beforeClose,
      onRefitStart: a.onRefitStart,
      onRefit: a.onRefit,
      onEpoch: (w) => {
        // An epoch is cut once per word, so each word is timed once.
        const at = Math.max(chunkReceivedAt, markerArrivedAt.get(w.wordIndex) ?? 0);
        markerArrivedAt.delete(w.wordIndex);
        epochCompleteAt.set(w.wordIndex, at);
        a.onWordReady?.(w.wordIndex, at);
      },
      // A word without activations is never decoded, so no snapshot answers it: it is not timed.
      onNoActivations: (w) => epochCompleteAt.delete(w.wordIndex),
      onSnapshot: (s) => {
        const now = performance.now() / 1000;
        // Words newly in this snapshot: those whose epoch completed and that the snapshot now counts.
        for (const [idx, t] of epochCompleteAt) {
          if (s.lastWord && s.lastWord.index >= idx) {
            latencies.push(now - t);
            epochCompleteAt.delete(idx);
          }
        }
        a.onSnapshot?.(s);
      },
    });
  } finally {
    process.off('SIGINT', onSigint);
    a.signal?.removeEventListener('abort', onAbort);
    megInlet.close();
    wordsInlet.close();
  }
  latencies.sort((x, y) => x - y);
  const extraction = live ? [...live.latenciesSec].sort((x, y) => x - y) : null;
  const result: LiveResult = {
    command: 'live',
    meg: { name: full.name, sourceId: full.sourceId, channels: full.channelCount, channelsDecoded: picks.length, sfreqHz: fs_, samplesReceived, states, gaps },
    words: { name: wordsInfo.name, received: wordsReceived, badMarkers },
    features: a.features.label,
    wordsDecoded: r.last?.nWords ?? 0,
    wordsExcluded: { 'outside-recording': 0, 'overlaps-data-gap': 0, 'no-activations': 0, 'function-word': 0, ...r.wordsExcluded },
    sourceSeconds: r.sourceSeconds,
    wallSeconds: r.wallSeconds,
    latencySec: { p50: quantile(latencies, 0.5), p90: quantile(latencies, 0.9), p99: quantile(latencies, 0.99), max: latencies.at(-1) ?? null, n: latencies.length },
    extractionLatencySec: extraction ? { p50: quantile(extraction, 0.5), p99: quantile(extraction, 0.99), n: extraction.length } : null,
    final: r.last,
    ...(r.resumed ? { resumed: r.resumed } : {}),
  };
  if (r.resumed?.gapSec != null) log(`live: resumed after a gap of ${r.resumed.gapSec.toFixed(1)} s between the checkpoint's last word and the first new one`);
  if (a.out) fs.writeFileSync(a.out, `${JSON.stringify(result)}\n`);
  return result;
}

export function registerLiveCommand(program: Command): void {
  const cmd = program
    .command('live')
    .description('Live session from LSL: the MEG stream and the word-marker stream ("<index>\\t<word>" per onset, "#end" to finish) through the same pipeline as replay. Streams are found by name or by LSL query; discovery is unicast to 127.0.0.1 unless --multicast/--peers (or LOCKSTEP_LSL_MULTICAST=1).')
    .requiredOption('--meg <name|query>', '(required) MEG stream name, or a query such as "type=\'MEG\' and name=\'CTF\'"')
    .requiredOption('--words <name|query>', '(required) word-marker stream name or query')
    .option('--model <folder|builtin>', 'language model: activations of the stimulus (--text) are extracted while the session runs; without --text, of each marker\'s word as it arrives')
    .option('--text <file>', 'the stimulus, when known: its events.tsv (marker index = word position in it) or its text file (word position in the text); with an events.tsv, --story-text gives the original text')
    .option('--story-text <files>', 'original story text(s) for an events.tsv stimulus', (v: string) => v.split(','))
    .option('--context <words>', 'previous words of context', (v: string) => Number(v), 50)
    .addOption(new Option('--context-mode <mode>', 'exact or chunked context windows').choices(['exact', 'chunked']).default('exact'))
    .option('--cache <dir>', 'activation cache (default ~/.cache/lockstep/activations or $LOCKSTEP_CACHE)')
    .option('--features <source>', 'instead of a model: synthetic[:seed[:dims]] activations', featureSource)
    .option('--all-words', 'decode every word (default: content words when the words are tagged)')
    .option('--seconds <s>', 'stop after this much MEG', positive)
    .option('--resolve-timeout <s>', 'how long to look for the streams', positive, 10)
    .addOption(backendOption())
    .option('--refit-every <words>', 'exact K-fold refit every N words', positiveInt, 500)
    .option('--snapshot-every <words>', 'snapshot every N words (1: each word reaches the dashboard as soon as its epoch is complete)', positiveInt, 1)
    .option('--fold-block <words>', 'words per contiguous fold block', positiveInt, 100)
    .option('--half-life <words>', 'rolling-score half-life in words', positiveInt)
    .option('--dashboard', 'serve the dashboard')
    .option('--port <n>', 'dashboard port', positiveInt, 8080)
    .option('--host <addr>', 'dashboard address; beyond loopback every client must present the token printed with the URL', '127.0.0.1')
    .option('--multicast', "also discover with liblsl's multicast/broadcast targets (labs)")
    .option('--peers <hosts>', 'comma-separated hosts to query by unicast (liblsl KnownPeers)')
    .option('--out <file>', 'write the final result JSON here')
    .option('--json', 'print the final result as one JSON object on stdout')
    .option('--quiet', 'no progress on stderr');
  addExtractionOptions(cmd, null, 'default sample with --text, reference without (words known only as they arrive)');
  addCheckpointOptions(cmd, 'after a crash: the statistics are restored, words heard up to the checkpoint\'s last word are dropped, and the gap is reported')
    .action(async (o) => {
        if (!o.model && !o.features) throw new InputError('say where the layer activations come from: --model <folder|builtin> (with --text when the stimulus is known), or --features synthetic[:seed[:dims]]');
        const report = extractReport(o.quiet ? null : process.stderr);
        const pcaFit = o.pcaFit ?? parsePcaFit(o.text ? 'sample' : 'reference');
        if (o.model && !o.text && o.contextMode !== 'exact') throw new InputError('--context-mode chunked needs the words after each word: give --text, or use exact');
        if (o.model && !o.text && pcaFit.kind !== 'reference') throw new InputError(`--pca-fit ${pcaFit.kind} needs the whole stimulus before its first word: give --text, or use --pca-fit reference[:N]`);
        // A session that ends before the known stimulus is extracted stops the extraction (checkpoint kept).
        const stopExtraction = new AbortController();
        const streamed = o.model && o.text ? await modelFeatures([{ text: o.text, storyText: o.storyText }], { model: o.model, context: o.context, mode: o.contextMode, cacheRoot: o.cache, pcaFit, stream: true, signal: stopExtraction.signal, ...extractionCompute(o), report }) : null;
        const features: FeatureTable = !o.model
          ? o.features
          : streamed
            ? streamed
            : await LiveFeatureTable.open({ model: await resolveModel(o.model), modelLabel: modelName(o.model), context: o.context, pcaFit, cacheRoot: o.cache ?? defaultActivationCache(), ...extractionCompute(o), report });
        const result = await runLive({
          meg: o.meg,
          words: o.words,
          features,
          allWords: Boolean(o.allWords),
          seconds: o.seconds,
          resolveTimeoutSec: o.resolveTimeout,
          backend: o.backend,
          refitEveryWords: o.refitEvery,
          snapshotEveryWords: o.snapshotEvery,
          foldBlockWords: o.foldBlock,
          halfLifeWords: o.halfLife ?? null,
          dashboard: o.dashboard ? { host: o.host, port: o.port } : undefined,
          out: o.out,
          quiet: Boolean(o.quiet),
          checkpoints: checkpointArgs(o),
          network: networkConfigFromEnv(process.env, { ...(o.multicast ? { multicast: true, listenAddress: '0.0.0.0' } : {}), ...(o.peers ? { unicastHosts: ['127.0.0.1', ...String(o.peers).split(',').map((h) => h.trim()).filter(Boolean)] } : {}) }),
        }).finally(async () => {
          stopExtraction.abort();
          await streamed?.done.catch(() => undefined);
          if (features instanceof LiveFeatureTable) await features.close();
          report.done();
        });
        if (o.json) process.stdout.write(`${JSON.stringify(result)}\n`);
        else {
          const e = result.final?.exact;
          process.stdout.write(`${countOf(result.wordsDecoded, 'word')} over ${(result.sourceSeconds / 60).toFixed(1)} min of live MEG` + (e ? `; temporal score r = ${fixed(e.temporalScore, 3)} (p = ${e.p.toPrecision(3)})\n` : '; no exact score yet\n'));
        }
    });
}
