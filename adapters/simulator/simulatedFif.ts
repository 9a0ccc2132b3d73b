/**
 * Saves the simulated subject as a raw FIF recording that MNE-Python (and lockstep's reader)
 * can open: CTF-275 channels as MNE reads CTF (kind MEG, coil 5001, tesla → type 'mag'), the
 * words as annotations (description = the word), float32 data by default.
 *
 * Owns: mapping the simulator onto FIF options. Must not: change the simulated data.
 */
import type { SimulatedSubject } from './simulatedSubject.js';
import type { SampleChunk } from '../../src/types.js';
import { FIFFV_COIL } from '../meg/fif/fifConstants.js';
import { writeFif, type FifWriteOptions, type FifWriteResult } from '../meg/fif/fifWriter.js';

export interface SimulatedFifOptions extends Partial<Omit<FifWriteOptions, 'sfreqHz' | 'channels'>> {
  /** Seconds to write (default: the subject's whole duration). */
  durationSec?: number;
  /** Samples per chunk requested from the simulator (default 1 s). */
  chunkSamples?: number;
  /** Write the words as annotations (default true). */
  wordAnnotations?: boolean;
}

export async function writeSimulatedSubjectFif(filePath: string, subject: SimulatedSubject, opts: SimulatedFifOptions = {}): Promise<FifWriteResult> {
  const sf = subject.sfreqHz;
  const n = Math.round((opts.durationSec ?? subject.durationSec) * sf);
  const step = opts.chunkSamples ?? Math.round(sf);
  const lastSec = n / sf;
  const annotations = opts.annotations ?? (opts.wordAnnotations === false ? [] : subject.words
    .filter((w) => w.onsetSec < lastSec)
    .map((w) => ({ onsetSec: w.onsetSec, durationSec: w.durationSec ?? 0, description: w.word })));
  function* chunks(): Generator<SampleChunk> {
    for (let s = 0; s < n; s += step) yield subject.chunk(s, Math.min(step, n - s));
  }
  return writeFif(filePath, chunks(), {
    ...opts,
    sfreqHz: sf,
    channels: subject.channels.map((c) => ({
      name: c.name,
      type: c.type,
      coilType: c.type === 'mag' ? FIFFV_COIL.CTF_GRAD : undefined,
      cal: opts.format === 'short' ? 1e-15 : opts.format === 'int' ? 1e-18 : 1,
    })),
    annotations,
  });
}
