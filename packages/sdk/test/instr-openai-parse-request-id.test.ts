import OpenAI from 'openai';
import { expect, it } from 'vitest';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import type { OutputGuard } from '../src/instrumentation/types.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';

/**
 * responses.parse() and chat.completions.parse() chain on the create call's own `_thenUnwrap`
 * (call-response.ts wraps it). With an output guard that answers with a promise, the wrapped
 * step returned a promise to the library's step, which put `_request_id` on that promise, not
 * on the response: the application's `parsed._request_id` was undefined. It is set on the
 * response now, as the library does.
 */

function script(req: FakeRequest): FakeResponse | undefined {
  if (req.body.stream === true || !req.path.endsWith('/responses')) return undefined;
  return {
    kind: 'json',
    headers: { 'x-request-id': 'req_parse_1' },
    body: {
      id: 'resp_1',
      object: 'response',
      created_at: 1,
      status: 'completed',
      model: 'gpt-4o-mini',
      output: [
        {
          type: 'message',
          id: 'msg_1',
          status: 'completed',
          role: 'assistant',
          content: [{ type: 'output_text', text: 'write to jane.doe@example.com', annotations: [] }],
        },
      ],
      usage: { input_tokens: 5, output_tokens: 7, total_tokens: 12 },
    },
  };
}

const h = useInstrHarness({ script });

/** An output guard that allows, answering with a promise (a remote check, say). */
const asyncAllow: OutputGuard = {
  name: 'asyncAllow',
  layer: 'custom',
  checkResponse: () => Promise.resolve({ action: 'allow' }),
};

for (const [name, guards] of [
  ['sync guards', [piiGuard({ directions: ['output'] })]],
  ['an async guard', [asyncAllow, piiGuard({ directions: ['output'] })]],
] as const) {
  it(`responses.parse() with ${name}: redacted, and _request_id kept`, async () => {
    const client = instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
      ...h.options(),
      guards: { output: [...guards] },
    });
    const parsed = await client.responses.parse({ model: 'gpt-4o-mini', input: 'hi' });
    expect(parsed.output_text).toBe('write to [REDACTED:email]');
    expect(parsed._request_id).toBe('req_parse_1');
  });
}
