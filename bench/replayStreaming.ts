/**
 * Extraction overlapping the replay (issue: "ten hours replay in minutes"). Writes the simulated
 * subject as an Armeni-layout BIDS session (CTF `.ds`, events.tsv, stimulus text), then runs the
 * replay chain minus the decoder (BIDS → CTF reader → recordingReplay at "max" → preprocessing →
 * epochs → join with the built-in model's activations, streams/joinActivations.ts, paced by the
 * same FlowControl gate as `lockstep replay`), three ways:
 *
 *   (a) activations already extracted (a finished table): the chain alone;
 *   (b) streaming: the extraction starts with the replay from an empty cache (`--pca-fit`,
 *       default sample:1000), epochs wait only for words not yet extracted;
 *   (c) ahead of time, as before this change: the whole extraction (all-words PCA fit) first,
 *       then the chain: (c) = extraction seconds + (a).
 *
 * Also compares the two PCA bases: per layer, the mean squared cosine of the principal angles
 * between the sample basis's and the all-words basis's 50-dim subspaces (1 = the same subspace).
 * Prints one JSON object. Deletes everything afterwards unless --keep.
 *
 * Usage: node dist/bench/replayStreaming.js [--minutes 20] [--pca-fit sample:1000] [--dir /tmp] [--keep]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { count, filter, lastValueFrom, map, share, shareReplay, tap, type Observable } from 'rxjs';
import { activationLookup, syntheticFeatures, type ModelFeatureTable } from '../adapters/llm/features.js';
import { parsePcaFit } from '../adapters/llm/pcaBasis.js';
import { readNpyFile } from '../adapters/npyFile.js';
import { modelFeaturesForBundles } from '../replay/bundleFeatures.js';
import { runSimulate } from '../cli/simulate.js';
import { recordingReplay, type ReplayItem } from '../replay/recordingReplay.js';
import { closeSubjectRecordings, openSubjectRecordings, stimulusSegments } from '../replay/subjectRecordings.js';
import { DataGapLog } from '../src/quality/dataGapLog.js';
import type { SampleChunk, WordEvent } from '../src/types.js';
import { FlowControl } from '../streams/flowControl.js';
import { joinActivations, type ActivationLookup } from '../streams/joinActivations.js';
import { segmentedEpochs } from '../streams/segmentedEpochs.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
};
const minutes = Number(opt('minutes', '20'));
const pcaFit = parsePcaFit(opt('pca-fit', 'sample:1000'));
const baseDir = opt('dir', os.tmpdir());
const keep = args.includes('--keep');
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const root = fs.mkdtempSync(path.join(baseDir, 'lockstep-replaystream-'));
const loads: number[] = [os.loadavg()[0]!];

/** The replay chain minus the decoder; returns wall seconds and when the first pair came out. */
async function chain(lookup: ActivationLookup): Promise<{ seconds: number; firstPairSec: number | null; pairs: number; waited: number; peakFlow: number }> {
  const subject = await openSubjectRecordings({ root, subject: '001' });
  const flow = new FlowControl();
  const { source } = recordingReplay(stimulusSegments(subject.bundles), { speed: 'max', chunkSamples: 120, channels: subject.channels, gate: () => flow.whenBelow(256), threaded: true });
  const items$: Observable<ReplayItem> = source.pipe(share());
  const chunks$ = items$.pipe(filter((i): i is Extract<ReplayItem, { kind: 'chunk' }> => i.kind === 'chunk'), map((i): SampleChunk => ({ ...i.chunk, segment: i.segment })));
  const words$ = items$.pipe(
    filter((i): i is Extract<ReplayItem, { kind: 'word' }> => i.kind === 'word'),
    map((i): WordEvent => ({ wordIndex: i.word.wordIndex, word: i.word.word, onsetSec: i.word.onsetSec, segment: i.word.segment })),
    shareReplay({ refCount: true }),
  );
  const t0 = performance.now();
  let first: number | null = null;
  let waited = 0;
  let peakFlow = 0;
  const counting: ActivationLookup = (w) => {
    const got = lookup(w);
    if (got instanceof Promise) waited++;
    return got;
  };
  const pairs = await lastValueFrom(
    chunks$.pipe(
      segmentedEpochs(words$, { sfreqHz: subject.bundles[0]!.recording!.header.sfreqHz, gaps: new DataGapLog(), onOutside: () => undefined }),
      joinActivations(counting, { flow }),
      tap(() => {
        first ??= (performance.now() - t0) / 1000;
        peakFlow = Math.max(peakFlow, flow.pending);
      }),
      count(),
    ),
  );
  const seconds = (performance.now() - t0) / 1000;
  await closeSubjectRecordings(subject);
  loads.push(os.loadavg()[0]!);
  return { seconds, firstPairSec: first, pairs, waited, peakFlow };
}

