import { describe, it } from 'vitest';
import type { Category, EventInputFor } from '@llmsec/core';
import { piiGuard } from '../src/guards/index.ts';
import { withOutputTexts } from '../src/instrumentation/output-texts.ts';
import { rewriteTexts } from '../src/instrumentation/output-texts.ts';
import { textSlot, withToolArguments, type ArgumentSlot } from '../src/instrumentation/tool-arguments.ts';
import type { GuardContext, GuardInput, OutputGuard } from '../src/instrumentation/types.ts';
import { expectLinear, LINEAR_FACTOR } from './fixtures/linear-cpu.ts';

/**
 * Linear time of what dd65091 and b185c3e added to piiGuard's reading of a complete answer,
 * as test/worst-case.test.ts measures the guards (thread CPU time; here 1 MiB within 96x of
 * 64 KiB: linear 16x, quadratic 256x, fixtures/linear-cpu.ts): an answer of 16-character parts
 * read joined and apart (one cut per part), and tool-call arguments full of addresses redacted
 * and written back (the JSON check on both texts).
 */

const LARGE = 1024 * 1024;

const input: GuardInput = {
  provider: 'openai',
  operation: 'chat',
  model: 'm',
  system: '',
  messages: [],
  tools: [],
  body: {},
};
const ctx: GuardContext = { input, emit: <C extends Category>(_c: C, _e: EventInputFor<C>) => undefined };

/** `size` characters of addresses and digits, cut every 16 characters (inside most addresses). */
function parts(size: number): { text: string; cuts: number[] } {
  const unit = 'a.b@example.com 4111 1111 1111 1111 +44 20 7946 0958 ';
  const text = unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
  const cuts: number[] = [];
  for (let at = 16; at < size; at += 16) cuts.push(at);
  return { text, cuts };
}

describe('linear: an answer read apart, tool-call arguments redacted', () => {
  for (const mode of ['detect', 'redact'] as const) {
    it(`piiGuard ${mode}: 1 MiB answer of 16-character parts`, () => {
      const g: OutputGuard = piiGuard({ mode, directions: ['output'], maxChars: LARGE });
      const built = new Map([LARGE / LINEAR_FACTOR, LARGE].map((n) => [n, parts(n)]));
      expectLinear(`${mode} parts`, LARGE, (n) => {
        const { text, cuts } = built.get(n)!;
        return g.checkResponse(withOutputTexts({ text, toolCalls: [] }, [text], 0, cuts), ctx);
      });
    });
  }

  it('piiGuard redact: 1 MiB of tool-call arguments, rewritten and written back', () => {
    // maxChars past the text: every address is looked for (the cap is per text, as documented).
    const g: OutputGuard = piiGuard({ mode: 'redact', directions: ['output'], maxChars: 2 * LARGE });
    const argsOf = (n: number) => JSON.stringify({ to: 'x@example.com '.repeat(Math.ceil(n / 14)) });
    const built = new Map([LARGE / LINEAR_FACTOR, LARGE].map((n) => [n, argsOf(n)]));
    expectLinear('tool arguments', LARGE, (n) => {
      const holder: Record<string, unknown> = { arguments: built.get(n)! };
      const slots: ArgumentSlot[] = [];
      textSlot(holder, 'arguments', slots);
      const t = withToolArguments({ answer: ['Sending.'], side: [], write: () => holder }, slots);
      const text = `${t.answer.join('\n')}\n${t.side.join('\n')}`;
      const d = g.checkResponse(
        withOutputTexts({ text, toolCalls: [] }, [...t.answer, ...t.side], t.tools),
        ctx,
      );
      if (d instanceof Promise || d.action !== 'modify') throw new Error('expected a rewrite');
      const next = rewriteTexts(t, d.text, [g], ctx);
      t.write(next.answer, next.side);
      // Still JSON, every address replaced.
      const parsed = JSON.parse(holder.arguments as string) as { to: string };
      if (parsed.to.includes('@')) throw new Error('an address was left');
    });
  });
});
