import { describe, expect, it } from 'vitest';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';
import { piiOpenAI } from './fixtures/pii-guarded-client.ts';

/**
 * A streamed `echo: true` completion whose echo departs from the prompt: only the prompt's
 * exact, whole echo is not output (the non-streamed path needs the whole prompt). The stream
 * skipped the part that matched before the divergence, so an address straddling it (the
 * prompt's local part, then another domain) was read only from the divergence on, where it is
 * no address: missed in detect, delivered in block, delivered raw in redact. Also an echo the
 * stream ends inside is read. Through openai 7 against the fake server.
 */

const PROMPT = 'Remember jane.doe@example.com for me.';
/** The echo, cut inside the address, then departing from the prompt at the domain. */
const PIECES = ['Remember jane', '.doe', '@evil.example.net now.'];

let pieces: string[] = PIECES;
function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/completions') || req.body.stream !== true) return undefined;
  const chunk = (text: string, finish: string | null = null) => ({
    data: {
      id: 'cmpl-echo-d',
      object: 'text_completion',
      created: 1,
      model: 'gpt-3.5-turbo-instruct',
      choices: [{ index: 0, text, logprobs: null, finish_reason: finish }],
    },
  });
  return {
    kind: 'sse',
    events: [...pieces.map((p) => chunk(p)), chunk('', 'stop'), { data: '[DONE]' }],
  };
}

const h = useInstrHarness({ script });

async function read(mode: 'redact' | 'block' | 'detect') {
  const s = await piiOpenAI(h, mode).completions.create({
    model: 'gpt-3.5-turbo-instruct',
    echo: true,
    stream: true,
    prompt: PROMPT,
  });
  let text = '';
  const err = await (async () => {
    for await (const x of s) for (const ch of x.choices) text += ch.text;
  })().then(
    () => undefined,
    (e: unknown) => e,
  );
  await eventually(() => h.recorded.some((e) => e.category === 'request_completed'));
  const pii = h.recorded.filter((e) => e.category === 'pii_detected').map((e) => e.metadata?.direction);
  return { text, err, pii };
}

describe('streamed echo departing from the prompt: read from the choice start', () => {
  it('detect: the address across the divergence is reported', async () => {
    pieces = PIECES;
    const r = await read('detect');
    expect(r.err).toBeUndefined();
    expect(r.text).toBe(PIECES.join(''));
    expect(r.pii).toEqual(['output']);
  });

  it('block: the stream is cut before the address is completed', async () => {
    pieces = PIECES;
    const r = await read('block');
    expect(r.err).toBeInstanceOf(OutputBlockedError);
    expect(r.text).not.toContain('@evil');
    expect(r.pii).toEqual(['output']);
  });

  it('redact: the part of the address after the divergence is replaced', async () => {
    pieces = PIECES;
    const r = await read('redact');
    expect(r.err).toBeUndefined();
    // The echo's matched part went out as sent (it matched the prompt then); the rest is redacted.
    expect(r.text).toBe('Remember jane.doe[REDACTED:email] now.');
    expect(r.pii).toEqual(['output']);
  });

  it('an exact whole echo is still not read; one the stream ends inside is', async () => {
    pieces = ['Remember jane.doe@exa', 'mple.com for me.', ' Noted.'];
    expect((await read('detect')).pii).toEqual([]);
    h.reset();
    pieces = ['Remember jane.doe@exa', 'mple.com fo'];
    const cut = await read('detect');
    expect(cut.text).toBe('Remember jane.doe@example.com fo');
    expect(cut.pii).toEqual(['output']);
  });
});
