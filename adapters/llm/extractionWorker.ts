/**
 * Worker-thread side of the extraction pool (extractionPool.ts): opens the modified graph from its
 * recipe once, then answers batch requests one at a time: padded forward pass → per-word vectors
 * (extractor.ts: wordVectors, the function the in-process path uses too), sent back as transferred
 * buffers. onnxruntime-node runs a session synchronously on the calling thread, so a pass here
 * keeps the main thread's event loop (the replay, LSL sockets, the dashboard) free.
 *
 * Owns: the worker's message loop. Must not: plan windows or batches, or touch files.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { OnnxBatchRunner, type BatchSessionOptions, type OnnxSessionRecipe } from '../onnx/batchRunner.js';
import { wordVectors, type Aggregation } from './extractor.js';

export interface WorkerInit {
  recipe: OnnxSessionRecipe;
  session: BatchSessionOptions;
}

export interface BatchRequest {
  id: number;
  /** Model input per window (BOS included). */
  rows: number[][];
  /** Per window, its targets' token rows [first, stop). */
  targets: { first: number; stop: number }[][];
  layers: number[];
  aggregate: Aggregation;
  /** Benchmarks: the forward pass alone (same feeds and fetches), no word vectors back. */
  forwardOnly?: boolean;
}

export type WorkerMessage =
  | { kind: 'ready' }
  | { kind: 'failed'; error: string }
  | { kind: 'batch'; id: number; activations: Float32Array[][]; surprisal: (number | null)[][] }
  | { kind: 'batch-error'; id: number; error: string };

const port = parentPort!;
const init = workerData as WorkerInit;
let runner: OnnxBatchRunner | null = null;

async function answer(req: BatchRequest): Promise<void> {
  try {
    const out = await runner!.forwardBatch(req.rows, { layers: req.layers, logits: true });
    if (req.forwardOnly) {
      port.postMessage({ kind: 'batch', id: req.id, activations: [], surprisal: [] } satisfies WorkerMessage);
      return;
    }
    const activations: Float32Array[][] = [];
    const surprisal: (number | null)[][] = [];
    const transfer: ArrayBuffer[] = [];
    req.rows.forEach((ids, b) => {
      const v = wordVectors(out, b, ids, req.targets[b]!, req.layers, req.aggregate, runner!.hiddenSize, runner!.vocabSize);
      activations.push(v.map((x) => x.activations));
      surprisal.push(v.map((x) => x.surprisalNats));
      for (const x of v) transfer.push(x.activations.buffer as ArrayBuffer);
    });
    port.postMessage({ kind: 'batch', id: req.id, activations, surprisal } satisfies WorkerMessage, transfer);
  } catch (e) {
    port.postMessage({ kind: 'batch-error', id: req.id, error: (e as Error).message } satisfies WorkerMessage);
  }
}

const opened = OnnxBatchRunner.open(init.recipe, init.session).then(
  (r) => {
    runner = r;
    port.postMessage({ kind: 'ready' } satisfies WorkerMessage);
  },
  (e: unknown) => port.postMessage({ kind: 'failed', error: (e as Error).message } satisfies WorkerMessage),
);

// Requests are answered strictly one after another (one session, one pass at a time), once the
// session is open.
let queue: Promise<void> = opened;
port.on('message', (req: BatchRequest) => {
  queue = queue.then(() => (runner ? answer(req) : port.postMessage({ kind: 'batch-error', id: req.id, error: 'the extraction session did not open' } satisfies WorkerMessage)));
});
