import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { redact } from '@llmsec/core';
import { piiGuard } from '../src/guards/index.ts';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';

/**
 * An answer of several parts (Responses output_text parts, Anthropic text blocks) is read back
 * to back, as the model wrote it and the deltas run on, so an address cut between two parts is
 * found (responses-output.ts, response-text.ts). But data whole in one part that the next
 * part's first characters hide in the join ('jane@example.com' + '42' reads
 * 'jane@example.com42', no address to core's detector) was missed in every mode, though the app
 * gets the parts apart. piiGuard now reads the parts apart too (pii-parts.ts readAnswerParts),
 * through the real openai 7 and @anthropic-ai/sdk clients against the fake server.
 */

/** The answer's parts (Responses output_text parts of one item / Anthropic text blocks): set per test. */
let parts: string[] = [];

function responses(req: FakeRequest): FakeResponse {
  const part = (text: string) => ({ type: 'output_text', text, annotations: [], logprobs: [] });
  const item = (status: string, ps: string[]) => ({
    id: 'msg_0',
    type: 'message',
    role: 'assistant',
    status,
    content: ps.map(part),
  });
  const response = (status: string, output: unknown[]) => ({
    id: 'resp_c',
    object: 'response',
    created_at: 1,
    model: 'gpt-4o-mini',
    status,
    output,
    usage: { input_tokens: 3, output_tokens: 5, total_tokens: 8 },
  });
  if (req.body.stream !== true)
    return { kind: 'json', body: response('completed', [item('completed', parts)]) };
  let seq = 0;
  const ev = (type: string, data: Record<string, unknown>): SseEvent => ({
    event: type,
    data: { type, sequence_number: seq++, ...data },
  });
  const events: SseEvent[] = [
    ev('response.created', { response: response('in_progress', []) }),
    ev('response.output_item.added', { output_index: 0, item: item('in_progress', []) }),
  ];
  parts.forEach((text, ci) => {
    const at = { item_id: 'msg_0', output_index: 0, content_index: ci };
    events.push(ev('response.content_part.added', { ...at, part: part('') }));
    events.push(ev('response.output_text.delta', { ...at, delta: text, logprobs: [] }));
    events.push(ev('response.output_text.done', { ...at, text, logprobs: [] }));
    events.push(ev('response.content_part.done', { ...at, part: part(text) }));
  });
  events.push(ev('response.output_item.done', { output_index: 0, item: item('completed', parts) }));
  events.push(ev('response.completed', { response: response('completed', [item('completed', parts)]) }));
  return { kind: 'sse', events };
}

function anthropicReply(req: FakeRequest): FakeResponse {
  const message = (content: unknown[], stop: string | null) => ({
    id: 'msg_c',
    type: 'message',
    role: 'assistant',
    model: 'claude-haiku-4-5',
    content,
    stop_reason: stop,
    stop_sequence: null,
    usage: { input_tokens: 5, output_tokens: 7 },
  });
  if (req.body.stream !== true)
    return {
      kind: 'json',
      body: message(
        parts.map((text) => ({ type: 'text', text })),
        'end_turn',
      ),
    };
  const ev = (type: string, data: Record<string, unknown>): SseEvent => ({
    event: type,
    data: { type, ...data },
  });
  const events: SseEvent[] = [ev('message_start', { message: message([], null) })];
  parts.forEach((text, index) => {
    events.push(ev('content_block_start', { index, content_block: { type: 'text', text: '' } }));
    events.push(ev('content_block_delta', { index, delta: { type: 'text_delta', text } }));
    events.push(ev('content_block_stop', { index }));
  });
  events.push(
    ev('message_delta', {
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: 7 },
    }),
  );
  events.push(ev('message_stop', {}));
  return { kind: 'sse', events };
}

function script(req: FakeRequest): FakeResponse | undefined {
  if (req.path.endsWith('/v1/responses')) return responses(req);
  if (req.path === '/v1/messages') return anthropicReply(req);
  return undefined;
}

const h = useInstrHarness({ script });

type Mode = 'detect' | 'block' | 'redact';

