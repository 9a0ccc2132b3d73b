/**
 * `--checkpoint`, `--checkpoint-every` and `--resume` for `replay` and `live`: the options, and the
 * check that a checkpoint fits the session about to go on from it (before anything starts, so a
 * wrong file costs one line and exit status 2, never a half-run session).
 *
 * Owns: the options' wording and the fit check. Must not: read arrays or run the pipeline (the
 * decoder session restores the state; streams/pipeline.ts drops what the checkpoint holds).
 */
import type { Command } from 'commander';
import { readCheckpointInfo } from '../adapters/checkpointStore.js';
import type { ResumePlan } from '../streams/pipeline.js';
import { InputError } from './errors.js';
import { positiveInt } from './options.js';

export interface CheckpointArgs {
  /** Write the decoder's state here as the session goes (and at its end). */
  checkpoint?: string;
  checkpointEveryWords: number;
  /** Go on from this checkpoint. */
  resume?: string;
}

export function addCheckpointOptions(cmd: Command, how: string): Command {
  return cmd
    .option('--checkpoint <file>', 'write the decoder\'s state to this file as the session goes (atomically, after the words and refits before it) and at its end; --resume <file> goes on from it after a crash')
    .option('--checkpoint-every <words>', 'words between checkpoints', positiveInt, 1000)
    .option('--resume <file>', `go on from a checkpoint (${how}); new checkpoints go to the same file unless --checkpoint says otherwise`);
}

/** The checkpoint options as a command's args. */
export function checkpointArgs(o: { checkpoint?: string; checkpointEvery: number; resume?: string }): CheckpointArgs {
  return { checkpoint: o.checkpoint, checkpointEveryWords: o.checkpointEvery, resume: o.resume };
}

/** What the pipeline needs: where to write, and the resume plan (checked against the session's sizes). */
export function checkpointPlan(
  a: CheckpointArgs,
  mode: ResumePlan['mode'],
  session: { nChannels: number; nLayers: number; nDims: number; foldBlockWords: number },
): { checkpointPath?: string; checkpointEveryWords?: number; resume?: ResumePlan } {
  const checkpointPath = a.checkpoint ?? a.resume;
  if (!a.resume) return { checkpointPath, checkpointEveryWords: a.checkpointEveryWords };
  const info = readCheckpointInfo(a.resume);
  if (!info.stream) throw new InputError(`--resume ${a.resume}: this checkpoint does not say where its word stream stood (written by \`lockstep decode\` or an older lockstep); give a checkpoint written by replay or live with --checkpoint`);
  const d = info.decoder.options.dims;
  const want: [string, number, number][] = [
    ['MEG channels', d.nChannels, session.nChannels],
    ['layers', d.nLayers, session.nLayers],
    ['feature dimensions', d.nDims, session.nDims],
  ];
  for (const [what, had, has] of want) {
    if (had !== has) throw new InputError(`--resume ${a.resume}: the checkpoint's decoder has ${had} ${what} but this session has ${has}; resume with the options of the run that wrote it`);
  }
  const plan = info.decoder.options.foldPlan;
  if (plan.kind === 'blocks' && plan.blockWords !== session.foldBlockWords) {
    throw new InputError(`--resume ${a.resume}: the checkpoint's folds are blocks of ${plan.blockWords} words but this session asks for ${session.foldBlockWords} (--fold-block); resume with the options of the run that wrote it`);
  }
  return { checkpointPath, checkpointEveryWords: a.checkpointEveryWords, resume: { from: a.resume, mode, position: info.stream } };
}
