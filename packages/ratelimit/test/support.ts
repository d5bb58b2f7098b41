import type { Attributes, DiagLogger, Meter, ObservableCallback } from '@opentelemetry/api';
import type { EventInputFor, SecurityEvent, SecurityEventEmitter } from '@llmsec/core';
import type { Category } from '@llmsec/core';

/** A diag logger that keeps its error lines (the rest dropped), for "logged once" assertions. */
export function errorLog(): { logger: DiagLogger; errors: string[] } {
  const errors: string[] = [];
  const ignore = (): void => {};
  const logger: DiagLogger = {
    error: (m: string) => errors.push(m),
    warn: ignore,
    info: ignore,
    debug: ignore,
    verbose: ignore,
  };
  return { logger, errors };
}

/**
 * A Meter that records counter increments, for asserting metric names and attributes, and
 * keeps observable counters' callbacks (`observe` runs them as a collection would).
 */
export function recordingMeter(): {
  meter: Meter;
  adds: { name: string; value: number; attrs: Attributes }[];
  count(name: string, match?: Attributes): number;
  observe(name: string): { value: number; attrs: Attributes }[];
} {
  const adds: { name: string; value: number; attrs: Attributes }[] = [];
  const callbacks: { name: string; callback: ObservableCallback }[] = [];
  const meter = {
    createCounter: (name: string) => ({
      add: (value: number, attrs: Attributes = {}) => adds.push({ name, value, attrs }),
    }),
    createObservableCounter: (name: string) => ({
      addCallback: (callback: ObservableCallback) => callbacks.push({ name, callback }),
    }),
  } as unknown as Meter;
  const count = (name: string, match: Attributes = {}): number =>
    adds
      .filter((a) => a.name === name && Object.entries(match).every(([k, v]) => a.attrs[k] === v))
      .reduce((s, a) => s + a.value, 0);
  const observe = (name: string): { value: number; attrs: Attributes }[] => {
    const seen: { value: number; attrs: Attributes }[] = [];
    const result = { observe: (value: number, attrs: Attributes = {}) => seen.push({ value, attrs }) };
    for (const c of callbacks) if (c.name === name) void c.callback(result);
    return seen;
  };
  return { meter, adds, count, observe };
}

/** An emitter that keeps what it was given. */
export function recordingEmitter(): SecurityEventEmitter & {
  events: { category: string; input: EventInputFor<Category> }[];
} {
  const events: { category: string; input: EventInputFor<Category> }[] = [];
  return {
    events,
    emit<C extends Category>(category: C, input: EventInputFor<C>): SecurityEvent {
      events.push({ category, input: input as unknown as EventInputFor<Category> });
      return {
        event_id: `EVT-${events.length}`,
        timestamp: new Date(0).toISOString(),
        category,
        severity: 'warning',
        user_id: input.userId ?? 'anonymous',
      } as SecurityEvent;
    },
  };
}
