import { context, diag, DiagLogLevel, logs, metrics, propagation, trace } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import {
  InMemoryLogRecordExporter,
  SimpleLogRecordProcessor,
  type LogRecordExporter,
  type LogRecordProcessor,
} from '@opentelemetry/sdk-logs';
import {
  BatchSpanProcessor,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { METRIC_TELEMETRY_ERRORS, decodeEventLine } from '@llmsec/core';
import { resetTelemetryErrorThrottle } from '../src/errors.ts';
import { setupLlmsec, type LlmsecSetup } from '../src/setup.ts';
import { TestMetricReader } from './harness.ts';

let current: LlmsecSetup | undefined;
afterEach(async () => {
  await current?.shutdown();
  current = undefined;
  diag.disable();
});

const boom = (where: string) => () => {
  throw new Error(`boom in ${where}`);
};

const throwingSpanProcessor: SpanProcessor = {
  onStart: boom('onStart'),
  onEnd: boom('onEnd'),
  forceFlush: boom('forceFlush'),
  shutdown: () => Promise.reject(new Error('shutdown rejects')),
};
const throwingLogProcessor: LogRecordProcessor = {
  onEmit: boom('onEmit'),
  forceFlush: () => Promise.reject(new Error('flush rejects')),
  shutdown: boom('log shutdown'),
};
const throwingSpanExporter: SpanExporter = { export: boom('span export'), shutdown: async () => {} };
const throwingLogExporter: LogRecordExporter = {
  export: boom('log export'),
  shutdown: async () => {},
  forceFlush: async () => {},
};
const failingSpanExporter: SpanExporter = {
  export: (_spans, cb) => cb({ code: ExportResultCode.FAILED, error: new Error('collector down') }),
  shutdown: async () => {},
};

describe('setupLlmsec', () => {
  it('throwing processors and exporters never reach the application', async () => {
    diag.setLogger(
      { error: () => {}, warn: () => {}, info: () => {}, debug: () => {}, verbose: () => {} },
      DiagLogLevel.ERROR,
    );
    resetTelemetryErrorThrottle();
    const good = new InMemorySpanExporter();
    const goodLogs = new InMemoryLogRecordExporter();
    const reader = new TestMetricReader();
    current = setupLlmsec({
      serviceName: 'robust-app',
      otlp: false,
      prometheus: false,
      spanProcessors: [
        throwingSpanProcessor,
        new SimpleSpanProcessor({ exporter: throwingSpanExporter }),
        new BatchSpanProcessor({ exporter: failingSpanExporter }),
        new SimpleSpanProcessor({ exporter: good }),
      ],
      logRecordProcessors: [
        throwingLogProcessor,
        new SimpleLogRecordProcessor({ exporter: throwingLogExporter }),
        new SimpleLogRecordProcessor({ exporter: goodLogs }),
      ],
      metricReaders: [reader],
    });
    const tracer = trace.getTracer('app');
    const appResult = tracer.startActiveSpan('handle-request', (span) => {
      const event = current!.events.guardrailBlock({ layer: 'injection', reason: 'r', userId: 'u' });
      span.end();
      return `ok ${event.category}`;
    });
    expect(appResult).toBe('ok guardrail_block');
    await expect(current.forceFlush()).resolves.toBeUndefined();
    // The healthy exporters behind the broken ones still got the data.
    expect(good.getFinishedSpans().map((s) => s.name)).toEqual(['handle-request']);
    expect(goodLogs.getFinishedLogRecords().map((r) => r.eventName)).toEqual(['llmsec.guardrail_block']);
    const errors = (await reader.metric(METRIC_TELEMETRY_ERRORS))!.dataPoints;
    const components = new Set(errors.map((p) => p.attributes.component));
    expect(components).toEqual(new Set(['span_processor', 'log_processor']));
    expect(errors.every((p) => p.attributes.error_type === 'Error')).toBe(true);
    const shutdown = current.shutdown();
    expect(current.shutdown()).toBe(shutdown);
    await expect(shutdown).resolves.toBeUndefined();
  });

  it('installs and then removes global providers, context manager and W3C propagators', async () => {
    current = setupLlmsec({ serviceName: 'globals', otlp: false, prometheus: false });
    expect(propagation.fields()).toEqual(expect.arrayContaining(['traceparent', 'tracestate', 'baggage']));
    const tracer = trace.getTracer('t');
    await tracer.startActiveSpan('s', async (span) => {
      await new Promise((r) => setTimeout(r, 1));
      expect(trace.getActiveSpan()).toBe(span);
      span.end();
    });
    expect(logs.getLoggerProvider()).not.toBeUndefined();
    await current.shutdown();
    current = undefined;
    expect(propagation.fields()).toEqual([]);
    expect(context.active().getValue(Symbol.for('x'))).toBeUndefined();
    // A second setup can register again after the first shut down.
    current = setupLlmsec({ serviceName: 'globals-2', otlp: false, prometheus: false });
    expect(propagation.fields()).toContain('baggage');
    expect(metrics.getMeterProvider()).toBe(current.meterProvider);
  });

  it('writes the JSONL security log and closes it at shutdown', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmsec-setup-'));
    try {
      const path = join(dir, 'security.jsonl');
      current = setupLlmsec({ serviceName: 'jsonl-app', otlp: false, prometheus: false, jsonl: { path } });
      const a = current.events.piiDetected({ piiTypes: ['email'], direction: 'input', userId: 'u1' });
      const b = current.events.authFailure({ reason: 'bad key', sourceIp: '10.0.0.1' });
      await current.shutdown();
      const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
      expect(lines.map((l) => decodeEventLine(l).event)).toEqual([a, b]);
      expect(a.service).toBe('jsonl-app');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('registers instrumentations against its providers and disables them at shutdown', async () => {
    const calls: string[] = [];
    const got: Record<string, unknown> = {};
    let config = { enabled: false };
    const instrumentation = {
      instrumentationName: 'fake',
      instrumentationVersion: '1.0.0',
      enable: () => calls.push('enable'),
      disable: () => calls.push('disable'),
      setTracerProvider: (p: unknown) => (got.tracer = p),
      setMeterProvider: (p: unknown) => (got.meter = p),
      setLoggerProvider: (p: unknown) => (got.logger = p),
      setConfig: (c: { enabled: boolean }) => (config = c),
      getConfig: () => config,
    };
    current = setupLlmsec({
      serviceName: 'instr',
      otlp: false,
      prometheus: false,
      instrumentations: [instrumentation],
    });
    expect(got).toEqual({
      tracer: current.tracerProvider,
      meter: current.meterProvider,
      logger: current.loggerProvider,
    });
    expect(calls).toEqual(['enable']);
    await current.shutdown();
    expect(calls).toEqual(['enable', 'disable']);
  });

  it('rejects invalid configuration at construction with a clear message', () => {
    expect(() => setupLlmsec({} as never)).toThrow(/serviceName/);
    expect(() => setupLlmsec({ serviceName: 's', otlp: { endpoint: 'not a url' } })).toThrow(/otlp.endpoint/);
    expect(() => setupLlmsec({ serviceName: 's', prometheus: { port: 70000 } })).toThrow(/prometheus.port/);
    expect(() =>
      setupLlmsec({
        serviceName: 's',
        otlp: false,
        prometheus: false,
        registerGlobal: false,
        jsonl: { path: '' },
      }),
    ).toThrow(/jsonl: destination.path must be a non-empty string/);
  });

  it('starts without the JSONL log when its file cannot be opened, and says so', async () => {
    // Before: setupLlmsec threw (ENOENT), so a log path on a volume not mounted stopped the app.
    const warnings: string[] = [];
    diag.setLogger(
      { error: () => {}, warn: (m) => warnings.push(m), info: () => {}, debug: () => {}, verbose: () => {} },
      DiagLogLevel.WARN,
    );
    const printed: unknown[] = [];
    const consoleWarn = console.warn;
    console.warn = (m: unknown) => void printed.push(m);
    resetTelemetryErrorThrottle();
    const reader = new TestMetricReader();
    const missing = join(tmpdir(), `llmsec-no-such-dir-${process.pid}`, 'security.jsonl');
    const seen: string[] = [];
    try {
      current = setupLlmsec({
        serviceName: 'no-jsonl',
        otlp: false,
        prometheus: false,
        registerGlobal: false,
        metricReaders: [reader],
        jsonl: { path: missing },
        onEvent: (e) => void seen.push(e.category),
      });
    } finally {
      console.warn = consoleWarn;
    }
    expect(current.jsonl).toBeUndefined();
    const said = (m: unknown) => /jsonl: cannot open destination.path .*ENOENT.*NOT written/.test(String(m));
    expect(warnings.some(said)).toBe(true);
    expect(printed.some(said)).toBe(true);
    // The other sinks still record.
    current.events.authFailure({ reason: 'bad key' });
    expect(seen).toEqual(['auth_failure']);
    const errors = (await reader.metric(METRIC_TELEMETRY_ERRORS))!.dataPoints;
    expect(errors.map((p) => [p.attributes.component, p.value])).toEqual([['jsonl', 1]]);
  });

  it('serves Prometheus through a handler without a port by default', async () => {
    current = setupLlmsec({ serviceName: 'handler', otlp: false, registerGlobal: false });
    expect(current.prometheus).toBeDefined();
    current.events.authFailure({ reason: 'x' });
    const body = await new Promise<string>((resolve) => {
      let text = '';
      const res = {
        statusCode: 0,
        setHeader: () => {},
        end: (chunk?: string) => {
          text += chunk ?? '';
          resolve(text);
        },
      };
      current!.metricsHandler!({} as never, res as never);
    });
    expect(body).toContain(
      'llmsec_events_total{category="auth_failure",severity="warning",otel_scope_name="@llmsec/sdk"} 1',
    );
  });
});
