/**
 * How a command ends on an error: one line on stderr, `lockstep <command>: <what>`, and exit status
 * 2 for bad input (a usage error, a damaged file, a missing stream: something the user can fix) or
 * 1 for anything else. Commands throw; only main.ts prints.
 *
 * Owns: the classification of errors into exit statuses. Must not: catch errors for commands.
 */
import { CommanderError, InvalidArgumentError } from 'commander';

/** Bad input the user can fix: names the file/stream/option, the position and what to do. */
export class InputError extends Error {
  override name = 'InputError';
}

/** Errors thrown by the readers, parsers and protocol code for bad input (their classes end so). */
const INPUT_ERROR_NAMES = /(FormatError|QueryError|InputError|CheckpointError|PyLiteralError|XmlParseError|StreamInfoError)$/;

/** A path the user gave that is missing, unreadable or of the wrong kind. */
const PATH_ERROR_CODES = new Set(['ENOENT', 'EISDIR', 'ENOTDIR', 'EACCES']);

export function isInputError(e: unknown): boolean {
  if (e instanceof InputError || e instanceof InvalidArgumentError || e instanceof RangeError) return true;
  if (e instanceof CommanderError) return true;
  if (!(e instanceof Error)) return false;
  if (INPUT_ERROR_NAMES.test(e.name) || INPUT_ERROR_NAMES.test(e.constructor.name)) return true;
  const code = (e as NodeJS.ErrnoException).code ?? ((e.cause as NodeJS.ErrnoException | undefined)?.code);
  return code !== undefined && PATH_ERROR_CODES.has(code);
}

/** The message as one line (multi-line messages are joined with " / "). */
export function oneLine(message: string): string {
  return message
    .replace(/^error:\s*/i, '')
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter(Boolean)
    .join(' / ');
}
