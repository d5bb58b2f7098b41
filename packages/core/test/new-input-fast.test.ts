import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { measureNewInput, rawContentLength, type PromptMessage } from '../src/new-input.ts';

/*
 * measureNewInput without a closure per call and rawContentLength's shortcut for a message of
 * one string content (issue 13) against the code as it was at c4ccdf8, copied here so that the
 * reference cannot move with the code under test: same lengths and turn indexes on random
 * prompts, raw lists of every shape (strings, parts, nested tool results, outputs, arrays,
 * non-objects) and lists deep or wide enough to hit the walk's caps.
 */

const OLD_MAX_NODES = 10_000;
const OLD_MAX_DEPTH = 6;
const OLD_SYSTEM_ROLES: ReadonlySet<string> = new Set(['system', 'developer']);
function oldIsModelSideRole(role: string): boolean {
  return role === 'assistant' || role === 'model' || role === 'reasoning' || role.endsWith('_call');
}
function oldMeasure(
  messages: readonly PromptMessage[],
  options: { raw?: readonly unknown[]; inConversation?: boolean; serverHistory?: boolean } = {},
): { length: number; turnIndex: number | undefined } {
  const raw = options.raw !== undefined && options.raw.length === messages.length ? options.raw : undefined;
  const lengthAt = (i: number): number => {
    const text = messages[i]!.content.length;
    return raw === undefined ? text : Math.max(text, oldRawContentLength(raw[i]));
  };
  let i = messages.length - 1;
  let length = 0;
  while (i >= 0 && oldIsModelSideRole(messages[i]!.role)) length += lengthAt(i--);
  for (; i >= 0 && !oldIsModelSideRole(messages[i]!.role); i--) {
    if (!OLD_SYSTEM_ROLES.has(messages[i]!.role)) length += lengthAt(i);
  }
  let turns = 0;
  let inRun = false;
  for (; i >= 0; i--) {
    const model = oldIsModelSideRole(messages[i]!.role);
    if (model && !inRun) turns++;
    inRun = model;
  }
  const known = options.serverHistory !== true && (turns > 0 || options.inConversation === true);
  return { length, turnIndex: known ? turns + 1 : undefined };
}
function oldRawContentLength(message: unknown): number {
  let budget = OLD_MAX_NODES;
  const walk = (v: unknown, depth: number): number => {
    if (--budget < 0) return 0;
    if (typeof v === 'string') return v.length;
    if (depth >= OLD_MAX_DEPTH || typeof v !== 'object' || v === null) return 0;
    if (Array.isArray(v)) {
      let n = 0;
      for (const item of v) {
        if (budget < 0) break;
        n += walk(item, depth + 1);
      }
      return n;
    }
    const o = v as Record<string, unknown>;
    return walk(o.text, depth + 1) + walk(o.content, depth + 1) + walk(o.output, depth + 1);
  };
  return walk(message, 0);
}

const text = fc.string({ maxLength: 10 });
const leaf = fc.oneof(text, fc.constantFrom(undefined, null, 0, 5, true, {}, []));
const value: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 4, arbitrary: leaf },
    { weight: 1, arbitrary: fc.array(tie('v'), { maxLength: 4 }) },
    {
      weight: 2,
      arbitrary: fc.record(
        { text: tie('v'), content: tie('v'), output: tie('v'), role: text, type: text },
        { requiredKeys: [] },
      ),
    },
  ),
})).v;
const role = fc.constantFrom(
  'system',
  'developer',
  'user',
  'assistant',
  'tool',
  'model',
  'reasoning',
  'function_call',
  'x',
);
const prompt = fc.array(fc.record({ role, content: text }), { maxLength: 8 });

describe('measureNewInput and rawContentLength as at c4ccdf8', () => {
  it('give the same on random raw values and prompts', () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(rawContentLength(v)).toBe(oldRawContentLength(v));
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(
        prompt,
        fc.array(value, { maxLength: 8 }),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        (messages, rawValues, useRaw, inConversation, serverHistory) => {
          // A raw list of the prompt's length is read; another length is ignored (both covered).
          const raw = useRaw ? messages.map((m, i) => rawValues[i] ?? m) : rawValues;
          const options = { raw, inConversation, serverHistory };
          expect(measureNewInput(messages, options)).toEqual(oldMeasure(messages, options));
          expect(measureNewInput(messages)).toEqual(oldMeasure(messages));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('give the same at the walk caps: wide lists past the node budget, nesting past the depth', () => {
    const wide = {
      role: 'tool',
      content: Array.from({ length: 12_000 }, () => ({ type: 'text', text: 'ab' })),
    };
    let deep: unknown = 'deepest';
    for (let d = 0; d < 10; d++) deep = { content: [deep] };
    const shortcut = { role: 'user', content: 'plain', text: undefined, output: undefined };
    for (const v of [wide, deep, shortcut, { content: 'a', output: 'bc' }, { text: 'a', content: 'bc' }])
      expect(rawContentLength(v)).toBe(oldRawContentLength(v));
  });
});
