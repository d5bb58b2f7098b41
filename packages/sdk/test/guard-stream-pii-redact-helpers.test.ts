import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { redact } from '@llmsec/core';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import { chatInput, recordingContext } from './guard-context.ts';
import { piecesOfLength, streamPiecesScript } from './fixtures/stream-pieces.ts';

/**
 * piiGuard redact on streams, beyond the deltas (guard-stream-pii-redact.test.ts): everything
 * else the application can read of a streamed answer is redacted too (the Responses done events
 * and final response, the clients' helpers that build the answer from the events: openai's
 * `responses.stream()` and `chat.completions.stream()`, Anthropic's `messages.stream()`
 * `finalText()` / `finalMessage()`), `pii_detected` is recorded once per response with every
 * type, as non-streamed, and no finding reaches a span, an event or a log. Then the hold's bound.
 */

const h = useInstrHarness({ script: streamPiecesScript });

const FULL =
  'Your account manager is Jane (jane.doe@example.com), and the card on file is 4111 1111 1111 1111; ' +
  'the key we issued was sk-proj-4fQ9xT2mLw8RzK3vNb7YcH1pJd6Ge5Su. Anything else?';
const REDACTED = redact(FULL).text;
const RAW = ['jane.doe@example.com', '4111 1111 1111 1111', 'sk-proj-4fQ9xT2mLw8RzK3vNb7YcH1pJd6Ge5Su'];
const PROMPT = JSON.stringify(piecesOfLength(FULL, 7));

function clients(captureContent = false) {
  const options = {
    ...h.options(),
    captureContent,
    guards: { output: [piiGuard({ directions: ['output'] })] },
  };
  return {
    openai: instrumentClient(
      new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }),
      options,
    ),
    anthropic: instrumentClient(new Anthropic({ apiKey: 'x', baseURL: h.fake.url, maxRetries: 0 }), options),
  };
}

describe('everything the application reads of a redacted stream', () => {
  it('Responses: the deltas, output_text.done, content_part.done, output_item.done and response.completed', async () => {
    expect(REDACTED).toContain('[REDACTED:email]');
    const s = await clients().openai.responses.create({ model: 'gpt-4o-mini', stream: true, input: PROMPT });
    let deltas = '';
    const seen: Record<string, string> = {};
    for await (const e of s) {
      if (e.type === 'response.output_text.delta') deltas += e.delta;
      if (e.type === 'response.output_text.done') seen.textDone = e.text;
      if (e.type === 'response.content_part.done' && e.part.type === 'output_text')
        seen.partDone = e.part.text;
      if (e.type === 'response.output_item.done' && e.item.type === 'message') {
        const p = e.item.content[0];
        if (p?.type === 'output_text') seen.itemDone = p.text;
      }
      if (e.type === 'response.completed') {
        const item = e.response.output[0];
        const p = item?.type === 'message' ? item.content[0] : undefined;
        if (p?.type === 'output_text') seen.completed = p.text;
      }
    }
    expect(deltas).toBe(REDACTED);
    expect(seen).toEqual({ textDone: REDACTED, partDone: REDACTED, itemDone: REDACTED, completed: REDACTED });
  });

  it("Responses: openai's responses.stream() helper, its delta events and finalResponse()", async () => {
    // It chains on the promise's own _thenUnwrap (openai 7.5x), which went around the
    // instrumentation's hook: no span end, no guard, the raw text (block mode did not cut it either).
    const stream = clients().openai.responses.stream({ model: 'gpt-4o-mini', input: PROMPT });
    let deltas = '';
    stream.on('response.output_text.delta', (e) => (deltas += e.delta));
    const final = await stream.finalResponse();
    expect(deltas).toBe(REDACTED);
    expect(final.output_text).toBe(REDACTED);
    await eventually(() => h.spans().length === 1);
    expect(h.recorded.filter((e) => e.category === 'pii_detected')).toHaveLength(1);
  });

  it('Responses: responses.stream() in block mode is cut before the finding; responses.parse() is redacted', async () => {
    const options = {
      ...h.options(),
      guards: { output: [piiGuard({ mode: 'block', directions: ['output'] })] },
    };
    const blocking = instrumentClient(
      new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }),
      options,
    );
    const stream = blocking.responses.stream({ model: 'gpt-4o-mini', input: PROMPT });
    let deltas = '';
    stream.on('response.output_text.delta', (e) => (deltas += e.delta));
    // The helper hands on the error as its own kind, with our message.
    await expect(stream.finalResponse()).rejects.toThrow(/blocked by output filter "pii"/);
    expect(deltas.length).toBeLessThanOrEqual(FULL.indexOf('jane.doe'));
    // Not streamed: the fake server's default answer echoes the prompt.
    const parsed = await clients().openai.responses.parse({
      model: 'gpt-4o-mini',
      input: 'write to jane.doe@example.com',
    });
    expect(parsed.output_text).not.toContain('jane.doe@example.com');
    expect(parsed.output_text).toContain('[REDACTED:email]');
  });

  it("chat: openai's chat.completions.stream() helper, its content events and finalContent()", async () => {
    const stream = clients().openai.chat.completions.stream({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: PROMPT }],
    });
    let deltas = '';
    stream.on('content', (d) => (deltas += d));
    expect(await stream.finalContent()).toBe(REDACTED);
    expect(deltas).toBe(REDACTED);
  });

  it('chat: both branches of tee(), and toReadableStream() (the bytes a server would forward)', async () => {
    const body = {
      model: 'gpt-4o-mini',
      stream: true as const,
      messages: [{ role: 'user' as const, content: PROMPT }],
    };
    const [left, right] = (await clients().openai.chat.completions.create(body)).tee();
    const texts = await Promise.all(
      [left, right].map(async (branch) => {
        let t = '';
        for await (const chunk of branch) t += chunk.choices[0]?.delta.content ?? '';
        return t;
      }),
    );
    expect(texts).toEqual([REDACTED, REDACTED]);
    const readable = (await clients().openai.chat.completions.create(body)).toReadableStream();
    const raw = await new Response(readable).text();
    const text = raw
      .split('\n')
      .filter((l) => l.length > 0)
      .map(
        (l) =>
          (JSON.parse(l) as { choices: Array<{ delta: { content?: string } }> }).choices[0]?.delta.content ??
          '',
      )
      .join('');
    expect(text).toBe(REDACTED);
    for (const r of RAW) expect(raw).not.toContain(r);
  });

  it("Anthropic: messages.stream()'s text events, finalText() and finalMessage()", async () => {
    const stream = clients().anthropic.messages.stream({
      model: 'claude-haiku-4-5',
      max_tokens: 200,
      messages: [{ role: 'user', content: PROMPT }],
    });
    let deltas = '';
    stream.on('text', (d) => (deltas += d));
    const message = await stream.finalMessage();
    expect(deltas).toBe(REDACTED);
    expect(await stream.finalText()).toBe(REDACTED);
    expect(message.content).toEqual([{ type: 'text', text: REDACTED }]);
  });
});

