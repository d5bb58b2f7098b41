import { describe, expect, it } from 'vitest';
import { costUsd } from '@llmsec/core';
import { genAiEventId, genAiSpanToEvent } from '../src/service/genai-span.ts';
import { DEFAULT_SESSION_ATTRIBUTES, DEFAULT_USER_ATTRIBUTES } from '../src/service/genai-attributes.ts';
import type { SpanInput } from '../src/service/inputs.ts';

const OPTS = { userAttributes: DEFAULT_USER_ATTRIBUTES, sessionAttributes: DEFAULT_SESSION_ATTRIBUTES };
const TRACE = '0af7651916cd43dd8448eb211c80319c';
const SPAN = 'b7ad6b7169203331';

function span(attributes: Record<string, unknown>, over: Partial<SpanInput> = {}): SpanInput {
  return {
    traceId: TRACE,
    spanId: SPAN,
    name: 'chat gpt-4o',
    startMs: Date.UTC(2026, 11, 4, 10, 0, 0),
    endMs: Date.UTC(2026, 11, 4, 10, 0, 1, 250),
    attributes,
    events: [],
    status: { code: 0 },
    resource: { 'service.name': 'py-chat' },
    scope: 'opentelemetry.instrumentation.openai',
    ...over,
  };
}

function event(s: SpanInput) {
  const r = genAiSpanToEvent(s, OPTS);
  if (r.kind !== 'event') throw new Error(`expected an event, got ${r.kind}`);
  return r.event;
}

