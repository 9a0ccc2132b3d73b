/**
 * A CTF-275 channel set in the layout of the Armeni et al. 2022 recordings (Donders CTF-275,
 * 1200 Hz) for ctfWriter: the trigger `UPPT001`, the system clock `SCLK01-177`, the 28 reference
 * channels of the Donders system (names, sensor types and gains as in MNE's
 * testdata_ctf_short_discontinuous.ds), the 273 working axial gradiometers of
 * adapters/simulator/ctf275.ts, and the audio ADC `UADC003` — 304 channels.
 *
 * Sensor geometry is approximate and synthetic: each gradiometer's 2-D layout position is
 * projected back onto a 12 cm sphere (inverse azimuthal equidistant projection, layout radius 1 =
 * 100° from the vertex), with the second coil 5 cm further out and the normal radial. It exists
 * so that MNE recognises the channels as MEG (a channel without a coil position becomes misc); do
 * not use it for source modelling. MEG gains are deterministic values in the range of the real
 * system (|proper_gain| 2.7–3.0·10⁹, qgain 2²⁰, signs mixed as on the real system).
 *
 * Owns: this channel list. Must not: write files or make signals.
 */
import { ctf275Positions } from './ctf275.js';
import type { Res4Coil } from './res4.js';
import type { CtfWriterChannel } from './ctfWriter.js';

const QGAIN_MEG = 2 ** 20;

/** [name, sensor type (0 ref mag, 1 ref grad), proper_gain] of the Donders reference channels. */
const REFS: ReadonlyArray<readonly [string, number, number]> = [
  ['BG1', 0, -118e6], ['BG2', 0, -125e6], ['BG3', 0, -111e6], ['BP1', 0, -133e6], ['BP3', 0, 120e6],
  ['BR1', 0, 127e6], ['BR2', 0, -133e6], ['BR3', 0, -120e6],
  ['G11', 1, -6.54e9], ['G12', 1, 6.18e9], ['G13', 1, -6.2e9], ['G22', 1, 6.5e9], ['G23', 1, -6.43e9],
  ['P11', 1, -6.4e9], ['P12', 1, -6.07e9], ['P13', 1, -6.31e9], ['P22', 1, 6.46e9], ['P23', 1, 6.37e9],
  ['Q11', 1, -6.5e9], ['Q12', 1, 6.26e9], ['Q13', 1, -6.17e9], ['Q22', 1, 6.51e9], ['Q23', 1, 6.19e9],
  ['R11', 1, -6.45e9], ['R12', 1, 6.37e9], ['R13', 1, 6.4e9], ['R22', 1, 6.38e9], ['R23', 1, -6.3e9],
];

function coil(pos: [number, number, number], norm: [number, number, number]): Res4Coil {
  return { posCm: pos, norm, turns: 1, areaCm2: 2.54 };
}

export interface ArmeniLayoutOptions {
  /** Suffix of the system serial number CTF appends to names (default `-4304`, as in the Donders test set). */
  suffix?: string;
}

export function armeniCtfChannels(opts: ArmeniLayoutOptions = {}): CtfWriterChannel[] {
  const sfx = opts.suffix ?? '-4304';
  const out: CtfWriterChannel[] = [
    { name: 'UPPT001', sensorTypeIndex: 11, properGain: 1, qgain: 1 },
    { name: 'SCLK01-177', sensorTypeIndex: 17, properGain: 1, qgain: 12000 },
  ];
  REFS.forEach(([name, type, gain], k) => {
    // Reference sensors sit above the helmet (≈ 19–25 cm), spread around the vertical axis.
    const a = (2 * Math.PI * k) / REFS.length;
    const p: [number, number, number] = [6.7 * Math.cos(a), 6.7 * Math.sin(a), 19 + (k % 3) * 2];
    const n: [number, number, number] = type === 0 ? [[1, 0, 0], [0, 1, 0], [0, 0, 1]][k % 3] as [number, number, number] : [0, 0, 1];
    const coils = [coil(p, n)];
    if (type === 1) coils.push(coil([p[0], p[1], p[2] + 5], n));
    out.push({ name: `${name}${sfx}`, sensorTypeIndex: type, properGain: gain, qgain: QGAIN_MEG, coils });
  });
  ctf275Positions().forEach(({ name, x, y }, k) => {
    const theta = Math.hypot(x, y) * (100 / 180) * Math.PI;
    const phi = Math.atan2(y, x);
    // CTF device frame: x to the nose, y to the left ear, z up; layout: x right ear, y nose.
    const u: [number, number, number] = [Math.sin(theta) * Math.sin(phi), -Math.sin(theta) * Math.cos(phi), Math.cos(theta)];
    const at = (r: number): [number, number, number] => [u[0] * r, u[1] * r, u[2] * r];
    const gain = (2.7e9 + ((k * 37) % 31) * 1e7) * (k % 3 === 0 ? -1 : 1);
    out.push({ name: `${name}${sfx}`, sensorTypeIndex: 5, properGain: gain, qgain: QGAIN_MEG, coils: [coil(at(12), u), coil(at(17), u)] });
  });
  out.push({ name: `UADC003${opts.suffix === undefined ? '-4302' : sfx}`, sensorTypeIndex: 18, properGain: 1, qgain: 107374182.4 });
  return out;
}
