/**
 * What `replay` and `publish` both need from a BIDS dataset: every recording of one subject
 * (sessions, tasks, runs, in order), the MEG channels common to all of them with bad channels out,
 * and the recordings as replay segments whose words carry their stimulus index. Also their shared
 * command-line options.
 *
 * Owns: the channel rule and the stimulus numbering of a replayed subject. Must not: read formats.
 */
import { Command, InvalidArgumentError } from 'commander';
import { openBidsRuns, type BidsRecordingBundle } from '../../adapters/meg/openRecording.js';
import type { RawChannel } from '../../adapters/meg/rawRecording.js';
import type { ReplaySegment } from '../../replay/recordingReplay.js';
import { parseSpeed, type Speed } from '../../replay/pacedChunks.js';

export class RecordingQueryError extends Error {}

export interface SubjectQuery {
  root: string;
  subject: string;
  sessions?: string[];
  task?: string;
  run?: string;
}

export interface SubjectRecordings {
  bundles: BidsRecordingBundle[];
  /** MEG channel names present and good in every recording, in the first recording's order. */
  channels: string[];
  warnings: string[];
}

/** The MEG channels a paper analysis decodes: magnetometers/axial gradiometers and planar gradiometers, bad ones out. */
export function megPicks(channels: RawChannel[], bads: Set<string>): string[] {
  return channels.filter((c) => (c.type === 'mag' || c.type === 'grad') && !bads.has(c.name)).map((c) => c.name);
}

/** Opens every matching recording of the subject; bad channels of any recording are left out of all. */
export async function openSubjectRecordings(q: SubjectQuery): Promise<SubjectRecordings> {
  const bundles: BidsRecordingBundle[] = [];
  for (const session of q.sessions ?? [undefined]) bundles.push(...(await openBidsRuns({ root: q.root, subject: q.subject, session, task: q.task, run: q.run })));
  const bads = new Set(bundles.flatMap((b) => b.recording!.header.bads));
  let channels = megPicks(bundles[0].recording!.header.channels, bads);
  for (const b of bundles.slice(1)) {
    const have = new Set(b.recording!.header.channels.map((c) => c.name));
    channels = channels.filter((n) => have.has(n));
  }
  if (channels.length === 0) throw new RecordingQueryError(`${q.root}: no MEG channel (type mag/grad) is common to the selected recordings and good; check channels.tsv status`);
  return { bundles, channels, warnings: bundles.flatMap((b) => b.warnings) };
}

/**
 * The recordings as replay segments; a word's `index` is its position over all the recordings'
 * events in replay order (the stimulus index features and markers use).
 */
export function stimulusSegments(bundles: BidsRecordingBundle[], isContent: (index: number) => boolean | undefined = () => undefined): ReplaySegment[] {
  let index = 0;
  return bundles.map((b) => ({
    recording: b.recording!,
    label: b.entry.key,
    words: b.words.map((w) => {
      const i = index++;
      return { word: w.word, onsetSec: w.onsetSec, durationSec: w.durationSec, run: w.run, index: i, isContent: isContent(i) };
    }),
  }));
}

export async function closeSubjectRecordings(r: SubjectRecordings): Promise<void> {
  for (const b of r.bundles) await b.recording?.close();
}

/** `--subject/--session/--task/--run` and `--speed` with the given default. */
export function addSubjectOptions(cmd: Command, defaultSpeed: Speed): Command {
  return cmd
    .requiredOption('--subject <label>', 'subject (with or without "sub-")')
    .option('--session <labels>', 'session(s), comma-separated (default: all sessions of the subject)', (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .option('--task <label>', 'task (default: all)')
    .option('--run <label>', 'run (default: all)')
    .option(
      '--speed <x|max>',
      'source seconds per wall second (1 = real time), or "max"',
      (v: string) => {
        try {
          return parseSpeed(v);
        } catch (e) {
          throw new InvalidArgumentError((e as Error).message);
        }
      },
      defaultSpeed,
    );
}