/** Mean squared cosine of the principal angles between two bases [layers, k, hidden], per layer. */
function subspaceOverlap(a: Float64Array, b: Float64Array, nL: number, k: number, H: number): number[] {
  const out: number[] = [];
  for (let l = 0; l < nL; l++) {
    let s = 0;
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) {
        let dot = 0;
        for (let h = 0; h < H; h++) dot += a[(l * k + i) * H + h]! * b[(l * k + j) * H + h]!;
        s += dot * dot;
      }
    }
    out.push(round(s / k, 4));
  }
  return out;
}

try {
  await runSimulate({ out: root, subject: '001', session: '001', task: 'compr', format: 'ctf', minutes, seed: 1, control: 'planted', features: syntheticFeatures(1), firstWord: 0, quiet: true });
  const synthetic = syntheticFeatures(1);
  const ahead = await chain((w) => synthetic.of(w.wordIndex, w.word));

  const streamCache = path.join(root, 'cache-stream');
  const subject = await openSubjectRecordings({ root, subject: '001' });
  const t0 = performance.now();
  const streamedTable = (await modelFeaturesForBundles(root, { model: 'builtin', cacheRoot: streamCache, pcaFit, stream: true })(subject.bundles)) as ModelFeatureTable;
  const tableReadySec = (performance.now() - t0) / 1000;
  await closeSubjectRecordings(subject);
  let extractionDoneSec = 0;
  void streamedTable.done.then(() => (extractionDoneSec = (performance.now() - t0) / 1000));
  const streamed = await chain(activationLookup(streamedTable));
  const [streamSummary] = await streamedTable.done;
  const streamWallSec = (performance.now() - t0) / 1000;

  const allCache = path.join(root, 'cache-all');
  const subject2 = await openSubjectRecordings({ root, subject: '001' });
  const t1 = performance.now();
  const allTable = await modelFeaturesForBundles(root, { model: 'builtin', cacheRoot: allCache, pcaFit: parsePcaFit('all') })(subject2.bundles);
  const extractAllSec = (performance.now() - t1) / 1000;
  await closeSubjectRecordings(subject2);
  const [allSummary] = allTable.summaries;
  loads.push(os.loadavg()[0]!);

  const comps = (dir: string) => readNpyFile(path.join(dir, 'pca_components.npy'));
  const ca = comps(allSummary!.cacheDir);
  const cs = comps(streamSummary!.cacheDir);
  const [nL, k, H] = ca.shape as [number, number, number];
  const overlap = subspaceOverlap(ca.data as Float64Array, cs.data as Float64Array, nL, k, H);

  process.stdout.write(
    `${JSON.stringify({
      benchmark: 'replayStreaming',
      recordedMinutes: minutes,
      words: streamSummary!.words,
      model: 'built-in (10 blocks, hidden 96), exact context 50 words',
      compute: streamSummary!.compute,
      chainOnly: { seconds: round(ahead.seconds), pairs: ahead.pairs },
      streaming: {
        pcaFit: streamSummary!.pcaFit,
        tableReadySec: round(tableReadySec),
        firstPairSec: streamed.firstPairSec === null ? null : round(streamed.firstPairSec),
        chainSeconds: round(streamed.seconds),
        extractionDoneSec: round(extractionDoneSec),
        wallSeconds: round(streamWallSec),
        pairs: streamed.pairs,
        epochsThatWaited: streamed.waited,
        peakEpochsInFlight: streamed.peakFlow,
        extractWordsPerSec: streamSummary!.wordsPerSec === null ? null : round(streamSummary!.wordsPerSec),
      },
      aheadOfTime: { extractSeconds: round(extractAllSec), thenChainSeconds: round(ahead.seconds), wallSeconds: round(extractAllSec + ahead.seconds), extractWordsPerSec: allSummary!.wordsPerSec === null ? null : round(allSummary!.wordsPerSec) },
      basisOverlapWithAllWordsFit: { perLayer: overlap, min: Math.min(...overlap) },
      peakRssMb: round(process.resourceUsage().maxRSS / 1024),
      machine: { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown', loadavg1: loads.map((x) => round(x, 2)) },
    })}\n`,
  );
} finally {
  if (!keep) fs.rmSync(root, { recursive: true, force: true });
}
