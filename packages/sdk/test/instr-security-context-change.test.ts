import OpenAI from 'openai';
import { SpanKind, context, trace } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import type { Category, EventInputFor, SecurityEvent, SecurityEventEmitter } from '@llmsec/core';
import { withSecurityContext } from '../src/context.ts';
import { instrumentClient, type OutputGuard } from '../src/instrumentation/index.ts';
import { SecurityEvents } from '../src/security-events.ts';
import { createHarness } from './harness.ts';

// A call's events carry the ids of the security context the call started in (e06e01e: read once
// at the start and handed to the event builder), not those active when an event is emitted: a
// stream is often read elsewhere (another request's context, a worker's), and calls overlap.
// These tests fail if the events read the security context at emit time, or share one between
// calls.

const chunk = (content: string | null, finish: string | null): string =>
  `data: ${JSON.stringify({
    id: 'c',
    object: 'chat.completion.chunk',
    created: 1_700_000_000,
    model: 'gpt-4o-mini',
    choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: finish }],
  })}\n\n`;
const streamFetch = (): Promise<Response> =>
  Promise.resolve(
    new Response(`${chunk('one ', null)}${chunk('two', null)}${chunk(null, 'stop')}data: [DONE]\n\n`, {
      status: 200,
      headers: { 'content-type': 'text/event-stream' },
    }),
  );
const BODY = {
  model: 'gpt-4o-mini',
  messages: [{ role: 'user' as const, content: 'hello' }],
  stream: true as const,
};

let h: ReturnType<typeof createHarness> | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const ids = (e: SecurityEvent): unknown[] => [e.category, e.user_id, e.session_id, e.conversation_id];
const A = { userId: 'u-A' };
const B = { userId: 'u-B', sessionId: 's-B', conversationId: 'c-B' };
const READER = { userId: 'u-R', sessionId: 's-R', conversationId: 'c-R' };

describe('a call keeps the security context it started in', () => {
  it('two overlapping streams, read inside a third context: each event has its own call ids and span', async () => {
    const seen: SecurityEvent[] = [];
    h = createHarness({ onEvent: (e) => seen.push(e) });
    // An output guard that emits an event of its own, naming no ids, on the stream's last check.
    const emitting: OutputGuard = {
      name: 'emitting',
      layer: 'test',
      checkResponse: (_o, ctx) => {
        ctx.emit('pii_detected', { metadata: { pii_types: ['email'], direction: 'output' } });
        return { action: 'allow' };
      },
    };
    const client = instrumentClient(
      new OpenAI({ apiKey: 'k', baseURL: 'http://127.0.0.1:9/v1', maxRetries: 0, fetch: streamFetch }),
      { events: h.events, tracerProvider: h.tracerProvider, guards: { output: [emitting] } },
    );
    const a = await withSecurityContext(A, () => client.chat.completions.create(BODY));
    const b = await withSecurityContext(B, () => client.chat.completions.create(BODY));
    await withSecurityContext(READER, async () => {
      const ia = a[Symbol.asyncIterator]();
      const ib = b[Symbol.asyncIterator]();
      // Interleaved: b first, so that a's events come after b's context was last read.
      for (let doneA = false, doneB = false; !doneA || !doneB;) {
        if (!doneB) doneB = (await ib.next()).done === true;
        if (!doneA) doneA = (await ia.next()).done === true;
      }
    });
    const spans = h.spanExporter.getFinishedSpans().filter((s) => s.name === 'chat gpt-4o-mini');
    expect(spans).toHaveLength(2);
    const byUser = (u: string) => seen.filter((e) => e.user_id === u);
    expect(byUser('u-R')).toEqual([]);
    expect(byUser('u-A').map(ids)).toEqual([
      ['pii_detected', 'u-A', undefined, undefined],
      ['request_completed', 'u-A', undefined, undefined],
    ]);
    expect(byUser('u-B').map(ids)).toEqual([
      ['pii_detected', 'u-B', 's-B', 'c-B'],
      ['request_completed', 'u-B', 's-B', 'c-B'],
    ]);
    // Each call's events on its own span, in the logs too.
    for (const user of ['u-A', 'u-B']) {
      const spanIds = new Set(byUser(user).map((e) => e.span_id));
      expect(spanIds.size).toBe(1);
      const span = spans.find((s) => spanIds.has(s.spanContext().spanId));
      expect(span).toBeDefined();
      const records = h.logExporter
        .getFinishedLogRecords()
        .filter((r) => r.spanContext?.spanId === span!.spanContext().spanId);
      expect(records.map((r) => r.eventName).sort()).toEqual([
        'llmsec.pii_detected',
        'llmsec.request_completed',
      ]);
    }
  });

  it('the same when the call reuses the GenAI span of another instrumentation', async () => {
    const seen: SecurityEvent[] = [];
    h = createHarness({ onEvent: (e) => seen.push(e) });
    const harness = h;
    const client = instrumentClient(
      new OpenAI({ apiKey: 'k', baseURL: 'http://127.0.0.1:9/v1', maxRetries: 0, fetch: streamFetch }),
      { events: harness.events, tracerProvider: harness.tracerProvider },
    );
    const outer = harness.tracer.startSpan('chat gpt-4o-mini', {
      kind: SpanKind.CLIENT,
      attributes: { 'gen_ai.operation.name': 'chat' },
    });
    const stream = await withSecurityContext(A, () =>
      context.with(trace.setSpan(context.active(), outer), () => client.chat.completions.create(BODY)),
    );
    await withSecurityContext(READER, async () => {
      for await (const _ of stream);
    });
    outer.end();
    expect(seen.map(ids)).toEqual([['request_completed', 'u-A', undefined, undefined]]);
    expect(seen[0]?.span_id).toBe(outer.spanContext().spanId);
  });

  it('the same through an emitter that is not SecurityEvents, or a subclass overriding emit', async () => {
    const seen: SecurityEvent[] = [];
    h = createHarness({ onEvent: (e) => seen.push(e) });
    const harness = h;
    class Overriding extends SecurityEvents {
      override emit<C extends Category>(category: C, input: EventInputFor<C>): SecurityEvent {
        return super.emit(category, input);
      }
    }
    const overriding = new Overriding({ metrics: harness.metrics, onEvent: (e) => seen.push(e) });
    const other: SecurityEventEmitter = {
      emit: (category, input) => harness.events.emit(category, input),
    } as SecurityEventEmitter;
    for (const events of [overriding, other]) {
      const client = instrumentClient(
        new OpenAI({ apiKey: 'k', baseURL: 'http://127.0.0.1:9/v1', maxRetries: 0, fetch: streamFetch }),
        { events, tracerProvider: harness.tracerProvider },
      );
      const stream = await withSecurityContext(A, () => client.chat.completions.create(BODY));
      await withSecurityContext(READER, async () => {
        for await (const _ of stream);
      });
    }
    expect(seen.map(ids)).toEqual([
      ['request_completed', 'u-A', undefined, undefined],
      ['request_completed', 'u-A', undefined, undefined],
    ]);
  });
});
