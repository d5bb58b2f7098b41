import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ROOT_CONTEXT, SpanKind, context, propagation, trace } from '@opentelemetry/api';
import { InMemoryLogRecordExporter, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SecurityEvent } from '@llmsec/core';
import { setupLlmsec, withSecurityContext, type LlmsecSetup } from '@llmsec/sdk';

/**
 * Two node:http servers in one process, a gateway and a model service. The gateway learns
 * who the user is (here: from headers standing in for authentication), sets the security
 * context and calls the model service, propagating W3C trace context and baggage the way
 * HTTP instrumentations do (propagation.inject / extract). The model service records a
 * security event without being told the user: ids and trace come from the propagated context.
 */

let llmsec: LlmsecSetup;
const spans = new InMemorySpanExporter();
const logRecords = new InMemoryLogRecordExporter();
let gateway: Server;
let modelService: Server;
let modelEvents: SecurityEvent[] = [];
let seenHeaders: IncomingMessage['headers'] = {};

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function get(
  port: number,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  llmsec = setupLlmsec({
    serviceName: 'hop-test',
    otlp: false,
    prometheus: false,
    spanProcessors: [new SimpleSpanProcessor({ exporter: spans })],
    logRecordProcessors: [new SimpleLogRecordProcessor({ exporter: logRecords })],
  });
  const tracer = trace.getTracer('hop-test');

  modelService = createServer((req, res) => {
    seenHeaders = req.headers;
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    context.with(parent, () => {
      tracer.startActiveSpan('model handle', { kind: SpanKind.SERVER }, (span) => {
        modelEvents.push(llmsec.events.guardrailBlock({ layer: 'injection', reason: 'jailbreak' }));
        span.end();
        res.end('blocked');
      });
    });
  });
  const modelPort = await listen(modelService);

  gateway = createServer((req, res) => {
    const userId = String(req.headers['x-user']);
    const sessionId = String(req.headers['x-session']);
    void withSecurityContext({ userId, sessionId }, () =>
      tracer.startActiveSpan('gateway handle', { kind: SpanKind.SERVER }, async (span) => {
        const headers: Record<string, string> = {};
        propagation.inject(context.active(), headers);
        const answer = await get(modelPort, '/v1/chat', headers);
        span.end();
        res.end(answer.body);
      }),
    );
  });
  await listen(gateway);
});

afterAll(async () => {
  await new Promise((r) => gateway.close(r));
  await new Promise((r) => modelService.close(r));
  await llmsec.shutdown();
});

describe('security context across a real HTTP hop', () => {
  it('user and session ids and the trace arrive with the event recorded on the far side', async () => {
    modelEvents = [];
    spans.reset();
    logRecords.reset();
    const port = (gateway.address() as AddressInfo).port;
    const res = await get(port, '/chat', { 'x-user': 'alice@example.com', 'x-session': 'sess-42' });
    expect(res).toEqual({ status: 200, body: 'blocked' });

    expect(seenHeaders.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(seenHeaders.baggage).toContain('user.id=alice%40example.com');
    expect(seenHeaders.baggage).toContain('session.id=sess-42');

    const finished = spans.getFinishedSpans();
    const gatewaySpan = finished.find((s) => s.name === 'gateway handle')!;
    const modelSpan = finished.find((s) => s.name === 'model handle')!;
    expect(modelSpan.spanContext().traceId).toBe(gatewaySpan.spanContext().traceId);
    expect(modelSpan.parentSpanContext?.spanId).toBe(gatewaySpan.spanContext().spanId);

    expect(modelEvents).toHaveLength(1);
    const event = modelEvents[0]!;
    expect(event.user_id).toBe('alice@example.com');
    expect(event.session_id).toBe('sess-42');
    expect(event.trace_id).toBe(gatewaySpan.spanContext().traceId);
    expect(event.span_id).toBe(modelSpan.spanContext().spanId);

    expect(modelSpan.events.map((e) => e.name)).toEqual(['llmsec.guardrail_block']);
    expect(modelSpan.events[0]!.attributes?.['user.id']).toBe('alice@example.com');
    const [record] = logRecords.getFinishedLogRecords();
    expect(record!.spanContext?.traceId).toBe(gatewaySpan.spanContext().traceId);
    expect(record!.spanContext?.spanId).toBe(modelSpan.spanContext().spanId);
    expect(record!.attributes['user.id']).toBe('alice@example.com');
    expect(record!.attributes['session.id']).toBe('sess-42');
  });

  it('a request without baggage records an anonymous event in its own trace', async () => {
    modelEvents = [];
    const port = (modelService.address() as AddressInfo).port;
    await get(port, '/v1/chat', {});
    expect(modelEvents[0]!.user_id).toBe('anonymous');
    expect(modelEvents[0]!.session_id).toBeUndefined();
    expect(modelEvents[0]!.trace_id).toMatch(/^[0-9a-f]{32}$/);
  });
});
