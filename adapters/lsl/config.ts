/**
 * The LSL network configuration: where discovery queries go, which ports outlets bind, and the
 * timing constants of resolve waves, clock sync and stall detection — one object, so that what a
 * process may send on the network is decided in one place.
 *
 * Owns: `LslNetworkConfig`, its loopback-safe default, the lab (multicast) opt-in from the
 * environment, and the list of discovery targets a resolver would send to.
 * Must not: open sockets (discovery.ts and outlet.ts do), or read liblsl's lsl_api.cfg.
 *
 * Defaults, compared with liblsl (protocol doc §2):
 *  - liblsl sends every discovery query to 127.0.0.1 and the link/site multicast and broadcast
 *    groups (255.255.255.255, 224.0.0.1, 224.0.0.183, 239.255.172.215, TTL 24) on port 16571,
 *    and to every service port 16572…16603 of each `KnownPeers` host.
 *  - lockstep by default sends only unicast to 127.0.0.1 (port 16571 and the service ports
 *    16572…16603, as liblsl does for KnownPeers, so several local outlets are all found), and its
 *    outlets listen on 127.0.0.1 only. Nothing leaves the machine.
 *  - A lab enables liblsl's full behaviour with `multicast: true` (CLI `--multicast`, or the
 *    environment variable `LOCKSTEP_LSL_MULTICAST=1`): queries also go to the broadcast/multicast
 *    groups, outlets listen on 0.0.0.0 and join the groups. `LOCKSTEP_LSL_PEERS=host1,host2` (CLI
 *    `--peers`) adds unicast peers, like liblsl's `lab.KnownPeers`.
 */

/** liblsl's default discovery port (`ports.MulticastPort`). */
export const LSL_MULTICAST_PORT = 16571;
/** liblsl's service/data port range: 16572…16603 (`ports.BasePort`, `ports.PortRange`). */
export const LSL_BASE_PORT = 16572;
export const LSL_PORT_RANGE = 32;

/** liblsl's IPv4 discovery groups for scope `site` (its default), broadcast first. */
export const LIBLSL_IPV4_MULTICAST_ADDRESSES: readonly string[] = ['255.255.255.255', '224.0.0.1', '224.0.0.183', '239.255.172.215'];
/** liblsl's multicast TTL for scope `site`. */
export const LIBLSL_SITE_TTL = 24;

export interface LslNetworkConfig {
  /** Hosts queried by unicast, on the discovery port and every service port (liblsl: 127.0.0.1 + KnownPeers). */
  unicastHosts: string[];
  /** Also query liblsl's broadcast/multicast groups, and let outlets join them (real labs only). */
  multicast: boolean;
  /** The broadcast/multicast group addresses used when `multicast` is true. */
  multicastAddresses: string[];
  /** TTL of multicast queries. */
  multicastTtl: number;
  /** Discovery port (16571). */
  multicastPort: number;
  /** First service/data port (16572) and how many to try (32). */
  basePort: number;
  portRange: number;
  /** Fall back to an OS-chosen port when the range is full (liblsl's AllowRandomPorts). */
  allowRandomPorts: boolean;
  /** Address outlets bind (TCP data, UDP service, discovery responder). */
  listenAddress: string;
  /** liblsl's `lab.SessionID`: written into outlets' info and into every generated query. */
  sessionId: string;
  /** Seconds between resolve waves, and the lifetime of one wave (liblsl 0.5 / 3.0). */
  resolveWaveIntervalSec: number;
  /** Clock sync (doc §10): round period, probes per round, spacing, max RTT, min replies. */
  timeUpdateIntervalSec: number;
  timeProbeCount: number;
  timeProbeIntervalSec: number;
  timeProbeMaxRttSec: number;
  timeUpdateMinProbes: number;
}

