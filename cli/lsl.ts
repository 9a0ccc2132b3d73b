/**
 * `lockstep lsl list|pull|push`: console tools for Lab Streaming Layer streams, interoperable with
 * any liblsl peer (pylsl, MNE-LSL, LabRecorder).
 *
 *  - `list` resolves the streams visible with the network configuration and prints them.
 *  - `pull` connects to a stream by name, reads for a while and prints one JSON summary: count,
 *    first/last samples, timestamp gaps, time correction, and — when the stream carries lockstep's
 *    counting signal — how many samples were lost.
 *  - `push` publishes the counting signal: value = channel × 1000 + sample index (wrapping like the
 *    format's integer type for int8/int16/int32), so any peer can check what it receives.
 *
 * Network: loopback unicast by default; `--multicast` / `--peers` (or LOCKSTEP_LSL_MULTICAST=1,
 * LOCKSTEP_LSL_PEERS) switch to liblsl's lab behaviour (adapters/lsl/config.ts).
 * Owns: argument handling and printing. Must not: implement protocol details (adapters/lsl).
 */
import { Command, Option } from 'commander';
import { positive, positiveInt } from './options.js';
import { allocate, cellValue, type ChannelFormat, type ChunkData } from '../adapters/lsl/channelFormat.js';
import type { LslChunk } from '../adapters/lsl/chunk.js';
import { localClock } from '../adapters/lsl/clock.js';
import { networkConfigFromEnv, splitList, type LslNetworkConfig } from '../adapters/lsl/config.js';
import { StreamInlet, type StateChange } from '../adapters/lsl/inlet.js';
import { StreamOutlet } from '../adapters/lsl/outlet.js';
import { resolveByProp, resolveStreams } from '../adapters/lsl/resolver.js';
import { StreamInfo } from '../adapters/lsl/streamInfo.js';
import { countOf } from './format.js';

const PUSH_FORMATS = ['float32', 'double64', 'int8', 'int16', 'int32', 'int64', 'string'] as const;


function networkOptions(cmd: Command): Command {
  return cmd
    .option('--multicast', "also use liblsl's multicast/broadcast discovery and listen on all interfaces (real labs; default: loopback only)")
    .option('--peers <hosts>', 'comma-separated hosts queried by unicast, like liblsl KnownPeers');
}

function networkConfig(o: { multicast?: boolean; peers?: string }): LslNetworkConfig {
  const env = networkConfigFromEnv(process.env, o.multicast ? { multicast: true } : {});
  if (o.peers) env.unicastHosts = [...new Set([...env.unicastHosts, ...splitList(o.peers)])];
  return env;
}

function describeInfo(s: StreamInfo) {
  return {
    name: s.name,
    type: s.type,
    channelCount: s.channelCount,
    channelFormat: s.channelFormat,
    nominalSrate: s.nominalSrate,
    sourceId: s.sourceId,
    uid: s.uid,
    hostname: s.hostname,
    sessionId: s.sessionId,
    address: s.v4address,
    dataPort: s.v4dataPort,
    servicePort: s.v4servicePort,
    createdAt: s.createdAt,
  };
}

/** The counting test signal's value for (channel, sample index), before the format's own wrapping. */
export function countingValue(channel: number, index: number): number {
  return channel * 1000 + index;
}

/** Fills a chunk of the counting signal for samples first…first+n−1 in the format's array type. */
export function countingChunk(format: ChannelFormat, nChannels: number, first: number, n: number): ChunkData {
  const data = allocate(format, n * nChannels);
  for (let s = 0; s < n; s++) {
    for (let k = 0; k < nChannels; k++) {
      const v = countingValue(k, first + s);
      const i = s * nChannels + k;
      if (format === 'string') (data as string[])[i] = String(v);
      else if (format === 'int64') (data as BigInt64Array)[i] = BigInt(v);
      else (data as Float32Array)[i] = v; // typed-array assignment wraps integers like C casts
    }
  }
  return data;
}

