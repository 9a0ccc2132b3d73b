/**
 * Speech for a passage bank built from text alone: Debian's `espeak-ng` as a child process, one
 * word at a time, so that each word's onset in the passage audio is known to the sample (the word's
 * audio is placed at a known position; espeak-ng starts sounding at its first sample, and the
 * silence it appends is trimmed). Word-by-word speech has no prosody across words; it is the price
 * of exact onsets without a forced aligner. Repeated words are synthesised once.
 *
 * Owns: running espeak-ng and trimming its output. Must not: lay words out in time (the bank
 * builder does) or write files.
 */
import { spawn } from 'node:child_process';
import { readWavPcm16 } from '../../src/audio/wav.js';

export interface EspeakOptions {
  /** espeak-ng voice (default en-us). */
  voice?: string;
  /** Speaking rate, words per minute (default 190: isolated words are spoken slower than running speech). */
  wordsPerMinute?: number;
  /** Synthesis processes run at once (default 2). */
  concurrency?: number;
  /** The program (default `espeak-ng` on the PATH). */
  binary?: string;
}

export interface WordAudio {
  /** Mono 16-bit samples, silence trimmed at both ends. */
  samples: Int16Array;
  sampleRateHz: number;
}

/** Samples at or below this magnitude count as silence when trimming (−66 dBFS). */
const SILENCE = 16;

export class EspeakError extends Error {
  override name = 'EspeakInputError';
}

export class EspeakSynthesizer {
  readonly voice: string;
  readonly wordsPerMinute: number;
  private readonly binary: string;
  private readonly concurrency: number;
  private readonly cache = new Map<string, Promise<WordAudio>>();
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(o: EspeakOptions = {}) {
    this.voice = o.voice ?? 'en-us';
    this.wordsPerMinute = o.wordsPerMinute ?? 190;
    this.binary = o.binary ?? 'espeak-ng';
    this.concurrency = Math.max(1, o.concurrency ?? 2);
  }

  /** `espeak-ng --version`'s line (recorded in the bank's manifest). @throws EspeakError when it does not run */
  async version(): Promise<string> {
    const out = await this.run(['--version']);
    // "eSpeak NG text-to-speech: 1.51  Data at: /usr/lib/…": the version, not this machine's paths.
    return out.toString('utf8').trim().split('\n')[0].replace(/\s+Data at:.*$/, '');
  }

  /** One word's speech (cached by its spelling). */
  word(text: string): Promise<WordAudio> {
    let p = this.cache.get(text);
    if (!p) {
      p = this.limited(() => this.synthesize(text));
      this.cache.set(text, p);
    }
    return p;
  }

  private async synthesize(text: string): Promise<WordAudio> {
    // "--" ends the options: a word such as "-ly" is spoken, not parsed.
    const bytes = await this.run(['-v', this.voice, '-s', String(this.wordsPerMinute), '--stdout', '--', text]);
    const { info, samples } = readWavPcm16(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), `espeak-ng output for "${text}"`);
    let a = 0;
    let b = samples.length;
    while (a < b && Math.abs(samples[a]) <= SILENCE) a++;
    while (b > a && Math.abs(samples[b - 1]) <= SILENCE) b--;
    if (b <= a) throw new EspeakError(`espeak-ng produced silence for "${text}" (voice ${this.voice}); check the voice, or give recordings with --recordings`);
    return { samples: samples.slice(a, b), sampleRateHz: info.sampleRateHz };
  }

  private async limited<T>(job: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) await new Promise<void>((r) => this.queue.push(r));
    this.running++;
    try {
      return await job();
    } finally {
      this.running--;
      this.queue.shift()?.();
    }
  }

  private run(args: string[]): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => err.push(d));
      child.on('error', (e: NodeJS.ErrnoException) =>
        reject(e.code === 'ENOENT' ? new EspeakError(`${this.binary} not found: install it (apt-get install espeak-ng), or build the bank from your own recordings (--recordings)`) : e),
      );
      child.on('close', (code) => {
        if (code === 0) resolve(Buffer.concat(out));
        else reject(new EspeakError(`${this.binary} ${args.join(' ')} exited with status ${code}: ${Buffer.concat(err).toString('utf8').trim().slice(0, 200)}`));
      });
    });
  }
}
