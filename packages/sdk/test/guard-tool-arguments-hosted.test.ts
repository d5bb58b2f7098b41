import { describe } from 'vitest';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import { emailModeCases } from './fixtures/email-mode-cases.ts';
import { piiOpenAI, type PiiMode } from './fixtures/pii-guarded-client.ts';
import {
  messageItem,
  outputTextEvents,
  readResponses,
  responseBody,
  responseEvents,
} from './fixtures/responses-reply.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';

/**
 * A Responses answer's hosted tool calls send the model's words out (responses-hosted-inputs.ts):
 * a web_search_call's query to a search engine, an mcp_call's arguments to an MCP server. The
 * output guards read them as tool arguments, through the real openai 7 client against the fake
 * server; before, an address in a search query passed every mode.
 */

const EMAIL = 'jane.doe@example.com';
/** Which hosted call the answer makes: set per test. */
let kind: 'web_search' | 'web_search_queries' | 'file_search' | 'image_generation' | 'mcp' = 'web_search';

function hostedItem(status: string): Record<string, unknown> {
  if (kind === 'file_search')
    // The queries the model sent the vector store. Before, unread.
    return {
      type: 'file_search_call',
      id: 'fs_1',
      status,
      queries: ['refund policy', `orders of ${EMAIL}`],
      results: null,
    };
  if (kind === 'image_generation')
    // The prompt the model wrote for the image tool (after its rewriting). Before, unread.
    return {
      type: 'image_generation_call',
      id: 'ig_1',
      status,
      result: status === 'completed' ? 'iVBORw0KGgo=' : null,
      revised_prompt: `A badge that reads ${EMAIL}`,
    };
  if (kind === 'web_search_queries')
    // The API's current field (query is deprecated): the search queries, a list. Before, unread.
    return {
      type: 'web_search_call',
      id: 'ws_1',
      status,
      action: { type: 'search', queries: ['weather in Paris', `who is ${EMAIL}`] },
    };
  return kind === 'web_search'
    ? { type: 'web_search_call', id: 'ws_1', status, action: { type: 'search', query: `who is ${EMAIL}` } }
    : {
        type: 'mcp_call',
        id: 'mcp_1',
        server_label: 'crm',
        name: 'lookup',
        arguments: JSON.stringify({ email: EMAIL }),
        status,
      };
}

const message = messageItem('Found.');

function responses(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/responses')) return undefined;
  const response = (status: string, output: unknown[]) =>
    responseBody('resp_h', 'gpt-4o-mini', status, output);
  if (req.body.stream !== true)
    return { kind: 'json', body: response('completed', [hostedItem('completed'), message]) };
  const ev = responseEvents();
  const msg = outputTextEvents(ev);
  return {
    kind: 'sse',
    events: [
      ev('response.created', { response: response('in_progress', []) }),
      ev('response.output_item.added', { output_index: 0, item: hostedItem('in_progress') }),
      ev('response.output_item.done', { output_index: 0, item: hostedItem('completed') }),
      ev('response.output_item.added', { output_index: 1, item: { ...message, content: [] } }),
      msg.partAdded(),
      msg.delta('Found.'),
      msg.done('Found.'),
      msg.partDone('Found.'),
      ev('response.output_item.done', { output_index: 1, item: message }),
      ev('response.completed', { response: response('completed', [hostedItem('completed'), message]) }),
    ],
  };
}

const h = useInstrHarness({ script: responses });

const run = (mode: PiiMode, stream: boolean, seen: unknown[] = []) =>
  readResponses(piiOpenAI(h, mode), 'gpt-4o-mini', stream, seen);

describe("Responses hosted calls' inputs are read as tool arguments", () => {
  for (const k of ['web_search', 'web_search_queries', 'file_search', 'image_generation', 'mcp'] as const)
    for (const stream of [false, true]) {
      const how = `${k}${stream ? ', streamed' : ''}`;

      emailModeCases(
        h,
        how,
        () => {
          kind = k;
        },
        (mode, seen) => run(mode, stream, seen),
      );
    }
});
