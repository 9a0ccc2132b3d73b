/**
 * The inlet's clock-sync rounds (liblsl `time_receiver`, doc §10): every TimeUpdateInterval
 * (2 s) a round of TimeProbeCount (8) `LSL:timedata` probes, 64 ms apart, to the outlet's service
 * port; after 0.64 s, with ≥ 6 replies, the minimum-RTT probe sets the correction.
 *
 * Owns: the probe socket and round timers. Must not: touch the data connection.
 */
import dgram from 'node:dgram';
import { localClock } from './clock.js';
import type { LslNetworkConfig } from './config.js';
import { isLoopback } from './config.js';
import { assertSendAllowed } from './resolver.js';
import { encodeTimeProbe, estimateClock, parseTimeReply, type ClockEstimate, type TimeProbeResult } from './timeSync.js';

export interface ClockTarget {
  address: string;
  port: number;
}

export class ClockSync {
  latest: ClockEstimate | null = null;
  private socket: dgram.Socket | null = null;
  private timers = new Set<NodeJS.Timeout>();
  private roundTimer: NodeJS.Timeout | null = null;
  private waveId = 0;
  private probes: TimeProbeResult[] = [];
  private waiters: (() => void)[] = [];
  private running = false;

  constructor(
    private target: () => ClockTarget | null,
    private config: LslNetworkConfig,
  ) {}

  /** Starts rounds (idempotent). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.round();
    this.roundTimer = setInterval(() => this.round(), this.config.timeUpdateIntervalSec * 1000);
  }

  /** Forget the estimate (the inlet switched to a restarted outlet). */
  reset(): void {
    this.latest = null;
    if (this.running) this.round();
  }

  /** Resolves with the first estimate (or the current one); rejects after `timeoutSec`. */
  async waitForEstimate(timeoutSec: number, what: string): Promise<ClockEstimate> {
    this.start();
    if (this.latest) return this.latest;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== fire);
        reject(new Error(`${what}: no clock-sync reply within ${timeoutSec} s (is the outlet's service port ${this.target()?.port ?? '?'} reachable?)`));
      }, timeoutSec * 1000);
      const fire = (): void => {
        clearTimeout(t);
        resolve();
      };
      this.waiters.push(fire);
    });
    return this.latest!;
  }

  private ensureSocket(address: string): dgram.Socket {
    if (this.socket) return this.socket;
    const s = dgram.createSocket('udp4');
    s.on('error', () => {});
    s.on('message', (msg) => {
      const t3 = localClock();
      const r = parseTimeReply(msg);
      if (r && r.waveId === this.waveId) this.probes.push({ t0: r.t0, t1: r.t1, t2: r.t2, t3 });
    });
    s.bind(0, isLoopback(address) ? '127.0.0.1' : '0.0.0.0');
    this.socket = s;
    return s;
  }

  private round(): void {
    const target = this.target();
    if (!target || !this.running) return;
    const socket = this.ensureSocket(target.address);
    this.waveId = Math.floor(Math.random() * 2 ** 31);
    this.probes = [];
    const c = this.config;
    for (let k = 0; k < c.timeProbeCount; k++) {
      const t = setTimeout(() => {
        this.timers.delete(t);
        try {
          assertSendAllowed(target.address);
          socket.send(encodeTimeProbe(this.waveId, localClock()), target.port, target.address, () => {});
        } catch {
          /* closed or not allowed */
        }
      }, k * c.timeProbeIntervalSec * 1000);
      this.timers.add(t);
    }
    const wave = this.waveId;
    const end = setTimeout(
      () => {
        this.timers.delete(end);
        if (wave !== this.waveId) return;
        const est = estimateClock(this.probes, c.timeUpdateMinProbes);
        if (est) {
          this.latest = est;
          for (const w of this.waiters.splice(0)) w();
        }
      },
      (c.timeProbeMaxRttSec + c.timeProbeIntervalSec * c.timeProbeCount) * 1000,
    );
    this.timers.add(end);
  }

  stop(): void {
    this.running = false;
    if (this.roundTimer) clearInterval(this.roundTimer);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.socket?.close();
    this.socket = null;
  }
}
