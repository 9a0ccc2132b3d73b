/**
 * `lockstep closed-loop`: the command. Options, the policy and its parameters (checked before
 * anything starts), the bank (a folder, or with --simulate the built-in text), then either the
 * controller on real streams (cli/closedLoopSession.ts) or the whole loop simulated
 * (cli/simulatedLoop.ts); the result printed or written as JSON.
 *
 * Owns: the command line. Must not: run sessions itself.
 */
import { Option, type Command } from 'commander';
import { openPassageBank, withDims, type PassageBank } from '../adapters/bank/passageBank.js';
import { simulatedBank } from '../adapters/bank/simulatedBank.js';
import { defaultActivationCache } from '../adapters/llm/features.js';
import { networkConfigFromEnv } from '../adapters/lsl/config.js';
import { SIMULATED_EFFECTS } from '../adapters/simulator/conditionEffects.js';
import { SessionClock } from '../replay/sessionClock.js';
import { resolveParameters } from '../src/closedLoop/policy.js';
import { loadPolicy, runClosedLoop, type ClosedLoopResult } from './closedLoopSession.js';
import { InputError } from './errors.js';
import { backendOption, nonNegativeInt, numberList, positive, positiveInt, speed as speedOption } from './options.js';
import { extractReport } from './progress.js';
import { runSimulatedLoop } from './simulatedLoop.js';

/** The options every closed-loop run shares (real or simulated). */
function policyParameters(o: Record<string, unknown>): Record<string, unknown> {
  const p: Record<string, unknown> = {};
  const map: Record<string, string> = { ciWidth: 'ciWidth', minWords: 'minWords', arms: 'arms', cost: 'cost', ucbC: 'ucbC', measure: 'measure', minArmWords: 'minArmWords', jumpPassages: 'jumpPassages', scorer: 'scorer', warmupWords: 'warmupWords' };
  for (const [opt, key] of Object.entries(map)) if (o[opt] !== undefined) p[key] = o[opt];
  for (const kv of (o.param as string[] | undefined) ?? []) {
    const m = /^([A-Za-z][\w-]*)=(.*)$/.exec(kv);
    if (!m) throw new InputError(`--param ${kv}: expected name=value`);
    p[m[1]] = m[2];
  }
  return p;
}

