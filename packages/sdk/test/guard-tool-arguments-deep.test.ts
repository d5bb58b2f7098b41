import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';

/**
 * An Anthropic tool_use input nested deeper than JSON.stringify recurses (tool-arguments.ts reads
 * `input` as its JSON text): the real @anthropic-ai/sdk parses the body (JSON.parse does not
 * recurse), so the application gets the input; the guards must read it too. Before, the
 * stringify's RangeError was taken for a cycle and the input went unread in every mode.
 */

const DEPTH = 20_000;
const EMAIL = 'jane.doe@example.com';

function body(leaf: string): string {
  const input = `{"to":${'['.repeat(DEPTH)}${JSON.stringify(leaf)}${']'.repeat(DEPTH)}}`;
  return (
    '{"id":"msg_d","type":"message","role":"assistant","model":"claude-haiku-4-5",' +
    `"content":[{"type":"tool_use","id":"toolu_1","name":"send_mail","input":${input}}],` +
    '"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":7}}'
  );
}

const h = useInstrHarness({});

function client(mode: 'detect' | 'block' | 'redact', raw: string) {
  const fetch = async () =>
    new Response(raw, { status: 200, headers: { 'content-type': 'application/json' } });
  return instrumentClient(new Anthropic({ apiKey: 'x', baseURL: h.fake.url, maxRetries: 0, fetch }), {
    ...h.options(),
    guards: { output: [piiGuard({ mode, directions: ['output'] })] },
  });
}

const params = {
  model: 'claude-haiku-4-5',
  max_tokens: 50,
  messages: [{ role: 'user' as const, content: 'mail Jane' }],
};

/** The leaf string under the nesting. */
function leaf(input: unknown): unknown {
  let v = (input as { to: unknown }).to;
  while (Array.isArray(v)) v = v[0];
  return v;
}

describe('a deeply nested Anthropic tool_use input is read', () => {
  it('block refuses an address at the bottom of 20,000 nested arrays', async () => {
    await expect(client('block', body(EMAIL)).messages.create(params)).rejects.toBeInstanceOf(
      OutputBlockedError,
    );
  });

  it('redact writes the placeholder in place, the nesting kept', async () => {
    const m = await client('redact', body(EMAIL)).messages.create(params);
    const b = m.content[0];
    expect(b?.type).toBe('tool_use');
    expect(leaf(b?.type === 'tool_use' ? b.input : undefined)).toBe('[REDACTED:email]');
  });

  it('detect reports it and changes nothing; a clean one passes block', async () => {
    const m = await client('detect', body(EMAIL)).messages.create(params);
    expect(leaf(m.content[0]?.type === 'tool_use' ? m.content[0].input : undefined)).toBe(EMAIL);
    await eventually(() => h.recorded.some((e) => e.category === 'pii_detected'));
    const clean = await client('block', body('the billing team')).messages.create(params);
    expect(leaf(clean.content[0]?.type === 'tool_use' ? clean.content[0].input : undefined)).toBe(
      'the billing team',
    );
  });
});
