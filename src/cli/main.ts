#!/usr/bin/env node
/**
 * The `lockstep` command line. Every subcommand has --help; errors print one line naming the
 * input, the position and what to do, and exit with status 2 (bad input) or 1 (anything else).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { BACKEND_NAMES } from '../linalg/backend.js';
import { ALPHA_SELECTIONS, type AlphaSelection } from '../ridge/alphaGrid.js';
import { runDecode } from './decodeCommand.js';
import { runDemo, type Control } from './demoCommand.js';
import { registerInfoCommand } from './infoCommand.js';
import { registerReplayCommand } from './replayCommand.js';
import { registerLiveCommand } from './liveCommand.js';
import { registerPublishCommand } from './publishCommand.js';
import { registerSimulateCommand } from './simulateCommand.js';
import { parseSpeed } from '../../replay/pacedChunks.js';
import { describeAvailability } from '../linalg/select.js';
import { registerLslCommand } from './lslCommand.js';
import { registerInspectModelCommand } from './inspectModelCommand.js';
import { registerExtractCommand } from './extractCommand.js';

function numberList(value: string): number[] {
  const out = value.split(',').map((s) => Number(s.trim()));
  if (out.length === 0 || out.some((v) => !Number.isFinite(v))) throw new InvalidArgumentError(`expected comma-separated numbers, got "${value}"`);
  return out;
}

function number(value: string): number {
  const v = Number(value);
  if (!Number.isFinite(v)) throw new InvalidArgumentError(`expected a number, got "${value}"`);
  return v;
}

function positiveInt(value: string): number {
  const v = Number(value);
  if (!Number.isInteger(v) || v < 1) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return v;
}

function positiveIntOrZero(value: string): number {
  const v = Number(value);
  if (!Number.isInteger(v) || v < 0) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return v;
}

function parseSpeedOption(value: string) {
  try {
    return parseSpeed(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

const backendOption = () =>
  new Option('--backend <name>', 'linear-algebra backend: auto picks blas (OpenBLAS) when it loads, else ort').choices(['auto', ...BACKEND_NAMES]).default('auto');

export function buildProgram(): Command {
  const program = new Command('lockstep')
    .description('Real-time monitor of how language-model layers line up in time with MEG responses (Raugel et al. 2025).')
    .showHelpAfterError('(run with --help for usage)')
    .version('0.1.0');

  program
    .command('decode')
    .description(
      'Exact K-fold ridge decoding of layer activations from MEG epochs, per time sample, with the temporal score.\n' +
        'X.npy: float32/float64 [words, channels, times] (MNE epochs.get_data()); Y.npy: [layers, words, dims].',
    )
    .requiredOption('--epochs <X.npy>', 'epochs [words, channels, times], little-endian float32/float64, C order')
    .requiredOption('--targets <Y.npy>', 'layer activations [layers, words, dims]')
    .option('--layers-depths <list>', 'relative depth of each layer (default 0.1,…,0.9 for 9 layers)', numberList)
    .option('--times-start <sec>', 'time of the first epoch sample, seconds', number, -2.5)
    .option('--sfreq <Hz>', 'epoch sampling rate', number, 30)
    .option('--folds <K>', 'contiguous (unshuffled) outer folds', positiveInt, 5)
    .option('--alphas <list>', 'ridge penalties; one value means a fixed α (default logspace(-4, 8, 13))', numberList)
    .addOption(new Option('--alpha-selection <how>', 'per-target α: gcv (default), kfold (inner K-fold) or fixed').choices([...ALPHA_SELECTIONS]))
    .addOption(backendOption())
    .option('--batch-words <n>', 'words per accumulation product', positiveInt)
    .option('--out <scores.npy>', 'also write R [layers, times], .folds.npy [folds, layers, times] and .alphas.npy [folds, times, targets]')
    .option('--checkpoint <file>', 'save the sufficient statistics (resumable) after accumulating')
    .option('--include-folds', 'add per-fold R curves to the JSON output')
    .option('--json', 'print one JSON object on stdout (otherwise a short summary)')
    .option('--quiet', 'no progress on stderr')
    .action(async (o) => {
      const out = await runDecode({
        epochs: o.epochs,
        targets: o.targets,
        depths: o.layersDepths,
        timesStart: o.timesStart,
        sfreq: o.sfreq,
        folds: o.folds,
        alphas: o.alphas,
        alphaSelection: o.alphaSelection as AlphaSelection | undefined,
        backend: o.backend,
        batchWords: o.batchWords,
        out: o.out,
        checkpoint: o.checkpoint,
        includeFolds: o.includeFolds,
        quiet: o.quiet,
      });
      if (o.json) {
        process.stdout.write(`${JSON.stringify(out)}\n`);
      } else {
        const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : String(v));
        process.stdout.write(
          `${out.nWords} words, ${out.R.length} layers × ${out.times.length} times, backend ${out.backend}\n` +
            `temporal score r = ${fmt(out.temporalScore)} (p = ${out.p.toPrecision(3)}, ${Math.round(out.ci.level * 100)}% CI ${fmt(out.ci.low)}…${fmt(out.ci.high)}, ${out.ci.method})\n` +
            `alignment score ${fmt(out.alignmentScore)} at layer ${out.bestLayer} (depth ${out.depths[out.bestLayer]}), t = ${fmt(out.peakTimeSec)} s\n` +
            `Tmax per layer (s): ${out.tmax.map(fmt).join(' ')}\n` +
            `took ${out.seconds.toFixed(1)} s (accumulate ${out.accumulateSeconds.toFixed(1)} s, refit ${out.refitSeconds.toFixed(1)} s)\n`,
        );
      }
    });

  program
    .command('demo')
    .description(
      'Run the whole pipeline on a simulated subject listening to the built-in text (Moby Dick), whose MEG encodes the\n' +
        'built-in language model\'s layers (or --synthetic activations), and serve the live dashboard. Planted latencies\n' +
        'rise with layer depth (0.30 s → 0.65 s).',
    )
    .option('--port <n>', 'dashboard port', positiveInt, 8080)
    .option('--host <addr>', 'dashboard address; anything but loopback requires a token', '127.0.0.1')
    .option('--token <secret>', 'require this token on the WebSocket (generated and printed when --host is not loopback)')
    .option('--no-dashboard', 'do not serve the dashboard')
    .option('--speed <x|max>', 'pace: 1 = real time, N = N× real time, max = as fast as the decoder allows', parseSpeedOption, 'max')
    .option('--minutes <m>', 'stop after this much simulated recording and exit 0', number)
    .option('--seed <s>', 'simulation seed', positiveIntOrZero, 1)
    .option('--null', 'control: no coupling between layers and MEG')
    .option('--shuffle', 'control: planted latencies shuffled across layers')
    .option('--flat', 'control: every layer at the same latency')
    .option('--snr <x>', 'evoked amplitude relative to the default (1 decodes within ~10–20 simulated minutes)', number, 1)
    .option('--model <folder|builtin>', 'language model whose layers the subject encodes and lockstep decodes', 'builtin')
    .option('--synthetic', 'use seeded synthetic activations instead of a language model (all words decoded)')
    .option('--all-words', 'with a model, decode every word (default: content words, as the paper)')
    .option('--dims <n>', 'synthetic activation dimensions per layer', positiveInt, 50)
    .option('--refit-every <words>', 'exact K-fold refit (and new rolling model) every N words', positiveInt, 500)
    .option('--fold-block <words>', 'words per contiguous fold block, assigned round-robin to the 5 folds (exact scores start once all 5 have words)', positiveInt, 100)
    .option('--snapshot-every <words>', 'snapshot every N words', positiveInt, 10)
    .option('--half-life <words>', 'rolling score forgets with this half-life (default: cumulative)', positiveInt)
    .addOption(backendOption())
    .option('--json', 'also write one JSON line per snapshot to stdout (schema lockstep.snapshot/1)')
    .option('--quiet', 'no progress on stderr')
    .action(async (o) => {
      const controls = (['null', 'shuffle', 'flat'] as const).filter((c) => o[c]);
      if (controls.length > 1) throw new InvalidArgumentError(`choose one of --null, --shuffle, --flat (got ${controls.map((c) => `--${c}`).join(' ')})`);
      const control: Control = controls[0] ?? 'planted';
      await runDemo({
        port: o.port,
        host: o.host,
        token: o.token,
        dashboard: o.dashboard,
        speed: o.speed,
        minutes: o.minutes,
        seed: o.seed,
        control,
        snr: o.snr,
        json: Boolean(o.json),
        backend: o.backend,
        nDims: o.dims,
        model: o.synthetic ? undefined : o.model,
        allWords: Boolean(o.allWords),
        refitEveryWords: o.refitEvery,
        foldBlockWords: o.foldBlock,
        snapshotEveryWords: o.snapshotEvery,
        halfLifeWords: o.halfLife ?? null,
        quiet: Boolean(o.quiet),
      });
    });

  registerInfoCommand(program);
  registerSimulateCommand(program);
  registerReplayCommand(program);
  registerLiveCommand(program);
  registerPublishCommand(program);
  program
    .command('backends')
    .description('Show which linear-algebra backends load on this machine, and why the others do not.')
    .option('--json', 'print JSON')
    .action(async (o) => {
      const info = await describeAvailability();
      process.stdout.write(o.json ? `${JSON.stringify(info)}\n` : `${JSON.stringify(info, null, 2)}\n`);
    });

  registerLslCommand(program);
  registerInspectModelCommand(program);
  registerExtractCommand(program);
  return program;
}

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (e) {
    const err = e as Error;
    process.stderr.write(`lockstep: ${err.message}\n`);
    process.exitCode = err instanceof RangeError || /\.npy|checkpoint|dtype|shape/.test(err.message) ? 2 : 1;
  }
}

await main();
