/**
 * WAV (RIFF/WAVE) files as bytes: reading the header of any PCM or float WAV (the fmt and data
 * chunks, whatever other chunks come between), reading 16-bit PCM samples, and writing mono 16-bit
 * PCM. What a passage bank needs: its audio's rate and duration, checked before a session starts,
 * and the speech it synthesises.
 *
 * Owns: the byte layout. Must not: read or write files (callers pass bytes), or play audio.
 */

export class WavFormatError extends Error {
  override name = 'WavFormatError';
}

export interface WavInfo {
  /** 1 = integer PCM, 3 = IEEE float (WAVE_FORMAT_EXTENSIBLE is resolved to its sub-format). */
  format: 1 | 3;
  channels: number;
  sampleRateHz: number;
  bitsPerSample: number;
  /** Byte offset and length of the sample data. */
  dataOffset: number;
  dataBytes: number;
  /** Sample frames (one value per channel each). */
  nFrames: number;
  durationSec: number;
}

/**
 * The header of a WAV file.
 * @param source the file name, for messages
 * @throws WavFormatError naming the source and the byte offset of what is wrong
 */
export function readWavInfo(bytes: Uint8Array, source: string): WavInfo {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ascii = (at: number) => String.fromCharCode(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);
  if (bytes.length < 12 || ascii(0) !== 'RIFF' || ascii(8) !== 'WAVE') {
    throw new WavFormatError(`${source}: not a WAV file (byte 0: expected "RIFF" … "WAVE"); save the audio as PCM WAV`);
  }
  let fmt: Omit<WavInfo, 'dataOffset' | 'dataBytes' | 'nFrames' | 'durationSec'> | null = null;
  let at = 12;
  while (at + 8 <= bytes.length) {
    const id = ascii(at);
    const size = view.getUint32(at + 4, true);
    const body = at + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > bytes.length) throw new WavFormatError(`${source}: byte ${at}: fmt chunk of ${size} bytes is too short (16 needed)`);
      let format = view.getUint16(body, true);
      const channels = view.getUint16(body + 2, true);
      const sampleRateHz = view.getUint32(body + 4, true);
      const bitsPerSample = view.getUint16(body + 14, true);
      // WAVE_FORMAT_EXTENSIBLE: the sub-format GUID starts with the real format code.
      if (format === 0xfffe && size >= 40 && body + 26 <= bytes.length) format = view.getUint16(body + 24, true);
      if (format !== 1 && format !== 3) throw new WavFormatError(`${source}: byte ${body}: audio format ${format} is not PCM (1) or float (3); convert it, e.g. with sox`);
      if (channels < 1 || sampleRateHz < 1 || bitsPerSample < 8 || bitsPerSample % 8 !== 0) {
        throw new WavFormatError(`${source}: byte ${body}: ${channels} channels, ${sampleRateHz} Hz, ${bitsPerSample} bits per sample is not a usable format`);
      }
      fmt = { format, channels, sampleRateHz, bitsPerSample };
    } else if (id === 'data') {
      if (!fmt) throw new WavFormatError(`${source}: byte ${at}: data chunk before the fmt chunk`);
      // Streamed writers (espeak-ng --stdout, sox to a pipe) leave the size at 0xFFFFFFFF: use what is there.
      const dataBytes = Math.min(size, bytes.length - body);
      const frameBytes = (fmt.bitsPerSample / 8) * fmt.channels;
      const nFrames = Math.floor(dataBytes / frameBytes);
      return { ...fmt, dataOffset: body, dataBytes, nFrames, durationSec: nFrames / fmt.sampleRateHz };
    }
    at = body + size + (size % 2);
  }
  throw new WavFormatError(`${source}: no ${fmt ? 'data' : 'fmt'} chunk before byte ${bytes.length} (a truncated file?)`);
}

/** The samples of a mono 16-bit PCM WAV. @throws WavFormatError for any other format */
export function readWavPcm16(bytes: Uint8Array, source: string): { info: WavInfo; samples: Int16Array } {
  const info = readWavInfo(bytes, source);
  if (info.format !== 1 || info.bitsPerSample !== 16 || info.channels !== 1) {
    throw new WavFormatError(`${source}: ${info.channels} channel(s) of ${info.bitsPerSample}-bit ${info.format === 1 ? 'PCM' : 'float'}; expected mono 16-bit PCM`);
  }
  const samples = new Int16Array(info.nFrames);
  const view = new DataView(bytes.buffer, bytes.byteOffset + info.dataOffset, info.nFrames * 2);
  for (let i = 0; i < info.nFrames; i++) samples[i] = view.getInt16(i * 2, true);
  return { info, samples };
}

/** A mono 16-bit PCM WAV file's bytes (44-byte canonical header). */
export function encodeWavPcm16(samples: Int16Array, sampleRateHz: number): Uint8Array {
  const out = new Uint8Array(44 + samples.length * 2);
  const v = new DataView(out.buffer);
  const put = (at: number, s: string) => [...s].forEach((ch, i) => (out[at + i] = ch.charCodeAt(0)));
  put(0, 'RIFF');
  v.setUint32(4, 36 + samples.length * 2, true);
  put(8, 'WAVE');
  put(12, 'fmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true); // PCM
  v.setUint16(22, 1, true); // mono
  v.setUint32(24, sampleRateHz, true);
  v.setUint32(28, sampleRateHz * 2, true); // byte rate
  v.setUint16(32, 2, true); // block align
  v.setUint16(34, 16, true);
  put(36, 'data');
  v.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i++) v.setInt16(44 + i * 2, samples[i], true);
  return out;
}
