/**
 * What MNE-Python makes of a CTF channel record (`mne/io/ctf/info.py::_convert_channel_info`,
 * MNE 1.3): the channel type, FIFF kind and unit, the calibration `cal = 1/(proper_gain·qgain)`
 * in float64 (range 1; io_gain is not used), the name cut to 15 characters, and the software
 * gradient-compensation grade carried by the MEG channels.
 *
 * sensor_type_index 0/1 (reference magnetometer/gradiometer) → ref_meg, 5 (axial gradiometer) →
 * mag, both in tesla, unless the first coil's position or normal is zero (MNE then makes it a misc
 * channel); 9 → eeg (V); 11 → stim; anything else (SCLK, ADC, DAC, head localisation) → misc.
 * MNE gives stim and misc channels the FIFF unit V; we report the same.
 *
 * Owns: the res4 → RawChannel mapping. Must not: read files.
 */
import type { RawChannel, RawChannelType } from '../rawRecording.js';
import { RecordingFormatError } from '../rawRecording.js';
import type { Res4, Res4Channel } from './res4.js';

export const CTF_REF_MAG = 0;
export const CTF_REF_GRAD = 1;
export const CTF_MEG = 5;
export const CTF_EEG = 9;
export const CTF_STIM = 11;
/** MNE's CTF.SYSTEM_CLOCK_CH. */
export const CTF_SYSTEM_CLOCK = 'SCLK01-177';

const FIFF = { MEG: 1, EEG: 2, STIM: 3, REF_MEG: 301, MISC: 502, UNIT_V: 107, UNIT_T: 112 } as const;
const COIL = { NONE: 0, EEG: 1, CTF_GRAD: 5001, CTF_REF_MAG: 5002, CTF_REF_GRAD: 5003, CTF_OFFDIAG_REF_GRAD: 5004 } as const;

/** Whether MNE accepts the channel's first coil as a real sensor position (pos in m, |·|² ≥ 1e-6). */
function hasPosition(ch: Res4Channel): boolean {
  const coil = ch.coils[0];
  if (!coil) return false;
  const p2 = coil.posCm.reduce((s, v) => s + (v / 100) ** 2, 0);
  const n2 = coil.norm.reduce((s, v) => s + v ** 2, 0);
  return p2 >= 1e-6 && n2 >= 1e-6;
}

/** MNE's off-diagonal test for reference gradiometers: normal ⟂ the line joining the two coils. */
function isOffDiagonal(ch: Res4Channel): boolean {
  const [a, b] = ch.coils;
  if (!a || !b) return false;
  const diff = a.posCm.map((v, j) => (v - b.posCm[j]!) / 100);
  const size = Math.hypot(...diff);
  const unit = size > 0 ? diff.map((v) => v / size) : diff;
  const ez = ch.properGain > 0 ? a.norm.map((v) => -v) : a.norm;
  return Math.abs(unit[0]! * ez[0]! + unit[1]! * ez[1]! + unit[2]! * ez[2]!) < 1e-3;
}

export interface CtfChannelMap {
  channels: RawChannel[];
  /** Software gradient order of the MEG channels (0–3), as MNE's `_check_comp_ch` finds it; 0 when none. */
  compensationGrade: number;
}

/**
 * Converts the res4 channel records as MNE does. Throws RecordingFormatError for a gain that
 * makes the calibration non-finite or zero, and (as MNE does) for MEG channels that disagree on
 * the compensation grade.
 */
export function ctfChannels(res4: Res4, file: string): CtfChannelMap {
  let grade: number | null = null;
  const channels = res4.channels.map((ch, k): RawChannel => {
    const recordAt = res4.offsets.channels + k * 1328;
    const cal = 1 / (ch.properGain * ch.qgain);
    if (!Number.isFinite(cal) || cal === 0) {
      throw new RecordingFormatError(file, `byte ${recordAt + 8} (channel ${k} ${ch.name})`,
        `expected finite non-zero proper_gain and qgain, found ${ch.properGain} and ${ch.qgain}`);
    }
    let type: RawChannelType;
    let kind: number;
    let unitCode: number = FIFF.UNIT_V;
    let coilType: number = COIL.NONE;
    const isMegLike = ch.sensorTypeIndex === CTF_REF_MAG || ch.sensorTypeIndex === CTF_REF_GRAD || ch.sensorTypeIndex === CTF_MEG;
    if (isMegLike && hasPosition(ch)) {
      unitCode = FIFF.UNIT_T;
      if (ch.sensorTypeIndex === CTF_MEG) {
        if (grade === null) grade = ch.gradOrderNo;
        else if (ch.gradOrderNo !== grade) {
          throw new RecordingFormatError(file, `byte ${recordAt + 42} (channel ${k} ${ch.name})`,
            `expected the compensation grade of the other MEG channels (${grade}), found ${ch.gradOrderNo}`);
        }
        type = 'mag'; kind = FIFF.MEG; coilType = COIL.CTF_GRAD;
      } else {
        type = 'ref_meg'; kind = FIFF.REF_MEG;
        coilType = ch.sensorTypeIndex === CTF_REF_MAG ? COIL.CTF_REF_MAG
          : isOffDiagonal(ch) ? COIL.CTF_OFFDIAG_REF_GRAD : COIL.CTF_REF_GRAD;
      }
      // MNE encodes the software gradient order in the upper 16 bits of coil_type.
      coilType = (coilType | (ch.gradOrderNo << 16)) >>> 0;
    } else if (ch.sensorTypeIndex === CTF_EEG) {
      type = 'eeg'; kind = FIFF.EEG; coilType = COIL.EEG;
    } else if (ch.sensorTypeIndex === CTF_STIM) {
      type = 'stim'; kind = FIFF.STIM;
    } else {
      type = 'misc'; kind = FIFF.MISC;
    }
    return {
      // MNE keeps at most 15 characters (a FIFF channel-name field).
      name: ch.name.slice(0, 15),
      type,
      unit: unitCode === FIFF.UNIT_T ? 'T' : 'V',
      cal,
      extra: {
        ctfName: ch.name,
        sensorTypeIndex: ch.sensorTypeIndex,
        fiffKind: kind,
        fiffUnit: unitCode,
        coilType,
        properGain: ch.properGain,
        qgain: ch.qgain,
        ioGain: ch.ioGain,
        gradOrderNo: ch.gradOrderNo,
        positionMissing: isMegLike && !hasPosition(ch) ? 1 : 0,
      },
    };
  });
  return { channels, compensationGrade: grade ?? 0 };
}

/** MNE's `_clean_names(before_dash=True)`: `MLC11-4304` → `MLC11` (BadChannels lists clean names). */
export function cleanCtfName(name: string): string {
  let n = name.includes('-') ? name.split('-')[0]! : name;
  if (n.endsWith('_v')) n = n.slice(0, -2);
  return n;
}
