/**
 * A handler module for the worker-pool tests (adapters/jobs/workerPool.ts): real jobs that return,
 * throw a subclass of RangeError (bad input), or end their thread the way a crash does.
 */
import { threadId } from 'node:worker_threads';

class FakeQueryError extends RangeError {
  override name = 'FakeQueryError';
}

export async function runJob(data: unknown): Promise<unknown> {
  const d = data as { kind: 'square' | 'bad' | 'crash' | 'crash-once'; x: number; marker?: string };
  if (d.kind === 'bad') throw new FakeQueryError(`bad input ${d.x}`);
  if (d.kind === 'crash') process.exit(7); // in a worker thread this ends the thread only
  if (d.kind === 'crash-once') {
    const fs = await import('node:fs');
    // The first thread to run it leaves a mark and dies; the next one finds the mark and answers.
    if (!fs.existsSync(d.marker!)) {
      fs.writeFileSync(d.marker!, String(threadId));
      process.exit(7);
    }
  }
  await new Promise((r) => setTimeout(r, 20));
  return { square: d.x * d.x, threadId };
}
