import { describe, expect, it } from 'vitest';
import type { Category, EventInputFor } from '@llmsec/core';
import { piiGuard } from '../src/guards/index.ts';
import { withOutputTexts } from '../src/instrumentation/output-texts.ts';
import { rewriteTexts } from '../src/instrumentation/output-texts.ts';
import { textSlot, withToolArguments, type ArgumentSlot } from '../src/instrumentation/tool-arguments.ts';
import type { GuardContext, GuardInput, OutputGuard } from '../src/instrumentation/types.ts';

/**
 * Linear time of what dd65091 and b185c3e added to piiGuard's reading of a complete answer,
 * as test/worst-case.test.ts measures the guards (thread CPU time, 1 MiB within 8× of 256 KiB,
 * fastest of up to five runs): an answer of 16-character parts read joined and apart (one cut
 * per part), and tool-call arguments full of addresses redacted and written back (the JSON
 * check on both texts).
 */

const SMALL = 256 * 1024;
const LARGE = 1024 * 1024;
// Linear is 4x and quadratic 16x: 8 is halfway on a log scale (worst-case.test.ts, 3c8c9ba8).
// 6 is what that file and slot-chars.test.ts broke at load 15-30 on 2 cores (6.09x, 6.38x).
const MAX_RATIO = 8;
const FLOOR_MS = 25;
const MAX_CALL_MS = 1000;

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

function cpu(fn: () => unknown): number {
  const t0 = process.threadCpuUsage();
  fn();
  const t = process.threadCpuUsage(t0);
  return (t.user + t.system) / 1000;
}

function expectLinear(label: string, run: (size: number) => unknown): void {
  let small = cpu(() => run(SMALL));
  let large = cpu(() => run(LARGE));
  const ratio = () => Math.max(large, FLOOR_MS) / Math.max(small, FLOOR_MS);
  for (let retry = 0; retry < 4 && ratio() >= MAX_RATIO; retry++) {
    small = Math.min(
      small,
      cpu(() => run(SMALL)),
    );
    large = Math.min(
      large,
      cpu(() => run(LARGE)),
    );
  }
  const detail = `${label}: 256 KiB ${small.toFixed(1)} ms, 1 MiB ${large.toFixed(1)} ms`;
  expect(ratio(), detail).toBeLessThan(MAX_RATIO);
  expect(large, detail).toBeLessThan(MAX_CALL_MS);
}

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
      const built = new Map([SMALL, LARGE].map((n) => [n, parts(n)]));
      expectLinear(`${mode} parts`, (n) => {
        const { text, cuts } = built.get(n)!;
        return g.checkResponse(withOutputTexts({ text, toolCalls: [] }, [text], 0, cuts), ctx);
      });
    });
  }

  it('piiGuard redact: 1 MiB of tool-call arguments, rewritten and written back', () => {
    // maxChars past the text: every address is looked for (the cap is per text, as documented).
    const g: OutputGuard = piiGuard({ mode: 'redact', directions: ['output'], maxChars: 2 * LARGE });
    const argsOf = (n: number) => JSON.stringify({ to: 'x@example.com '.repeat(Math.ceil(n / 14)) });
    const built = new Map([SMALL, LARGE].map((n) => [n, argsOf(n)]));
    expectLinear('tool arguments', (n) => {
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
