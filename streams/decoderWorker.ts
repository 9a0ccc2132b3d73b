/**
 * Worker-thread entry hosting a DecoderSession, so that refits (seconds of linear algebra) never
 * stall the main event loop: ingest, the dashboard and LSL inlets keep running while it computes.
 * Messages are handled one at a time in arrival order; words sent during a refit wait in the port.
 */
import { parentPort } from 'node:worker_threads';
import { DecoderSession } from './decoderSession.js';
import type { HostRequest, HostResponse } from './decoderHost.js';

if (!parentPort) throw new Error('decoderWorker.js must run as a worker thread');
const port = parentPort;
let session: DecoderSession | undefined;
let queue: Promise<void> = Promise.resolve();

async function handle(req: HostRequest): Promise<unknown> {
  if (req.op === 'init') {
    session = await DecoderSession.create(req.options);
    return { backend: session.backend.detail };
  }
  if (!session) throw new Error('decoder worker: not initialised');
  switch (req.op) {
    case 'add':
      return session.add(req.words);
    case 'refit':
      return session.refit();
    case 'snapshot':
      return session.snapshot(req.seq);
    case 'checkpoint':
      return session.checkpoint(req.path);
    case 'close':
      await session.close();
      return null;
  }
}

port.on('message', (req: HostRequest) => {
  queue = queue.then(async () => {
    let res: HostResponse;
    try {
      res = { id: req.id, ok: true, value: await handle(req) };
    } catch (e) {
      const err = e as Error;
      res = { id: req.id, ok: false, error: err.message, errorName: err.name };
    }
    port.postMessage(res);
  });
});
