import { describe, expect, it } from 'vitest';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import { piiEvents, piiOpenAI, type PiiMode } from './fixtures/pii-guarded-client.ts';
import { messageItem, readResponses, responseBody, responseEvents } from './fixtures/responses-reply.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';

/**
 * A streamed Responses function call whose arguments (a JSON string, the API's shape) come only
 * in its `response.output_item.done` item: no `function_call_arguments` events, and a terminal
 * response that does not repeat the call (a proxy that turns a complete answer into events, or
 * leaves them out). The stream's end check read a call's arguments from its events and the
 * terminal response only: detect reported nothing, and block delivered the item with the
 * address before its check passed the answer. Now the item's arguments are read under the key
 * its events have (66f8731), and block holds the stream from that item.
 */

const EMAIL = 'jane.doe@example.com';
const MODEL = 'local-model';
const ARGS = JSON.stringify({ to: EMAIL, body: 'hi' });

const call = (args: string, status = 'completed') => ({
  type: 'function_call',
  id: 'fc_1',
  call_id: 'call_1',
  name: 'send',
  arguments: args,
  status,
});

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/responses') || req.body.stream !== true) return undefined;
  const ev = responseEvents();
  const message = messageItem('Sent.');
  return {
    kind: 'sse',
    events: [
      ev('response.created', { response: responseBody('resp_i', MODEL, 'in_progress', []) }),
      ev('response.output_item.added', { output_index: 0, item: call('', 'in_progress') }),
      ev('response.output_item.done', { output_index: 0, item: call(ARGS) }),
      ev('response.output_item.added', { output_index: 1, item: message }),
      ev('response.output_item.done', { output_index: 1, item: message }),
      ev('response.completed', { response: responseBody('resp_i', MODEL, 'completed', [message]) }),
    ],
  };
}

const h = useInstrHarness({ script });

const run = (mode: PiiMode, seen: unknown[] = []) => readResponses(piiOpenAI(h, mode), MODEL, true, seen);

describe('function call arguments sent only in the output_item.done item (streamed)', () => {
  it('detect reports them, found in tool_arguments', async () => {
    await run('detect');
    await eventually(() => piiEvents(h).length > 0);
    expect(piiEvents(h)[0]!.metadata).toMatchObject({ pii_types: ['email'], found_in: ['tool_arguments'] });
  });

  it('block refuses the answer, the item not delivered', async () => {
    const seen: unknown[] = [];
    await expect(run('block', seen)).rejects.toBeInstanceOf(OutputBlockedError);
    expect(JSON.stringify(seen)).not.toMatch(/jane\.doe/);
  });

  it('redact rewrites them in the item', async () => {
    const seen = await run('redact');
    const done = (seen as Array<{ type: string; item?: { type?: string; arguments?: string } }>).find(
      (e) => e.type === 'response.output_item.done' && e.item?.type === 'function_call',
    );
    expect(JSON.parse(done!.item!.arguments!)).toEqual({ to: '[REDACTED:email]', body: 'hi' });
  });
});
