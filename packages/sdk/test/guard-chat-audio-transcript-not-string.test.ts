import { describe, expect, it } from 'vitest';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { chatChunk, chatCompletion } from './fixtures/chat-reply.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import { piiEvents, readChat } from './fixtures/pii-guarded-client.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';

/**
 * An audio answer whose transcript is not a string (`['write to jane.doe@example.com']`, an
 * object): not the API's shape, but a server may send it, and an application that shows the
 * transcript shows its text. Before, chat-audio.ts read a transcript only as a string: this one
 * passed detect, block and redact, plain and streamed (its streamed pieces were not kept back),
 * with the audio that speaks it. Now it is read as its JSON text, as the other fields that are
 * not strings (valueText); a redact that changes it writes the rewrite as a string and removes
 * the audio, as for a string transcript.
 */

const EMAIL = 'jane.doe@example.com';
const BASE = { id: 'chatcmpl-audio-ns', created: 1, model: 'gpt-4o-audio-preview' };
const DATA = 'AAECAwQ=';

const WHOLE: unknown = [`Here: write to ${EMAIL}`];
const PIECES: unknown[] = [['Here: '], { text: `write to ${EMAIL}` }];

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/chat/completions')) return undefined;
  if (req.body.stream !== true) {
    const audio = { id: 'audio_1', data: DATA, expires_at: 1, transcript: WHOLE };
    return { kind: 'json', body: chatCompletion(BASE, { content: null, refusal: null, audio }) };
  }
  const events: SseEvent[] = [
    chatChunk(BASE, { role: 'assistant', content: null, audio: { id: 'audio_1' } }),
  ];
  for (const t of PIECES) events.push(chatChunk(BASE, { audio: { transcript: t } }));
  events.push(chatChunk(BASE, { audio: { data: DATA, expires_at: 1 } }));
  events.push(chatChunk(BASE, {}, 'stop'), { data: '[DONE]' });
  return { kind: 'sse', events };
}

const h = useInstrHarness({ script });
const params = { model: 'gpt-4o-audio-preview', messages: [{ role: 'user' as const, content: 'hi' }] };

/** What a reader got of the audio: each transcript value as JSON, and whether any data came. */
function audioOf(seen: unknown[]): { transcript: string; data: boolean } {
  let t = '';
  let data = false;
  for (const e of seen as Array<{
    choices: Array<{
      message?: { audio?: Record<string, unknown> };
      delta?: { audio?: Record<string, unknown> };
    }>;
  }>) {
    const a = (e.choices[0]?.message ?? e.choices[0]?.delta)?.audio;
    if (a?.transcript !== undefined) t += JSON.stringify(a.transcript);
    if (typeof a?.data === 'string' && a.data.length > 0) data = true;
  }
  return { transcript: t, data };
}

describe.each([false, true])('an audio transcript that is not a string (streamed: %s)', (stream) => {
  it('detect reports the address, found in the text', async () => {
    await readChat(h, 'detect', params, stream);
    await eventually(() => piiEvents(h).length > 0);
    expect(piiEvents(h)[0]!.metadata).toMatchObject({ pii_types: ['email'], direction: 'output' });
  });

  it('block refuses the answer, none of it shown', async () => {
    const seen: unknown[] = [];
    await expect(readChat(h, 'block', params, stream, seen)).rejects.toBeInstanceOf(OutputBlockedError);
    expect(audioOf(seen).transcript).not.toContain('jane.doe');
    expect(audioOf(seen).data).toBe(false);
  });

  it('redact writes the rewrite as a string and removes the audio', async () => {
    const got = audioOf(await readChat(h, 'redact', params, stream));
    expect(got.transcript).not.toContain('jane.doe');
    expect(got.transcript).toContain('[REDACTED:email]');
    expect(got.data).toBe(false);
  });
});
