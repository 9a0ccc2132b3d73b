/** The preprocessing operators, re-exported (plain index, as RxJS's own). */
export { bandpass, bandpassDelaySec, checkChunkFollows, sosFilter, type BandpassOptions, type ChunkShape, type FilterStart } from './bandpass.js';
export { notch, notchDelaySec, type NotchOptions } from './notch.js';
export { resample, resampleDelaySec, type ResampleOptions } from './resample.js';
export { pickChannels } from './pickChannels.js';
export { epochs, type EpochOutsideReason, type EpochsOptions } from './epochs.js';
export { nonFiniteGuard, type NonFiniteGuardOptions } from './nonFiniteGuard.js';
export { preprocess, preprocessDelays, preprocessDelaySec, preprocessPlan, type PreprocessDelays, type PreprocessOptions, type PreprocessPlan } from './preprocess.js';
