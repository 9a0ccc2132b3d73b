/**
 * `errorText`: the message of anything thrown, for the one-line "why it failed" texts the loaders
 * (linear-algebra backends, the OpenBLAS binding) put into their `{ error }` results.
 *
 * Owns: turning an unknown thrown value into text. Must not: add context of its own (the caller
 * knows what was being done).
 */

/** `e.message` for an Error, else `String(e)` (a thrown string, number, …). */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
