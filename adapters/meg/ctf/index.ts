/**
 * The CTF `.ds` adapter's public surface: open a folder as a RawRecording, write one, and the
 * Armeni-style channel set. Owns: nothing but re-exports. Must not: hold logic.
 */
export { openCtf, ctfMeasDate, BLOCK_BUDGET_BYTES, type CtfOpenOptions, type CtfRecording } from './ctfReader.js';
export { CtfWriter, writeCtf, CTF_MAX_FILE_BYTES, CTF_G1BR, type CtfWriterChannel, type CtfWriterOptions, type CtfWriteSummary } from './ctfWriter.js';
export { armeniCtfChannels, type ArmeniLayoutOptions } from './armeniLayout.js';
export { parseRes4, encodeRes4, type Res4, type Res4Channel, type Res4Comp, type Res4Filter } from './res4.js';
export { ctfChannels, cleanCtfName, CTF_SYSTEM_CLOCK } from './ctfChannels.js';
export { parseMarkerFile, parseBadSegments, type CtfMarkerList, type CtfBadSegment } from './markers.js';
