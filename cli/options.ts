/**
 * Option parsers and option groups that several commands share, so each rule is written once.
 * A parser throws commander's InvalidArgumentError, which main.ts turns into one line on stderr
 * and exit status 2.
 *
 * Owns: the spelling and checking of option values. Must not: run anything.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { ComputeOptions } from '../adapters/llm/extract.js';
import { syntheticFeatures, type FeatureTable } from '../adapters/llm/features.js';
import { parsePcaFit, type PcaFitChoice } from '../adapters/llm/pcaBasis.js';
import { DEVICE_CHOICES } from '../adapters/onnx/devices.js';
import { parseSpeed, type Speed } from '../replay/pacedChunks.js';
import { BACKEND_NAMES } from '../src/linalg/backend.js';

export function number(value: string): number {
  const v = Number(value);
  if (value.trim() === '' || !Number.isFinite(v)) throw new InvalidArgumentError(`expected a number, got "${value}"`);
  return v;
}

export function positive(value: string): number {
  const v = number(value);
  if (!(v > 0)) throw new InvalidArgumentError(`expected a positive number, got "${value}"`);
  return v;
}

export function nonNegative(value: string): number {
  const v = number(value);
  if (!(v >= 0)) throw new InvalidArgumentError(`expected a number ≥ 0, got "${value}"`);
  return v;
}

export function positiveInt(value: string): number {
  const v = Number(value);
  if (value.trim() === '' || !Number.isInteger(v) || v < 1) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return v;
}

export function nonNegativeInt(value: string): number {
  const v = Number(value);
  if (value.trim() === '' || !Number.isInteger(v) || v < 0) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return v;
}

export function numberList(value: string): number[] {
  const out = value.split(',').map((s) => Number(s.trim()));
  const bad = out.findIndex((v, i) => !Number.isFinite(v) || value.split(',')[i].trim() === '');
  if (bad >= 0) throw new InvalidArgumentError(`expected comma-separated numbers, got "${value}" (item ${bad + 1})`);
  return out;
}

export function commaList(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}

export function speed(value: string): Speed {
  try {
    return parseSpeed(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

/** `--features synthetic[:seed[:dims]]`: the simulator's planted features instead of a language model. */
export function featureSource(value: string): FeatureTable {
  const m = /^synthetic(?::(\d+)(?::(\d+))?)?$/.exec(value);
  if (m && (m[2] === undefined || Number(m[2]) >= 1)) return syntheticFeatures(m[1] === undefined ? 1 : Number(m[1]), m[2] === undefined ? undefined : Number(m[2]));
  throw new InvalidArgumentError(`unknown feature source "${value}": use synthetic[:seed[:dims]] (dims ≥ 1, default 50)`);
}

export const backendOption = (): Option =>
  new Option('--backend <name>', 'linear-algebra backend: auto picks blas (OpenBLAS) when it loads, else ort').choices(['auto', ...BACKEND_NAMES]).default('auto');

/** `--subject/--session/--task/--run` and `--speed` with the given default (replay, publish). */
export function addSubjectOptions(cmd: Command, defaultSpeed: Speed, subjectHelp = 'subject (with or without "sub-")'): Command {
  return cmd
    .requiredOption('--subject <label>', `(required) ${subjectHelp}`)
    .option('--session <labels>', 'session(s), comma-separated (default: all sessions of the subject)', commaList)
    .option('--task <label>', 'task (default: all)')
    .option('--run <label>', 'run (default: all)')
    .option('--speed <x|max>', 'source seconds per wall second (1 = real time), or "max"', speed, defaultSpeed);
}

/** `--pca-fit all|sample[:N]|reference[:N]`. */
export function pcaFitOption(value: string): PcaFitChoice {
  try {
    return parsePcaFit(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

/**
 * How a command's language-model extraction computes and fits its PCA: `--pca-fit` (with the
 * command's default), `--device`, `--extract-workers`, `--batch-tokens`.
 */
export function addExtractionOptions(cmd: Command, defaultFit: string | null, fitNote: string): Command {
  const fitHelp = `PCA basis per layer: all (fit on every word once all are extracted), sample[:N] (fit on N words spread over the stimulus, then every word streams as it is extracted), reference[:N] (fit on N words of the built-in text); ${fitNote}`;
  return cmd
    .option('--pca-fit <how>', fitHelp, pcaFitOption, defaultFit === null ? undefined : parsePcaFit(defaultFit))
    .addOption(new Option('--device <name>', 'where extraction runs: cpu, cuda (onnxruntime-node CUDA provider), auto').choices([...DEVICE_CHOICES]).default('cpu'))
    .option('--extract-workers <n>', 'extraction worker threads (default: min(2, cores); 0 = this thread)', nonNegativeInt)
    .option('--batch-tokens <n>', 'most padded tokens per forward pass (0 = one window per pass)', nonNegativeInt, 4096);
}

/** The compute options `addExtractionOptions` parsed. */
export function extractionCompute(o: { device?: ComputeOptions['device']; extractWorkers?: number; batchTokens?: number }): ComputeOptions {
  return { device: o.device, workers: o.extractWorkers, batchTokens: o.batchTokens };
}