/** The call; returns the parts' texts as the application got them (joined when streamed). */
async function call(provider: string, stream: boolean, mode: Mode): Promise<string[]> {
  const options = { ...h.options(), guards: { output: [piiGuard({ mode, directions: ['output'] })] } };
  if (provider === 'responses') {
    const c = instrumentClient(
      new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }),
      options,
    );
    if (!stream) {
      const r = await c.responses.create({ model: 'gpt-4o-mini', input: 'hi' });
      const item = r.output[0];
      return item?.type === 'message'
        ? item.content.map((p) => (p.type === 'output_text' ? p.text : ''))
        : [];
    }
    let text = '';
    for await (const e of await c.responses.create({ model: 'gpt-4o-mini', input: 'hi', stream: true }))
      if (e.type === 'response.output_text.delta') text += e.delta;
    return [text];
  }
  const c = instrumentClient(new Anthropic({ apiKey: 'x', baseURL: h.fake.url, maxRetries: 0 }), options);
  const p = {
    model: 'claude-haiku-4-5',
    max_tokens: 50,
    messages: [{ role: 'user' as const, content: 'hi' }],
  };
  if (!stream) {
    const m = await c.messages.create(p);
    return m.content.map((b) => (b.type === 'text' ? b.text : ''));
  }
  let text = '';
  for await (const e of await c.messages.create({ ...p, stream: true }))
    if (e.type === 'content_block_delta' && e.delta.type === 'text_delta') text += e.delta.text;
  return [text];
}

const GLUED = ['Mail jane.doe@example.com', '42 is your ticket'];

describe('an address whole in one part that the next part hides in the join', () => {
  for (const provider of ['responses', 'anthropic']) {
    for (const stream of [false, true]) {
      const how = `${provider}${stream ? ', streamed' : ''}`;
      it(`${how}: detect reports it`, async () => {
        parts = [...GLUED];
        await call(provider, stream, 'detect');
        await eventually(() => h.recorded.some((e) => e.category === 'request_completed'));
        const pii = h.recorded.filter((e) => e.category === 'pii_detected');
        expect(pii).toHaveLength(1);
        expect(pii[0]!.metadata).toMatchObject({ pii_types: ['email'], direction: 'output' });
      });

      it(`${how}: block refuses it`, async () => {
        parts = [...GLUED];
        await expect(call(provider, stream, 'block')).rejects.toBeInstanceOf(OutputBlockedError);
      });

      it(`${how}: cut between two parts, or whole in one, it is found as before`, async () => {
        for (const ps of [['Mail jane.doe@exa', 'mple.com today'], ['Mail jane.doe@example.com today']]) {
          h.reset();
          parts = ps;
          await call(provider, stream, 'detect');
          await eventually(() => h.recorded.some((e) => e.category === 'request_completed'));
          expect(
            h.recorded.filter((e) => e.category === 'pii_detected'),
            ps.join('|'),
          ).toHaveLength(1);
        }
      });

      it(`${how}: clean parts that join to nothing are not reported`, async () => {
        parts = ['The ticket is 42', ' and the desk is open'];
        await call(provider, stream, 'detect');
        await eventually(() => h.recorded.some((e) => e.category === 'request_completed'));
        expect(h.recorded.filter((e) => e.category === 'pii_detected')).toEqual([]);
      });
    }

    it(`${provider}: redact replaces it in its part, the next part kept`, async () => {
      parts = [...GLUED];
      expect(await call(provider, false, 'redact')).toEqual(['Mail [REDACTED:email]', '42 is your ticket']);
    });

    it(`${provider}: a cut inside data the join finds redacts as the join does (no merged finding)`, async () => {
      // Read apart, '... 0958 4' is a longer phone number overlapping the card: the join's stand.
      parts = ['call +44 20 7946 0958 4', '111 ', '111', '1 1111 1111 the +44 20 7946 09', '58 to here,'];
      const got = await call(provider, false, 'redact');
      expect(got.join('')).toBe(redact(parts.join('')).text);
    });
  }
});
