import { describe, expect, it } from 'vitest';
import { rewriteAudioPiece } from '../src/instrumentation/chat-audio.ts';
import { MAX_HELD_LOGPROBS } from '../src/instrumentation/held-logprobs.ts';
import type { StreamItemRewrite } from '../src/instrumentation/stream-rewriter.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import { wordsReply } from './fixtures/logprobs-reply.ts';
import { readChat, type PiiMode } from './fixtures/pii-guarded-client.ts';

/**
 * Logprobs of an audio answer's transcript (a server that gives them with audio), streamed
 * through piiGuard redact. redact keeps the transcript's pieces back until the finish chunk
 * (chat-audio.ts), and each piece's chunk's tokens would deliver it early, so they are taken off
 * that chunk. Before, they were dropped for good: a clean transcript reached the application
 * whole at the finish, its audio too, but with none of its logprobs, which the same answer not
 * streamed (and every other mode) keeps. Now they come with the transcript, in the finish
 * chunk, when the rewrite left it as it was; a rewritten transcript still has none.
 */

const EMAIL = 'jane.doe@example.com';
const BASE = { id: 'chatcmpl-audio-lp', created: 1, model: 'gpt-4o-audio-preview' };

let words: string[] = [];

const h = useInstrHarness({ script: wordsReply(BASE, 'transcript', () => words) });
const params = {
  model: 'gpt-4o-audio-preview',
  modalities: ['text', 'audio'] as Array<'text' | 'audio'>,
  audio: { voice: 'alloy' as const, format: 'pcm16' as const },
  logprobs: true,
  messages: [{ role: 'user' as const, content: 'say something' }],
};

interface Choice {
  message?: { audio?: { transcript?: string } };
  delta?: { audio?: { transcript?: string } };
  logprobs?: { content?: Array<{ token: string }> | null } | null;
}

/** The transcript a reader got and the tokens of every logprobs entry it got, in order. */
function read(seen: unknown[]): { transcript: string; tokens: string[] } {
  let transcript = '';
  const tokens: string[] = [];
  for (const e of seen as Array<{ choices: Choice[] }>) {
    const c = e.choices[0];
    transcript += (c?.message ?? c?.delta)?.audio?.transcript ?? '';
    for (const t of c?.logprobs?.content ?? []) tokens.push(t.token);
  }
  return { transcript, tokens };
}

describe('a streamed audio answer’s logprobs through piiGuard', () => {
  it('a clean transcript keeps its logprobs in every mode, streamed or not', async () => {
    words = ['Nothing ', 'to ', 'see ', 'here, ', 'have ', 'a ', 'nice ', 'day.'];
    for (const stream of [false, true]) {
      for (const mode of ['detect', 'block', 'redact'] as PiiMode[]) {
        const got = read(await readChat(h, mode, params, stream));
        expect(got, `${mode} streamed ${stream}`).toEqual({ transcript: words.join(''), tokens: words });
      }
    }
  });

  it('a transcript redact rewrote delivers none of its tokens, streamed or not', async () => {
    words = ['Mail ', EMAIL, ' today.'];
    for (const stream of [false, true]) {
      const got = read(await readChat(h, 'redact', params, stream));
      expect(got).toEqual({ transcript: 'Mail [REDACTED:email] today.', tokens: [] });
    }
  });
});

describe('the logprobs a redact stream keeps back with a transcript', () => {
  /** A rewrite that leaves the transcript as it is. */
  function rewrite(): StreamItemRewrite {
    return { next: (t) => t, whole: (t) => t, offsets: {} };
  }

  /** One transcript piece of choice 0 whose chunk carries `entries` tokens, each with `top` alternatives. */
  function piece(rw: StreamItemRewrite, entries: number, top: number): void {
    const content = Array.from({ length: entries }, () => ({
      token: 'a',
      logprob: 0,
      bytes: [97],
      top_logprobs: Array.from({ length: top }, () => ({ token: 'a', logprob: 0, bytes: [97] })),
    }));
    const d = { audio: { transcript: 'a'.repeat(entries) } };
    const choice = { index: 0, delta: d, logprobs: { content, refusal: null }, finish_reason: null };
    rewriteAudioPiece(choice, d, rw);
    expect(choice.logprobs).toBeNull();
  }

  function finish(rw: StreamItemRewrite): { delta: Record<string, unknown>; logprobs?: unknown } {
    const last: { index: number; delta: Record<string, unknown>; finish_reason: string; logprobs?: unknown } =
      { index: 0, delta: {}, finish_reason: 'stop' };
    rewriteAudioPiece(last, last.delta, rw);
    return last;
  }

  it('are bounded: past MAX_HELD_LOGPROBS values the choice’s are dropped, its transcript still given', () => {
    const rw = rewrite();
    // 1 + 20 alternatives + 1 byte = 22 values an entry.
    const per = 1_000;
    const pieces = Math.ceil(MAX_HELD_LOGPROBS / (per * 22)) + 1;
    for (let i = 0; i < pieces; i++) piece(rw, per, 20);
    const last = finish(rw);
    expect((last.delta.audio as { transcript: string }).transcript).toHaveLength(pieces * per);
    expect(last.logprobs).toBeUndefined();
  });

  it('under the bound, come whole in the finish chunk', () => {
    const rw = rewrite();
    piece(rw, 100, 20);
    piece(rw, 100, 20);
    const last = finish(rw);
    expect((last.logprobs as { content: unknown[] }).content).toHaveLength(200);
  });
});