/** Checks received samples against the counting signal: the sample index of each row, or null if a row is not counting. */
export class CountingChecker {
  private expected: ChunkData;
  nextIndex: number | null = null;
  lost = 0;
  mismatches = 0;
  checked = 0;
  firstIndex: number | null = null;
  constructor(
    private format: ChannelFormat,
    private nChannels: number,
  ) {
    this.expected = allocate(format, nChannels);
  }

  /** Index encoded in channel 0 (the index itself, wrapped by the format). */
  private indexOf(chunk: LslChunk, s: number): number {
    return Number(cellValue(chunk.data, s * this.nChannels));
  }

  push(chunk: LslChunk): void {
    const wrap = this.format === 'int8' ? 256 : this.format === 'int16' ? 65536 : 0;
    for (let s = 0; s < chunk.nSamples; s++) {
      let idx = this.indexOf(chunk, s);
      if (Number.isNaN(idx)) {
        this.mismatches++;
        continue;
      }
      if (wrap && this.nextIndex !== null) {
        // Unwrap: the index closest to (and not before) the expected one with the same residue.
        const r = (((idx - this.nextIndex) % wrap) + wrap) % wrap;
        idx = this.nextIndex + r;
      }
      const row = countingChunk(this.format, this.nChannels, idx, 1);
      let ok = true;
      for (let k = 0; k < this.nChannels; k++) if (row[k] !== chunk.data[s * this.nChannels + k]) ok = false;
      this.checked++;
      if (!ok) {
        this.mismatches++;
        continue;
      }
      if (this.firstIndex === null) this.firstIndex = idx;
      if (this.nextIndex !== null && idx > this.nextIndex) this.lost += idx - this.nextIndex;
      this.nextIndex = idx + 1;
    }
  }
}

function sampleJson(chunk: LslChunk, s: number) {
  const values: (number | string)[] = [];
  for (let k = 0; k < chunk.nChannels; k++) values.push(cellValue(chunk.data, s * chunk.nChannels + k));
  return { timestamp: chunk.timestamps[s]!, values };
}

export interface PullSummary {
  stream: ReturnType<typeof describeInfo>;
  channelFormat: ChannelFormat;
  count: number;
  first: { timestamp: number; values: (number | string)[] } | null;
  last: { timestamp: number; values: (number | string)[] } | null;
  /** Timestamp steps longer than 1.5 sample periods (regular streams only). */
  gaps: { afterTimestamp: number; spanSec: number; missingSamples: number }[];
  timeCorrection: number | null;
  clockUncertainty: number | null;
  counting: { isCountingSignal: boolean; firstIndex: number | null; lost: number; mismatches: number };
  states: { state: string; atLocal: number; reason?: string }[];
  seconds: number;
}

export async function runPull(o: { name: string; seconds: number; timeout: number; network: LslNetworkConfig; quiet: boolean }): Promise<PullSummary> {
  const found = await resolveByProp('name', o.name, { timeoutSec: o.timeout, config: o.network });
  if (found.length === 0) throw new Error(`lsl pull: no stream named "${o.name}" answered within ${o.timeout} s (run "lockstep lsl list"; on another host use --peers or --multicast)`);
  const info = found[0]!;
  const inlet = new StreamInlet(info, { config: o.network });
  const states: PullSummary['states'] = [];
  inlet.on('state', (c: StateChange) => {
    states.push({ state: c.state, atLocal: c.atLocal, ...(c.reason ? { reason: c.reason } : {}) });
    if (!o.quiet) process.stderr.write(`lsl pull: ${c.state}${c.reason ? ` (${c.reason})` : ''}\n`);
  });
  const checker = new CountingChecker(info.channelFormat, info.channelCount);
  let first: PullSummary['first'] = null;
  let last: PullSummary['last'] = null;
  let count = 0;
  const gaps: PullSummary['gaps'] = [];
  const dt = info.nominalSrate > 0 ? 1 / info.nominalSrate : 0;
  let prevTs: number | null = null;
  try {
    await inlet.open(o.timeout);
    void inlet.timeCorrection(o.timeout).catch(() => {});
    const end = localClock() + o.seconds;
    while (localClock() < end && inlet.state !== 'lost') {
      const chunk = await inlet.pullChunk({ timeoutSec: Math.min(0.1, Math.max(0, end - localClock())) });
      if (chunk.nSamples === 0) continue;
      if (first === null) first = sampleJson(chunk, 0);
      last = sampleJson(chunk, chunk.nSamples - 1);
      for (let s = 0; s < chunk.nSamples; s++) {
        const t = chunk.timestamps[s]!;
        if (dt > 0 && prevTs !== null && t - prevTs > 1.5 * dt) gaps.push({ afterTimestamp: prevTs, spanSec: t - prevTs, missingSamples: Math.round((t - prevTs) / dt) - 1 });
        prevTs = t;
      }
      count += chunk.nSamples;
      checker.push(chunk);
    }
    const est = inlet.clockEstimate();
    return {
      stream: describeInfo(info),
      channelFormat: info.channelFormat,
      count,
      first,
      last,
      gaps,
      timeCorrection: est?.timeCorrection ?? null,
      clockUncertainty: est?.uncertainty ?? null,
      counting: { isCountingSignal: count > 0 && checker.mismatches === 0, firstIndex: checker.firstIndex, lost: checker.lost, mismatches: checker.mismatches },
      states,
      seconds: o.seconds,
    };
  } finally {
    inlet.close();
  }
}