describe('telemetry of a redacted stream', () => {
  for (const api of ['chat', 'responses', 'anthropic'] as const) {
    it(`${api}: pii_detected once with every type, as non-streamed; no finding in any span, event or log`, async () => {
      const c = clients(true);
      let text = '';
      if (api === 'chat') {
        const s = await c.openai.chat.completions.create({
          model: 'gpt-4o-mini',
          stream: true,
          messages: [{ role: 'user', content: PROMPT }],
        });
        for await (const chunk of s) text += chunk.choices[0]?.delta.content ?? '';
      } else if (api === 'responses') {
        const s = await c.openai.responses.create({ model: 'gpt-4o-mini', stream: true, input: PROMPT });
        for await (const e of s) if (e.type === 'response.output_text.delta') text += e.delta;
      } else {
        const s = await c.anthropic.messages.create({
          model: 'claude-haiku-4-5',
          max_tokens: 200,
          stream: true,
          messages: [{ role: 'user', content: PROMPT }],
        });
        for await (const e of s)
          if (e.type === 'content_block_delta' && e.delta.type === 'text_delta') text += e.delta.text;
      }
      expect(text).toBe(REDACTED);
      await eventually(() => h.spans().length > 0);
      const pii = h.recorded.filter((e) => e.category === 'pii_detected');
      expect(pii.map((e) => e.metadata)).toEqual([{ pii_types: redact(FULL).types, direction: 'output' }]);
      // The prompt carries the raw text (it is the fake server's script), so look at what the
      // response put in the telemetry: the output messages and every event.
      const spans = h.spans();
      const output = spans.map((s) => String(s.attributes['gen_ai.output.messages'] ?? '')).join('\n');
      expect(output).toContain('[REDACTED:email]');
      const events = JSON.stringify([h.recorded, spans.map((s) => s.events)]);
      for (const raw of RAW) {
        expect(output).not.toContain(raw);
        expect(events).not.toContain(raw);
      }
    });
  }
});

describe('the hold is bounded', () => {
  it('hostile streams in 1-character deltas: at most 256 characters held (plus the step), linear time', () => {
    const guard = piiGuard({ directions: ['output'] });
    const hostile = [
      'a'.repeat(200_000), // one run of finding characters
      '12 '.repeat(70_000), // groups of a number written in groups, forever
      'AB-CD '.repeat(35_000),
      'x@'.repeat(100_000),
    ];
    for (const text of hostile) {
      const { ctx } = recordingContext(chatInput({}));
      let maxHold = 0;
      const t0 = performance.now();
      for (let i = 0; i < text.length; i++) {
        const d = guard.checkChunk!('', text[i]!, ctx);
        if (d.action === 'allow' && (d.holdChars ?? 0) > maxHold) maxHold = d.holdChars ?? 0;
      }
      const ms = performance.now() - t0;
      expect(maxHold, text.slice(0, 12)).toBeLessThanOrEqual(256 + 32);
      // ~200k checks' worth of scanning 288 characters each; quadratic would be minutes.
      expect(ms, text.slice(0, 12)).toBeLessThan(20_000);
    }
  });

  it('a finding still growing is held whole and its checks stay linear: a 16 KiB PEM body in 1-character deltas', () => {
    const guard = piiGuard({ directions: ['output'] });
    const body = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n'.repeat(480);
    const text = `key: -----BEGIN PRIVATE KEY-----\n${body}-----END PRIVATE KEY----- done`;
    const { ctx } = recordingContext(chatInput({}));
    let maxHold = 0;
    // Thread CPU time, not wall time: a linearity bound must not measure the host's load.
    const t0 = process.threadCpuUsage();
    for (let i = 0; i < text.length; i++) {
      const d = guard.checkChunk!('', text[i]!, ctx);
      if (d.action === 'allow' && (d.holdChars ?? 0) > maxHold) maxHold = d.holdChars ?? 0;
    }
    const cpu = process.threadCpuUsage(t0);
    expect((cpu.user + cpu.system) / 1000).toBeLessThan(5_000);
    // Held from the header on until the END line completes it: none of the key was released.
    expect(maxHold).toBeGreaterThan(body.length);
    expect(maxHold).toBeLessThan(body.length + 256);
  });
});
