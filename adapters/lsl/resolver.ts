/**
 * Resolving streams (doc §3.1–3.2): send `LSL:shortinfo` queries in waves to the configured
 * discovery targets, collect replies, dedupe by uid, and take each outlet's address from the
 * reply's source IP. pylsl's `resolve_streams` / `resolve_byprop` / `resolve_bypred`.
 *
 * Owns: the resolver socket and its waves. Must not: choose targets (config.ts) or connect to
 * streams (inlet.ts). Multicast/broadcast sends happen only when the config says `multicast`.
 */
import dgram from 'node:dgram';
import os from 'node:os';
import { discoveryTargets, isLoopback, resolveConfig, type DiscoveryTarget, type LslNetworkConfig } from './config.js';
import { encodeShortinfoQuery, parseShortinfoReply } from './discoveryPackets.js';
import { predicateQuery, propQuery, queryId } from './query.js';
import { StreamInfo } from './streamInfo.js';

/** Set in tests: any send to a non-loopback address throws instead of leaving the machine. */
export function assertSendAllowed(address: string): void {
  if (process.env.LOCKSTEP_LSL_LOOPBACK_ONLY === '1' && !isLoopback(address)) {
    throw new Error(`LSL: refusing to send to ${address}: LOCKSTEP_LSL_LOOPBACK_ONLY=1 allows only 127.0.0.0/8`);
  }
}

export interface ResolveOptions {
  /** Stop after this long, seconds (default 1 for resolveStreams, forever for byProp with minimum ≥ 1). */
  timeoutSec?: number;
  /** Return as soon as this many distinct streams are known (0 = always wait the full timeout). */
  minimum?: number;
  /** …but not before this long (liblsl's minimum_time), seconds. */
  minimumTimeSec?: number;
  config?: Partial<LslNetworkConfig>;
  signal?: AbortSignal;
}

/** Streams answering `query` (an XPath predicate, sent as is). */
export async function resolveQuery(query: string, options: ResolveOptions = {}): Promise<StreamInfo[]> {
  const config = resolveConfig(options.config);
  const timeoutMs = (options.timeoutSec ?? 1) * 1000;
  const minimum = options.minimum ?? 0;
  const minimumMs = (options.minimumTimeSec ?? 0) * 1000;
  const targets = discoveryTargets(config);
  const allLoopback = targets.every((t) => isLoopback(t.address));
  const id = queryId(query);
  const found = new Map<string, StreamInfo>();
  const started = Date.now();
  const sockets = new Map<string, dgram.Socket>();

  const recv = dgram.createSocket({ type: 'udp4' });
  await new Promise<void>((resolve, reject) => {
    recv.once('error', reject);
    recv.bind(0, allLoopback ? '127.0.0.1' : '0.0.0.0', () => {
      recv.off('error', reject);
      resolve();
    });
  });
  const returnPort = recv.address().port;
  const packet = encodeShortinfoQuery({ query, returnPort, queryId: id });

  return new Promise<StreamInfo[]>((resolve) => {
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearInterval(wave);
      clearTimeout(timer);
      clearInterval(checker);
      options.signal?.removeEventListener('abort', finish);
      recv.close();
      for (const s of sockets.values()) s.close();
      resolve([...found.values()]);
    };
    const check = (): void => {
      if (minimum > 0 && found.size >= minimum && Date.now() - started >= minimumMs) finish();
    };
    recv.on('message', (msg, rinfo) => {
      const reply = parseShortinfoReply(msg);
      if (!reply || reply.queryId !== id) return;
      let info: StreamInfo;
      try {
        info = StreamInfo.fromXml(reply.xml, `shortinfo from ${rinfo.address}:${rinfo.port}`);
      } catch {
        return; // liblsl ignores replies it cannot parse
      }
      const known = found.get(info.uid);
      if (known) return; // the first reply's address wins
      if (!info.v4address) info.v4address = rinfo.address;
      found.set(info.uid, info);
      check();
    });
    recv.on('error', () => finish());
    const sendWave = (): void => {
      for (const t of targets) sendTo(t, packet, sockets, recv);
    };
    sendWave();
    const wave = setInterval(sendWave, config.resolveWaveIntervalSec * 1000);
    const checker = setInterval(check, 20);
    const timer = setTimeout(finish, Number.isFinite(timeoutMs) ? timeoutMs : 2 ** 31 - 1);
    options.signal?.addEventListener('abort', finish);
  });
}

function sendTo(t: DiscoveryTarget, packet: Buffer, sockets: Map<string, dgram.Socket>, unicast: dgram.Socket): void {
  assertSendAllowed(t.address);
  const ignore = (): void => {};
  if (t.via === 'unicast') {
    unicast.send(packet, t.port, t.address, ignore);
    return;
  }
  // Multicast/broadcast (labs only): one socket per outbound interface, as liblsl does.
  for (const iface of multicastInterfaces()) {
    const key = `${t.via}:${iface}`;
    let s = sockets.get(key);
    if (!s) {
      s = dgram.createSocket({ type: 'udp4', reuseAddr: true });
      const sock = s;
      sock.on('error', ignore);
      sockets.set(key, sock);
      sock.bind(0, () => {
        try {
          if (t.via === 'broadcast') sock.setBroadcast(true);
          else {
            sock.setMulticastTTL(t.ttl ?? 24);
            sock.setMulticastInterface(iface);
          }
        } catch {
          /* an interface that refuses is skipped */
        }
      });
    }
    s.send(packet, t.port, t.address, ignore);
  }
}

/** IPv4 addresses of the local interfaces (liblsl uses those that are UP and MULTICAST). */
export function multicastInterfaces(): string[] {
  const out: string[] = [];
  for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4') out.push(a.address);
  return out.length ? out : ['0.0.0.0'];
}

/** All streams on the network (pylsl `resolve_streams(wait_time)`): waits the full `waitSec`. */
export function resolveStreams(waitSec = 1, config?: Partial<LslNetworkConfig>): Promise<StreamInfo[]> {
  return resolveQuery(propQuery(resolveConfig(config).sessionId), { timeoutSec: waitSec, minimum: 0, config });
}

/** Streams whose `prop` (an info field: name, type, source_id, …) equals `value` (pylsl `resolve_byprop`). */
export function resolveByProp(prop: string, value: string, options: ResolveOptions = {}): Promise<StreamInfo[]> {
  const session = resolveConfig(options.config).sessionId;
  return resolveQuery(propQuery(session, prop, value), { minimum: 1, timeoutSec: Infinity, ...options });
}

/** Streams matching an XPath predicate (pylsl `resolve_bypred`). */
export function resolveByPredicate(predicate: string, options: ResolveOptions = {}): Promise<StreamInfo[]> {
  const session = resolveConfig(options.config).sessionId;
  return resolveQuery(predicateQuery(session, predicate), { minimum: 1, timeoutSec: Infinity, ...options });
}
