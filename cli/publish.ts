/**
 * `lockstep publish`: plays a recorded dataset out as Lab Streaming Layer streams, like mne-lsl's
 * player but with a speed factor and the words: an MEG stream (float32, the MEG channels, labels,
 * types and units in its desc) and a word-marker stream ("<index>\t<word>" at each onset, "#end"
 * after the last sample), so a live session can be rehearsed without a scanner. Timestamps are on
 * the local LSL clock: the start time plus the source time, whatever the speed (at ×N the stream
 * carries N seconds of samples per wall second, with their true spacing).
 *
 * Owns: the stream descriptions and what is pushed when. Must not: read formats (the readers) or
 * pace (recordingReplay).
 */
import type { Command } from 'commander';
import { filter, lastValueFrom, tap } from 'rxjs';
import { localClock } from '../adapters/lsl/clock.js';
import { networkConfigFromEnv, type LslNetworkConfig } from '../adapters/lsl/config.js';
import { StreamOutlet } from '../adapters/lsl/outlet.js';
import { StreamInfo } from '../adapters/lsl/streamInfo.js';
import { recordingReplay } from '../replay/recordingReplay.js';
import type { Speed } from '../replay/pacedChunks.js';
import { END_MARKER, encodeWordMarker } from '../src/live/wordMarker.js';
import { closeSubjectRecordings, openSubjectRecordings, stimulusSegments } from '../replay/subjectRecordings.js';
import { addSubjectOptions, nonNegative } from './options.js';
import { countOf } from './format.js';

export interface PublishArgs {
  root: string;
  subject: string;
  sessions?: string[];
  task?: string;
  run?: string;
  speed: Speed;
  name: string;
  /** Wait this long for an inlet on both streams before playing (0: start at once). */
  waitSec: number;
  quiet: boolean;
  network?: Partial<LslNetworkConfig>;
  /** Called once both outlets exist (tests start their inlets then). */
  onReady?: (names: { meg: string; words: string }) => void;
}

export interface PublishResult {
  command: 'publish';
  meg: string;
  words: string;
  channels: number;
  sfreqHz: number;
  samplesPushed: number;
  wordsPushed: number;
  sourceSeconds: number;
  wallSeconds: number;
}

export async function runPublish(a: PublishArgs): Promise<PublishResult> {
  const log = (line: string) => !a.quiet && process.stderr.write(`${line}\n`);
  const subject = await openSubjectRecordings(a);
  const { bundles, channels: names } = subject;
  const h0 = bundles[0].recording!.header;
  const byName = new Map(h0.channels.map((c) => [c.name, c]));
  const segments = stimulusSegments(bundles);
  const index = segments.reduce((n, s) => n + s.words.length, 0);

  const megInfo = new StreamInfo({ name: a.name, type: 'MEG', channelCount: names.length, nominalSrate: h0.sfreqHz, channelFormat: 'float32', sourceId: `lockstep-publish-${a.name}` });
  megInfo.setChannels(names.map((n) => ({ label: n, type: byName.get(n)!.type === 'grad' ? 'MEGGRADPLANAR' : 'MEGMAG', unit: byName.get(n)!.unit })));
  const wordsName = `${a.name}-words`;
  const wordsInfo = new StreamInfo({ name: wordsName, type: 'Markers', channelCount: 1, nominalSrate: 0, channelFormat: 'string', sourceId: `lockstep-publish-${a.name}-words` });
  const megOut = await StreamOutlet.open(megInfo, { config: a.network });
  const wordsOut = await StreamOutlet.open(wordsInfo, { config: a.network });
  a.onReady?.({ meg: a.name, words: wordsName });
  log(`publish: "${a.name}" (${countOf(names.length, 'channel')} at ${h0.sfreqHz} Hz) and "${wordsName}" (${countOf(index, 'word')}) at ${a.speed === 'max' ? 'max speed' : `×${a.speed}`}`);
  try {
    if (a.waitSec > 0) {
      const ok = (await megOut.waitForConsumers(a.waitSec)) && (await wordsOut.waitForConsumers(a.waitSec));
      if (!ok) log(`publish: no inlet on both streams after ${a.waitSec} s; playing anyway`);
    }
    const { plan, source } = recordingReplay(segments, { speed: a.speed, chunkSamples: Math.max(1, Math.round(h0.sfreqHz / 50)), channels: names });
    // Whole seconds: source times stay exact when added to the base.
    const base = Math.ceil(localClock());
    let samples = 0;
    let words = 0;
    const t0 = performance.now();
    await lastValueFrom(
      source.pipe(
        tap((item) => {
          if (item.kind === 'chunk') {
            const c = item.chunk;
            megOut.pushChunk(c.data, base + (c.firstSample + c.nSamples - 1) / c.sfreqHz);
            samples += c.nSamples;
          } else {
            wordsOut.pushSample([encodeWordMarker(item.word.wordIndex, item.word.word)], base + item.word.onsetSec);
            words++;
          }
        }),
        filter(() => false),
      ),
      { defaultValue: undefined },
    );
    wordsOut.pushSample([END_MARKER], base + plan.totalSec);
    // Let the inlets drain before the sockets close.
    await new Promise((r) => setTimeout(r, 500));
    return { command: 'publish', meg: a.name, words: wordsName, channels: names.length, sfreqHz: h0.sfreqHz, samplesPushed: samples, wordsPushed: words, sourceSeconds: plan.totalSec, wallSeconds: (performance.now() - t0) / 1000 };
  } finally {
    await megOut.close();
    await wordsOut.close();
    await closeSubjectRecordings(subject);
  }
}

export function registerPublishCommand(program: Command): void {
  const cmd = program
    .command('publish')
    .description('Play a BIDS recording out as an LSL MEG stream plus a word-marker stream (rehearse `lockstep live` without a scanner).')
    .argument('<bids-root>', 'BIDS dataset root (e.g. written by `lockstep simulate`)');
  addSubjectOptions(cmd, 1)
    .option('--name <name>', 'MEG stream name (the markers are "<name>-words")', 'lockstep-MEG')
    .option('--wait <s>', 'wait for an inlet on both streams before playing', nonNegative, 30)
    .option('--multicast', "also answer liblsl's multicast discovery (labs)")
    .option('--json', 'print one JSON object at the end')
    .option('--quiet', 'no progress on stderr')
    .action(async (root: string, o) => {
        const r = await runPublish({
          root,
          subject: o.subject,
          sessions: o.session,
          task: o.task,
          run: o.run,
          speed: o.speed,
          name: o.name,
          waitSec: o.wait,
          quiet: Boolean(o.quiet),
          network: networkConfigFromEnv(process.env, o.multicast ? { multicast: true, listenAddress: '0.0.0.0' } : {}),
        });
        if (o.json) process.stdout.write(`${JSON.stringify(r)}\n`);
        else process.stdout.write(`published ${countOf(r.samplesPushed, 'sample')} and ${countOf(r.wordsPushed, 'word')} (${(r.sourceSeconds / 60).toFixed(1)} min in ${r.wallSeconds.toFixed(1)} s)\n`);
    });
}
