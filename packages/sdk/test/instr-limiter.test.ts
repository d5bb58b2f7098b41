import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { context, SpanKind, trace } from '@opentelemetry/api';
import {
  GuardrailBlockedError,
  instrumentClient,
  RateLimitedError,
  type InputGuard,
  type LimiterLike,
} from '../src/instrumentation/index.ts';
import { useInstrHarness, eventually } from './fixtures/instr-harness.ts';
import { withSecurityContext } from '../src/context.ts';
import type { SecurityEvent } from '@llmsec/core';

const h = useInstrHarness();

/** A scripted limiter with the @llmsec/ratelimit shape, recording every call made to it. */
function scriptedLimiter(refuse: boolean) {
  const calls: Array<[string, unknown]> = [];
  const limiter: LimiterLike = {
    acquire(req) {
      calls.push(['acquire', req]);
      return Promise.resolve(
        refuse
          ? {
              allowed: false,
              reason: 'tpm',
              retryAfterMs: 1500,
              refusedBy: { dimension: 'tpm', current: 9000, limit: 10000 },
            }
          : { allowed: true, retryAfterMs: 0, lease: { id: `L${calls.length}` } },
      );
    },
    settle(lease, usage) {
      calls.push(['settle', { lease, usage }]);
    },
    cancel(lease) {
      calls.push(['cancel', lease]);
    },
  };
  return { limiter, calls };
}

const client = (extra: object) =>
  instrumentClient(new OpenAI({ apiKey: 'test', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
    ...h.options(),
    ...extra,
  });
const req = (content: string) => ({
  model: 'gpt-4o-mini',
  max_tokens: 20,
  messages: [{ role: 'user' as const, content }],
});

describe('rate limiting', () => {
  it('acquires with the estimate for the security-context user, settles with the actual usage', async () => {
    const { limiter, calls } = scriptedLimiter(false);
    const c = client({ limiter });
    await withSecurityContext({ userId: 'u-42' }, () => c.chat.completions.create(req('hello there')));
    await eventually(() => calls.length === 2);
    // 'hello there' = 11 chars -> 3 estimated prompt tokens + max_tokens 20; gpt-4o-mini is
    // 0.15 / 0.6 micro-USD per token: 3*0.15 + 20*0.6 = 12.45 -> 13 (rounded up).
    // Actual usage 3 + 5 tokens: 0.45 + 3 = 3.45 -> 4.
    expect(calls).toEqual([
      ['acquire', { subject: 'u-42', estimatedTokens: 23, estimatedCostMicroUsd: 13 }],
      ['settle', { lease: { id: 'L1' }, usage: { tokens: 8, costMicroUsd: 4 } }],
    ]);
    expect(h.recorded.map((e) => [e.category, e.user_id])).toEqual([['request_completed', 'u-42']]);
  });

  it('a refusal raises RateLimitedError with the retry time and emits rate_limit_hit; nothing is sent', async () => {
    const { limiter } = scriptedLimiter(true);
    const c = client({ limiter, resolveUser: () => ({ userId: 'u-7', secondarySubject: '10.0.0.1' }) });
    const err = await c.chat.completions.create(req('hi')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).retryAfterMs).toBe(1500);
    expect((err as RateLimitedError).reason).toBe('tpm');
    expect(h.fake.requests).toHaveLength(0);
    await eventually(() => h.recorded.length === 2);
    expect(h.recorded.map((e) => e.category)).toEqual(['rate_limit_hit', 'request_completed']);
    expect(h.recorded[0]?.metadata).toEqual({ limit_type: 'tpm', current: 9000, limit: 10000 });
    expect(h.recorded[0]?.user_id).toBe('u-7');
    expect(h.recorded[1]?.metadata).toMatchObject({ outcome: 'rate_limited', blocked: false });
  });

  it('a refusal the limiter recorded itself (result.event) is not recorded again', async () => {
    const own = { event_id: 'EVT-limiter', category: 'rate_limit_hit', user_id: 'u-7' } as SecurityEvent;
    const limiter: LimiterLike = {
      acquire: () => Promise.resolve({ allowed: false, reason: 'banned', retryAfterMs: 0, event: own }),
      settle: () => undefined,
      cancel: () => undefined,
    };
    const c = client({ limiter, resolveUser: () => ({ userId: 'u-7' }) });
    const err = await c.chat.completions.create(req('hi')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).event).toBe(own);
    await eventually(() => h.recorded.length === 1);
    expect(h.recorded.map((e) => e.category)).toEqual(['request_completed']);
    expect(h.recorded[0]?.metadata).toMatchObject({ outcome: 'rate_limited' });
  });

  it('cancels the lease when the provider fails', async () => {
    const { limiter, calls } = scriptedLimiter(false);
    const c = client({ limiter });
    await expect(c.chat.completions.create(req('[[500]]'))).rejects.toBeInstanceOf(
      OpenAI.InternalServerError,
    );
    await eventually(() => calls.length === 2);
    expect(calls[1]).toEqual(['cancel', { id: 'L1' }]);
  });

  it('settles a stream when it has been read, with the provider usage', async () => {
    const { limiter, calls } = scriptedLimiter(false);
    const c = client({ limiter });
    const stream = await c.chat.completions.create({
      ...req('stream me please'),
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const _ of stream) {
      expect(calls.map((x) => x[0])).toEqual(['acquire']);
    }
    await eventually(() => calls.length === 2);
    // include_usage: 4 + 6 tokens; 4*0.15 + 6*0.6 = 4.2 -> 5 micro-USD.
    expect(calls[1]).toEqual(['settle', { lease: { id: 'L1' }, usage: { tokens: 10, costMicroUsd: 5 } }]);
  });
});

