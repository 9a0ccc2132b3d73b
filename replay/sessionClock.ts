/**
 * The clock of a closed-loop session, shared by everything that stamps or schedules in it (the
 * presenter's markers, the simulated subject's MEG samples, the controller's decisions). At ×1 it
 * IS LSL's local clock, so a real presenter or amplifier on this machine shares it. Faster than
 * real time (`--speed N`, simulation only), it runs N session seconds per wall second from its
 * origin: session = origin + N · (local − origin). Every LSL timestamp of the simulated loop is a
 * session time, given explicitly on each push (never "now"), and the controller's inlets take
 * timestamps as sent (same host: no clock correction), so markers and MEG samples stay on one
 * timeline whatever N is; only wall-time quantities (decision latency, the decision budget,
 * stall detection) are in wall seconds.
 *
 * Owns: the mapping from wall time to session time. Must not: pace anything itself.
 */
import { localClock } from '../adapters/lsl/clock.js';

export class SessionClock {
  readonly speed: number;
  private readonly origin: number;

  /**
   * @param origin where session and local time coincide (default: now); threads that share a
   *   session pass the same origin (the local clock is the same in every thread of a process)
   */
  constructor(speed = 1, private readonly wall: () => number = localClock, origin?: number) {
    if (!(speed > 0 && Number.isFinite(speed))) throw new RangeError(`session clock speed must be a positive number, got ${speed}`);
    this.speed = speed;
    this.origin = origin ?? wall();
  }

  /** Where session and local time coincide (to start a clock in another thread). */
  get originSec(): number {
    return this.origin;
  }

  /** Session seconds now. */
  now(): number {
    const t = this.wall();
    return this.speed === 1 ? t : this.origin + (t - this.origin) * this.speed;
  }

  /** Wall milliseconds until session time t (≤ 0 when past). */
  msUntil(t: number): number {
    return ((t - this.now()) / this.speed) * 1000;
  }
}
