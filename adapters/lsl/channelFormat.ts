/**
 * LSL channel formats: names, liblsl's enum numbers, value widths, and the typed arrays that hold
 * a chunk of each.
 *
 * Owns: the format table. Must not: encode bytes (sampleCodec.ts does).
 */

export const CHANNEL_FORMATS = ['float32', 'double64', 'string', 'int32', 'int16', 'int8', 'int64'] as const;
export type ChannelFormat = (typeof CHANNEL_FORMATS)[number];
export type NumericFormat = Exclude<ChannelFormat, 'string'>;

/** liblsl's `lsl_channel_format_t` values (0 = undefined). */
export const CHANNEL_FORMAT_CODE: Record<ChannelFormat, number> = { float32: 1, double64: 2, string: 3, int32: 4, int16: 5, int8: 6, int64: 7 };

/** Bytes per value on the wire; for strings the `Value-Size` a liblsl inlet sends (sizeof(std::string)). */
export const VALUE_SIZE: Record<ChannelFormat, number> = { float32: 4, double64: 8, string: 32, int32: 4, int16: 2, int8: 1, int64: 8 };

/** The typed array holding a chunk of each numeric format ([sample][channel], row-major). */
export interface NumericArrays {
  float32: Float32Array;
  double64: Float64Array;
  int32: Int32Array;
  int16: Int16Array;
  int8: Int8Array;
  int64: BigInt64Array;
}
export type NumericArray = NumericArrays[NumericFormat];
export type ChunkData = NumericArray | string[];

export function isChannelFormat(s: string): s is ChannelFormat {
  return (CHANNEL_FORMATS as readonly string[]).includes(s);
}

export function assertChannelFormat(s: string, where: string): ChannelFormat {
  if (!isChannelFormat(s)) throw new RangeError(`${where}: unknown channel format "${s}"; expected one of ${CHANNEL_FORMATS.join(', ')}`);
  return s;
}

export function allocate(format: ChannelFormat, n: number): ChunkData {
  switch (format) {
    case 'float32':
      return new Float32Array(n);
    case 'double64':
      return new Float64Array(n);
    case 'int32':
      return new Int32Array(n);
    case 'int16':
      return new Int16Array(n);
    case 'int8':
      return new Int8Array(n);
    case 'int64':
      return new BigInt64Array(n);
    case 'string':
      return new Array<string>(n).fill('');
  }
}

/** Value of one cell as a JSON-friendly number or string (int64 beyond 2^53 loses precision). */
export function cellValue(data: ChunkData, i: number): number | string {
  const v = data[i]!;
  return typeof v === 'bigint' ? Number(v) : v;
}
