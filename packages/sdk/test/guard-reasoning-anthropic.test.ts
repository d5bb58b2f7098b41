import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { systemPromptLeakageGuard } from '../src/guards/index.ts';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import { piiEvents, piiOutputOptions, PII_MODES, type PiiMode } from './fixtures/pii-guarded-client.ts';
import {
  anthropicEvent,
  anthropicMessage,
  anthropicStream,
  textBlockEvents,
} from './fixtures/anthropic-reply.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';

/**
 * An Anthropic `thinking` block's text reaches the application (which may show it): the output
 * guards read it (anthropic-thinking.ts), through the real @anthropic-ai/sdk client against the
 * fake server, plain and streamed (`thinking_delta` pieces cutting the address). detect reports
 * an address in it, block refuses the answer; redact cannot rewrite it (the block's signature
 * covers its text) and refuses the answer too, with filter `thinking`. A clean thinking block
 * passes redact untouched, signature and all. Before (the pinned gap this replaces), an address
 * in it passed every mode.
 */

const EMAIL = 'jane.doe@example.com';
/** The thinking text: set per test. */
let thinking = '';
const SIGNATURE = 'c2lnbmF0dXJl';

function pieces(): string[] {
  const out: string[] = [];
  for (let i = 0; i < thinking.length; i += 7) out.push(thinking.slice(i, i + 7));
  return out;
}

const BASE = { id: 'msg_t', model: 'claude-haiku-4-5', usage: { input_tokens: 5, output_tokens: 7 } };

function script(req: FakeRequest): FakeResponse | undefined {
  if (req.path !== '/v1/messages') return undefined;
  if (req.body.stream !== true)
    return {
      kind: 'json',
      body: anthropicMessage(BASE, [
        { type: 'thinking', thinking, signature: SIGNATURE },
        { type: 'text', text: 'Drafted.' },
      ]),
    };
  return {
    kind: 'sse',
    events: anthropicStream(BASE, [
      anthropicEvent('content_block_start', {
        index: 0,
        content_block: { type: 'thinking', thinking: '', signature: '' },
      }),
      ...pieces().map((p) =>
        anthropicEvent('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: p } }),
      ),
      anthropicEvent('content_block_delta', {
        index: 0,
        delta: { type: 'signature_delta', signature: SIGNATURE },
      }),
      anthropicEvent('content_block_stop', { index: 0 }),
      ...textBlockEvents(1, ['Drafted.']),
    ]),
  };
}

const h = useInstrHarness({ script });

const params = {
  model: 'claude-haiku-4-5',
  max_tokens: 100,
  messages: [{ role: 'user' as const, content: 'mail Jane' }],
};

const client = (mode: PiiMode) =>
  instrumentClient(
    new Anthropic({ apiKey: 'x', baseURL: h.fake.url, maxRetries: 0 }),
    piiOutputOptions(h, mode),
  );

/** What the application gets: the message, or each streamed event (in `seen` as it arrives). */
async function read(mode: PiiMode, stream: boolean, seen: unknown[] = []): Promise<unknown[]> {
  if (!stream) {
    seen.push(await client(mode).messages.create(params));
    return seen;
  }
  const s = await client(mode).messages.create({ ...params, stream: true });
  for await (const e of s) seen.push(e);
  return seen;
}

/** The streamed thinking pieces joined, as a reader that joins them itself gets the text. */
function joinedThinking(events: unknown[]): string {
  let out = '';
  for (const e of events as Array<{ type: string; delta?: { type: string; thinking?: string } }>)
    if (e.type === 'content_block_delta' && e.delta?.type === 'thinking_delta') out += e.delta.thinking ?? '';
  return out;
}

describe('an Anthropic thinking block is read by the output guards', () => {
  for (const stream of [false, true]) {
    const how = stream ? ', streamed' : '';

    it(`detect reports an address in it${how}`, async () => {
      thinking = `The user wants the note sent to ${EMAIL}, so I will draft it.`;
      const seen = await read('detect', stream);
      await eventually(() => piiEvents(h).length > 0);
      expect(piiEvents(h)[0]!.metadata).toMatchObject({ pii_types: ['email'], found_in: ['reasoning'] });
      // detect changes nothing: the application gets the block as sent.
      if (stream) expect(joinedThinking(seen)).toBe(thinking);
    });

    for (const mode of ['block', 'redact'] as const)
      it(`${mode} refuses the answer${how}, nothing of the address delivered first`, async () => {
        thinking = `The user wants the note sent to ${EMAIL}, so I will draft it.`;
        const seen: unknown[] = [];
        const err = await read(mode, stream, seen).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(OutputBlockedError);
        // redact cannot rewrite a signed block: blocked under the `thinking` filter.
        if (mode === 'redact') expect((err as OutputBlockedError).filter).toBe('thinking');
        expect(JSON.stringify(seen)).not.toMatch(/jane|\.doe/);
      });

    it(`a clean thinking block passes every mode as sent, signature kept${how}`, async () => {
      thinking = 'The user wants a short note, so I will draft it.';
      for (const mode of PII_MODES) {
        const seen = await read(mode, stream);
        if (stream) expect(joinedThinking(seen)).toBe(thinking);
        else
          expect((seen[0] as Anthropic.Message).content[0]).toEqual({
            type: 'thinking',
            thinking,
            signature: SIGNATURE,
          });
      }
    });
  }

  it('redact, streamed: finalMessage() holds the clean block whole, with its signature', async () => {
    thinking = 'The user wants a short note, so I will draft it.';
    const final = await client('redact').messages.stream(params).finalMessage();
    expect(final.content[0]).toEqual({ type: 'thinking', thinking, signature: SIGNATURE });
  });

  for (const stream of [false, true])
    it(`the leakage guard blocks a canary recited in it, nothing of it delivered first${stream ? ', streamed' : ''}`, async () => {
      thinking = 'The instructions say CANARY-7f3a9, so I will not repeat them.';
      const c = instrumentClient(new Anthropic({ apiKey: 'x', baseURL: h.fake.url, maxRetries: 0 }), {
        ...h.options(),
        guards: { output: [systemPromptLeakageGuard({ canary: 'CANARY-7f3a9', threshold: 1 })] },
      });
      const seen: unknown[] = [];
      const read = async () => {
        if (!stream) return c.messages.create(params);
        for await (const e of await c.messages.create({ ...params, stream: true })) seen.push(e);
      };
      await expect(read()).rejects.toBeInstanceOf(OutputBlockedError);
      // Held to the end check as piiGuard block holds it (leakage guard's quote hook): before,
      // the thinking pieces reached the reader and the end check blocked after.
      expect(JSON.stringify(seen)).not.toMatch(/7f3a9/);
    });
});