export interface PushArgs {
  name: string;
  channels: number;
  rate: number;
  format: ChannelFormat;
  seconds: number | undefined;
  type: string;
  sourceId: string;
  chunkMs: number;
  network: LslNetworkConfig;
  quiet: boolean;
  signal?: AbortSignal;
}

export interface PushSummary {
  stream: ReturnType<typeof describeInfo>;
  pushed: number;
  seconds: number;
  cpuUserSec: number;
  cpuSystemSec: number;
}

/** Publishes the counting signal in real time until `seconds` pass or `signal` aborts. */
export async function runPush(a: PushArgs): Promise<PushSummary> {
  const info = new StreamInfo({ name: a.name, type: a.type, channelCount: a.channels, nominalSrate: a.rate, channelFormat: a.format, sourceId: a.sourceId });
  info.setChannels(Array.from({ length: a.channels }, (_, k) => ({ label: `ch${k}`, unit: 'counts', type: a.type || 'misc' })));
  info.desc().children.push({ name: 'lockstep', text: '', attributes: {}, children: [{ name: 'signal', text: 'value = channel*1000 + sample index', attributes: {}, children: [] }] });
  const outlet = await StreamOutlet.open(info, { config: a.network });
  const cpu0 = process.cpuUsage();
  const t0 = localClock();
  if (!a.quiet) process.stderr.write(`lsl push: "${a.name}" ${a.channels} × ${a.format} at ${a.rate} Hz on ${a.network.listenAddress}:${outlet.info.v4dataPort} (uid ${outlet.info.uid})\n`);
  let pushed = 0;
  let lastReport = t0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = localClock();
      const elapsed = now - t0;
      const due = Math.floor((a.seconds !== undefined ? Math.min(elapsed, a.seconds) : elapsed) * a.rate) + 1 - pushed;
      if (due > 0) {
        const n = due;
        outlet.pushChunk(countingChunk(a.format, a.channels, pushed, n), t0 + (pushed + n - 1) / a.rate);
        pushed += n;
      }
      if (!a.quiet && now - lastReport >= 5) {
        lastReport = now;
        process.stderr.write(`lsl push: ${countOf(pushed, 'sample')}, ${outlet.haveConsumers() ? 'consumers connected' : 'no consumers'}\n`);
      }
      if ((a.seconds !== undefined && elapsed >= a.seconds) || a.signal?.aborted) {
        clearInterval(timer);
        resolve();
      }
    };
    const timer = setInterval(tick, a.chunkMs);
    a.signal?.addEventListener('abort', () => tick());
  });
  const cpu = process.cpuUsage(cpu0);
  const summary = { stream: describeInfo(outlet.info), pushed, seconds: localClock() - t0, cpuUserSec: cpu.user / 1e6, cpuSystemSec: cpu.system / 1e6 };
  // Let the last chunk reach the sockets before closing.
  await new Promise((r) => setTimeout(r, 50));
  await outlet.close();
  return summary;
}

