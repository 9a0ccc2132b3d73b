/**
 * `lockstep inspect-model <folder-or-.onnx>`: find the residual stream of an ONNX causal LM by
 * structure, expose its L+1 hidden states (modified graph cached in the user's cache), and check that
 * the original outputs are bit-identical and that final norm + LM head of the last state give the
 * logits again. Prints one JSON object with --json.
 *
 * Owns: the subcommand's options and output. Must not: know about graph internals.
 */
import type { Command } from 'commander';
import { InputError } from './errors.js';
import { locateModel } from '../adapters/onnx/modelLocation.js';
import { inspectModel } from '../adapters/onnx/surgeryChecks.js';

function parseTokenIds(value: string): number[] {
  const ids = value.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (ids.length === 0 || ids.some((v) => !Number.isInteger(v) || v < 0)) throw new Error(`--token-ids: expected comma-separated non-negative integers, got "${value}"`);
  return ids;
}

export interface InspectModelOutput {
  model: string;
  onnxFile: string;
  architecture: string;
  modelType: string | null;
  architectureGuess: string;
  exporter: string;
  blocks: number;
  hiddenSize: number;
  vocabSize: number | null;
  hiddenStates: string[];
  stateTensors: string[];
  hiddenStateConvention: string;
  labels: string[];
  parallelResidual: boolean;
  normKind: string;
  positions: string;
  finalNorm: { node: string; op: string; fused: boolean } | null;
  lmHead: { node: string; op: string; output: string } | null;
  materialized: string[];
  tokens: number[];
  outputsCompared: string[];
  outputsMaxAbsDiff: number;
  logitsReconstructionMaxAbsDiff: number | null;
  modifiedFile: string;
  reused: boolean;
  seconds: number;
  /** Seconds per phase of the check. */
  timings: Record<string, number>;
}

export async function runInspectModel(model: string, opts: { tokenIds?: string; cacheDir?: string }): Promise<InspectModelOutput> {
  const t0 = performance.now();
  const tokenIds = opts.tokenIds !== undefined ? parseTokenIds(opts.tokenIds) : undefined;
  const loc = locateModel(model);
  const r = await inspectModel(loc.onnxFile, { tokenIds, cacheDir: opts.cacheDir });
  return {
    model,
    onnxFile: loc.onnxFile,
    architecture: loc.modelType ?? r.architectureGuess,
    modelType: loc.modelType,
    architectureGuess: r.architectureGuess,
    exporter: r.exporter,
    blocks: r.blocks,
    hiddenSize: r.hiddenSize,
    vocabSize: r.vocabSize,
    hiddenStates: r.hiddenStates,
    stateTensors: r.stateTensors,
    hiddenStateConvention: 'hidden_states.0 = embedding output; hidden_states.L = last block output before the final norm',
    labels: r.labels,
    parallelResidual: r.parallelResidual,
    normKind: r.normKind,
    positions: r.positions,
    finalNorm: r.finalNorm,
    lmHead: r.lmHead,
    materialized: r.materialized,
    tokens: r.tokens,
    outputsCompared: r.outputsCompared,
    outputsMaxAbsDiff: r.outputsMaxAbsDiff,
    logitsReconstructionMaxAbsDiff: r.logitsReconstructionMaxAbsDiff,
    modifiedFile: r.modifiedFile,
    reused: r.reused,
    seconds: (performance.now() - t0) / 1000,
    timings: r.timings ?? {},
  };
}

export function registerInspectModelCommand(program: Command): void {
  program
    .command('inspect-model')
    .description('Find the residual stream of an ONNX causal LM by graph structure, expose its L+1 hidden states as extra outputs (hidden_states.0 … hidden_states.L, cached as <model>.lockstep-hs-<sha>.onnx under $LOCKSTEP_CACHE/onnx or ~/.cache/lockstep/onnx; the model folder is only read), and check the original outputs stay bit-identical and that final norm + LM head of the last state give the logits.')
    .argument('<model>', 'model folder (onnx/model.onnx inside; config.json gives model_type) or an .onnx file')
    .option('--token-ids <list>', 'comma-separated token ids for the check run (default 1,2,3,4)')
    .option('--cache-dir <dir>', 'cache the modified graph under this folder instead of $LOCKSTEP_CACHE/onnx or ~/.cache/lockstep/onnx')
    .option('--json', 'print one JSON object')
    .action(async (model: string, o: { tokenIds?: string; cacheDir?: string; json?: boolean }) => {
      let out: InspectModelOutput;
      try {
        out = await runInspectModel(model, o);
      } catch (e) {
        // A model the surgery cannot handle is bad input for this command: say why, exit 2.
        throw new InputError((e as Error).message.split('\n')[0]);
      }
      if (o.json) {
        process.stdout.write(`${JSON.stringify(out)}\n`);
        return;
      }
      const fmt = (v: number | null) => (v === null ? 'n/a (no final norm + LM head)' : v.toExponential(2));
      process.stdout.write(
        `${out.onnxFile}\n` +
          `architecture ${out.architecture} (structure: ${out.architectureGuess}; exporter: ${out.exporter})\n` +
          `${out.blocks} blocks, hidden size ${out.hiddenSize}${out.vocabSize !== null ? `, vocabulary ${out.vocabSize}` : ''}${out.parallelResidual ? ', parallel residual' : ''}\n` +
          `hidden states: ${out.stateTensors.map((t, k) => `${k}:${t}`).join(' ')}\n` +
          `final norm: ${out.finalNorm ? `${out.finalNorm.op} "${out.finalNorm.node}"${out.finalNorm.fused ? ' (fused with the last residual add)' : ''}` : 'none'}; LM head: ${out.lmHead ? `${out.lmHead.op} "${out.lmHead.node}" → ${out.lmHead.output}` : 'none'}\n` +
          `original outputs max |diff| ${out.outputsMaxAbsDiff}; logits reconstruction max |diff| ${fmt(out.logitsReconstructionMaxAbsDiff)}\n` +
          `modified graph ${out.modifiedFile}${out.reused ? ' (reused)' : ''}; took ${out.seconds.toFixed(2)} s\n`,
      );
    });
}
