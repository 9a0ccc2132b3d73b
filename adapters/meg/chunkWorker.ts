/**
 * Worker-thread side of `threadedChunks`: opens the recording itself (the same reader path as the
 * main thread) and streams its `chunks()` back, transferring each chunk's buffer, at most
 * `maxAhead` unacknowledged chunks ahead.
 *
 * Owns: the worker's read loop. Must not: process samples.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ChunkOptions } from './rawRecording.js';
import { openRecording } from './openRecording.js';
import { allFinite } from '../../src/quality/finite.js';

interface Job {
  path: string;
  opts: ChunkOptions;
  maxAhead: number;
}

const job = workerData as Job;
const port = parentPort!;
let acked = 0;
let wake: (() => void) | null = null;
port.on('message', (m: { ack: number }) => {
  acked = m.ack;
  wake?.();
});

try {
  const rec = await openRecording(job.path);
  let sent = 0;
  for await (const c of rec.chunks(job.opts)) {
    while (sent - acked >= job.maxAhead) await new Promise<void>((r) => (wake = r));
    wake = null;
    // Checked here, off the processing thread: the guard downstream then skips its scan.
    port.postMessage({ chunk: { ...c, allFinite: allFinite(c.data) } }, [c.data.buffer as ArrayBuffer]);
    sent++;
  }
  await rec.close();
  port.postMessage({ done: true });
} catch (e) {
  port.postMessage({ error: { message: (e as Error).message, name: (e as Error).name } });
}
