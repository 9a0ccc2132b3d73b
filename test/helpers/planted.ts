/** Small planted-latency datasets shared by tests, plus writing them as MNE-style .npy files. */
import path from 'node:path';
import { writeNpyFile } from '../../adapters/npyFile.js';
import { linearLatencies, PlantedData, type PlantedOptions } from '../../adapters/simulator/plantedEpochs.js';
import type { WordPair } from '../../src/types.js';

export function smallPlanted(over: Partial<PlantedOptions> = {}): PlantedData {
  const nLayers = over.nLayers ?? 5;
  return new PlantedData({
    nChannels: 12,
    nTimes: 24,
    nLayers,
    nDims: 3,
    tStartSec: -0.2,
    sfreqHz: 30,
    latenciesSec: linearLatencies(nLayers, 0.05, 0.4),
    widthSec: 0.06,
    signal: 0.6,
    scale: 1e-13,
    seed: 11,
    ...over,
  });
}

export function wordsOf(data: PlantedData, n: number): WordPair[] {
  return Array.from({ length: n }, (_, i) => data.word(i));
}

/** Writes X.npy [words, channels, times] (float32) and Y.npy [layers, words, dims] (float64). */
export function writePlantedNpy(dir: string, words: WordPair[], data: PlantedData): { X: string; Y: string } {
  const { nChannels: C, nTimes: T, nLayers: L, nDims: D } = data.o;
  const N = words.length;
  const X = new Float32Array(N * C * T);
  const Y = new Float64Array(L * N * D);
  words.forEach((w, i) => {
    X.set(w.epoch, i * C * T);
    for (let l = 0; l < L; l++) for (let d = 0; d < D; d++) Y[(l * N + i) * D + d] = w.activations[l * D + d];
  });
  const paths = { X: path.join(dir, 'X.npy'), Y: path.join(dir, 'Y.npy') };
  writeNpyFile(paths.X, X, [N, C, T]);
  writeNpyFile(paths.Y, Y, [L, N, D]);
  return paths;
}
