/**
 * `lockstep present --bank <dir>`: the closed loop's presenter. It reads the controller's decisions
 * from the `lockstep-control` LSL stream (one JSON object per decision), plays each chosen passage
 * (aplay, or `--no-audio` for the silent schedule) and publishes the word and passage markers on
 * its own LSL stream (`lockstep-words` by default), stamped at each word's audio onset; on a stop
 * decision it sends `#end` and exits. The same loop runs in-process in `closed-loop --simulate`.
 *
 * Owns: the decision → passage loop and its result (passages, marker timing). Must not: schedule
 * markers (adapters/presenter) or decide anything.
 */
import type { Command } from 'commander';
import { networkConfigFromEnv, type LslNetworkConfig } from '../adapters/lsl/config.js';
import { StreamInlet } from '../adapters/lsl/inlet.js';
import { StreamOutlet } from '../adapters/lsl/outlet.js';
import { resolveByProp, resolveQuery } from '../adapters/lsl/resolver.js';
import { StreamInfo } from '../adapters/lsl/streamInfo.js';
import { openPassageBank, type PassageBank } from '../adapters/bank/passageBank.js';
import { AplayAudio, SilentAudio, type AudioOutput } from '../adapters/presenter/audioOutput.js';
import { markerTiming, Presenter, type PlayReport, type PresenterClock } from '../adapters/presenter/presenter.js';
import { SessionClock } from '../replay/sessionClock.js';
import { END_MARKER } from '../src/live/wordMarker.js';
import { InputError } from './errors.js';
import { nonNegative, positive } from './options.js';

/** A decision as `lockstep-control` carries it (the fields the presenter reads). */
export interface ControlMessage {
  schema: string;
  seq: number;
  action: 'play' | 'stop';
  passage?: string;
  reason: string;
}

export interface PresentArgs {
  bank: PassageBank;
  /** The decision stream: a name, an LSL query, or a resolved StreamInfo. */
  control: string | StreamInfo;
  /** Name and source_id of the marker stream this presenter publishes. */
  markersName: string;
  markersSourceId?: string;
  audio: AudioOutput;
  clock: PresenterClock;
  resolveTimeoutSec: number;
  network?: Partial<LslNetworkConfig>;
  quiet: boolean;
  /** Once the marker outlet exists. */
  onMarkersOutlet?: (info: StreamInfo) => void;
  /** Ends the loop (the marker stream then gets #end). */
  signal?: AbortSignal;
  /** Each passage's marker schedule, once fixed (before its first marker is pushed). */
  onScheduled?: (markers: ReadonlyArray<{ text: string; at: number }>) => void;
}

export interface PresentResult {
  command: 'present';
  bank: string;
  markers: string;
  audio: string;
  passages: Array<{ passage: string; startSec: number; endSec: number; words: number }>;
  stopped: { reason: string; atSec: number };
  /** How late each marker was pushed after its timestamp (wall ms); timestamps are the schedule itself. */
  markerTiming: ReturnType<typeof markerTiming>;
  reports: PlayReport[];
}

export async function runPresent(a: PresentArgs): Promise<PresentResult> {
  const log = (line: string) => !a.quiet && process.stderr.write(`${line}\n`);
  const bank = a.bank;
  const byId = new Map(bank.summary.passages.map((p) => [p.id, p]));
  const info = new StreamInfo({ name: a.markersName, type: 'Markers', channelCount: 1, nominalSrate: 0, channelFormat: 'string', sourceId: a.markersSourceId ?? `lockstep-present-${a.markersName}` });
  const outlet = await StreamOutlet.open(info, { config: a.network });
  a.onMarkersOutlet?.(info);
  let inlet: StreamInlet | null = null;
  const reports: PlayReport[] = [];
  let stopped = { reason: 'control-lost', atSec: 0 };
  try {
    const controlInfo = typeof a.control !== 'string' ? a.control : await resolveControl(a.control, a.resolveTimeoutSec, a.network);
    if (controlInfo.channelFormat !== 'string') throw new InputError(`LSL stream "${controlInfo.name}" carries ${controlInfo.channelFormat}; the control stream carries JSON strings`);
    inlet = new StreamInlet(controlInfo, { recover: true, config: a.network });
    await inlet.open(a.resolveTimeoutSec);
    log(`present: decisions from "${controlInfo.name}", markers on "${a.markersName}", ${bank.label}, audio: ${a.audio.label}`);
    const presenter = new Presenter({ clock: a.clock, markers: outlet, audio: a.audio, onScheduled: a.onScheduled });
    const aborted = new Promise<null>((resolve) => a.signal?.addEventListener('abort', () => resolve(null), { once: true }));
    for (;;) {
      if (a.signal?.aborted) {
        stopped = { reason: 'aborted', atSec: a.clock.now() };
        break;
      }
      const sample = await Promise.race([inlet.pullSample(), aborted]).catch(() => null);
      if (!sample) {
        stopped = { reason: a.signal?.aborted ? 'aborted' : 'control-lost', atSec: a.clock.now() };
        break;
      }
      let msg: ControlMessage;
      try {
        msg = JSON.parse(String(sample.values[0])) as ControlMessage;
      } catch {
        log(`present: skipped a control message that is not JSON: ${String(sample.values[0]).slice(0, 80)}`);
        continue;
      }
      if (msg.action === 'stop') {
        stopped = { reason: msg.reason, atSec: a.clock.now() };
        log(`present: stop (${msg.reason})`);
        break;
      }
      const p = msg.passage !== undefined ? byId.get(msg.passage) : undefined;
      if (!p) {
        log(`present: decision ${msg.seq} names passage ${JSON.stringify(msg.passage)}, which is not in the bank; waiting for the next`);
        continue;
      }
      const words = bank.summary.words.slice(p.firstWord, p.firstWord + p.nWords);
      const report = await presenter.play({ id: p.id, words, durationSec: p.durationSec, audioPath: bank.audioPath(p.ordinal) });
      reports.push(report);
      log(`present: played ${p.id} (${p.nWords} words, ${p.durationSec.toFixed(1)} s)`);
    }
    outlet.pushSample([END_MARKER], a.clock.now());
    // Let the inlets drain before the socket closes.
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    inlet?.close();
    await outlet.close();
  }
  const all = reports.flatMap((r) => r.markers);
  return {
    command: 'present',
    bank: bank.label,
    markers: a.markersName,
    audio: a.audio.label,
    passages: reports.map((r) => ({ passage: r.passage, startSec: r.startSec, endSec: r.endSec, words: r.markers.length - 2 })),
    stopped,
    markerTiming: markerTiming(all, a.clock.speed),
    reports,
  };
}

