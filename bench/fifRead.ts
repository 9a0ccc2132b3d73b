/**
 * FIF read throughput: a 10-minute, 273-channel, 1200 Hz float32 raw FIF (the simulated subject,
 * written with lockstep's FIF writer) is streamed with `openFif(...).chunks()`, and compared with
 * reading the same file's bytes sequentially with fs (the disk/page-cache rate) in the same run.
 * The read runs in a fresh child process so that its peak RSS is the reader's alone. The file was
 * just written, so both rates are warm page-cache rates (no cache drop: the machine is shared).
 * CPU seconds are reported beside wall time because the shared machine's load swings wall rates.
 * Prints one JSON object.
 *
 * Usage: node dist/bench/fifRead.js [--seconds 600] [--keep] [--file PATH]
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openFif } from '../adapters/meg/fif/fifRaw.js';
import { writeSimulatedSubjectFif } from '../adapters/simulator/simulatedFif.js';
import { SimulatedSubject } from '../adapters/simulator/simulatedSubject.js';
import { speechTiming } from '../adapters/simulator/speechTiming.js';
import { syntheticActivations } from '../adapters/simulator/syntheticActivations.js';
import { builtinWords } from '../adapters/text/builtinText.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};

async function diskRead(file: string): Promise<{ sec: number; cpuSec: number; mbPerSec: number; mbPerCpuSec: number }> {
  const fh = await fs.promises.open(file, 'r');
  const buf = Buffer.allocUnsafe(8 << 20);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let pos = 0;
  let check = 0;
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) break;
    check ^= buf[0];
    pos += bytesRead;
  }
  const sec = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await fh.close();
  if (check < 0) throw new Error('unreachable');
  const cpuSec = (cpu.user + cpu.system) / 1e6;
  return { sec, cpuSec, mbPerSec: pos / 1e6 / sec, mbPerCpuSec: pos / 1e6 / cpuSec };
}

async function chunkRead(file: string, chunkSamples?: number): Promise<Record<string, number>> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const rec = await openFif(file);
  const tOpen = (performance.now() - t0) / 1000;
  let n = 0;
  let sum = 0;
  for await (const c of rec.chunks(chunkSamples ? { chunkSamples } : {})) {
    sum += c.data[0] + c.data[c.data.length - 1];
    n += c.nSamples;
  }
  const sec = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSec = (cpu.user + cpu.system) / 1e6;
  const h = rec.header;
  await rec.close();
  if (!Number.isFinite(sum) || n !== h.nSamples) throw new Error(`read ${n} of ${h.nSamples} samples`);
  const bytes = fs.statSync(file).size;
  return { openSec: tOpen, sec, cpuSec, mbPerSec: bytes / 1e6 / sec, mbPerCpuSec: bytes / 1e6 / cpuSec, samplesPerSec: n / sec, xRealTime: n / h.sfreqHz / sec, chunkSamples: chunkSamples ?? 0 };
}

if (args[0] === '--read-child') {
  const file = args[1];
  const cold = await chunkRead(file);
  const natural = await chunkRead(file);
  const small = await chunkRead(file, 120);
  const peakRssMB = process.resourceUsage().maxRSS / 1024;
  const disk1 = await diskRead(file);
  const disk2 = await diskRead(file);
  process.stdout.write(JSON.stringify({ cold, natural, small, peakRssMBDuringChunks: peakRssMB, disk: [disk1, disk2] }));
} else {
  const seconds = Number(opt('seconds', '600'));
  const file = opt('file', path.join(os.tmpdir(), `lockstep-bench-fif-${process.pid}_raw.fif`));
  let write: Record<string, number> | null = null;
  if (!fs.existsSync(file)) {
    const depths = [0.1, 0.3, 0.5, 0.7, 0.9];
    const sim = new SimulatedSubject({
      seed: 1,
      words: speechTiming(builtinWords(Math.ceil(seconds * 3.5) + 100), { seed: 1, startSec: 1 }),
      activation: syntheticActivations({ seed: 1, nLayers: depths.length, nDims: 20 }),
      nLayers: depths.length,
      nDims: 20,
      depths,
    });
    const t0 = performance.now();
    const res = await writeSimulatedSubjectFif(file, sim, { durationSec: seconds, measDate: new Date('2025-01-01T00:00:00Z') });
    const sec = (performance.now() - t0) / 1000;
    write = { secIncludingSimulation: sec, bytes: res.bytes.reduce((a, b) => a + b, 0), files: res.files.length };
  }
  const self = fileURLToPath(import.meta.url);
  const out = JSON.parse(execFileSync(process.execPath, [self, '--read-child', file], { encoding: 'utf8', maxBuffer: 1 << 20 })) as {
    cold: Record<string, number>; natural: Record<string, number>; small: Record<string, number>; peakRssMBDuringChunks: number; disk: { sec: number; cpuSec: number; mbPerSec: number; mbPerCpuSec: number }[];
  };
  const diskBest = Math.max(...out.disk.map((d) => d.mbPerSec));
  const stat = fs.statSync(file);
  if (!args.includes('--keep') && !opt('file', '')) fs.rmSync(file, { force: true });
  process.stdout.write(`${JSON.stringify({
    benchmark: 'fifRead',
    file: { seconds, channels: 273, sfreqHz: 1200, format: 'float32', bytes: stat.size },
    write,
    chunksFirstPass: out.cold,
    chunksNaturalBuffers: out.natural,
    chunks100ms: out.small,
    diskSequentialRead: out.disk,
    chunksVsDisk: out.natural.mbPerSec / diskBest,
    chunksVsDiskPerCpuSec: out.natural.mbPerCpuSec / Math.max(...out.disk.map((d) => d.mbPerCpuSec)),
    peakRssMB: out.peakRssMBDuringChunks,
    note: 'warm page cache (file just written); peak RSS of a fresh process that opened the file and streamed it three times (first pass includes JIT warm-up)',
    machine: { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', loadavg: os.loadavg() },
  })}\n`);
}
