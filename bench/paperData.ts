/**
 * Writes a paper-sized planted-latency dataset as MNE-style .npy files (X [words, channels, times]
 * float32, Y [layers, words, dims] float64) without holding X in memory, or draws its words one by
 * one in memory (`paperWords`, for benchmarks that need no file). Noise comes from a seeded
 * table of normals read at a per-word offset and stride, which makes 30,000 distinct epochs in
 * seconds (Box–Muller per sample would take minutes); the signal is src/synthetic.ts's model.
 */
import fs from 'node:fs';
import { npyHeaderBytes } from '../src/npy.js';
import { mulberry32, randomInt, randomNormal } from '../src/scores/prng.js';
import { writeNpyFile } from '../adapters/npyFile.js';

export interface PaperDataOptions {
  words: number;
  channels: number;
  times: number;
  layers: number;
  dims: number;
  tStartSec: number;
  sfreqHz: number;
  latenciesSec: number[];
  signal: number;
  seed: number;
}

/** Draws the dataset's words one after another (the same sequence `writePaperData` writes). */
export function paperWords(o: PaperDataOptions): () => { epoch: Float32Array; activations: Float64Array } {
  const { channels: C, times: T, layers: L, dims: D } = o;
  const rng = mulberry32(o.seed);
  const TABLE = 1 << 20;
  const table = new Float32Array(TABLE);
  for (let i = 0; i < TABLE; i++) table[i] = randomNormal(rng);
  const patterns = new Float32Array(L * D * C);
  for (let i = 0; i < patterns.length; i++) patterns[i] = randomNormal(rng) / Math.sqrt(C);
  // Response of each layer over the epoch, kept only where it matters (> 1e-4 of its peak).
  const support: { l: number; t: number; h: number }[] = [];
  for (let l = 0; l < L; l++) {
    for (let t = 0; t < T; t++) {
      const time = o.tStartSec + t / o.sfreqHz;
      const h = Math.exp(-0.5 * ((time - o.latenciesSec[l]) / 0.08) ** 2);
      if (h > 1e-4) support.push({ l, t, h });
    }
  }
  const drive = new Float32Array(L * C);
  return () => {
    const activations = new Float64Array(L * D); // [layer][dim]
    drive.fill(0);
    for (let l = 0; l < L; l++) {
      for (let d = 0; d < D; d++) {
        const y = randomNormal(rng);
        activations[l * D + d] = y;
        const po = (l * D + d) * C;
        for (let c = 0; c < C; c++) drive[l * C + c] += o.signal * y * patterns[po + c];
      }
    }
    const epoch = new Float32Array(C * T); // [channel][time]
    const start = randomInt(rng, TABLE);
    const stride = 2 * randomInt(rng, 1 << 10) + 1;
    for (let k = 0; k < C * T; k++) epoch[k] = table[(start + k * stride) & (TABLE - 1)];
    for (const { l, t, h } of support) for (let c = 0; c < C; c++) epoch[c * T + t] += h * drive[l * C + c];
    for (let k = 0; k < C * T; k++) epoch[k] *= 1e-13;
    return { epoch, activations };
  };
}

export function writePaperData(o: PaperDataOptions, xPath: string, yPath: string, onProgress?: (done: number) => void): void {
  const { words: N, channels: C, times: T, layers: L, dims: D } = o;
  const next = paperWords(o);
  const Y = new Float64Array(L * N * D);
  const fd = fs.openSync(xPath, 'w');
  try {
    const header = npyHeaderBytes('float32', [N, C, T]);
    fs.writeSync(fd, header);
    const block = 256;
    const buf = new Float32Array(block * C * T);
    for (let w0 = 0; w0 < N; w0 += block) {
      const nb = Math.min(block, N - w0);
      for (let i = 0; i < nb; i++) {
        const w = w0 + i;
        const { epoch, activations } = next();
        for (let l = 0; l < L; l++) for (let d = 0; d < D; d++) Y[(l * N + w) * D + d] = activations[l * D + d];
        buf.set(epoch, i * C * T);
      }
      const bytes = new Uint8Array(buf.buffer, 0, nb * C * T * 4);
      let done = 0;
      while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done);
      onProgress?.(w0 + nb);
    }
  } finally {
    fs.closeSync(fd);
  }
  writeNpyFile(yPath, Y, [L, N, D]);
}