describe('guard mechanics', () => {
  it('async input guards run before the request and can modify it', async () => {
    const slow: InputGuard = {
      name: 'slowUpper',
      layer: 'slow',
      async check(input) {
        await new Promise((r) => setTimeout(r, 5));
        return {
          action: 'modify',
          messages: input.messages.map((m) => ({ ...m, content: m.content.toUpperCase() })),
        };
      },
    };
    const c = client({ guards: { input: [slow] } });
    const res = await c.chat.completions.create(req('quiet words'));
    expect(res.choices[0]?.message.content).toBe('Echo: QUIET WORDS');
    expect((h.fake.requests[0]?.body.messages as Array<{ content: string }>)[0]?.content).toBe('QUIET WORDS');
  });

  it('an async block is a typed error too', async () => {
    const no: InputGuard = {
      name: 'no',
      layer: 'judge',
      check: () => Promise.resolve({ action: 'block', reason: 'judge said no' }),
    };
    const c = client({ guards: { input: [no] } });
    await expect(c.chat.completions.create(req('x'))).rejects.toBeInstanceOf(GuardrailBlockedError);
    expect(h.fake.requests).toHaveLength(0);
  });

  it('a guard that throws does not break the call (fail open, reported)', async () => {
    const broken: InputGuard = {
      name: 'broken',
      layer: 'broken',
      check() {
        throw new Error('bug in guard');
      },
    };
    const c = client({ guards: { input: [broken] } });
    const res = await c.chat.completions.create(req('still works'));
    expect(res.choices[0]?.message.content).toBe('Echo: still works');
  });

  it('invalid guard configuration throws at construction', () => {
    expect(() => client({ guards: { input: [{ name: 'x' } as unknown as InputGuard] } })).toThrow(
      /needs a layer and a check/,
    );
  });
});

describe('another instrumentation already made the GenAI span', () => {
  it('attaches our events to it instead of creating a second span', async () => {
    const c = client({});
    const tracer = h.tracerProvider.getTracer('other-genai-instrumentation');
    const outer = tracer.startSpan('chat gpt-4o-mini', {
      kind: SpanKind.CLIENT,
      attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai' },
    });
    await context.with(trace.setSpan(context.active(), outer), () => c.chat.completions.create(req('once')));
    outer.end();
    await eventually(() => h.spans().length === 1);
    expect(h.spans()).toHaveLength(1);
    expect(h.spans()[0]?.instrumentationScope.name).toBe('other-genai-instrumentation');
    expect(h.spans()[0]?.events.map((e) => e.name)).toEqual(['llmsec.request_completed']);
  });
});

describe('instrumentation never breaks the call', () => {
  it('a throwing event emitter, tracer provider or limiter: the call goes on unchanged', async () => {
    const brokenEvents = instrumentClient(
      new OpenAI({ apiKey: 'test', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }),
      {
        events: {
          emit() {
            throw new Error('emitter down');
          },
        },
      },
    );
    expect((await brokenEvents.chat.completions.create(req('a'))).choices[0]?.message.content).toBe(
      'Echo: a',
    );
    const brokenTracer = instrumentClient(
      new OpenAI({ apiKey: 'test', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }),
      {
        ...h.options(),
        tracerProvider: {
          getTracer() {
            throw new Error('tracer down');
          },
        },
      },
    );
    expect((await brokenTracer.chat.completions.create(req('b'))).choices[0]?.message.content).toBe(
      'Echo: b',
    );
    const brokenLimiter = instrumentClient(
      new OpenAI({ apiKey: 'test', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }),
      {
        ...h.options(),
        limiter: {
          acquire: () => Promise.reject(new Error('store down')),
          settle: () => undefined,
          cancel: () => undefined,
        },
      },
    );
    expect((await brokenLimiter.chat.completions.create(req('c'))).choices[0]?.message.content).toBe(
      'Echo: c',
    );
    expect(h.fake.requests).toHaveLength(3);
  });
});
