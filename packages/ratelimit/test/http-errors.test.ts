/**
 * Failures inside the guard (a throwing estimator, subject function, decision hook or
 * usage reader) never reach the application: the request is still decided and served, and
 * the failure is counted on llmsec.telemetry.errors by call site and error class.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { metrics } from '@opentelemetry/api';
import { METRIC_TELEMETRY_ERRORS } from '@llmsec/core';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { withRateLimit } from '../src/http/middleware-node.ts';
import { close, FakeLimiter, fetchRaw, listen, waitFor } from './http-support.ts';

class PullReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const reader = new PullReader();
beforeAll(() => {
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
});
afterAll(() => {
  metrics.disable();
});

async function errorCount(component: string, errorType: string): Promise<number> {
  const { resourceMetrics } = await reader.collect();
  let total = 0;
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== METRIC_TELEMETRY_ERRORS) continue;
      for (const point of metric.dataPoints) {
        const a = point.attributes;
        if (a.component === component && a.error_type === errorType) total += point.value as number;
      }
    }
  }
  return total;
}

let server: Server | undefined;
afterEach(async () => {
  if (server) await close(server);
  server = undefined;
});

class EstimatorBug extends Error {}

describe('guard error funnel', () => {
  it('throwing hooks are counted and the request is still served with safe defaults', async () => {
    const limiter = new FakeLimiter();
    server = createServer(
      withRateLimit(limiter, (_req, res) => res.end('served'), {
        estimateTokens: () => {
          throw new EstimatorBug('bad body');
        },
        subject: () => {
          throw new TypeError('no user');
        },
        onDecision: () => {
          throw new RangeError('listener broke');
        },
        usage: () => {
          throw new Error('usage broke');
        },
      }),
    );
    const port = await listen(server);
    const res = await fetchRaw(port, { headers: { 'x-user-id': 'erin' } });
    expect(res.status).toBe(200);
    expect(res.body).toBe('served');
    // The default subject (without the client's x-user-id: a subject function's fallback does
    // not trust it) and a zero estimate stand in for the broken functions.
    expect(limiter.acquired[0]).toMatchObject({ subject: 'ip:127.0.0.1#anonymous', estimatedTokens: 0 });
    await waitFor(() => limiter.settled.length === 1, 'settle');
    expect(limiter.settled[0]?.usage).toEqual({ tokens: 0 });
    expect(await errorCount('ratelimit.http.estimateTokens', 'EstimatorBug')).toBe(1);
    expect(await errorCount('ratelimit.http.subject', 'TypeError')).toBe(1);
    expect(await errorCount('ratelimit.http.onDecision', 'RangeError')).toBe(1);
    expect(await errorCount('ratelimit.http.usage', 'Error')).toBe(1);
  });

  it('a failing settle is counted, not thrown', async () => {
    const limiter = new FakeLimiter();
    limiter.settle = async () => {
      throw new SyntaxError('store said no');
    };
    server = createServer(withRateLimit(limiter, (_req, res) => res.end('ok')));
    const port = await listen(server);
    expect((await fetchRaw(port)).status).toBe(200);
    await expect.poll(() => errorCount('ratelimit.http.settle', 'SyntaxError')).toBe(1);
  });
});
