/**
 * lockstep's Lab Streaming Layer library, protocol 110, in TypeScript (no native liblsl): the
 * pylsl-style API. Low-level protocol modules (xml, streamInfo, query, discoveryPackets,
 * handshake, sampleCodec, timeSync) sit apart from the objects that own sockets (outlet,
 * dataConnection, resolver, clockSync), as in mne-lsl; the inlet is the stream object above its
 * data connections (state, recovery, buffer).
 */
export { CHANNEL_FORMATS, type ChannelFormat, type ChunkData } from './channelFormat.js';
export type { LslChunk } from './chunk.js';
export { localClock } from './clock.js';
export { defaultNetworkConfig, labNetworkConfig, networkConfigFromEnv, discoveryTargets, type LslNetworkConfig } from './config.js';
export { StreamInfo, type ChannelMeta } from './streamInfo.js';
export { StreamOutlet, type OutletOptions } from './outlet.js';
export { StreamInlet, LslLostError, type ConnectionState, type StateChange, type GapInfo, type InletOptions, type PulledSample } from './inlet.js';
export { resolveStreams, resolveByProp, resolveByPredicate, resolveQuery } from './resolver.js';
export { DEDUCED_TIMESTAMP } from './sampleCodec.js';
export { TimestampProcessor, type ProcessingFlags } from './timestampProcessing.js';
