/**
 * One thread of the worker pool (workerPool.ts): imports the handler module named in workerData and
 * runs the jobs the pool sends it, one at a time, answering each with its value or its error.
 *
 * Owns: the message loop. Must not: hold state between jobs (every job is whole in its data).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { serializeError, type JobHandlerModule } from './jobRunner.js';

const port = parentPort;
if (!port) throw new Error('poolThread.ts runs as a worker thread of the pool');
const handler = (await import((workerData as { handlerUrl: string }).handlerUrl)) as JobHandlerModule;
port.on('message', (m: { seq: number; data: unknown }) => {
  handler.runJob(m.data).then(
    (value) => port.postMessage({ seq: m.seq, ok: true, value }),
    (e: unknown) => port.postMessage({ seq: m.seq, ok: false, error: serializeError(e) }),
  );
});
port.postMessage({ ready: true });
