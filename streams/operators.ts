/** The preprocessing operators, re-exported (plain index, as RxJS's own). */
export { bandpass, bandpassDelaySec } from './bandpass.js';
export { checkChunkFollows, type ChunkShape } from './chunkChecks.js';
export { notch, notchDelaySec } from './notch.js';
export { resample, resampleDelaySec, resampleWith } from './resample.js';
export { sosFilter } from './sosFilter.js';
export { pickChannels } from './pickChannels.js';
export { epochs, type EpochOutsideReason, type EpochsOptions } from './epochs.js';
export { nonFiniteGuard, type NonFiniteGuardOptions } from './nonFiniteGuard.js';
export { preprocess, preprocessDelays, preprocessDelaySec, type PreprocessOptions } from './preprocess.js';
export { preprocessPlan, type BandpassOptions, type FilterStart, type NotchOptions, type PreprocessDelays, type PreprocessPlan, type ResampleOptions } from '../src/filters/preprocessPlan.js';
