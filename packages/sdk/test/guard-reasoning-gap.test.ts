import Anthropic from '@anthropic-ai/sdk';
import { describe, it } from 'vitest';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import { piiEvents, piiOpenAI, piiOutputOptions } from './fixtures/pii-guarded-client.ts';
import { readResponses, responseBody, responseEvents } from './fixtures/responses-reply.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';

/**
 * A known gap, pinned (it.fails: these pass once the output guards read reasoning): the
 * reasoning a model hands the application is output too. A Responses `reasoning` item's summary
 * text (`summary[].text`, streamed as `response.reasoning_summary_text.delta` events) and an
 * Anthropic `thinking` block's `thinking` text reach the application (which may show them), but
 * no output guard reads them: an address in them passes detect (so block and redact). Redacting
 * an Anthropic thinking block cannot keep its `signature` valid (the API checks it when the
 * block is sent back), so redact there would have to block; see the SDK README 'Not covered'.
 */

const SUMMARY = 'The user wants the note sent to jane.doe@example.com, so I will draft it.';

const reasoning = {
  type: 'reasoning',
  id: 'rs_1',
  summary: [{ type: 'summary_text', text: SUMMARY }],
};
const message = {
  type: 'message',
  id: 'msg_1',
  role: 'assistant',
  status: 'completed',
  content: [{ type: 'output_text', text: 'Drafted.', annotations: [] }],
};

function script(req: FakeRequest): FakeResponse | undefined {
  if (req.path === '/v1/messages')
    return {
      kind: 'json',
      body: {
        id: 'msg_t',
        type: 'message',
        role: 'assistant',
        model: 'claude-sonnet-4-5',
        content: [
          { type: 'thinking', thinking: SUMMARY, signature: 'c2lnbmF0dXJl' },
          { type: 'text', text: 'Drafted.' },
        ],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: { input_tokens: 5, output_tokens: 7 },
      },
    };
  if (!req.path.endsWith('/v1/responses')) return undefined;
  const done = responseBody('resp_r', 'gpt-5', 'completed', [reasoning, message]);
  if (req.body.stream !== true) return { kind: 'json', body: done };
  const ev = responseEvents();
  return {
    kind: 'sse',
    events: [
      ev('response.created', { response: responseBody('resp_r', 'gpt-5', 'in_progress', []) }),
      ev('response.output_item.added', { output_index: 0, item: { ...reasoning, summary: [] } }),
      ev('response.reasoning_summary_part.added', {
        item_id: 'rs_1',
        output_index: 0,
        summary_index: 0,
        part: { type: 'summary_text', text: '' },
      }),
      ev('response.reasoning_summary_text.delta', {
        item_id: 'rs_1',
        output_index: 0,
        summary_index: 0,
        delta: SUMMARY,
      }),
      ev('response.reasoning_summary_text.done', {
        item_id: 'rs_1',
        output_index: 0,
        summary_index: 0,
        text: SUMMARY,
      }),
      ev('response.output_item.done', { output_index: 0, item: reasoning }),
      ev('response.output_item.done', { output_index: 1, item: message }),
      ev('response.completed', { response: done }),
    ],
  };
}

const h = useInstrHarness({ script });

describe('reasoning text is not read by the output guards (known gap)', () => {
  it.fails('Responses reasoning summary: detect reports an address in it', async () => {
    await readResponses(piiOpenAI(h, 'detect'), 'gpt-5', false);
    await eventually(() => piiEvents(h).length > 0, 1000);
  });

  it.fails('Responses reasoning summary, streamed: detect reports an address in it', async () => {
    await readResponses(piiOpenAI(h, 'detect'), 'gpt-5', true);
    await eventually(() => piiEvents(h).length > 0, 1000);
  });

  it.fails('Anthropic thinking block: detect reports an address in it', async () => {
    const c = instrumentClient(
      new Anthropic({ apiKey: 'x', baseURL: h.fake.url, maxRetries: 0 }),
      piiOutputOptions(h, 'detect'),
    );
    await c.messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'mail Jane' }],
    });
    await eventually(() => piiEvents(h).length > 0, 1000);
  });
});
