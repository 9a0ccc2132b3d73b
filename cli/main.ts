#!/usr/bin/env node
/**
 * The `lockstep` command line: one file per command in cli/, registered here. Every subcommand has
 * --help. Any error ends the command with one line on stderr (`lockstep <command>: <what>`) and
 * exit status 2 for bad input (usage errors, damaged files, missing streams) or 1 otherwise.
 */
import { Command, CommanderError } from 'commander';
import { registerBackendsCommand } from './backends.js';
import { registerDecodeCommand } from './decode.js';
import { registerDemoCommand } from './demo.js';
import { isInputError, oneLine } from './errors.js';
import { registerExperimentCommand } from './experiment.js';
import { registerExtractCommand } from './extract.js';
import { registerInfoCommand } from './info.js';
import { registerInspectModelCommand } from './inspectModel.js';
import { registerLiveCommand } from './live.js';
import { registerLslCommand } from './lsl.js';
import { registerPublishCommand } from './publish.js';
import { registerReplayCommand } from './replay.js';
import { registerSimulateCommand } from './simulate.js';
import { registerWorkerCommand } from './worker.js';

export function buildProgram(): Command {
  const program = new Command('lockstep')
    .description('Real-time monitor of how language-model layers line up in time with MEG responses (Raugel et al. 2025).')
    .version('0.1.0')
    // Commander's own errors (unknown option, bad value, missing argument) are thrown rather than
    // printed, so that main() reports every error the same way: one line, exit status 2.
    .exitOverride()
    .configureOutput({ outputError: () => undefined });
  registerDemoCommand(program);
  registerReplayCommand(program);
  registerLiveCommand(program);
  registerPublishCommand(program);
  registerSimulateCommand(program);
  registerExperimentCommand(program);
  registerWorkerCommand(program);
  registerInfoCommand(program);
  registerExtractCommand(program);
  registerInspectModelCommand(program);
  registerLslCommand(program);
  registerDecodeCommand(program);
  registerBackendsCommand(program);
  return program;
}

/** The command being run, for the error line ("lockstep replay: …", "lockstep lsl push: …"). */
function commandName(argv: string[]): string {
  let cmd: Command = buildProgram();
  const names = ['lockstep'];
  for (const a of argv.slice(2)) {
    if (a.startsWith('-')) break;
    const sub = cmd.commands.find((c) => c.name() === a);
    if (!sub) break;
    names.push(a);
    cmd = sub;
  }
  return names.join(' ');
}

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (e) {
    // --help and --version end through the same path, successfully.
    if (e instanceof CommanderError && (e.code === 'commander.helpDisplayed' || e.code === 'commander.version')) {
      process.exitCode = 0;
      return;
    }
    // No command given: commander printed the help; that is a usage error.
    if (e instanceof CommanderError && e.code === 'commander.help') {
      process.exitCode = 2;
      return;
    }
    const err = e as Error;
    const hint = e instanceof CommanderError ? ` (see ${commandName(process.argv)} --help)` : '';
    process.stderr.write(`${commandName(process.argv)}: ${oneLine(err.message)}${hint}\n`);
    process.exitCode = isInputError(e) ? 2 : 1;
  }
}

await main();
