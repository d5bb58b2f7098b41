import {
  context,
  logs,
  metrics,
  propagation,
  trace,
  type LoggerProvider,
  type MeterProvider,
  type TracerProvider,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';

/**
 * Installs the global OpenTelemetry providers, the AsyncLocalStorage context manager (so the
 * active span and the security context follow async calls) and the W3C trace-context and
 * baggage propagators (so they cross HTTP hops). The API refuses to replace a global that is
 * already set (another SDK got there first); then we keep theirs and say so. Returns a
 * function that removes exactly what this call installed.
 */
export function registerGlobals(providers: {
  tracerProvider: TracerProvider;
  loggerProvider: LoggerProvider;
  meterProvider: MeterProvider;
}): () => void {
  const undo: Array<() => void> = [];
  const manager = new AsyncLocalStorageContextManager();
  if (context.setGlobalContextManager(manager.enable())) {
    undo.push(() => {
      context.disable();
    });
  } else {
    manager.disable();
  }
  const propagator = new CompositePropagator({
    propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
  });
  if (propagation.setGlobalPropagator(propagator)) undo.push(() => propagation.disable());
  if (trace.setGlobalTracerProvider(providers.tracerProvider)) undo.push(() => trace.disable());
  if (logs.setGlobalLoggerProvider(providers.loggerProvider)) undo.push(() => logs.disable());
  if (metrics.setGlobalMeterProvider(providers.meterProvider)) undo.push(() => metrics.disable());
  let undone = false;
  return () => {
    if (undone) return;
    undone = true;
    for (const fn of undo.reverse()) {
      try {
        fn();
      } catch {
        // Unregistering is best effort.
      }
    }
  };
}
