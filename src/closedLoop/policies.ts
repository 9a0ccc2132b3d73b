/**
 * The built-in closed-loop policies by name. A lab's own policy is a module whose default export
 * is a PolicyDefinition (cli/closedLoop.ts loads it from a path); it is checked the same way.
 *
 * Owns: the registry and the shape check of a definition. Must not: load modules (the CLI does).
 */
import { BALANCE_SURPRISAL } from './balanceSurprisal.js';
import { CONTEXT_POLICY } from './contextPolicy.js';
import type { PolicyDefinition } from './policy.js';
import { STOP_WHEN_TIGHT } from './stopWhenTight.js';

export const BUILTIN_POLICIES: readonly PolicyDefinition[] = [STOP_WHEN_TIGHT, BALANCE_SURPRISAL, CONTEXT_POLICY];

/** @throws RangeError listing the known policies */
export function builtinPolicy(name: string): PolicyDefinition {
  const def = BUILTIN_POLICIES.find((p) => p.name === name);
  if (!def) throw new RangeError(`unknown policy "${name}": use ${BUILTIN_POLICIES.map((p) => p.name).join(', ')}, or the path of a module whose default export is a policy definition (README "Closed-loop experiments")`);
  return def;
}

/** Checks that a module's export looks like a PolicyDefinition. @throws RangeError saying what is missing */
export function checkPolicyDefinition(value: unknown, source: string): PolicyDefinition {
  const d = value as Partial<PolicyDefinition> | null;
  const missing = !d || typeof d !== 'object' ? ['an object'] : [typeof d.name === 'string' ? '' : 'name (string)', typeof d.create === 'function' ? '' : 'create(bank, parameters)', d.parameters && typeof d.parameters === 'object' ? '' : 'parameters (object)'].filter(Boolean);
  if (missing.length) throw new RangeError(`${source}: its default export is not a policy definition (missing ${missing.join(', ')})`);
  const def = d as PolicyDefinition;
  return { ...def, summary: typeof def.summary === 'string' ? def.summary : '' };
}
