/**
 * The `guards` option read and checked once, at construction. A JavaScript caller is not held to
 * `GuardOptions` by a compiler, and every shape other than `{ input?: [...], output?: [...] }`
 * (an array of guards, a guard itself, `defaultGuards` uncalled, a misspelt key) used to read as
 * no guards at all: the client ran unguarded and nothing said so. A security control that a typo
 * turns off must refuse the typo, so each such shape is a TypeError naming it.
 */
import type { InputGuard, OutputGuard } from './types.ts';

const SHAPE =
  'llmsec instrumentation: guards must be { input?: [...], output?: [...] } (as defaultGuards() returns)';

export function readGuardOptions(guards: unknown): { input: InputGuard[]; output: OutputGuard[] } {
  if (guards === undefined || guards === null) return { input: [], output: [] };
  if (typeof guards !== 'object' || Array.isArray(guards))
    throw new TypeError(`${SHAPE}, got ${kindOf(guards)}`);
  for (const key of Object.keys(guards)) {
    if (key !== 'input' && key !== 'output') {
      throw new TypeError(
        `llmsec instrumentation: unknown key "${key.slice(0, 64)}" in guards (want input, output)`,
      );
    }
  }
  const { input, output } = guards as { input?: unknown; output?: unknown };
  const inputGuards = listOf('input', input) as InputGuard[];
  const outputGuards = listOf('output', output) as OutputGuard[];
  for (const g of inputGuards) {
    if (typeof g?.check !== 'function' || typeof g.layer !== 'string') {
      throw new TypeError(
        `llmsec instrumentation: input guard ${String(g?.name)} needs a layer and a check() function`,
      );
    }
  }
  for (const g of outputGuards) {
    if (typeof g?.checkResponse !== 'function' || typeof g.layer !== 'string') {
      throw new TypeError(
        `llmsec instrumentation: output guard ${String(g?.name)} needs a layer and a checkResponse() function`,
      );
    }
  }
  return { input: inputGuards, output: outputGuards };
}

/**
 * A copy of one side's list (undefined or null: none, as for the whole option and as before this
 * check: `{ output: null }` ran no output guard), so later changes to the caller's array change nothing.
 */
function listOf(side: 'input' | 'output', value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    throw new TypeError(
      `llmsec instrumentation: guards.${side} must be an array of guards, got ${kindOf(value)}`,
    );
  }
  return [...(value as unknown[])];
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const t = typeof value;
  return t === 'object' || t === 'undefined' ? `an ${t}` : `a ${t}`;
}
