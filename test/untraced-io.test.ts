/**
 * llmsec's own I/O carries nothing of the user's request (issue 12): an Alertmanager or
 * webhook POST made while a user's span is active and the user's W3C
 * baggage (user.id, session.id) is in context, must not send `traceparent` or `baggage` to the
 * receiver. The setup is what a traced service has: the AsyncLocalStorage context manager, the
 * W3C trace-context + baggage propagators registered globally, and an http instrumentation
 * that injects the active context into every outgoing fetch (here, the same thing
 * @opentelemetry/instrumentation-undici does: a subscriber on undici's `undici:request:create`
 * channel calling `propagation.inject(context.active(), …)`). The control request proves the
 * instrumentation works: a plain fetch in the same context does carry both headers.
 *
 * Not the OTLP exports: the OTel exporters call node's http.request (and grpc-js), which an
 * undici hook never sees, so a check here could not fail. test/untraced-otlp.test.ts watches
 * their own I/O points, with controls.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, propagation, trace, type Context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  CompositePropagator,
  isTracingSuppressed,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Alert } from '@llmsec/core';
import { UNTRACED_CONTEXT } from '@llmsec/core/internal';
import { AlertmanagerSink, WebhookSink } from '@llmsec/detect';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
}

const received: Received[] = [];
let server: Server;
let base = '';
const contextManager = new AsyncLocalStorageContextManager();

/** What an http/undici instrumentation does to every outgoing request. */
function injectActiveContext(message: unknown): void {
  const request = (message as { request: { addHeader(name: string, value: string): void } }).request;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  for (const [name, value] of Object.entries(carrier)) request.addHeader(name, value);
}

beforeAll(async () => {
  context.setGlobalContextManager(contextManager.enable());
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
  subscribe('undici:request:create', injectActiveContext);
  server = createServer((req, res) => {
    received.push({ path: req.url ?? '', headers: req.headers });
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  unsubscribe('undici:request:create', injectActiveContext);
  propagation.disable();
  context.disable();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** A user's request in progress: an active recording span and the user's baggage. */
function userContext(): Context {
  const span = new TracerProvider().getTracer('app').startSpan('POST /chat');
  const baggage = propagation.createBaggage({
    'user.id': { value: 'u-victim' },
    'session.id': { value: 's-1' },
  });
  return propagation.setBaggage(trace.setSpan(context.active(), span), baggage);
}

function alert(): Alert {
  return {
    alert_id: 'ALR-untraced',
    rule: 'rapid_guardrail_blocks',
    severity: 'alert',
    status: 'firing',
    labels: { user_id: 'u-victim' },
    user_ids: ['u-victim'],
    starts_at: '2026-11-22T10:00:00.000Z',
    description: 'test',
    evidence: [],
    trace_ids: [],
  };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 5_000 && !check(); i++) await new Promise((r) => setTimeout(r, 1));
  expect(check()).toBe(true);
}

const on = (path: string): Received[] => received.filter((r) => r.path.startsWith(path));

describe("llmsec's own I/O runs untraced", () => {
  it('core UNTRACED_CONTEXT is what @opentelemetry/core calls suppressed, with no span or baggage', () => {
    expect(isTracingSuppressed(UNTRACED_CONTEXT)).toBe(true);
    expect(trace.getSpan(UNTRACED_CONTEXT)).toBeUndefined();
    expect(propagation.getBaggage(UNTRACED_CONTEXT)).toBeUndefined();
  });

  it('control: an ordinary fetch inside the user request carries traceparent and baggage', async () => {
    await context.with(userContext(), () =>
      fetch(`${base}/control`, { method: 'POST', body: '{}' }).then((r) => r.text()),
    );
    const [control] = on('/control');
    expect(control?.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(control?.headers.baggage).toContain('user.id=u-victim');
  });

  it('an Alertmanager POST and a webhook POST raised inside the user request carry neither', async () => {
    const am = new AlertmanagerSink({ urls: [base], flushTimeoutMs: 5_000 });
    const hook = new WebhookSink({ url: `${base}/hook`, flushTimeoutMs: 5_000 });
    try {
      context.with(userContext(), () => {
        am.send(alert());
        hook.send(alert());
      });
      await until(() => on('/api/v2/alerts').length > 0 && on('/hook').length > 0);
    } finally {
      await Promise.all([am.shutdown(), hook.shutdown()]);
    }
    for (const r of [...on('/api/v2/alerts'), ...on('/hook')]) {
      expect(r.headers.traceparent).toBeUndefined();
      expect(r.headers.baggage).toBeUndefined();
    }
  });
});
