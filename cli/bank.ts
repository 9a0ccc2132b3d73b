/**
 * `lockstep bank build`: a passage bank for closed-loop sessions, from a text (cut into passages,
 * spoken by espeak-ng word by word) or from your own recordings with their word alignment; every
 * word annotated with its content tag, its surprisal and its layer activations under `--model`.
 * `lockstep bank check <dir>` reads a bank as a session would and reports it (or what is wrong).
 *
 * Owns: the options and the printed summary. Must not: build or check (adapters/bank does).
 */
import { Option, type Command } from 'commander';
import { buildBank } from '../adapters/bank/buildBank.js';
import { openPassageBank } from '../adapters/bank/passageBank.js';
import { defaultActivationCache } from '../adapters/llm/features.js';
import { InputError } from './errors.js';
import { positive, positiveInt } from './options.js';
import { extractReport } from './progress.js';

export function registerBankCommand(program: Command): void {
  const bank = program.command('bank').description('Passage banks for closed-loop experiments: build one, or check one.');
  bank
    .command('build')
    .description('Build a passage bank: per passage its text, audio (WAV) and words with onsets and offsets (TSV), plus a manifest; every word annotated with its content tag, surprisal and layer activations under --model.')
    .option('--text <file>', 'a UTF-8 text: cut into passages and spoken by espeak-ng, word by word (exact onsets)')
    .option('--recordings <dir>', 'or your own recordings: <name>.wav + <name>.txt + <name>.tsv (word, onset, offset in s) per passage, taken as they are')
    .requiredOption('--out <dir>', '(required) the bank folder to write')
    .requiredOption('--model <folder|builtin>', '(required) language model for content tags, surprisal and activations')
    .option('--context <words>', 'previous words of context (paper: 50)', positiveInt, 50)
    .addOption(new Option('--context-mode <mode>', 'exact or chunked context windows').choices(['exact', 'chunked']).default('exact'))
    .option('--cache <dir>', 'activation cache (default ~/.cache/lockstep/activations or $LOCKSTEP_CACHE)')
    .option('--passage-words <n>', 'words per passage aimed at (cut at paragraph/sentence ends)', positiveInt, 50)
    .option('--max-words <n>', 'only the first n words of the text', positiveInt)
    .option('--voice <name>', 'espeak-ng voice', 'en-us')
    .option('--rate <wpm>', 'espeak-ng speaking rate, words per minute', positiveInt, 190)
    .option('--word-gap <s>', 'silence between spoken words, s (punctuation adds its pause)', positive, 0.04)
    .option('--json', 'print one JSON object at the end')
    .option('--quiet', 'no progress on stderr')
    .action(async (o) => {
      if (Boolean(o.text) === Boolean(o.recordings)) throw new InputError('give either --text <file> or --recordings <folder>');
      const quiet = Boolean(o.quiet);
      const report = extractReport(quiet ? null : process.stderr, 'bank');
      const r = await buildBank({
        out: o.out,
        text: o.text,
        recordings: o.recordings,
        model: o.model,
        context: o.context,
        mode: o.contextMode,
        cacheRoot: o.cache ?? defaultActivationCache(),
        passageWords: o.passageWords,
        maxWords: o.maxWords,
        voice: o.voice,
        wordsPerMinute: o.rate,
        wordGapSec: o.wordGap,
        report: { ...report, line: (s) => !quiet && process.stderr.write(`${s}\n`) },
      }).finally(() => report.done());
      // Read it back as a session would: a bank that does not pass its own checks is not written quietly.
      openPassageBank(r.dir);
      if (o.json) process.stdout.write(`${JSON.stringify({ command: 'bank build', ...r })}\n`);
      else process.stdout.write(`wrote ${r.dir}: ${r.passages} passages, ${r.words} words (${r.contentWords} content), ${(r.durationSec / 60).toFixed(1)} min of audio; surprisal quartile edges ${r.quartileEdgesNats.map((v) => v.toFixed(2)).join(' / ')} nats\n`);
    });
  bank
    .command('check')
    .description('Read a passage bank as a session would (every file, line by line) and summarise it.')
    .argument('<dir>', 'the bank folder')
    .option('--json', 'print one JSON object')
    .action((dir: string, o) => {
      const b = openPassageBank(dir);
      const s = b.summary;
      const quartiles = s.passages.reduce((c, p) => c.map((n, q) => n + p.quartileCounts[q]), [0, 0, 0, 0]);
      const summary = { command: 'bank check', dir, passages: s.passages.length, words: s.words.length, contentWords: s.passages.reduce((n, p) => n + p.nContent, 0), quartileCounts: quartiles, quartileEdgesNats: s.quartileEdgesNats, durationSec: s.passages.reduce((n, p) => n + p.durationSec, 0), features: b.featuresLabel, manifestSha256: b.manifestSha256 };
      if (o.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
      else process.stdout.write(`${b.label}: ${summary.contentWords} content words per quartile ${quartiles.join('/')}, ${(summary.durationSec / 60).toFixed(1)} min; features: ${b.featuresLabel}\n`);
    });
}
