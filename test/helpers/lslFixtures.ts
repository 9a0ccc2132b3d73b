import { StreamInlet } from '../../adapters/lsl/inlet.js';
import { StreamOutlet } from '../../adapters/lsl/outlet.js';

/**
 * Captured protocol examples from docs/lsl-protocol.md (liblsl 1.17.7 on the wire,
 * Linux x86-64), as bytes, for the byte-level LSL tests; plus small helpers the LSL tests share.
 */

/** "02 c9 76 …" → bytes. */
export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/[^0-9a-fA-F]/g, ''), 'hex');
}

/** §3.1: the captured discovery query (resolver receive socket 57863, id 1234567890). */
export const CAPTURED_QUERY = hex(`
4c 53 4c 3a 73 68 6f 72 74 69 6e 66 6f 0d 0a 73 65 73 73 69 6f 6e 5f 69 64 3d 27 64 65 66 61
75 6c 74 27 20 61 6e 64 20 6e 61 6d 65 3d 27 50 72 6f 62 65 45 45 47 27 0d 0a 35 37 38 36 33
20 31 32 33 34 35 36 37 38 39 30 0d 0a`);

/** §3.2: the first bytes of the captured reply. */
export const CAPTURED_REPLY_HEAD = hex(`
31 32 33 34 35 36 37 38 39 30 0d 0a 3c 3f 78 6d 6c 20 76 65 72 73 69 6f 6e 3d 22 31 2e 30 22 3f
3e 0a 3c 69 6e 66 6f 3e 0a 09 3c 6e 61 6d 65 3e`);

/** §4: captured shortinfo of a 3-channel float32 stream at 10 Hz. */
export const CAPTURED_SHORTINFO = `<?xml version="1.0"?>
<info>
\t<name>ProbeEEG</name>
\t<type>EEG</type>
\t<channel_count>3</channel_count>
\t<channel_format>float32</channel_format>
\t<source_id>ProbeEEG-src</source_id>
\t<nominal_srate>10.00000000000000</nominal_srate>
\t<version>1.100000000000000</version>
\t<created_at>385.7075436480000</created_at>
\t<uid>4efbca4d-eda9-4643-8e56-a312413f0655</uid>
\t<session_id>default</session_id>
\t<hostname>vm</hostname>
\t<v4address></v4address>
\t<v4data_port>16576</v4data_port>
\t<v4service_port>16572</v4service_port>
\t<v6address></v6address>
\t<v6data_port>16577</v6data_port>
\t<v6service_port>16573</v6service_port>
\t<desc />
</info>
`;

/** §8: the request a liblsl inlet sends (hostname/source "probe", 360-sample buffer). */
export const CAPTURED_REQUEST =
  'LSL:streamfeed/110 4efbca4d-eda9-4643-8e56-a312413f0655\r\n' +
  'Native-Byte-Order: 1234\r\nEndian-Performance: 0\r\nHas-IEEE754-Floats: 1\r\n' +
  'Supports-Subnormals: 1\r\nValue-Size: 4\r\nData-Protocol-Version: 110\r\n' +
  'Max-Buffer-Length: 360\r\nMax-Chunk-Length: 0\r\nHostname: probe\r\n' +
  'Source-Id: probe\r\nSession-Id: default\r\n\r\n';

/** §5.1: the request of a real liblsl 1.17.7 inlet (float32, 100 Hz). */
export const CAPTURED_LIBLSL_REQUEST =
  'LSL:streamfeed/110 af1a8f31-ab56-42c9-a062-ef7697d0ab72\r\n' +
  'Native-Byte-Order: 1234\r\nEndian-Performance: 2.93171e+06\r\nHas-IEEE754-Floats: 1\r\nSupports-Subnormals: 1\r\n' +
  'Value-Size: 4\r\nData-Protocol-Version: 110\r\nMax-Buffer-Length: 36000\r\nMax-Chunk-Length: 0\r\n' +
  'Hostname: rawpy\r\nSource-Id: rawpy-src\r\nSession-Id: default\r\n\r\n';

/** §8: the outlet's response. */
export const CAPTURED_RESPONSE = 'LSL/110 200 OK\r\nUID: 4efbca4d-eda9-4643-8e56-a312413f0655\r\nByte-Order: 1234\r\nSuppress-Subnormals: 0\r\nData-Protocol-Version: 110\r\n\r\n';

/** §7: float32 3 channels: both test patterns and one data sample. */
export const CAPTURED_FLOAT32_BODY = hex(`
02 c9 76 be 9f 0c 24 fe 40 00 00 80 40 00 00 a0 c0 00 00 c0 40
02 c9 76 be 9f 0c 24 fe 40 00 00 00 40 00 00 40 c0 00 00 80 40
02 0b 15 44 26 86 36 78 40 00 00 88 41 00 40 7e 44 00 20 fc 44`);

/** §7: float32 2 channels at 50 Hz, push_chunk: first sample tag 2, then deduced. */
export const CAPTURED_CHUNK_BODY = hex(`
02 9a 59 5d e4 2c d2 78 40 00 00 aa 42 00 a0 87 44
01 00 00 ac 42 00 c0 87 44
01 00 00 ae 42 00 e0 87 44`);

/** §7: string marker stream, test pattern "10", then "world". */
export const CAPTURED_STRING_BODY = hex(`
02 c9 76 be 9f 0c 24 fe 40 01 02 31 30
02 c9 76 be 9f 0c 24 fe 40 01 02 31 30
02 79 38 56 69 38 4e 79 40 01 05 77 6f 72 6c 64`);

/** §7: the first test pattern as a big-endian (Byte-Order 4321) outlet sends it (the doc shows 17 bytes; the third value, 6.0f = 40 c0 00 00, completes the sample). */
export const CAPTURED_BIG_ENDIAN_PATTERN = hex('02 40 fe 24 0c 9f be 76 c9 40 80 00 00 c0 a0 00 00 40 c0 00 00');

/** Runs with LOCKSTEP_LSL_LOOPBACK_ONLY so any non-loopback send throws (tests send only to 127/8). */
export function loopbackOnly(): void {
  process.env.LOCKSTEP_LSL_LOOPBACK_ONLY = '1';
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `cond` every 10 ms until true or `timeoutMs` (then throws with `what`). */
export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

const tracked = new Set<{ close(): unknown }>();

/** Opens an outlet that `closeTracked()` closes even if the test throws before its own cleanup. */
export async function openOutlet(...args: Parameters<typeof StreamOutlet.open>): Promise<StreamOutlet> {
  const o = await StreamOutlet.open(...args);
  tracked.add(o);
  return o;
}

/** An inlet that `closeTracked()` closes. */
export function newInlet(...args: ConstructorParameters<typeof StreamInlet>): StreamInlet {
  const i = new StreamInlet(...args);
  tracked.add(i);
  return i;
}

/** Closes everything opened through openOutlet/newInlet (call from `after`), so no test process hangs. */
export async function closeTracked(): Promise<void> {
  for (const x of tracked) await x.close();
  tracked.clear();
}