export function registerClosedLoopCommand(program: Command): void {
  program
    .command('closed-loop')
    .description('Closed-loop controller: runs the live pipeline on the MEG and the presenter\'s word markers (LSL) and, after each passage, chooses the next passage or stops (policy stop-when-tight, balance-surprisal, context, or your own module); decisions go out on the lockstep-control LSL stream and into a JSON sidecar. --simulate runs presenter, simulated subject and controller together on loopback.')
    .option('--bank <dir>', 'the passage bank (lockstep bank build); with --simulate, default: the built-in text as a silent bank')
    .option('--policy <name|module.js>', 'stop-when-tight, balance-surprisal, context, or the path of a module whose default export is a policy', 'stop-when-tight')
    .option('--ci-width <w>', 'stop-when-tight: stop when the temporal score\'s interval is narrower than this', positive)
    .option('--min-words <n>', 'stop-when-tight: not before the exact refit covers this many words', nonNegativeInt)
    .option('--arms <list>', 'context: passages of context before a probe, one arm each (e.g. 0,1,2,3,4)', numberList)
    .option('--cost <c>', 'context: cost of one passage of context, as a fraction of the best arm\'s score', Number)
    .option('--ucb-c <c>', 'context: exploration weight of the upper confidence bound', Number)
    .addOption(new Option('--measure <m>', 'context: the arm score').choices(['alignment', 'temporal']))
    .option('--min-arm-words <n>', 'context: words an arm\'s decoder needs before its score counts', positiveInt)
    .option('--jump-passages <n>', 'context: passages skipped before a trial (the context breaks)', positiveInt)
    .addOption(new Option('--scorer <s>', 'context: whose score an arm gets: overall (the decoder of all words, over the arm\'s probe words; default) or own (the arm\'s own decoder)').choices(['overall', 'own']))
    .option('--warmup-words <n>', 'context: decoded words of story played in order before the first trial (default 300)', nonNegativeInt)
    .option('--param <name=value...>', 'a parameter of your own policy (repeatable)')
    .option('--max-minutes <m>', 'stop (reason max-minutes) rather than start a passage that would end after this much recording', positive)
    .option('--budget <s>', 'longest wait for the decoders once a passage\'s data are complete before deciding on the scores there are', positive, 0.5)
    .option('--meg <name|query>', 'MEG stream (not with --simulate)')
    .option('--words <name|query>', 'the presenter\'s word-marker stream', 'lockstep-words')
    .option('--control <name>', 'name of the decision stream this controller publishes', 'lockstep-control')
    .option('--all-words', 'decode every word (default: content words)')
    .addOption(backendOption())
    .option('--refit-every <words>', 'exact K-fold refit of the overall decoder every N words', positiveInt, 50)
    .option('--fold-block <words>', 'words per contiguous fold block (overall decoder)', positiveInt, 20)
    .option('--condition-refit-every <words>', 'refit of each condition\'s decoder every N of its words', positiveInt, 20)
    .option('--condition-fold-block <words>', 'words per fold block of each condition\'s decoder', positiveInt, 5)
    .option('--half-life <words>', 'rolling-score half-life in words', positiveInt)
    .option('--resolve-timeout <s>', 'how long to look for the streams', positive, 30)
    .option('--simulate', 'presenter (silent), simulated subject and controller together over LSL on loopback')
    .option('--speed <x>', '--simulate: session seconds per wall second (all three share one clock)', speedOption, 1)
    .option('--seed <s>', '--simulate: seed of the subject (and the default bank\'s timing)', nonNegativeInt, 1)
    .option('--channels <n>', '--simulate: MEG channels the simulated subject sends (spread over the helmet; 273 = all)', positiveInt, 273)
    .option('--sfreq <hz>', '--simulate: the subject\'s sampling rate', positive, 1200)
    .option('--snr <x>', '--simulate: evoked amplitude relative to the simulator\'s default', positive, 1)
    .option('--no-effects', '--simulate: plant no condition effects (every word at gain 1)')
    .option('--bank-words <n>', '--simulate without --bank: words of the built-in text in the bank', positiveInt, 6000)
    .option('--passage-words <n>', '--simulate without --bank: words per passage', positiveInt, 50)
    .option('--features <source>', '--simulate without --bank: synthetic[:seed] activations instead of the built-in model\'s')
    .option('--dims <n>', 'decode only the first n dimensions of each layer (a smaller problem: tests, quick runs)', positiveInt)
    .option('--dashboard', 'serve the dashboard')
    .option('--port <n>', 'dashboard port', positiveInt, 8080)
    .option('--host <addr>', 'dashboard address', '127.0.0.1')
    .option('--multicast', "also discover with liblsl's multicast/broadcast targets (labs)")
    .option('--out <file>', 'write the result JSON here (the decisions sidecar goes beside it)')
    .option('--sidecar <file>', 'where the decisions sidecar goes (default: beside --out)')
    .option('--json', 'print the result as one JSON object on stdout')
    .option('--quiet', 'no progress on stderr')
    .action(async (o) => {
      const policy = await loadPolicy(o.policy);
      const parameters = policyParameters(o);
      // Parameters are checked before anything starts (a typo must not cost a session).
      resolveParameters(policy, parameters);
      if (o.speed === 'max') throw new InputError('--speed max is not possible for a loop over LSL on a clock: give a number (e.g. 8)');
      if (!o.simulate && o.speed !== 1) throw new InputError('--speed is for --simulate only (a real session runs on the LSL clock)');
      const quiet = Boolean(o.quiet);
      const report = extractReport(quiet ? null : process.stderr);
      let bank: PassageBank;
      if (o.bank) bank = openPassageBank(o.bank);
      else if (o.simulate) {
        const synthetic = o.features ? /^synthetic(?::(\d+))?$/.exec(String(o.features)) : null;
        if (o.features && !synthetic) throw new InputError(`unknown feature source "${o.features}": use synthetic[:seed]`);
        bank = await simulatedBank({ words: o.bankWords, passageWords: o.passageWords, model: 'builtin', cacheRoot: defaultActivationCache(), seed: o.seed, syntheticSeed: synthetic ? Number(synthetic[1] ?? 1) : undefined, syntheticDims: o.dims, report }).finally(() => report.done());
      } else throw new InputError('--bank <dir> is required (or --simulate)');
      if (o.dims !== undefined) bank = withDims(bank, o.dims);
      const network = networkConfigFromEnv(process.env, o.multicast ? { multicast: true, listenAddress: '0.0.0.0' } : {});
      const common = {
        bank,
        policy,
        parameters,
        controlName: o.control,
        budgetSec: o.budget,
        maxMinutes: o.maxMinutes,
        allWords: Boolean(o.allWords),
        backend: o.backend,
        refitEveryWords: o.refitEvery,
        foldBlockWords: o.foldBlock,
        halfLifeWords: o.halfLife ?? null,
        conditionDecoder: { refitEveryWords: o.conditionRefitEvery, foldBlockWords: o.conditionFoldBlock },
        dashboard: o.dashboard ? { host: o.host, port: o.port } : undefined,
        out: o.out,
        sidecar: o.sidecar,
        quiet,
        network,
        resolveTimeoutSec: o.resolveTimeout,
      };
      let result: object;
      if (o.simulate) {
        result = await runSimulatedLoop({ ...common, speed: o.speed, seed: o.seed, channels: o.channels, sfreqHz: o.sfreq, snr: o.snr, effects: o.effects ? SIMULATED_EFFECTS : null });
      } else {
        if (!o.meg) throw new InputError('--meg <name|query> is required (the MEG stream), or --simulate');
        result = await runClosedLoop({ ...common, meg: o.meg, words: o.words, clock: new SessionClock(1) });
      }
      const r = result as ClosedLoopResult;
      if (o.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else {
        const e = r.final?.exact;
        process.stdout.write(`${r.decisions.filter((d) => d.action === 'play').length} passages, stopped (${r.stopped.reason}) at ${(r.stopped.atSec / 60).toFixed(2)} min; ${r.wordsDecoded} words decoded` + (e ? `, temporal score r = ${e.temporalScore.toFixed(3)} (${e.ci.method} ${e.ci.low.toFixed(3)}…${e.ci.high.toFixed(3)})` : '') + `; decisions in ${r.sidecar}\n`);
      }
    });
}
