// A GenAI span of another instrumentation that the client cancelled once the answer had begun
// (.NET's OpenAI / Azure.AI.Inference instrumentations end a stream read cancelled by its token
// with error.type System.OperationCanceledException; others name an AbortError or a
// CancelledError) was a failed call to the default rules, so identical_requests and
// high_block_rate left it out. llmsec's SDK records the same cancel (a stream the app broke off)
// as an allowed call that counts: the request was sent and answered in part, and a script
// replaying one prompt that stops reading after the first tokens is still replaying it. A cancel
// before any answer stays a failed call, as in the SDK (an APIUserAbortError from the request
// itself: often a client-side timeout, which a retry loop sends again).
import { describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { DetectionEngine } from '@llmsec/detect';
import { genAiSpanToEvent } from '../src/service/genai-span.ts';
import { DEFAULT_SESSION_ATTRIBUTES, DEFAULT_USER_ATTRIBUTES } from '../src/service/genai-attributes.ts';
import type { SpanInput } from '../src/service/inputs.ts';

const OPTS = { userAttributes: DEFAULT_USER_ATTRIBUTES, sessionAttributes: DEFAULT_SESSION_ATTRIBUTES };
const T0 = Date.UTC(2026, 11, 4, 10, 0, 0);

function span(attributes: Record<string, unknown>, i: number, errorType: string | undefined): SpanInput {
  return {
    traceId: `0af7651916cd43dd8448eb211c8031${String(i).padStart(2, '0')}`,
    spanId: 'b7ad6b7169203331',
    name: 'chat gpt-4o',
    startMs: T0 + i * 20_000,
    endMs: T0 + i * 20_000 + 800,
    attributes: errorType === undefined ? attributes : { ...attributes, 'error.type': errorType },
    events: [],
    status: { code: errorType === undefined ? 0 : 2 },
    resource: { 'service.name': 'dotnet-chat' },
    scope: 'OpenAI.ChatClient',
  };
}

const ASKED = {
  'gen_ai.operation.name': 'chat',
  'gen_ai.provider.name': 'openai',
  'gen_ai.request.model': 'gpt-4o',
  'gen_ai.input.messages': JSON.stringify([
    { role: 'user', parts: [{ type: 'text', content: 'x'.repeat(400) }] },
  ]),
  'user.id': 'u1',
};
/** What a stream read up to its cancel sets: the response's id and model come with the first chunk. */
const ANSWERING = {
  ...ASKED,
  'gen_ai.response.id': 'chatcmpl-1',
  'gen_ai.response.model': 'gpt-4o-2024-08-06',
};

function identicalAlerts(attributes: Record<string, unknown>, errorType: string | undefined): Alert[] {
  const alerts: Alert[] = [];
  const engine = new DetectionEngine({ allowedLatenessMs: 0, onAlert: (a) => alerts.push(a) });
  for (let i = 0; i < 8; i++) {
    const r = genAiSpanToEvent(span(attributes, i, errorType), OPTS);
    if (r.kind !== 'event') throw new Error('expected an event');
    engine.ingest(r.event, T0 + i * 20_000 + 900);
  }
  return alerts.filter((a) => a.rule === 'identical_requests');
}

describe('a GenAI span the client cancelled', () => {
  it('counts in identical_requests once the answer had begun, as the SDK counts an abandoned stream', () => {
    expect(identicalAlerts(ANSWERING, undefined)).toHaveLength(1);
    for (const t of [
      'System.OperationCanceledException',
      'System.Threading.Tasks.TaskCanceledException',
      'APIUserAbortError',
      'AbortError',
      'CancelledError',
      'asyncio.exceptions.CancelledError',
      'java.util.concurrent.CancellationException',
    ]) {
      expect(identicalAlerts(ANSWERING, t), t).toHaveLength(1);
    }
  });

  it('keeps its error_type and is not an error', () => {
    const r = genAiSpanToEvent(span(ANSWERING, 0, 'System.OperationCanceledException'), OPTS);
    expect(r.kind === 'event' && r.event.metadata).toMatchObject({
      error_type: 'System.OperationCanceledException',
    });
    expect(r.kind === 'event' && r.event.metadata?.error).toBeUndefined();
  });

  it('stays a failed call when cancelled before any answer, or failed otherwise', () => {
    expect(identicalAlerts(ASKED, 'APIUserAbortError')).toEqual([]);
    expect(identicalAlerts(ASKED, 'System.OperationCanceledException')).toEqual([]);
    expect(identicalAlerts(ANSWERING, 'RateLimitError')).toEqual([]);
    expect(identicalAlerts(ANSWERING, 'ConnectionAbortedError')).toEqual([]);
    const r = genAiSpanToEvent(span(ASKED, 0, 'APIUserAbortError'), OPTS);
    expect(r.kind === 'event' && r.event.metadata).toMatchObject({
      error: true,
      error_type: 'APIUserAbortError',
    });
  });
});
