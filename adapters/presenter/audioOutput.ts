/**
 * Where a presenter's passage audio goes: ALSA through `aplay` (a child process per passage, on
 * the default or a named device), or nowhere (`--no-audio`: the schedule and its markers only).
 *
 * The presenter stamps word markers on its schedule, not on aplay's progress: aplay is started at
 * the passage's scheduled start, and the device's output latency (a constant, measurable with a
 * hardware loopback: the audio recorded into an ADC channel of the MEG) is added to every marker
 * with `latencySec`. What aplay cannot promise is the start itself: process start-up and the
 * device's buffer add a few milliseconds of jitter that no marker can know; a presenter that must
 * be exact to the sample is a dedicated one (PsychoPy, Psychtoolbox) reading `lockstep-control`
 * (docs/closed-loop-psychopy.md).
 *
 * Owns: the audio child processes. Must not: schedule (presenter.ts) or read banks.
 */
import { spawn } from 'node:child_process';

export interface AudioPlayback {
  /** Resolves when the audio has finished (rejects if the player failed). */
  done: Promise<void>;
}

export interface AudioOutput {
  readonly label: string;
  /** Output latency added to every marker of a passage, seconds (0 for no audio). */
  readonly latencySec: number;
  /** Starts playing the file now. */
  start(wavPath: string | null, passage: string): AudioPlayback;
}

export class AudioInputError extends Error {
  override name = 'AudioInputError';
}

/** No audio: the presenter publishes its schedule only. */
export class SilentAudio implements AudioOutput {
  readonly label = 'no audio (silent schedule)';
  readonly latencySec = 0;
  start(): AudioPlayback {
    return { done: Promise.resolve() };
  }
}

/** ALSA through `aplay -q [-D device] file.wav`. */
export class AplayAudio implements AudioOutput {
  readonly label: string;
  constructor(
    private readonly device: string | undefined,
    readonly latencySec = 0,
    private readonly binary = 'aplay',
  ) {
    this.label = `aplay${device ? ` -D ${device}` : ''} (ALSA)${latencySec ? `, output latency ${(latencySec * 1000).toFixed(1)} ms` : ''}`;
  }

  start(wavPath: string | null, passage: string): AudioPlayback {
    if (!wavPath) throw new AudioInputError(`passage ${passage} has no audio file: this bank is a silent schedule; present it with --no-audio`);
    const child = spawn(this.binary, ['-q', ...(this.device ? ['-D', this.device] : []), wavPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    const err: Buffer[] = [];
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const done = new Promise<void>((resolve, reject) => {
      child.on('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? new AudioInputError(`${this.binary} not found: install alsa-utils, or present with --no-audio`) : e));
      child.on('close', (code) => (code === 0 ? resolve() : reject(new AudioInputError(`${this.binary} failed on ${wavPath} (status ${code}): ${Buffer.concat(err).toString('utf8').trim().slice(0, 200)}`))));
    });
    return { done };
  }
}