async function resolveControl(what: string, timeoutSec: number, config: Partial<LslNetworkConfig> | undefined): Promise<StreamInfo> {
  const isQuery = /[=<>()]/.test(what);
  const found = isQuery ? await resolveQuery(what, { timeoutSec, config, minimum: 1 }) : await resolveByProp('name', what, { timeoutSec, config, minimum: 1 });
  if (found.length === 0) throw new InputError(`no LSL control stream ${isQuery ? `matches ${what}` : `named "${what}"`} within ${timeoutSec} s: start \`lockstep closed-loop\` first (\`lockstep lsl list\` shows what is visible)`);
  if (found.length > 1 && new Set(found.map((f) => f.sourceId || f.uid)).size > 1) {
    throw new InputError(`${found.length} LSL streams match "${what}": give a query that picks one, e.g. "name='${found[0].name}' and source_id='${found[0].sourceId}'"`);
  }
  return found[0];
}

export function registerPresentCommand(program: Command): void {
  program
    .command('present')
    .description('Closed-loop presenter: plays the passages the controller chooses (from the lockstep-control LSL stream) and publishes word markers ("<index>\\t<word>") stamped at each word\'s audio onset, plus passage start/end markers.')
    .requiredOption('--bank <dir>', '(required) the passage bank (lockstep bank build)')
    .option('--control <name|query>', 'the controller\'s decision stream', 'lockstep-control')
    .option('--name <name>', 'name of the marker stream this presenter publishes', 'lockstep-words')
    .option('--no-audio', 'publish the schedule without playing audio (silent)')
    .option('--audio-device <name>', 'ALSA device for aplay (default: the default device; "null" discards)')
    .option('--audio-latency-ms <ms>', 'output latency of the audio device, added to every marker (measure it with a hardware loopback)', nonNegative, 0)
    .option('--resolve-timeout <s>', 'how long to look for the control stream', positive, 30)
    .option('--multicast', "also discover with liblsl's multicast/broadcast targets (labs)")
    .option('--json', 'print one JSON object at the end')
    .option('--quiet', 'no progress on stderr')
    .action(async (o) => {
      const bank = openPassageBank(o.bank);
      const audio: AudioOutput = o.audio ? new AplayAudio(o.audioDevice, o.audioLatencyMs / 1000) : new SilentAudio();
      const r = await runPresent({
        bank,
        control: o.control,
        markersName: o.name,
        audio,
        clock: new SessionClock(1),
        resolveTimeoutSec: o.resolveTimeout,
        network: networkConfigFromEnv(process.env, o.multicast ? { multicast: true, listenAddress: '0.0.0.0' } : {}),
        quiet: Boolean(o.quiet),
      });
      const { reports: _reports, ...summary } = r;
      if (o.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
      else {
        const t = r.markerTiming;
        process.stdout.write(`presented ${r.passages.length} passages (${r.stopped.reason}); markers pushed ${t.p50Ms?.toFixed(3) ?? '–'} ms (median) / ${t.p99Ms?.toFixed(3) ?? '–'} ms (p99) after their timestamps\n`);
      }
    });
}
