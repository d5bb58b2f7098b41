import { describe, expect, it } from 'vitest';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { MAX_KEPT_TEXT_CHARS } from '../src/instrumentation/kept-text.ts';
import { MAX_HELD_CHARS } from '../src/instrumentation/stream-limit.ts';
import { chatChunk } from './fixtures/chat-reply.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import { readChat } from './fixtures/pii-guarded-client.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';

/**
 * piiGuard block holds a chat stream whole from its first piece the chunk checks cannot read
 * (`delta.audio`: its data cannot be read; a refusal's pieces) until the end check. Before, that
 * hold had no cap: a long or hostile stream was kept whole in the application's memory, then
 * delivered (or blocked) at its end. Now past MAX_HELD_CHARS (32 Mi characters) held at once the
 * stream is cut there, reported as a block (OutputBlockedError, filter stream_limit, an
 * output_filter_block event), nothing held delivered. Real openai client, fake server; the
 * pieces are 1 MiB each so 33 of them pass the cap.
 */

const BASE = { id: 'chatcmpl-hold', created: 1, model: 'gpt-4o-audio-preview' };
const MIB = 1024 * 1024;
/** One MiB of base64 audio (zeros), or of refusal text. */
const PIECE = 'A'.repeat(MIB);
const OVER = MAX_HELD_CHARS / MIB + 1;

type Kind = 'audio' | 'refusal';
let kind: Kind = 'audio';
let pieces = 0;

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/chat/completions')) return undefined;
  const events: SseEvent[] = [chatChunk(BASE, { role: 'assistant', content: 'Here it is. ' })];
  if (kind === 'audio') events.push(chatChunk(BASE, { audio: { id: 'audio_1', transcript: 'Hello.' } }));
  for (let i = 0; i < pieces; i++)
    events.push(chatChunk(BASE, kind === 'audio' ? { audio: { data: PIECE } } : { refusal: PIECE }));
  events.push(chatChunk(BASE, {}, 'stop'), { data: '[DONE]' });
  return { kind: 'sse', events };
}

const h = useInstrHarness({ script });
const params = {
  model: 'gpt-4o-audio-preview',
  messages: [{ role: 'user' as const, content: 'say hello' }],
};

interface Delta {
  content?: string | null;
  refusal?: string | null;
  audio?: { data?: string };
}

/** Characters of audio data and refusal the reader got. */
function delivered(seen: unknown[]): number {
  let n = 0;
  for (const e of seen as Array<{ choices: Array<{ delta?: Delta }> }>) {
    const d = e.choices[0]?.delta;
    n += (d?.audio?.data?.length ?? 0) + (d?.refusal?.length ?? 0);
  }
  return n;
}

async function read(n: number) {
  pieces = n;
  const seen: unknown[] = [];
  const err = await readChat(h, 'block', params, true, seen).then(
    () => undefined,
    (e: unknown) => e,
  );
  await eventually(() => h.recorded.some((e) => e.category === 'request_completed'));
  return {
    err,
    seen,
    outcome: h.recorded.filter((e) => e.category === 'request_completed').map((e) => e.metadata?.outcome),
    blocks: h.recorded.filter((e) => e.category === 'output_filter_block'),
  };
}

describe.each(['audio', 'refusal'] as const)('block mode holds a %s stream up to MAX_HELD_CHARS', (k) => {
  it('past the cap the stream is cut there, reported as a block, nothing held delivered', async () => {
    kind = k;
    const cut = await read(OVER);
    expect(cut.err).toBeInstanceOf(OutputBlockedError);
    const blocked = cut.err as OutputBlockedError;
    expect(blocked.filter).toBe('stream_limit');
    // The refusal's pieces are also the text the end check keeps a copy of (kept-text.ts, a cap
    // of the same figure): that cap is crossed by the same item, which is observed before it is
    // held, so it is the one named. Audio data is not text the end check reads: the hold's cap.
    expect(blocked.reason).toBe(
      k === 'audio'
        ? `stream_limit: more than ${MAX_HELD_CHARS} characters held back`
        : `stream_limit: more than ${MAX_KEPT_TEXT_CHARS} characters of text read`,
    );
    // No piece of audio or refusal went out (the text before them may have).
    expect(delivered(cut.seen)).toBe(0);
    expect(cut.outcome).toEqual(['blocked']);
    expect(cut.blocks).toHaveLength(1);
    expect(cut.blocks[0]!.metadata).toMatchObject({
      filter_name: 'stream_limit',
      block_reason: blocked.reason,
    });
  });

  it('under the cap the stream is held to its end check and delivered whole, as before', async () => {
    kind = k;
    const ok = await read(3);
    expect(ok.err).toBeUndefined();
    expect(delivered(ok.seen)).toBe(3 * MIB);
    expect(ok.outcome).toEqual(['allowed']);
    expect(ok.blocks).toHaveLength(0);
  });
});
