import { describe, expect, it } from 'vitest';
import { chatChunk, chatCompletion } from './fixtures/chat-reply.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import { piiEvents, readChat } from './fixtures/pii-guarded-client.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';

/**
 * redact on an audio answer whose transcript it rewrites removes the audio (`data` ''), which
 * speaks the words taken out (chat-audio.ts). Before, no event said so: the pii_detected event
 * was the one of any rewritten text. Now it carries `audio_removed: true` (docs/formats.md).
 * And the choice's logprobs: a server that gives them with audio gives the transcript's tokens
 * (OpenAI refuses logprobs on its audio models; a compatible server need not), which a rewrite
 * left as sent, the address in them. Now a rewritten transcript's choice loses them, as a
 * rewritten content or refusal does (logprobs.ts); streamed, a chunk carrying a transcript
 * piece loses its own, since the piece is kept back until the transcript is whole and checked.
 */

const EMAIL = 'jane.doe@example.com';
const BASE = { id: 'chatcmpl-audio-removed', created: 1, model: 'local-audio-model' };
const DATA = 'AAECAwQF';

let transcript = '';

/** The logprobs of `text`, one token a word. */
function logprobsOf(text: string): Record<string, unknown> {
  const content = text
    .split(/(?= )/)
    .map((token) => ({ token, logprob: -0.1, bytes: null, top_logprobs: [] }));
  return { content, refusal: null };
}

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/chat/completions')) return undefined;
  if (req.body.stream !== true) {
    const audio = { id: 'audio_1', data: DATA, expires_at: 1, transcript };
    const message = { content: null, refusal: null, audio };
    return { kind: 'json', body: chatCompletion(BASE, message, { logprobs: logprobsOf(transcript) }) };
  }
  const words = transcript.split(/(?= )/);
  const events: SseEvent[] = [
    chatChunk(BASE, { role: 'assistant', content: null, audio: { id: 'audio_1' } }),
  ];
  for (const w of words) events.push(chatChunk(BASE, { audio: { transcript: w } }, null, logprobsOf(w)));
  events.push(chatChunk(BASE, { audio: { data: DATA, expires_at: 1 } }));
  events.push(chatChunk(BASE, {}, 'stop'), { data: '[DONE]' });
  return { kind: 'sse', events };
}

const h = useInstrHarness({ script });
const params = {
  model: 'local-audio-model',
  modalities: ['text', 'audio'] as Array<'text' | 'audio'>,
  audio: { voice: 'alloy' as const, format: 'pcm16' as const },
  logprobs: true,
  messages: [{ role: 'user' as const, content: 'say it' }],
};

interface Choice {
  logprobs?: unknown;
  message?: { audio?: { transcript?: string; data?: string } };
  delta?: { audio?: { transcript?: string; data?: string } };
}

/** What a reader got: the transcript and audio data joined, and every logprobs value sent. */
function got(seen: unknown[]): { transcript: string; data: string; logprobs: string } {
  let t = '';
  let data = '';
  const logprobs: unknown[] = [];
  for (const e of seen as Array<{ choices: Choice[] }>) {
    const c = e.choices[0]!;
    const a = (c.message ?? c.delta)?.audio;
    t += a?.transcript ?? '';
    data += a?.data ?? '';
    if (c.logprobs !== undefined && c.logprobs !== null) logprobs.push(c.logprobs);
  }
  return { transcript: t, data, logprobs: JSON.stringify(logprobs) };
}

describe.each([false, true])('redact removing an audio answer’s audio (streamed: %s)', (stream) => {
  it('the pii_detected event says the audio was removed; no logprobs carry the address', async () => {
    transcript = `Mail ${EMAIL} today.`;
    const r = got(await readChat(h, 'redact', params, stream));
    expect(r.transcript).toBe('Mail [REDACTED:email] today.');
    expect(r.data).toBe('');
    expect(r.logprobs).not.toContain('jane.doe');
    await eventually(() => piiEvents(h).length > 0);
    const events = piiEvents(h);
    expect(events).toHaveLength(1);
    expect(events[0]!.metadata).toEqual({ pii_types: ['email'], direction: 'output', audio_removed: true });
  });

  it('a clean transcript keeps its audio, and no event is recorded', async () => {
    transcript = 'Nothing to see here.';
    const r = got(await readChat(h, 'redact', params, stream));
    expect(r.transcript).toBe(transcript);
    expect(r.data).toBe(DATA);
    // A complete answer's logprobs stay as sent (streamed, the pieces' are dropped: kept back).
    if (!stream) expect(JSON.parse(r.logprobs)).toEqual([logprobsOf(transcript)]);
    expect(piiEvents(h)).toEqual([]);
  });

  it('detect removes nothing and says nothing of audio', async () => {
    transcript = `Mail ${EMAIL} today.`;
    const r = got(await readChat(h, 'detect', params, stream));
    expect(r.data).toBe(DATA);
    await eventually(() => piiEvents(h).length > 0);
    expect(piiEvents(h)[0]!.metadata).toEqual({ pii_types: ['email'], direction: 'output' });
  });
});
