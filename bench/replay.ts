/**
 * Replay throughput (issue 5's goal: ≥ 200× real time, peak RSS ≤ 1 GB whatever the length).
 * Writes the simulated subject as a BIDS dataset in the Armeni layout (CTF-275 `.ds`, 304 channels,
 * 1200 Hz, events.tsv) with `lockstep simulate`'s code, then measures on those files:
 *   (a) the ceiling: plain sequential reads of the `.meg4` files (8 MB buffer, no conversion);
 *   (b) the replay chain exactly as `lockstep replay` runs it, minus the decoder: BIDS walker →
 *       CTF reader → recordingReplay at speed "max" → segmentedEpochs (non-finite guard, two-stage
 *       band-pass/resampling to 30 Hz, epochs −2.5…3.0 s) → count epochs;
 * reporting × real time, MB/s, CPU seconds and peak RSS (getrusage max RSS of the process: it
 * includes the dataset writing, which streams in 10 s blocks). Deletes the dataset afterwards
 * unless --keep. Prints one JSON object.
 *
 * Usage: node dist/bench/replay.js [--minutes 60] [--chunk-ms 1000] [--dir /tmp] [--keep] [--root <dataset written before with --keep>] [--one-thread]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lastValueFrom, filter, map, count, share, shareReplay, type Observable } from 'rxjs';
import { openBidsRuns } from '../adapters/meg/openRecording.js';
import { recordingReplay, type ReplayItem } from '../replay/recordingReplay.js';
import { megPicks } from '../replay/subjectRecordings.js';
import { runSimulate } from '../cli/simulate.js';
import { syntheticFeatures } from '../adapters/llm/features.js';
import { DataGapLog } from '../src/quality/dataGapLog.js';
import type { SampleChunk, WordEvent } from '../src/types.js';
import { segmentedEpochs } from '../streams/segmentedEpochs.js';

const args = process.argv.slice(2);
// Writing the dataset takes a minute and 5 GB: a mistyped or unknown flag must not start it.
const USAGE = 'usage: node dist/bench/replay.js [--minutes 60] [--chunk-ms 1000] [--dir /tmp] [--keep] [--root <dataset>] [--one-thread]';
const VALUED = ['--minutes', '--chunk-ms', '--dir', '--root'];
for (let i = 0; i < args.length; i++) {
  if (VALUED.includes(args[i]!)) i++;
  else if (args[i] === '--help' || args[i] === '-h') {
    console.log(USAGE);
    process.exit(0);
  } else if (args[i] !== '--keep' && args[i] !== '--one-thread') {
    console.error(`bench/replay: unknown argument "${args[i]}" (position ${i + 1}); ${USAGE}`);
    process.exit(2);
  }
}
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
};
const minutes = Number(opt('minutes', '60'));
const chunkMs = Number(opt('chunk-ms', '1000'));
const baseDir = opt('dir', os.tmpdir());
const keep = args.includes('--keep');
if (!(minutes > 0) || !(chunkMs > 0)) throw new RangeError('--minutes and --chunk-ms must be positive');

const reuse = args.includes('--root') ? opt('root', '') : null;
const root = reuse ?? fs.mkdtempSync(path.join(baseDir, 'lockstep-replaybench-'));
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const cpuSec = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;

try {
  const tw = performance.now();
  const recording = reuse
    ? path.join(root, 'sub-001/ses-001/meg/sub-001_ses-001_task-compr_meg.ds')
    : (await runSimulate({ out: root, subject: '001', session: '001', task: 'compr', format: 'ctf', minutes, seed: 1, control: 'planted', features: syntheticFeatures(1), firstWord: 0, quiet: true })).recording;
  const writeSec = reuse ? 0 : (performance.now() - tw) / 1000;
  const meg4 = fs.readdirSync(recording).filter((f) => /meg4$/.test(f)).map((f) => path.join(recording, f));
  const bytes = meg4.reduce((a, f) => a + fs.statSync(f).size, 0);

  // (a) raw sequential read: the ceiling.
  const buf = Buffer.allocUnsafe(8 << 20);
  const t0 = performance.now();
  for (const f of meg4) {
    const fd = fs.openSync(f, 'r');
    while (fs.readSync(fd, buf, 0, buf.length, null) > 0);
    fs.closeSync(fd);
  }
  const rawSec = (performance.now() - t0) / 1000;

  // (b) the replay chain.
  const bundles = await openBidsRuns({ root, subject: '001' });
  const rec = bundles[0].recording!;
  const names = megPicks(rec.header.channels, new Set(rec.header.bads));
  const { plan, source } = recordingReplay(
    [{ recording: rec, label: bundles[0].entry.key, words: bundles[0].words.map((w, i) => ({ word: w.word, onsetSec: w.onsetSec, index: i })) }],
    { speed: 'max', chunkSamples: Math.round((chunkMs / 1000) * rec.header.sfreqHz), channels: names, threaded: !args.includes('--one-thread') },
  );
  const items$: Observable<ReplayItem> = source.pipe(share());
  const chunks$ = items$.pipe(filter((i): i is Extract<ReplayItem, { kind: 'chunk' }> => i.kind === 'chunk'), map((i): SampleChunk => i.chunk));
  const words$ = items$.pipe(
    filter((i): i is Extract<ReplayItem, { kind: 'word' }> => i.kind === 'word'),
    map((i): WordEvent => ({ wordIndex: i.word.wordIndex, word: i.word.word, onsetSec: i.word.onsetSec })),
    shareReplay(),
  );
  let outside = 0;
  const cpu0 = process.cpuUsage();
  const t1 = performance.now();
  const nEpochs = await lastValueFrom(chunks$.pipe(segmentedEpochs(words$, { sfreqHz: rec.header.sfreqHz, gaps: new DataGapLog(), onOutside: () => void outside++ }), count()));
  const chainSec = (performance.now() - t1) / 1000;
  const chainCpu = cpuSec(process.cpuUsage(cpu0));
  await rec.close();
  const recordedSec = plan.totalSec;
  process.stdout.write(
    `${JSON.stringify({
      benchmark: 'replay',
      recordedMinutes: minutes,
      format: 'CTF .ds (Armeni layout), BIDS',
      channelsInFile: rec.header.channels.length,
      channelsReplayed: names.length,
      sfreqHz: rec.header.sfreqHz,
      meg4Files: meg4.length,
      meg4Bytes: bytes,
      chunkMs,
      writeSeconds: round(writeSec),
      rawRead: { seconds: round(rawSec, 2), mbPerSec: round(bytes / 2 ** 20 / rawSec), xRealTime: round(recordedSec / rawSec) },
      chain: {
        steps: 'BIDS → CTF reader → recordingReplay(max) → non-finite guard → decimate 1200→120 Hz → band-pass 0.1–20 Hz → FIR 120→30 Hz → epochs',
        seconds: round(chainSec, 2),
        cpuSeconds: round(chainCpu, 2),
        xRealTime: round(recordedSec / chainSec),
        mbPerSec: round(bytes / 2 ** 20 / chainSec),
        epochs: nEpochs,
        wordsOutside: outside,
        wordsInEvents: plan.nWords,
      },
      peakRssMb: round(process.resourceUsage().maxRSS / 1024),
      machine: { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', loadavg: os.loadavg().map((x) => round(x, 2)) },
    })}\n`,
  );
} finally {
  if (!keep && !reuse) fs.rmSync(root, { recursive: true, force: true });
}
