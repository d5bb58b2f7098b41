import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { systemPromptLeakageGuard } from '../src/guards/index.ts';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import { emailModeCases } from './fixtures/email-mode-cases.ts';
import { piiOpenAI, type PiiMode } from './fixtures/pii-guarded-client.ts';
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
 * A Responses `reasoning` item's summary reaches the application (which may show it): the output
 * guards read it (responses-reasoning.ts), through the real openai 7 client against the fake
 * server, plain and streamed (`response.reasoning_summary_text.delta` pieces cutting the address,
 * `.done`, the summary part and item repeating it, the terminal response). Before (the pinned
 * gap this replaces), an address in it passed detect, block and redact.
 */

const EMAIL = 'jane.doe@example.com';
/** The summary's text: set per test. */
let summary = `The user wants the note sent to ${EMAIL}, so I will draft it.`;

const reasoning = () => ({
  type: 'reasoning',
  id: 'rs_1',
  summary: [{ type: 'summary_text', text: summary }],
});
const message = messageItem('Drafted.');

/** The summary in pieces of 7 characters: the address is cut across them. */
function pieces(): string[] {
  const out: string[] = [];
  for (let i = 0; i < summary.length; i += 7) out.push(summary.slice(i, i + 7));
  return out;
}

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/responses')) return undefined;
  const done = responseBody('resp_r', 'gpt-5', 'completed', [reasoning(), message]);
  if (req.body.stream !== true) return { kind: 'json', body: done };
  const ev = responseEvents();
  const at = { item_id: 'rs_1', output_index: 0, summary_index: 0 };
  const part = (text: string) => ({ ...at, part: { type: 'summary_text', text } });
  return {
    kind: 'sse',
    events: [
      ev('response.created', { response: responseBody('resp_r', 'gpt-5', 'in_progress', []) }),
      ev('response.output_item.added', { output_index: 0, item: { ...reasoning(), summary: [] } }),
      ev('response.reasoning_summary_part.added', part('')),
      ...pieces().map((delta) => ev('response.reasoning_summary_text.delta', { ...at, delta })),
      ev('response.reasoning_summary_text.done', { ...at, text: summary }),
      ev('response.reasoning_summary_part.done', part(summary)),
      ev('response.output_item.done', { output_index: 0, item: reasoning() }),
      ev('response.output_item.added', { output_index: 1, item: { ...message, content: [] } }),
      outputTextEvents(ev).delta('Drafted.'),
      ev('response.output_item.done', { output_index: 1, item: message }),
      ev('response.completed', { response: done }),
    ],
  };
}

const h = useInstrHarness({ script });

const run = (mode: PiiMode, stream: boolean, seen: unknown[] = []) =>
  readResponses(piiOpenAI(h, mode), 'gpt-5', stream, seen);

describe('a Responses reasoning summary is read by the output guards', () => {
  for (const stream of [false, true])
    emailModeCases(
      h,
      `reasoning summary${stream ? ', streamed' : ''}`,
      () => {
        summary = `The user wants the note sent to ${EMAIL}, so I will draft it.`;
      },
      (mode, seen) => run(mode, stream, seen),
      ['reasoning'],
    );

  it('redact, streamed: the deltas join to the done text, the part, the item and the response', async () => {
    summary = `The user wants the note sent to ${EMAIL}, so I will draft it.`;
    const t = reasoningTexts(await run('redact', true), 'summary');
    const want = 'The user wants the note sent to [REDACTED:email], so I will draft it.';
    expect(t).toEqual({ deltas: want, done: want, part: want, item: want, response: want });
  });

  it('redact, streamed: a clean summary reaches the application as sent, everywhere', async () => {
    summary = 'The user wants a short note, so I will draft it.';
    const t = reasoningTexts(await run('redact', true), 'summary');
    expect(t).toEqual({ deltas: summary, done: summary, part: summary, item: summary, response: summary });
  });

  it("block, streamed: a clean summary's pieces are delivered as sent", async () => {
    summary = 'The user wants a short note, so I will draft it.';
    expect(reasoningTexts(await run('block', true), 'summary').deltas).toBe(summary);
  });

  for (const stream of [false, true])
    it(`the leakage guard blocks a canary recited in it, nothing of it delivered first${stream ? ', streamed' : ''}`, async () => {
      summary = 'The instructions say CANARY-7f3a9, so I will not repeat them.';
      const c = instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
        ...h.options(),
        guards: { output: [systemPromptLeakageGuard({ canary: 'CANARY-7f3a9', threshold: 1 })] },
      });
      const seen: unknown[] = [];
      await expect(readResponses(c, 'gpt-5', stream, seen)).rejects.toBeInstanceOf(OutputBlockedError);
      // Held to the end check as piiGuard block holds it (leakage guard's quote hook): before,
      // the summary's deltas reached the reader and the end check blocked after.
      expect(JSON.stringify(seen)).not.toMatch(/7f3a9/);
    });
});
