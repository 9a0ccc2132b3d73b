/**
 * What `replay` and `publish` both need from a BIDS dataset: every recording of one subject
 * (sessions, tasks, runs, in order), the MEG channels common to all of them with bad channels out,
 * and the recordings as replay segments whose words carry their stimulus index. (Their shared command-line
 * options are in cli/options.ts.)
 *
 * Owns: the channel rule and the stimulus numbering of a replayed subject. Must not: read formats.
 */
import { bareLabel, sameLabel } from '../adapters/meg/bids/entities.js';
import { walkBids } from '../adapters/meg/bids/walker.js';
import { openBidsRuns, type BidsRecordingBundle } from '../adapters/meg/openRecording.js';
import type { RawChannel } from '../adapters/meg/rawRecording.js';
import type { ReplaySegment } from './recordingReplay.js';

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

/**
 * The subjects a `--subject` value names: `all` (every subject with a MEG recording other than
 * empty-room, in the dataset's order) or a comma-separated list of labels (with or without
 * "sub-"), each checked against the dataset.
 */
export function resolveSubjects(root: string, spec: string): string[] {
  const ds = walkBids(root);
  const withMeg = [...new Set(ds.recordings.filter((r) => !r.isEmptyRoom).map((r) => r.subject))];
  if (spec.trim() === 'all') {
    if (withMeg.length === 0) throw new RecordingQueryError(`${root}: no subject with a MEG recording`);
    return withMeg;
  }
  const labels = spec.split(',').map((s) => bareLabel('sub', s.trim())).filter(Boolean);
  if (labels.length === 0) throw new RecordingQueryError(`--subject "${spec}" names no subject: give labels (001,002) or all`);
  for (const l of labels) {
    if (!withMeg.some((s) => sameLabel(s, l))) throw new RecordingQueryError(`${root}: no MEG recording of sub-${l}; subjects here: ${withMeg.map((s) => `sub-${s}`).join(', ') || 'none'}`);
  }
  return labels;
}
