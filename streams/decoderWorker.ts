/**
 * Worker-thread entry hosting a DecoderSession, so that refits (seconds of linear algebra) never
 * stall the main event loop: ingest, the dashboard and LSL inlets keep running while it computes.
 * Each message is handed to the session as it arrives (after `init`); the session keeps their order
 * as its mode says, and each answer is posted when it is ready (answers carry their request's id).
 */
import { parentPort } from 'node:worker_threads';
import { DecoderSession } from './decoderSession.js';
import type { HostRequest, HostResponse } from './decoderHost.js';

if (!parentPort) throw new Error('decoderWorker.js must run as a worker thread');
const port = parentPort;
let session: DecoderSession | undefined;
/** Settles once `init` has: requests that arrive meanwhile wait for it. */
let ready: Promise<unknown> = Promise.resolve();

async function handle(req: HostRequest): Promise<unknown> {
  if (req.op === 'init') {
    session = await DecoderSession.create(req.options);
    return { backend: session.backendDetail };
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
      return session.checkpoint(req.path, req.stream);
    case 'close':
      await session.close();
      return null;
  }
}

port.on('message', (req: HostRequest) => {
  const answer = ready.then(() => handle(req));
  if (req.op === 'init') ready = answer.catch(() => undefined);
  answer.then(
    (value) => port.postMessage({ id: req.id, ok: true, value } satisfies HostResponse),
    (e: Error) => port.postMessage({ id: req.id, ok: false, error: e.message, errorName: e.name } satisfies HostResponse),
  );
});
