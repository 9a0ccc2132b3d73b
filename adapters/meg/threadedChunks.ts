/**
 * A recording's `chunks()` read in a worker thread: reading and converting the stored numbers to
 * float32 SI (a third of a replay's CPU time) then overlaps with filtering on the main thread, so a
 * replay uses both cores. Same values, same chunk boundaries as `recording.chunks(opts)`.
 *
 * Owns: the thread and the flow control between the threads. Must not: read formats itself.
 */
import { Worker } from 'node:worker_threads';
import type { SampleChunk } from '../../src/types.js';
import type { ChunkOptions } from './rawRecording.js';

/**
 * @example
 *   for await (const c of threadedChunks(rec.header.path, { picks, chunkSamples: 1200 })) use(c);
 * @param path what `openRecording` opens (a `.ds` folder or a `.fif` file)
 * @param maxAhead chunks read ahead of the consumer (memory: maxAhead × chunk size)
 */
export async function* threadedChunks(path: string, opts: ChunkOptions, maxAhead = 4): AsyncIterable<SampleChunk> {
  const worker = new Worker(new URL('./chunkWorker.js', import.meta.url), { workerData: { path, opts, maxAhead } });
  const queue: ({ chunk: SampleChunk } | { done: true } | { error: { message: string; name: string } })[] = [];
  let wake: (() => void) | null = null;
  let crashed: Error | null = null;
  worker.on('message', (m) => {
    queue.push(m);
    wake?.();
  });
  worker.on('error', (e) => {
    crashed = e;
    wake?.();
  });
  let received = 0;
  try {
    for (;;) {
      while (queue.length === 0 && !crashed) await new Promise<void>((r) => (wake = r));
      wake = null;
      if (crashed) throw crashed;
      const m = queue.shift()!;
      if ('done' in m) return;
      if ('error' in m) {
        // Keep the reader's error name (RecordingFormatError …) so callers and exit codes tell bad files apart.
        const e = new Error(m.error.message);
        e.name = m.error.name;
        throw e;
      }
      worker.postMessage({ ack: ++received });
      yield m.chunk;
    }
  } finally {
    await worker.terminate();
  }
}
