import { describe, expect, it } from 'vitest';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import { wordsReply } from './fixtures/logprobs-reply.ts';
import { readChat, type PiiMode } from './fixtures/pii-guarded-client.ts';

/**
 * A chat refusal's logprobs (`logprobs.refusal`, its tokens), streamed through piiGuard redact.
 * redact keeps the refusal's pieces back to the choice's finish chunk (stream-item-rewrite.ts),
 * and each piece's chunk's tokens would deliver it early, so they are taken off that chunk.
 * Before, they were dropped for good: a clean refusal came out whole at the finish with none of
 * its logprobs, which the same answer not streamed (and every other mode) keeps. Now they come
 * with it, in the finish chunk, when the rewrite left it as it was; a rewritten refusal has none.
 */

const EMAIL = 'jane.doe@example.com';
const BASE = { id: 'chatcmpl-refusal-lp', created: 1, model: 'gpt-4o' };

let words: string[] = [];

const h = useInstrHarness({ script: wordsReply(BASE, 'refusal', () => words) });
const params = { model: 'gpt-4o', logprobs: true, messages: [{ role: 'user' as const, content: 'hi' }] };

interface Choice {
  message?: { refusal?: string | null };
  delta?: { refusal?: string | null };
  logprobs?: { refusal?: Array<{ token: string }> | null } | null;
}

/** The refusal a reader got and the tokens of its logprobs, in order. */
function read(seen: unknown[]): { refusal: string; tokens: string[] } {
  let refusal = '';
  const tokens: string[] = [];
  for (const e of seen as Array<{ choices: Choice[] }>) {
    const c = e.choices[0];
    refusal += (c?.message ?? c?.delta)?.refusal ?? '';
    for (const t of c?.logprobs?.refusal ?? []) tokens.push(t.token);
  }
  return { refusal, tokens };
}

describe('a streamed refusal’s logprobs through piiGuard', () => {
  it('a clean refusal keeps its logprobs in every mode, streamed or not', async () => {
    words = ['I ', 'cannot ', 'help ', 'with ', 'that.'];
    for (const stream of [false, true]) {
      for (const mode of ['detect', 'block', 'redact'] as PiiMode[]) {
        const got = read(await readChat(h, mode, params, stream));
        expect(got, `${mode} streamed ${stream}`).toEqual({ refusal: words.join(''), tokens: words });
      }
    }
  });

  it('a refusal redact rewrote delivers none of its tokens, streamed or not', async () => {
    words = ['I will not mail ', EMAIL, ' today.'];
    for (const stream of [false, true]) {
      const got = read(await readChat(h, 'redact', params, stream));
      expect(got).toEqual({ refusal: 'I will not mail [REDACTED:email] today.', tokens: [] });
    }
  });
});