/** The loopback-safe default: unicast to 127.0.0.1 only, outlets on 127.0.0.1. */
export function defaultNetworkConfig(): LslNetworkConfig {
  return {
    unicastHosts: ['127.0.0.1'],
    multicast: false,
    multicastAddresses: [...LIBLSL_IPV4_MULTICAST_ADDRESSES],
    multicastTtl: LIBLSL_SITE_TTL,
    multicastPort: LSL_MULTICAST_PORT,
    basePort: LSL_BASE_PORT,
    portRange: LSL_PORT_RANGE,
    allowRandomPorts: true,
    listenAddress: '127.0.0.1',
    sessionId: 'default',
    resolveWaveIntervalSec: 0.5,
    timeUpdateIntervalSec: 2.0,
    timeProbeCount: 8,
    timeProbeIntervalSec: 0.064,
    timeProbeMaxRttSec: 0.128,
    timeUpdateMinProbes: 6,
  };
}

/** liblsl's behaviour for a lab network: multicast + broadcast discovery, outlets on every interface. */
export function labNetworkConfig(): LslNetworkConfig {
  return { ...defaultNetworkConfig(), multicast: true, listenAddress: '0.0.0.0' };
}

/**
 * The configuration a CLI process uses: the loopback default, unless the environment opts in
 * (`LOCKSTEP_LSL_MULTICAST=1`, `LOCKSTEP_LSL_PEERS=a,b`, `LOCKSTEP_LSL_LISTEN=addr`,
 * `LOCKSTEP_LSL_SESSION=id`), then explicit overrides (CLI options) on top.
 */
export function networkConfigFromEnv(env: NodeJS.ProcessEnv = process.env, overrides: Partial<LslNetworkConfig> = {}): LslNetworkConfig {
  const multicastVar = env.LOCKSTEP_LSL_MULTICAST?.trim().toLowerCase();
  const base = multicastVar === '1' || multicastVar === 'true' || multicastVar === 'yes' ? labNetworkConfig() : defaultNetworkConfig();
  if (env.LOCKSTEP_LSL_PEERS) base.unicastHosts = uniq([...base.unicastHosts, ...splitList(env.LOCKSTEP_LSL_PEERS)]);
  if (env.LOCKSTEP_LSL_LISTEN) base.listenAddress = env.LOCKSTEP_LSL_LISTEN.trim();
  if (env.LOCKSTEP_LSL_SESSION) base.sessionId = env.LOCKSTEP_LSL_SESSION.trim();
  const out = { ...base, ...withoutUndefined(overrides) };
  if (overrides.multicast && overrides.listenAddress === undefined && !env.LOCKSTEP_LSL_LISTEN) out.listenAddress = '0.0.0.0';
  return out;
}

export function resolveConfig(partial?: Partial<LslNetworkConfig>): LslNetworkConfig {
  return { ...defaultNetworkConfig(), ...withoutUndefined(partial ?? {}) };
}

export function splitList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function uniq(xs: string[]): string[] {
  return [...new Set(xs)];
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export type DiscoveryVia = 'unicast' | 'broadcast' | 'multicast';

export interface DiscoveryTarget {
  address: string;
  port: number;
  via: DiscoveryVia;
  /** TTL set on the socket for multicast targets. */
  ttl?: number;
}

/** Loopback 127.0.0.0/8: the only destinations allowed in tests, benchmarks and CI. */
export function isLoopback(address: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address) || address === '::1' || address === 'localhost';
}

/**
 * Every (address, port) one resolve wave sends its query to, in liblsl's order: multicast and
 * broadcast groups on the discovery port (only with `multicast`), then for each unicast host the
 * discovery port and every service port (liblsl queries KnownPeers on 16572…16603; adding 16571
 * reaches liblsl outlets' responders, which is how liblsl itself finds streams on 127.0.0.1).
 */
export function discoveryTargets(config: LslNetworkConfig): DiscoveryTarget[] {
  const out: DiscoveryTarget[] = [];
  if (config.multicast) {
    for (const address of config.multicastAddresses) {
      out.push(address === '255.255.255.255' || address.endsWith('.255') ? { address, port: config.multicastPort, via: 'broadcast' } : { address, port: config.multicastPort, via: 'multicast', ttl: config.multicastTtl });
    }
  }
  for (const host of config.unicastHosts) {
    out.push({ address: host, port: config.multicastPort, via: 'unicast' });
    for (let p = config.basePort; p < config.basePort + config.portRange; p++) out.push({ address: host, port: p, via: 'unicast' });
  }
  return out;
}
