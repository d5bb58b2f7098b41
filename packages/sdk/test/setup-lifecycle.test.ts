import { diag, DiagLogLevel } from '@opentelemetry/api';
import type { LogRecordProcessor } from '@opentelemetry/sdk-logs';
import { afterEach, describe, expect, it } from 'vitest';
import type { SecurityEvent } from '@llmsec/core';
import { setupLlmsec, type DetectionTarget, type LlmsecSetup, type SetupOptions } from '../src/setup.ts';

/**
 * setup-lifecycle.ts: the order of forceFlush and shutdown around the detection engine, which
 * the SetupOptions docs promise ("forceFlush() flushes it after the providers and shutdown()
 * shuts it down before them (its alert log records still export)"). No other test looks at the
 * order: moving the engine's shutdown after the providers', its forceFlush before theirs, or
 * dropping its flush() at shutdown passed the suite.
 */

let current: LlmsecSetup | undefined;
afterEach(async () => {
  await current?.shutdown();
  current = undefined;
  diag.disable();
});

/** A log processor that writes what is done to it into `order`. */
function recordingProcessor(order: string[]): LogRecordProcessor {
  return {
    onEmit: (record) => void order.push(`logs.emit ${record.eventName}`),
    forceFlush: async () => void order.push('logs.forceFlush'),
    shutdown: async () => void order.push('logs.shutdown'),
  };
}

/** An engine that writes what is done to it into `order`; `onShutdown` runs inside its shutdown. */
function recordingEngine(
  order: string[],
  onShutdown: () => void = () => {},
): DetectionTarget & {
  seen: SecurityEvent[];
} {
  const seen: SecurityEvent[] = [];
  return {
    seen,
    ingestOnce: (event) => {
      seen.push(event);
      return true;
    },
    flush: () => void order.push('detection.flush'),
    forceFlush: async () => void order.push('detection.forceFlush'),
    shutdown: async () => {
      order.push('detection.shutdown');
      onShutdown();
    },
  };
}

const base: SetupOptions = {
  serviceName: 'lifecycle',
  otlp: false,
  prometheus: false,
  registerGlobal: false,
};

describe('setupLlmsec lifecycle around the detection engine', () => {
  it('forceFlush flushes the providers first, then the engine', async () => {
    const order: string[] = [];
    current = setupLlmsec({
      ...base,
      logRecordProcessors: [recordingProcessor(order)],
      detection: recordingEngine(order),
    });
    await current.forceFlush();
    expect(order).toEqual(['logs.forceFlush', 'detection.forceFlush']);
  });

  it('shutdown stops instrumentations, then flushes and shuts down the engine, then the providers; its last alert still exports', async () => {
    const order: string[] = [];
    const instrumentation = {
      instrumentationName: 'fake',
      instrumentationVersion: '1.0.0',
      enable: () => {},
      disable: () => void order.push('instrumentation.disable'),
      setTracerProvider: () => {},
      setMeterProvider: () => {},
      setLoggerProvider: () => {},
      setConfig: () => {},
      getConfig: () => ({ enabled: true }),
    };
    const setup = setupLlmsec({
      ...base,
      instrumentations: [instrumentation],
      logRecordProcessors: [recordingProcessor(order)],
      // The engine's alert at shutdown (what a DetectionEngine's resolve-all does) is a log record.
      detection: recordingEngine(order, () =>
        setup.loggerProvider.getLogger('detect').emit({ eventName: 'llmsec.alert', body: 'last' }),
      ),
    });
    current = setup;
    await setup.shutdown();
    expect(order).toEqual([
      'instrumentation.disable',
      'detection.flush',
      'detection.shutdown',
      'logs.emit llmsec.alert',
      'logs.shutdown',
    ]);
  });

  it('shutdown runs once for concurrent callers; forceFlush after it resolves', async () => {
    const order: string[] = [];
    current = setupLlmsec({ ...base, detection: recordingEngine(order) });
    const [a, b] = [current.shutdown(), current.shutdown()];
    expect(b).toBe(a);
    await Promise.all([a, b, current.shutdown()]);
    expect(order).toEqual(['detection.flush', 'detection.shutdown']);
    await expect(current.forceFlush()).resolves.toBeUndefined();
  });

  it('an engine that throws or rejects at shutdown neither rejects it nor keeps the providers up', async () => {
    diag.setLogger(
      { error: () => {}, warn: () => {}, info: () => {}, debug: () => {}, verbose: () => {} },
      DiagLogLevel.ERROR,
    );
    const order: string[] = [];
    const engine = recordingEngine(order);
    engine.flush = () => {
      throw new Error('flush throws');
    };
    engine.forceFlush = () => Promise.reject(new Error('forceFlush rejects'));
    current = setupLlmsec({ ...base, logRecordProcessors: [recordingProcessor(order)], detection: engine });
    await expect(current.forceFlush()).resolves.toBeUndefined();
    await expect(current.shutdown()).resolves.toBeUndefined();
    // flush() threw before shutdown() was reached (one step): the providers still shut down.
    expect(order).toEqual(['logs.forceFlush', 'logs.shutdown']);
  });

  it('the engine given at setup is the one fed, flushed and shut down, whatever the options object holds later', async () => {
    const order: string[] = [];
    const engine = recordingEngine(order);
    const options: SetupOptions = { ...base, detection: engine };
    current = setupLlmsec(options);
    const later: string[] = [];
    options.detection = recordingEngine(later);
    const event = current.events.authFailure({ reason: 'x' });
    await current.forceFlush();
    await current.shutdown();
    expect(engine.seen).toEqual([event]);
    expect(order).toEqual(['detection.forceFlush', 'detection.flush', 'detection.shutdown']);
    expect(later).toEqual([]);
  });
});