export function registerLslCommand(program: Command): void {
  const lsl = program.command('lsl').description('Lab Streaming Layer tools (protocol 1.10, interoperable with liblsl/pylsl/LabRecorder). Loopback only unless --multicast or --peers.');

  networkOptions(
    lsl
      .command('list')
      .description('List the LSL streams that answer discovery.')
      .option('--timeout <S>', 'seconds to wait for replies', positive, 1)
      .option('--json', 'print one JSON object'),
  ).action(async (o) => {
    const streams = await resolveStreams(o.timeout, networkConfig(o));
    const list = streams.map(describeInfo).sort((x, y) => x.name.localeCompare(y.name));
    if (o.json) process.stdout.write(`${JSON.stringify({ streams: list })}\n`);
    else if (list.length === 0) process.stdout.write('no LSL streams found\n');
    else for (const s of list) process.stdout.write(`${s.name}\t${s.type}\t${s.channelCount} × ${s.channelFormat} @ ${s.nominalSrate} Hz\tsource_id=${s.sourceId}\t${s.hostname} ${s.address}:${s.dataPort}\n`);
  });

  networkOptions(
    lsl
      .command('pull')
      .description('Read a stream by name for a while and print a summary (count, first/last sample, gaps, time correction, lost counting samples).')
      .requiredOption('--name <N>', '(required) stream name')
      .option('--seconds <S>', 'how long to read', positive, 5)
      .option('--timeout <S>', 'seconds to wait for the stream to appear', positive, 5)
      .option('--json', 'print one JSON object')
      .option('--quiet', 'no progress on stderr'),
  ).action(async (o) => {
    const s = await runPull({ name: o.name, seconds: o.seconds, timeout: o.timeout, network: networkConfig(o), quiet: Boolean(o.quiet) });
    if (o.json) process.stdout.write(`${JSON.stringify(s)}\n`);
    else
      process.stdout.write(
        `${s.stream.name}: ${countOf(s.count, 'sample')} in ${s.seconds} s, ${countOf(s.gaps.length, 'gap')}, time correction ${s.timeCorrection ?? 'n/a'} s` +
          `${s.counting.isCountingSignal ? `, counting signal: ${s.counting.lost} lost` : ''}\n`,
      );
  });

  networkOptions(
    lsl
      .command('push')
      .description('Publish a counting test signal (value = channel × 1000 + sample index) that any LSL peer can check.')
      .requiredOption('--name <N>', '(required) stream name')
      .requiredOption('--channels <C>', '(required) channel count', positiveInt)
      .requiredOption('--rate <R>', '(required) nominal sampling rate, Hz', positive)
      .addOption(new Option('--format <F>', 'channel format').choices([...PUSH_FORMATS]).default('float32'))
      .option('--seconds <S>', 'stop after this long (default: until interrupted)', positive)
      .option('--type <T>', 'stream type', 'EEG')
      .option('--source-id <ID>', 'source_id (lets inlets recover after a restart)')
      .option('--chunk-ms <ms>', 'push interval', positive, 10)
      .option('--json', 'print one JSON summary at the end')
      .option('--quiet', 'no progress on stderr'),
  ).action(async (o) => {
    const ac = new AbortController();
    const stop = (): void => ac.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const s = await runPush({
      name: o.name,
      channels: o.channels,
      rate: o.rate,
      format: o.format as ChannelFormat,
      seconds: o.seconds,
      type: o.type,
      sourceId: o.sourceId ?? `lockstep-push-${o.name}`,
      chunkMs: o.chunkMs,
      network: networkConfig(o),
      quiet: Boolean(o.quiet),
      signal: ac.signal,
    });
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    if (o.json) process.stdout.write(`${JSON.stringify(s)}\n`);
    else process.stdout.write(`pushed ${countOf(s.pushed, 'sample')} in ${s.seconds.toFixed(1)} s\n`);
  });
}
