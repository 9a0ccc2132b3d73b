/**
 * CTF reading speed. Writes a simulated session in the Armeni layout (304 channels: 273 MEG,
 * 28 refs, trigger, clock, audio ADC; 1200 Hz) to a temporary `.ds` with ctfWriter (SI float32
 * chunks of a cheap deterministic signal: per-channel offset + sinusoids + a hashed ramp, in the
 * range of real CTF values; the content does not affect read speed), then measures on those files:
 *   (a) the ceiling: plain sequential fs reads of the .meg4 files into an 8 MB buffer, no
 *       conversion (and, where `dd` supports it, an O_DIRECT read that bypasses the page cache);
 *   (b) openCtf + chunks(): × real time, MB/s of .meg4 data, CPU time, peak RSS during the pass;
 *       once with natural chunks (no chunkSamples: ≤ 2^18 values, within a trial) and once with
 *       100 ms chunks (120 samples).
 * Deletes the folder afterwards. Prints one JSON object.
 *
 * Usage: node dist/bench/ctfRead.js [--minutes 60] [--trial-sec 10] [--dir /tmp] [--max-file-mb 2047]
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { armeniCtfChannels } from '../adapters/meg/ctf/armeniLayout.js';
import { NATURAL_CHUNK_VALUES, openCtf } from '../adapters/meg/ctf/ctfReader.js';
import { CtfWriter } from '../adapters/meg/ctf/ctfWriter.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
};
const minutes = Number(opt('minutes', '60'));
const trialSec = Number(opt('trial-sec', '10'));
const maxFileMb = Number(opt('max-file-mb', '2047'));
const baseDir = opt('dir', os.tmpdir());
if (!(minutes > 0) || !(trialSec > 0) || !(maxFileMb > 0)) throw new RangeError('--minutes, --trial-sec and --max-file-mb must be positive');

const SFREQ = 1200;
const channels = armeniCtfChannels();
const nc = channels.length;
const nSamples = Math.round(minutes * 60 * SFREQ);
const dir = fs.mkdtempSync(path.join(baseDir, 'lockstep-ctfbench-'));
const ds = path.join(dir, 'sub-001_ses-001_task-compr_meg.ds');

function rssMb(): number {
  return process.memoryUsage().rss / 2 ** 20;
}

try {
  // ---- write ----
  const writeChunk = SFREQ; // 1 s
  const writer = await CtfWriter.create(ds, {
    sfreqHz: SFREQ, channels, samplesPerTrial: Math.round(trialSec * SFREQ), maxFileBytes: Math.floor(maxFileMb * 2 ** 20),
  });
  const amp = channels.map((c) => (c.sensorTypeIndex === 5 ? 1e-12 : c.sensorTypeIndex <= 1 ? 1e-10 : c.sensorTypeIndex === 18 ? 0.1 : 0));
  const offset = channels.map((c, k) => (c.sensorTypeIndex === 5 ? (((k * 7919) % 200) - 100) * 1e-12 : 0));
  const buf = new Float32Array(writeChunk * nc);
  const tw0 = performance.now();
  for (let s0 = 0; s0 < nSamples; s0 += writeChunk) {
    const m = Math.min(writeChunk, nSamples - s0);
    for (let i = 0; i < m; i++) {
      const t = (s0 + i) / SFREQ;
      const a = Math.sin(2 * Math.PI * 10 * t);
      const b = Math.sin(2 * Math.PI * 50 * t);
      const trig = (s0 + i) % 1200 < 24 ? 10 : 0;
      for (let c = 0; c < nc; c++) {
        buf[i * nc + c] = amp[c] === 0 ? trig : offset[c]! + amp[c]! * (a * ((c % 5) + 1) + 0.3 * b + (((c * 131 + s0 + i) % 97) / 97 - 0.5));
      }
    }
    await writer.write({ data: m === writeChunk ? buf : buf.subarray(0, m * nc), nSamples: m, nChannels: nc });
  }
  const summary = await writer.close();
  const writeSec = (performance.now() - tw0) / 1000;
  const meg4Bytes = summary.meg4Files.reduce((s, f) => s + fs.statSync(f).size, 0);
  const durationSec = nSamples / SFREQ;

  // ---- (a) ceiling: plain sequential reads ----
  const rawBuf = Buffer.allocUnsafe(8 * 2 ** 20);
  const tr0 = performance.now();
  let rawBytes = 0;
  for (const f of summary.meg4Files) {
    const fd = fs.openSync(f, 'r');
    try {
      for (;;) {
        const n = fs.readSync(fd, rawBuf, 0, rawBuf.length, null);
        if (n === 0) break;
        rawBytes += n;
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  const rawSec = (performance.now() - tr0) / 1000;
  let directMBps: number | null = null;
  try {
    const td0 = performance.now();
    for (const f of summary.meg4Files) execFileSync('dd', [`if=${f}`, 'of=/dev/null', 'bs=16M', 'iflag=direct'], { stdio: 'ignore' });
    directMBps = meg4Bytes / 2 ** 20 / ((performance.now() - td0) / 1000);
  } catch {
    directMBps = null; // dd without O_DIRECT support (e.g. tmpfs)
  }

  // ---- (b) chunks() ----
  const pass = async (chunkSamples: number | undefined): Promise<Record<string, number>> => {
    const rec = await openCtf(ds);
    let peak = rssMb();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let n = 0;
    let checksum = 0;
    let k = 0;
    for await (const c of rec.chunks(chunkSamples === undefined ? {} : { chunkSamples })) {
      n += c.nSamples;
      checksum += c.data[c.data.length - 1]!;
      if ((k++ & 15) === 0) peak = Math.max(peak, rssMb());
    }
    const sec = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    await rec.close();
    if (n !== nSamples || !Number.isFinite(checksum)) throw new Error(`read ${n} of ${nSamples} samples`);
    return {
      chunkSamples: chunkSamples ?? Math.floor(NATURAL_CHUNK_VALUES / nc),
      wallSec: +sec.toFixed(3),
      cpuSec: +((cpu.user + cpu.system) / 1e6).toFixed(3),
      xRealTime: Math.round(durationSec / sec),
      xRealTimePerCpuSec: Math.round(durationSec / ((cpu.user + cpu.system) / 1e6)),
      MBps: Math.round(meg4Bytes / 2 ** 20 / sec),
      peakRssMb: Math.round(peak),
    };
  };
  const natural = await pass(undefined);
  const ms100 = await pass(120);

  console.log(JSON.stringify({
    bench: 'ctfRead',
    signal: 'deterministic: per-channel offset + 10 Hz and 50 Hz sinusoids + hashed ramp (T for MEG/refs, V for UADC003, trigger 10 for 24 samples each second, clock by the writer)',
    layout: 'Armeni (armeniCtfChannels): 273 MEG + 28 ref + UPPT001 + SCLK01-177 + UADC003',
    channels: nc,
    sfreqHz: SFREQ,
    minutes,
    trialSec,
    meg4Files: summary.meg4Files.length,
    meg4MB: Math.round(meg4Bytes / 2 ** 20),
    write: { wallSec: +writeSec.toFixed(2), xRealTime: Math.round(durationSec / writeSec), MBps: Math.round(meg4Bytes / 2 ** 20 / writeSec) },
    rawSequentialRead: { wallSec: +rawSec.toFixed(3), MBps: Math.round(rawBytes / 2 ** 20 / rawSec), xRealTime: Math.round(durationSec / rawSec), note: 'fs.readSync 8 MB, no conversion; files just written are likely in the page cache' },
    directDiskReadMBps: directMBps === null ? null : Math.round(directMBps),
    chunksNatural: natural,
    chunks100ms: ms100,
    maxRssMbWholeRun: Math.round(process.resourceUsage().maxRSS / 1024),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, loadavg: os.loadavg().map((v) => +v.toFixed(1)), node: process.version, totalMemGb: Math.round(os.totalmem() / 2 ** 30) },
  }));
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
