/**
 * A worker thread can step back (nice 10, as the compute pool of a live session does) without
 * changing the priority of the process's other threads. Linux only: elsewhere the call reports
 * that nothing changed.
 */
import assert from 'node:assert/strict';
import os from 'node:os';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';

describe('thread priority', () => {
  it('lowers the calling worker thread only', { skip: process.platform !== 'linux' && 'Linux schedules threads by their own nice value; elsewhere it is a no-op' }, async () => {
    const before = os.getPriority();
    const module = new URL('../adapters/threadPriority.js', import.meta.url).href;
    const worker = new Worker(
      `import('${module}').then(({ setCurrentThreadNice }) => require('node:worker_threads').parentPort.postMessage(setCurrentThreadNice(Math.min(19, ${before} + 10))));`,
      { eval: true },
    );
    const got = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    assert.equal(got, Math.min(19, before + 10), 'the worker runs at the lower priority');
    assert.equal(os.getPriority(), before, "the main thread's priority is unchanged");
  });
});
