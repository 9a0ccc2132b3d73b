/** The epoch's time axis and the layers' relative depths: the axes every score is reported on. */

/** Sample times in seconds: tStart + i / sfreq for i < nTimes (MNE's epochs.times). */
export function epochTimes(tStartSec: number, sfreqHz: number, nTimes: number): number[] {
  return Array.from({ length: nTimes }, (_, i) => tStartSec + i / sfreqHz);
}

/** Samples of an epoch from tStart to tEnd inclusive at sfreq (−2.5…+3.0 s at 30 Hz → 166). */
export function samplesBetween(tStartSec: number, tEndSec: number, sfreqHz: number): number {
  return Math.round((tEndSec - tStartSec) * sfreqHz) + 1;
}

/** The paper's depths 0.1 … 0.9, or n evenly spaced depths in (0, 1) for other layer counts. */
export function defaultDepths(nLayers: number): number[] {
  if (nLayers === 9) return [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
  return Array.from({ length: nLayers }, (_, i) => (i + 1) / (nLayers + 1));
}

export const PAPER_EPOCH = { tStartSec: -2.5, tEndSec: 3.0, sfreqHz: 30 } as const;
