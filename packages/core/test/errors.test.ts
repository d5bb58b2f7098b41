import {
  diag,
  DiagLogLevel,
  metrics,
  type Attributes,
  type DiagLogger,
  type Meter,
} from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { METRIC_TELEMETRY_ERRORS } from '../src/index.ts';
import { ErrorFunnel, errorType } from '../src/internal.ts';

/** The shapes client libraries really throw (openai 7: name stays 'Error' on its subclasses). */
class APIError extends Error {
  readonly status: number;
  constructor(status: number) {
    super(`${status} status code (no body) for user u-123 prompt "secret plan"`);
    this.status = status;
  }
}
class RateLimitError extends APIError {}

describe('errorType', () => {
  it('labels by class, never by message', () => {
    const err = new RateLimitError(429);
    expect(err.name).toBe('Error');
    expect(errorType(err)).toBe('RateLimitError');
    expect(errorType(new TypeError('x'))).toBe('TypeError');
    expect(errorType(new Error('user u-1 said hello'))).toBe('Error');
    class Named extends Error {
      override readonly name = 'StoreTimeoutError';
    }
    expect(errorType(new Named('m'))).toBe('StoreTimeoutError');
  });

  it('uses DOMException names, system codes, fetch causes and HTTP status', () => {
    expect(errorType(new DOMException('stop', 'AbortError'))).toBe('AbortError');
    const sys = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(errorType(sys)).toBe('ECONNREFUSED');
    expect(errorType(new TypeError('fetch failed', { cause: sys }))).toBe('ECONNREFUSED');
    expect(errorType({ status: 503, message: 'x' })).toBe('http_503');
    expect(errorType({ status: 99999 })).toBe('object');
    expect(errorType(Object.assign(new Error('x'), { code: 'not a code' }))).toBe('Error');
  });

  it('is bounded and safe on odd input', () => {
    expect(errorType(undefined)).toBe('unknown');
    expect(errorType(null)).toBe('unknown');
    expect(errorType('boom')).toBe('string');
    expect(errorType(42)).toBe('number');
    const long = Object.assign(new Error('m'), { name: 'x'.repeat(10_000) + ' {user="u1"}' });
    expect(errorType(long)).toBe('x'.repeat(64));
    const weird = Object.assign(new Error('m'), { name: 'Bad Name\n{label}' });
    expect(errorType(weird)).toBe('BadNamelabel');
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('getter');
        },
      },
    );
    expect(errorType(hostile)).toBe('unknown');
  });
});

class PullReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

async function counts(reader: MetricReader): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const { resourceMetrics } = await reader.collect();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== METRIC_TELEMETRY_ERRORS) continue;
      for (const point of metric.dataPoints) {
        const a: Attributes = point.attributes;
        const key = `${String(a.component)}|${String(a.error_type)}`;
        out.set(key, (out.get(key) ?? 0) + (point.value as number));
      }
    }
  }
  return out;
}

describe('ErrorFunnel', () => {
  const lines: string[] = [];
  const logger: DiagLogger = {
    error: (m: string) => void lines.push(m),
    warn: (m: string) => void lines.push(m),
    info: () => {},
    debug: () => {},
    verbose: () => {},
  };
  beforeEach(() => {
    lines.length = 0;
    diag.setLogger(logger, DiagLogLevel.WARN);
  });
  afterEach(() => {
    diag.disable();
    metrics.disable();
  });

  it('counts every failure and logs once per episode, with a summary per interval', async () => {
    const reader = new PullReader();
    const meter: Meter = new MeterProvider({ readers: [reader] }).getMeter('t');
    let now = 1_000;
    const funnel = new ErrorFunnel(meter, 'detect', { logIntervalMs: 60_000, now: () => now });
    for (let i = 0; i < 1_000; i++) {
      funnel.report('sink', new RateLimitError(429));
      now += 10; // 10 s of failures: one episode
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('llmsec detect: sink failed (RateLimitError)');
    now += 50_000; // still inside the episode, past the interval: one summary line
    funnel.report('sink', new RateLimitError(429));
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('still failing (RateLimitError): 1000 failures since the last report');
    now += 61_000; // quiet for an interval: the next failure starts a new episode
    funnel.report('sink', new RateLimitError(429));
    expect(lines).toHaveLength(3);
    expect(lines[2]).toContain('sink failed');
    funnel.report('other', new TypeError('x'));
    expect(lines).toHaveLength(4);
    const c = await counts(reader);
    expect(c.get('detect|RateLimitError')).toBe(1_002);
    expect(c.get('detect|TypeError')).toBe(1);
    for (const line of lines) expect(line).not.toContain('secret plan');
  });

  it('follows the global meter provider registered after construction', async () => {
    const funnel = new ErrorFunnel(undefined, 'ratelimit.http');
    funnel.report('early', new Error('before any SDK')); // no provider yet: a no-op count
    const reader = new PullReader();
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
    funnel.reportFor('ratelimit.http.estimate', 'estimate', new TypeError('x'));
    funnel.report('queue', undefined, 'queue_full');
    const c = await counts(reader);
    expect(c.get('ratelimit.http.estimate|TypeError')).toBe(1);
    expect(c.get('ratelimit.http|queue_full')).toBe(1);
  });

  it('prefers an injected counter (asked per failure) and never throws', () => {
    const seen: string[] = [];
    let installed: { recordTelemetryError(c: string, t: string): void } | undefined;
    const funnel = new ErrorFunnel(undefined, 'sdk', { counter: () => installed });
    funnel.reportFor('jsonl', 'write', new Error('x'));
    installed = { recordTelemetryError: (c, t) => void seen.push(`${c}|${t}`) };
    funnel.reportFor('jsonl', 'write', new RangeError('x'));
    expect(seen).toEqual(['jsonl|RangeError']);
    const broken = new ErrorFunnel(undefined, 'x', {
      counter: {
        recordTelemetryError() {
          throw new Error('counter broke');
        },
      },
    });
    diag.setLogger(
      {
        ...logger,
        error: () => {
          throw new Error('logger broke');
        },
      },
      DiagLogLevel.WARN,
    );
    expect(() => broken.report('w', new Error('x'))).not.toThrow();
  });

  it('keeps throttling state bounded under many distinct kinds', () => {
    let now = 0;
    const funnel = new ErrorFunnel(undefined, 'c', { maxKinds: 10, now: () => now });
    for (let i = 0; i < 1_000; i++) funnel.report(`site${i}`, new Error('x'));
    // 10 kinds logged, then the rest share the overflow slot: one line for all of them.
    expect(lines).toHaveLength(11);
    now += 120_000; // every episode ended: slots free again
    funnel.report('fresh', new Error('x'));
    expect(lines).toHaveLength(12);
    expect(lines[11]).toContain('c: fresh failed');
  });
});
