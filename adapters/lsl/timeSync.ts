/**
 * Clock synchronisation (doc §10): `LSL:timedata` probes and replies, and liblsl's estimate —
 * from one round of probes, the one with the smallest round-trip time gives
 * `time_correction = −offset`, with offset = ((t1 − t0) + (t2 − t3)) / 2 (remote − local).
 *
 * Owns: the packets and the estimate. Must not: schedule rounds or own sockets (inlet.ts does).
 */
import { formatLslTime } from './clock.js';

export function encodeTimeProbe(waveId: number, t0: number): Buffer {
  return Buffer.from(`LSL:timedata\r\n${waveId} ${formatLslTime(t0)}\r\n`, 'latin1');
}

/** The outlet side: parses a probe; null if malformed. */
export function parseTimeProbe(buf: Buffer): { waveId: string; t0: number } | null {
  const lines = buf.toString('latin1').split('\n');
  if (lines.length < 2 || lines[0]!.trim() !== 'LSL:timedata') return null;
  const tok = lines[1]!.trim().split(/\s+/);
  const t0 = Number(tok[1]);
  if (tok.length < 2 || !/^-?\d+$/.test(tok[0]!) || !Number.isFinite(t0)) return null;
  return { waveId: tok[0]!, t0 };
}

/** `" <wave_id> <t0> <t1> <t2>"`: leading space, no newline, up to 16 significant digits. */
export function encodeTimeReply(waveId: string, t0: number, t1: number, t2: number): Buffer {
  return Buffer.from(` ${waveId} ${formatLslTime(t0)} ${formatLslTime(t1)} ${formatLslTime(t2)}`, 'latin1');
}

export interface TimeReply {
  waveId: number;
  t0: number;
  t1: number;
  t2: number;
}

export function parseTimeReply(buf: Buffer): TimeReply | null {
  const tok = buf.toString('latin1').trim().split(/\s+/);
  if (tok.length < 4) return null;
  const [waveId, t0, t1, t2] = tok.map(Number) as [number, number, number, number];
  if (![waveId, t0, t1, t2].every(Number.isFinite)) return null;
  return { waveId, t0, t1, t2 };
}

export interface TimeProbeResult {
  t0: number;
  t1: number;
  t2: number;
  /** Local receive time. */
  t3: number;
}

export interface ClockEstimate {
  /** Add to a remote timestamp to get local time. */
  timeCorrection: number;
  /** Round-trip time of the chosen probe (liblsl's uncertainty). */
  uncertainty: number;
  /** Remote time at the chosen probe, (t1 + t2)/2. */
  remoteTime: number;
  probes: number;
}

/** liblsl's choice: the minimum-RTT probe of a round; null if fewer than `minProbes` replies. */
export function estimateClock(probes: TimeProbeResult[], minProbes: number): ClockEstimate | null {
  if (probes.length < minProbes || probes.length === 0) return null;
  let best: { rtt: number; offset: number; p: TimeProbeResult } | null = null;
  for (const p of probes) {
    const rtt = p.t3 - p.t0 - (p.t2 - p.t1);
    const offset = (p.t1 - p.t0 + (p.t2 - p.t3)) / 2;
    if (best === null || rtt < best.rtt) best = { rtt, offset, p };
  }
  return { timeCorrection: -best!.offset, uncertainty: best!.rtt, remoteTime: (best!.p.t1 + best!.p.t2) / 2, probes: probes.length };
}
