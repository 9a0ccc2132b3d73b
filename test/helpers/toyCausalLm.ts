/**
 * A small deterministic causal language model for extractor tests, whose hidden states and logits
 * are known closed-form functions of the tokens, so expected values can be worked out by hand.
 *
 *   vocab V = 6, hidden H = 4, blocks L = 3 (hidden states 0…3)
 *   hidden[l][t][h] = (l + 1)·(id_t + 1) + (h + 1)·prev_t / 2 + l·h / 100
 *       where prev_t = id_{t−1} + 1 when token t − 1 is in the input, else 0
 *   logits[t][v]    = ln(1 + (id_t + v) mod 3)
 *       so p(next = v | token t) = (1 + (id_t + v) mod 3) / 12 (the weights sum to 12 for V = 6)
 *
 * Causal with a receptive field of two tokens and no absolute position: a token's states depend
 * only on itself and the token before it, so any window that contains both gives the same values.
 */
import type { ForwardResult, HiddenStateModel } from '../../src/types.js';

export const TOY = { V: 6, H: 4, L: 3 } as const;

export function toyHidden(l: number, h: number, id: number, prevId: number | null): number {
  return (l + 1) * (id + 1) + ((h + 1) * (prevId === null ? 0 : prevId + 1)) / 2 + (l * h) / 100;
}

export function toyProb(prevId: number, next: number): number {
  return (1 + ((prevId + next) % 3)) / 12;
}

export class ToyCausalLm implements HiddenStateModel {
  readonly nBlocks = TOY.L;
  readonly hiddenSize = TOY.H;
  readonly vocabSize = TOY.V;
  readonly modelHash: string;
  forwardCalls = 0;
  tokensSeen = 0;

  /**
   * @param opts.failAfter throw on the forward call after this many (simulates a crash)
   * @param opts.noLmHead return null logits
   */
  constructor(private readonly opts: { failAfter?: number; noLmHead?: boolean; hash?: string } = {}) {
    this.modelHash = opts.hash ?? 'toy-causal-lm-v1';
  }

  async forward(inputIds: number[]): Promise<ForwardResult> {
    if (this.opts.failAfter !== undefined && this.forwardCalls >= this.opts.failAfter) throw new Error('toy model: simulated crash');
    this.forwardCalls++;
    this.tokensSeen += inputIds.length;
    const T = inputIds.length;
    const hidden = Array.from({ length: TOY.L + 1 }, (_, l) => {
      const out = new Float32Array(T * TOY.H);
      for (let t = 0; t < T; t++) for (let h = 0; h < TOY.H; h++) out[t * TOY.H + h] = toyHidden(l, h, inputIds[t], t > 0 ? inputIds[t - 1] : null);
      return out;
    });
    let logits: Float32Array | null = null;
    if (!this.opts.noLmHead) {
      logits = new Float32Array(T * TOY.V);
      for (let t = 0; t < T; t++) for (let v = 0; v < TOY.V; v++) logits[t * TOY.V + v] = Math.log(1 + ((inputIds[t] + v) % 3));
    }
    return { hidden, logits };
  }

  async dispose(): Promise<void> {}
}