describe('genAiSpanToEvent', () => {
  it('maps a semconv chat span (contrib / current names) to request_completed with cost and latency', () => {
    const e = event(
      span({
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.response.model': 'gpt-4o-2024-08-06',
        'gen_ai.usage.input_tokens': 1200,
        'gen_ai.usage.output_tokens': 300,
        'user.id': 'alice',
        'session.id': 's-1',
        'gen_ai.conversation.id': 'c-9',
      }),
    );
    expect(e).toEqual({
      event_id: genAiEventId(TRACE, SPAN),
      timestamp: '2026-12-04T10:00:01.250Z',
      category: 'request_completed',
      severity: 'info',
      user_id: 'alice',
      session_id: 's-1',
      conversation_id: 'c-9',
      trace_id: TRACE,
      span_id: SPAN,
      service: 'py-chat',
      metadata: {
        blocked: false,
        model: 'gpt-4o-2024-08-06',
        prompt_tokens: 1200,
        completion_tokens: 300,
        latency_ms: 1250,
        cost_usd: costUsd('gpt-4o', 1200, 300),
      },
    });
    expect(e.metadata!.cost_usd).toBeCloseTo((1200 * 2.5 + 300 * 10) / 1e6, 12);
  });

  it('reads the older prompt/completion token names and int64 strings', () => {
    const e = event(
      span({
        'gen_ai.system': 'openai',
        'gen_ai.request.model': 'gpt-4o-mini',
        'gen_ai.usage.prompt_tokens': '40',
        'gen_ai.usage.completion_tokens': 7,
      }),
    );
    expect(e.metadata).toMatchObject({ prompt_tokens: 40, completion_tokens: 7, model: 'gpt-4o-mini' });
    expect(e.user_id).toBe('anonymous');
  });

  it('reads OpenInference LLM spans: llm.model_name, llm.token_count.*, user.id, prompt length of messages', () => {
    const e = event(
      span({
        'openinference.span.kind': 'LLM',
        'llm.model_name': 'gpt-4.1',
        'llm.token_count.prompt': 11,
        'llm.token_count.completion': 5,
        'llm.input_messages.0.message.role': 'system',
        'llm.input_messages.0.message.content': 'be brief',
        'llm.input_messages.1.message.content': 'hello there',
        'input.value': '{"messages":[...]}',
        'user.id': 'bob',
      }),
    );
    expect(e.metadata).toMatchObject({
      model: 'gpt-4.1',
      prompt_tokens: 11,
      completion_tokens: 5,
      prompt_length: 19,
    });
    expect(e.user_id).toBe('bob');
  });

  it('reads Traceloop association properties and falls back to the resource for the user', () => {
    const fromSpan = event(
      span({
        'llm.request.type': 'chat',
        'gen_ai.request.model': 'claude-sonnet-4',
        'llm.usage.prompt_tokens': 3,
        'traceloop.association.properties.user_id': 'carol',
        'traceloop.association.properties.session_id': 'ts',
        'gen_ai.prompt.0.content': 'abcd',
      }),
    );
    expect(fromSpan).toMatchObject({ user_id: 'carol', session_id: 'ts', metadata: { prompt_length: 4 } });
    const fromResource = event(
      span(
        { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'x' },
        { resource: { 'enduser.id': 'dave' } },
      ),
    );
    expect(fromResource.user_id).toBe('dave');
    expect(fromResource.metadata!.cost_usd).toBeUndefined(); // unknown model: no guess
  });

  it('span attributes win over resource attributes, in the configured order', () => {
    const s = span(
      { 'gen_ai.operation.name': 'chat', 'enduser.id': 'from-span' },
      { resource: { 'user.id': 'from-resource' } },
    );
    expect(event(s).user_id).toBe('from-span');
    const custom = genAiSpanToEvent(s, { ...OPTS, userAttributes: ['app.user'] });
    expect(custom.kind === 'event' && custom.event.user_id).toBe('anonymous');
  });

  it('records errors from status or error.type', () => {
    expect(event(span({ 'gen_ai.operation.name': 'chat' }, { status: { code: 2 } })).metadata).toMatchObject({
      error: true,
      error_type: 'error',
    });
    expect(
      event(span({ 'gen_ai.operation.name': 'chat', 'error.type': 'RateLimitError' })).metadata,
    ).toMatchObject({
      error: true,
      error_type: 'RateLimitError',
    });
  });

  it('skips agent and tool spans, spans without GenAI attributes, and llmsec SDK spans', () => {
    expect(genAiSpanToEvent(span({ 'gen_ai.operation.name': 'execute_tool' }), OPTS).kind).toBe('not_genai');
    expect(genAiSpanToEvent(span({ 'openinference.span.kind': 'CHAIN' }), OPTS).kind).toBe('not_genai');
    expect(genAiSpanToEvent(span({ 'http.method': 'POST' }), OPTS).kind).toBe('not_genai');
    const attrs = { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o' };
    expect(genAiSpanToEvent(span(attrs, { scope: '@llmsec/sdk/instrumentation' }), OPTS).kind).toBe(
      'llmsec_sdk',
    );
    const withEvent = span(attrs, {
      events: [{ timeMs: 0, name: 'llmsec.request_completed', attributes: {} }],
    });
    expect(genAiSpanToEvent(withEvent, OPTS).kind).toBe('llmsec_sdk');
  });

  it('gives the same event id for the same span and different ids for different spans', () => {
    expect(genAiEventId(TRACE, SPAN)).toBe(genAiEventId(TRACE, SPAN));
    expect(genAiEventId(TRACE, SPAN)).not.toBe(genAiEventId(TRACE, 'b7ad6b7169203332'));
    expect(genAiEventId(TRACE, SPAN)).toMatch(/^EVT-[0-9a-f]{16}$/);
  });

  it('ignores hostile values: negative or fractional tokens, huge numeric strings', () => {
    const e = event(
      span({
        'gen_ai.operation.name': 'chat',
        'gen_ai.usage.input_tokens': -5,
        'gen_ai.usage.prompt_tokens': 1.5,
        'llm.token_count.prompt': '99999999999999999999',
        'gen_ai.usage.output_tokens': '12',
      }),
    );
    expect(e.metadata!.prompt_tokens).toBeUndefined();
    expect(e.metadata!.completion_tokens).toBe(12);
  });
});
