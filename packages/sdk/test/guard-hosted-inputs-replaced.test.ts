import { describe, expect, it } from 'vitest';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import { piiEvents, piiOpenAI, type PiiMode } from './fixtures/pii-guarded-client.ts';
import { messageItem, readResponses, responseBody, responseEvents } from './fixtures/responses-reply.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';

/**
 * A streamed hosted call whose `response.output_item.added` item carries an input that its
 * `.done` item replaces (a web search's query rewritten by the server; a hostile proxy): the
 * added event reached the reader with its text, so the end check reads it too
 * (tool-arguments.ts StreamedArguments.set keeps a replaced text). Before, the done item's text
 * replaced it under the same key and nothing read it: detect reported nothing, and block (which
 * holds the stream from the item to the end check) released it unread after the check passed.
 */

const EMAIL = 'jane.doe@example.com';

const search = (status: string, query: string) => ({
  type: 'web_search_call',
  id: 'ws_1',
  status,
  action: { type: 'search', query },
});
const message = messageItem('Found.');

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/responses') || req.body.stream !== true) return undefined;
  const ev = responseEvents();
  const done = search('completed', 'who is the account owner');
  return {
    kind: 'sse',
    events: [
      ev('response.created', { response: responseBody('resp_a', 'gpt-4o-mini', 'in_progress', []) }),
      ev('response.output_item.added', { output_index: 0, item: search('in_progress', `who is ${EMAIL}`) }),
      ev('response.output_item.done', { output_index: 0, item: done }),
      ev('response.output_item.added', { output_index: 1, item: message }),
      ev('response.output_item.done', { output_index: 1, item: message }),
      ev('response.completed', {
        response: responseBody('resp_a', 'gpt-4o-mini', 'completed', [done, message]),
      }),
    ],
  };
}

const h = useInstrHarness({ script });

const run = (mode: PiiMode, seen: unknown[] = []) =>
  readResponses(piiOpenAI(h, mode), 'gpt-4o-mini', true, seen);

describe('a hosted input only the added item carried is read', () => {
  it('detect reports it, found in tool_arguments', async () => {
    await run('detect');
    await eventually(() => piiEvents(h).length > 0);
    expect(piiEvents(h)[0]!.metadata).toMatchObject({ pii_types: ['email'], found_in: ['tool_arguments'] });
  });

  it('block refuses the answer, the added item not delivered', async () => {
    const seen: unknown[] = [];
    await expect(run('block', seen)).rejects.toBeInstanceOf(OutputBlockedError);
    expect(JSON.stringify(seen)).not.toMatch(/jane|\.doe/);
  });

  it('redact rewrites it in the added item', async () => {
    const text = JSON.stringify(await run('redact'));
    expect(text).not.toMatch(/jane|\.doe/);
    expect(text).toContain('[REDACTED:email]');
  });
});
