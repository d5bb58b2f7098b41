import { describe, expect, it } from 'vitest';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import { emailModeCases } from './fixtures/email-mode-cases.ts';
import { piiEvents, piiOpenAI, type PiiMode } from './fixtures/pii-guarded-client.ts';
import {
  messageItem,
  outputTextEvents,
  readResponses,
  reasoningTexts,
  responseBody,
  responseEvents,
} from './fixtures/responses-reply.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';

/**
 * A Responses `reasoning` item's content (`reasoning_text` parts: the raw reasoning that
 * open-weight models behind OpenAI-compatible servers send) reaches the application: the output
 * guards read it as the model's reasoning (responses-reasoning.ts), through the real openai 7
 * client against the fake server, plain and streamed (`response.content_part.added`,
 * `response.reasoning_text.delta` pieces cutting the address, `.done`, the part, item and
 * response repeating it). Before, an address in it passed detect, block and redact. And an
 * answer with a finding in its text, a tool call's arguments and its reasoning reports each
 * place, in a fixed order (before, reasoning was reported as tool_arguments).
 */

const EMAIL = 'jane.doe@example.com';
/** The reasoning content's text: set per test. */
let content = '';
/** The answer's text and a function call's arguments beside the reasoning: set per test. */
let answer = 'Drafted.';
let args: string | undefined;

const reasoning = () => ({
  type: 'reasoning',
  id: 'rs_1',
  summary: [],
  content: [{ type: 'reasoning_text', text: content }],
});
const message = () => messageItem(answer);
const call = () => ({
  type: 'function_call',
  id: 'fc_1',
  call_id: 'call_1',
  name: 'send_mail',
  arguments: args,
  status: 'completed',
});

/** The content in pieces of 7 characters: the address is cut across them. */
function pieces(): string[] {
  const out: string[] = [];
  for (let i = 0; i < content.length; i += 7) out.push(content.slice(i, i + 7));
  return out;
}

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/responses')) return undefined;
  const output = [reasoning(), message(), ...(args === undefined ? [] : [call()])];
  const done = responseBody('resp_c', 'gpt-oss-120b', 'completed', output);
  if (req.body.stream !== true) return { kind: 'json', body: done };
  const ev = responseEvents();
  const at = { item_id: 'rs_1', output_index: 0, content_index: 0 };
  const part = (text: string) => ({ ...at, part: { type: 'reasoning_text', text } });
  const msg = outputTextEvents(ev);
  return {
    kind: 'sse',
    events: [
      ev('response.created', { response: responseBody('resp_c', 'gpt-oss-120b', 'in_progress', []) }),
      ev('response.output_item.added', { output_index: 0, item: { ...reasoning(), content: [] } }),
      ev('response.content_part.added', part('')),
      ...pieces().map((delta) => ev('response.reasoning_text.delta', { ...at, delta })),
      ev('response.reasoning_text.done', { ...at, text: content }),
      ev('response.content_part.done', part(content)),
      ev('response.output_item.done', { output_index: 0, item: reasoning() }),
      ev('response.output_item.added', { output_index: 1, item: { ...message(), content: [] } }),
      msg.partAdded(),
      msg.delta(answer),
      ev('response.output_item.done', { output_index: 1, item: message() }),
      ev('response.completed', { response: done }),
    ],
  };
}

const h = useInstrHarness({ script });

const run = (mode: PiiMode, stream: boolean, seen: unknown[] = []) =>
  readResponses(piiOpenAI(h, mode), 'gpt-oss-120b', stream, seen);

const clean = () => {
  content = 'The user wants a short note, so I will draft it.';
  answer = 'Drafted.';
  args = undefined;
};

describe("a Responses reasoning item's content is read by the output guards", () => {
  for (const stream of [false, true])
    emailModeCases(
      h,
      `reasoning content${stream ? ', streamed' : ''}`,
      () => {
        clean();
        content = `The user wants the note sent to ${EMAIL}, so I will draft it.`;
      },
      (mode, seen) => run(mode, stream, seen),
      ['reasoning'],
    );

  it('redact, streamed: the deltas join to the done text, the part, the item and the response', async () => {
    clean();
    content = `The user wants the note sent to ${EMAIL}, so I will draft it.`;
    const t = reasoningTexts(await run('redact', true), 'content');
    const want = 'The user wants the note sent to [REDACTED:email], so I will draft it.';
    expect(t).toEqual({ deltas: want, done: want, part: want, item: want, response: want });
  });

  it('redact, streamed: the ResponseStream helper builds the rewritten content', async () => {
    clean();
    content = `The user wants the note sent to ${EMAIL}, so I will draft it.`;
    const final = await piiOpenAI(h, 'redact')
      .responses.stream({ model: 'gpt-oss-120b', input: 'x' })
      .finalResponse();
    expect(JSON.stringify(final.output[0])).not.toMatch(/jane|\.doe/);
    expect((final.output[0] as { content: Array<{ text: string }> }).content[0]!.text).toBe(
      'The user wants the note sent to [REDACTED:email], so I will draft it.',
    );
  });

  for (const mode of ['redact', 'block'] as const)
    it(`${mode}, streamed: a clean content reaches the application as sent, everywhere`, async () => {
      clean();
      const t = reasoningTexts(await run(mode, true), 'content');
      expect(t).toEqual({ deltas: content, done: content, part: content, item: content, response: content });
    });

  for (const stream of [false, true])
    it(`found_in names each place that held a finding, in a fixed order${stream ? ', streamed' : ''}`, async () => {
      clean();
      content = `Mail ${EMAIL} about it.`;
      answer = `I will mail ${EMAIL}.`;
      args = JSON.stringify({ to: EMAIL });
      await run('detect', stream);
      await eventually(() => piiEvents(h).length > 0);
      expect(piiEvents(h)[0]!.metadata).toMatchObject({
        pii_types: ['email'],
        found_in: ['text', 'tool_arguments', 'reasoning'],
      });
      expect(piiEvents(h)[0]!.description).toContain('(in the text, tool-call arguments, the reasoning)');
    });

  it('found_in: tool_arguments alone when only the arguments held one, the reasoning clean', async () => {
    clean();
    args = JSON.stringify({ to: EMAIL });
    await run('detect', false);
    await eventually(() => piiEvents(h).length > 0);
    expect(piiEvents(h)[0]!.metadata).toMatchObject({ found_in: ['tool_arguments'] });
  });
});
