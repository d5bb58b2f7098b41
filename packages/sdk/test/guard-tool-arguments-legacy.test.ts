import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';

/**
 * A redact chat stream's legacy `delta.function_call.arguments` (a request declaring
 * `functions`), through the real openai 7 client (chat-tool-arguments-rewrite.ts). b185c3e's
 * end check reads them and 2ec599c kept `tool_calls` pieces back, but the legacy pieces went
 * out as sent: an address in them reached the application in piiGuard's default mode.
 */

const EMAIL = 'jane.doe@example.com';
let args = '';

function chat(): FakeResponse {
  const chunk = (delta: unknown, finish: string | null = null): SseEvent => ({
    data: {
      id: 'chatcmpl-l',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'gpt-4o-mini',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    },
  });
  const pieces: string[] = [];
  for (let i = 0; i < args.length; i += 7) pieces.push(args.slice(i, i + 7));
  return {
    kind: 'sse',
    events: [
      chunk({ role: 'assistant', content: null, function_call: { name: 'send_mail', arguments: '' } }),
      ...pieces.map((p) => chunk({ function_call: { arguments: p } })),
      chunk({}, 'function_call'),
      { data: '[DONE]' },
    ],
  };
}

const h = useInstrHarness({ script: (req) => (req.path.endsWith('/chat/completions') ? chat() : undefined) });

const functions = [{ name: 'send_mail', parameters: { type: 'object', properties: {} } }];
const messages = [{ role: 'user' as const, content: 'mail Jane' }];

function client() {
  return instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
    ...h.options(),
    guards: { output: [piiGuard({ mode: 'redact', directions: ['output'] })] },
  });
}

describe('redact chat stream: legacy function_call arguments', () => {
  it('no chunk carries the address; the pieces join to the redacted JSON', async () => {
    args = JSON.stringify({ to: EMAIL, subject: 'Your refund' });
    const s = await client().chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      functions,
      stream: true,
    });
    const raw: unknown[] = [];
    let joined = '';
    for await (const chunk of s) {
      raw.push(chunk);
      joined += chunk.choices[0]?.delta.function_call?.arguments ?? '';
    }
    expect(JSON.stringify(raw)).not.toMatch(/jane|example\.com/);
    expect(JSON.parse(joined)).toEqual({ to: '[REDACTED:email]', subject: 'Your refund' });
  });

  it("chat.completions.stream()'s final message carries the redacted JSON; clean arguments exactly", async () => {
    args = JSON.stringify({ to: EMAIL });
    const s = client().chat.completions.stream({ model: 'gpt-4o-mini', messages, functions });
    const fc = (await s.finalChatCompletion()).choices[0]?.message.function_call;
    expect(JSON.parse(fc?.arguments ?? '')).toEqual({ to: '[REDACTED:email]' });
    args = JSON.stringify({ to: 'the billing team', n: 12 });
    const clean = client().chat.completions.stream({ model: 'gpt-4o-mini', messages, functions });
    expect((await clean.finalChatCompletion()).choices[0]?.message.function_call?.arguments).toBe(args);
  });
});
