import { describe, expect, it } from 'vitest';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import { piiOpenAI } from './fixtures/pii-guarded-client.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';

/**
 * A streamed legacy completion whose chunks carry `finish_reason: ""` (some OpenAI-compatible
 * servers send an empty string where OpenAI sends null; finish-reason.ts), through the real
 * openai client against the fake server, piiGuard redact. Only a non-empty reason ends a choice:
 * read as a finish, "" made the stream complete at its first chunk, so one the server cut
 * before its real finish was recorded as a completed call with the finish reason "" instead of
 * an aborted one.
 */

const BASE = { id: 'cmpl-e', object: 'text_completion', created: 1, model: 'gpt-3.5-turbo-instruct' };
const PIECES = ['Mail jane.d', 'oe@example', '.com today.'];
/** Whether the last chunk carries the real finish ('stop'): set per test. */
let finished = true;

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/completions') || req.body.stream !== true) return undefined;
  const chunk = (text: string, finish: string): SseEvent => ({
    data: { ...BASE, choices: [{ index: 0, text, logprobs: null, finish_reason: finish }] },
  });
  const events = PIECES.map((p) => chunk(p, ''));
  if (finished) events.push(chunk('', 'stop'));
  return { kind: 'sse', events: [...events, { data: '[DONE]' }] };
}

const h = useInstrHarness({ script });

async function read(): Promise<string> {
  const s = await piiOpenAI(h, 'redact').completions.create({
    model: 'gpt-3.5-turbo-instruct',
    prompt: 'hi',
    stream: true,
  });
  let shown = '';
  for await (const c of s) shown += c.choices[0]?.text ?? '';
  await eventually(() => h.spans().length === 1);
  return shown;
}

describe('a legacy completions stream with finish_reason "" on every chunk', () => {
  it('ends at its non-empty finish: completed, finish reason stop', async () => {
    finished = true;
    expect(await read()).toBe('Mail [REDACTED:email] today.');
    const attrs = h.spans()[0]!.attributes;
    expect(attrs['gen_ai.response.finish_reasons']).toEqual(['stop']);
    expect(attrs['error.type']).toBeUndefined();
  });

  it('cut before it, "" is no finish: the call is aborted, no finish reason recorded', async () => {
    finished = false;
    expect(await read()).toBe('Mail [REDACTED:email] today.');
    const attrs = h.spans()[0]!.attributes;
    expect(attrs['gen_ai.response.finish_reasons']).toBeUndefined();
    expect(attrs['error.type']).toBe('aborted');
  });
});
