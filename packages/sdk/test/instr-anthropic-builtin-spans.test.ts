import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';

/**
 * The Anthropic SDK 1.x traces its own calls when a tracer provider is registered (the
 * harness registers one). instrumentClient turns that off for the client it instruments
 * (ours is the call's span), with `anthropicBuiltInSpans: 'keep'` to leave it on, and for that
 * client only: another client of the same class keeps its tracing.
 */

const h = useInstrHarness();
const body = {
  model: 'claude-haiku-4-5',
  max_tokens: 100,
  messages: [{ role: 'user' as const, content: 'hello' }],
};

function anthropic(): Anthropic {
  return new Anthropic({ apiKey: 'x', baseURL: h.fake.url, maxRetries: 0 });
}

/** The spans the Anthropic SDK made itself (not ours: ours carry llmsec's scope). */
function builtIn(): string[] {
  return h
    .spans()
    .filter((s) => s.instrumentationScope.name.includes('anthropic'))
    .map((s) => s.name);
}

describe("instrumentClient and the Anthropic SDK's own tracing", () => {
  it('an uninstrumented client traces itself (the check below can see it)', async () => {
    await anthropic().beta.messages.create(body);
    await eventually(() => builtIn().length >= 1);
  });

  it('turned off on the instrumented client only: one span, ours; a second client keeps its own', async () => {
    const other = anthropic();
    const client = instrumentClient(anthropic(), h.options());
    await client.beta.messages.create(body);
    await eventually(() => h.spans().length === 1);
    expect(builtIn()).toEqual([]);
    await other.messages.create(body);
    await eventually(() => builtIn().length >= 1);
  });

  it("anthropicBuiltInSpans: 'keep' leaves it on, beside ours", async () => {
    const client = instrumentClient(anthropic(), { ...h.options(), anthropicBuiltInSpans: 'keep' });
    await client.beta.messages.create(body);
    await eventually(() => builtIn().length >= 1 && h.spans().length > builtIn().length);
    expect(h.spans().filter((s) => s.name === 'chat claude-haiku-4-5').length).toBeGreaterThanOrEqual(1);
  });
});
