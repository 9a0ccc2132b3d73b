/**
 * FIFF constants a raw reader and writer need (values from MNE-Python's `mne/io/constants.py`,
 * checked against the shared test files). Owns: numbers and their names. Must not: do I/O.
 */

/** Tag kinds. */
export const FIFF = {
  FILE_ID: 100,
  DIR_POINTER: 101,
  DIR: 102,
  BLOCK_ID: 103,
  BLOCK_START: 104,
  BLOCK_END: 105,
  FREE_LIST: 106,
  NOP: 108,
  PARENT_FILE_ID: 109,
  PARENT_BLOCK_ID: 110,
  REF_ROLE: 115,
  REF_FILE_ID: 116,
  REF_FILE_NUM: 117,
  REF_FILE_NAME: 118,
  NCHAN: 200,
  SFREQ: 201,
  DATA_PACK: 202,
  CH_INFO: 203,
  MEAS_DATE: 204,
  COMMENT: 206,
  FIRST_SAMPLE: 208,
  LOWPASS: 219,
  HIGHPASS: 223,
  LINE_FREQ: 235,
  CH_DACQ_NAME: 258,
  DATA_BUFFER: 300,
  DATA_SKIP: 301,
  MNE_BASELINE_MIN: 3568,
  MNE_BASELINE_MAX: 3569,
  MNE_CH_NAME_LIST: 3507,
  MNE_EPOCHS_DROP_LOG: 3574,
} as const;

/** Block kinds. */
export const FIFFB = {
  ROOT: 999,
  MEAS: 100,
  MEAS_INFO: 101,
  RAW_DATA: 102,
  CH_INFO: 113,
  CONTINUOUS_DATA: 112,
  REF: 118,
  IAS_RAW_DATA: 119,
  MNE_BAD_CHANNELS: 359,
  MNE_ANNOTATIONS: 3810,
} as const;

/** Tag data types. */
export const FIFFT = {
  VOID: 0,
  BYTE: 1,
  SHORT: 2,
  INT: 3,
  FLOAT: 4,
  DOUBLE: 5,
  JULIAN: 6,
  USHORT: 7,
  UINT: 8,
  STRING: 10,
  DAU_PACK16: 16,
  COMPLEX_FLOAT: 20,
  COMPLEX_DOUBLE: 21,
  CH_INFO_STRUCT: 30,
  ID_STRUCT: 31,
  DIR_ENTRY_STRUCT: 32,
} as const;

export const FIFFV_NEXT_SEQ = 0;
export const FIFFV_NEXT_NONE = -1;
export const FIFFV_ROLE_NEXT_FILE = 2;
export const FIFFV_ROLE_PREV_FILE = 1;
/** MNE's "no date" stamp (secs, usecs). */
export const DATE_NONE: readonly [number, number] = [0, 2 ** 31 - 1];

/** Channel kinds (FIFFV_*_CH) → MNE's first-rule type (mne.io.pick._first_rule). */
export const CHANNEL_KIND_TYPE: Record<number, string> = {
  1: 'meg', 301: 'ref_meg', 2: 'eeg', 3: 'stim', 202: 'eog', 302: 'emg', 402: 'ecg', 602: 'resp',
  502: 'misc', 920: 'exci', 910: 'ias', 900: 'syst', 802: 'seeg', 803: 'dbs', 102: 'bio',
  700: 'chpi', 701: 'chpi', 702: 'chpi', 703: 'chpi', 704: 'chpi', 705: 'chpi', 706: 'chpi',
  707: 'chpi', 708: 'chpi', 709: 'chpi', 1000: 'dipole', 1001: 'gof', 902: 'ecog',
  1100: 'fnirs', 1200: 'temperature', 1300: 'gsr',
};

/** Channel kinds by MNE type, for the writer. */
export const KIND_OF_TYPE: Record<string, number> = {
  mag: 1, grad: 1, ref_meg: 301, eeg: 2, stim: 3, eog: 202, emg: 302, ecg: 402, resp: 602, misc: 502,
  exci: 920, ias: 910, syst: 900, seeg: 802, dbs: 803, bio: 102, chpi: 707, dipole: 1000, gof: 1001, ecog: 902,
};

export const FIFF_UNIT = { NONE: -1, UNITLESS: 0, M: 1, SEC: 3, V: 107, T: 112, T_M: 201, AM: 202 } as const;

/** SI unit names of FIFF unit codes (for RawChannel.unit). */
export const UNIT_NAME: Record<number, string> = {
  [-1]: 'unitless', 0: 'unitless', 1: 'm', 2: 'kg', 3: 's', 4: 'A', 101: 'Hz', 107: 'V', 112: 'T', 201: 'T/m', 202: 'Am',
};

/** Coil types the writer uses. */
export const FIFFV_COIL = { NONE: 0, EEG: 1, CTF_GRAD: 5001, CTF_REF_MAG: 5002, VV_PLANAR_T1: 3012, VV_MAG_T3: 3024 } as const;

/** Bytes per stored sample of each raw data-buffer type MNE reads (complex counts both parts). */
export const SAMPLE_BYTES: Record<number, number> = {
  [FIFFT.DAU_PACK16]: 2, [FIFFT.SHORT]: 2, [FIFFT.INT]: 4, [FIFFT.FLOAT]: 4, [FIFFT.DOUBLE]: 8,
  [FIFFT.COMPLEX_FLOAT]: 8, [FIFFT.COMPLEX_DOUBLE]: 16,
};

/** MNE's `orig_format` name of a data-buffer type. */
export const ORIG_FORMAT: Record<number, string> = {
  [FIFFT.DAU_PACK16]: 'short', [FIFFT.SHORT]: 'short', [FIFFT.INT]: 'int', [FIFFT.FLOAT]: 'single',
  [FIFFT.DOUBLE]: 'double', [FIFFT.COMPLEX_FLOAT]: 'single', [FIFFT.COMPLEX_DOUBLE]: 'double',
};

const KIND_NAMES: Record<number, string> = {};
for (const [k, v] of Object.entries(FIFF)) KIND_NAMES[v] = `FIFF_${k}`;

/** A readable name for a tag kind in error messages ("300 FIFF_DATA_BUFFER"). */
export function tagKindName(kind: number): string {
  const n = KIND_NAMES[kind];
  return n ? `${kind} ${n}` : String(kind);
}
