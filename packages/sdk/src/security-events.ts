import {
  context as otelContext,
  diag,
  logs,
  trace,
  type Context,
  type Logger,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import {
  defaultIdGenerator,
  isCategory,
  systemClock,
  type Category,
  type Clock,
  type EventInput,
  type EventInputFor,
  type FingerprintKey,
  type IdGenerator,
  type SecurityEvent,
  type SecurityEventEmitter,
} from '@llmsec/core';
import type { SecurityContext } from './context.ts';
import { reportTelemetryError } from './errors.ts';
import { eventAttributes } from './event-attributes.ts';
import { buildEvent, eventTime, givenTime, type BuildDeps } from './event-builder.ts';
import {
  defaultFingerprintKey,
  resolveFingerprintKey,
  type FingerprintKeyOptions,
} from './fingerprint-key.ts';
import type { JsonlEventWriter } from './jsonl-writer.ts';
import { LlmsecMetrics } from './metrics.ts';
import { mergeNamed } from './merge-named.ts';
import { SEVERITY_NUMBER } from './severity.ts';
import { CategoryMethods } from './category-methods.ts';
import { contextWithSpan, hrTimeOf, spanEventName } from './event-record-memos.ts';

/**
 * The security-event API. One call records one event everywhere it belongs:
 * a span event `llmsec.<category>` on the active span (or `input.span`), one log record with
 * the same name, severity and attributes in that span's context (so it carries the trace and
 * span id), the metrics, optionally a JSONL line, and an optional synchronous listener.
 * Every step is isolated: a failing one is reported to the error funnel and the others still
 * run. No method throws.
 *
 * Unknown categories: the event is built and returned (with `warning` severity unless given),
 * but nothing is recorded, because an unknown category would be an unbounded metric label and
 * no reader rule matches it; a diag warning is logged once per name and the call is counted
 * as `llmsec.telemetry.errors{component="events", error_type="unknown_category"}`.
 */
export interface SecurityEventsOptions {
  /** Written as `service` on every event. @default undefined (the resource carries it) */
  serviceName?: string;
  /**
   * When set, an event recorded outside any span gets its own short span
   * `llmsec <category>` (so its log record still has a trace id). @default undefined (no span)
   */
  tracer?: Tracer;
  /** @default logs.getLogger('@llmsec/sdk') (the global logger provider) */
  logger?: Logger;
  /** @default new LlmsecMetrics() (the global meter provider) */
  metrics?: LlmsecMetrics;
  /** @default systemClock */
  clock?: Clock;
  /** @default defaultIdGenerator */
  ids?: IdGenerator;
  /** Record redacted, truncated request / response previews. @default false */
  capturePreviews?: boolean;
  /** The structured security log. @default undefined (none) */
  jsonl?: JsonlEventWriter;
  /** Synchronous listener called with every recorded event (its errors are caught). */
  onEvent?: (event: SecurityEvent) => void;
  /**
   * The HMAC key of `payload_fingerprint` (fingerprint-key.ts). @default LLMSEC_FINGERPRINT_KEY,
   * else the key file (LLMSEC_FINGERPRINT_KEY_FILE, ~/.llmsec/fingerprint.key, created 0600)
   */
  fingerprintKey?: FingerprintKey | string | Uint8Array;
  /** Where the fingerprint key is read from, or created. @default LLMSEC_FINGERPRINT_KEY_FILE, else ~/.llmsec/fingerprint.key */
  fingerprintKeyFile?: string;
}

const MAX_WARNED_CATEGORIES = 100;

/** Set by SecurityEvents' static block (declared before the class: the block runs at its definition). */
let emitInContext: (
  events: SecurityEvents,
  category: Category,
  input: unknown,
  ctx: Context,
  security: SecurityContext,
) => SecurityEvent;

export class SecurityEvents extends CategoryMethods implements SecurityEventEmitter {
  private readonly serviceName: string | undefined;
  private readonly tracer: Tracer | undefined;
  private readonly logger: Logger;
  readonly metrics: LlmsecMetrics;
  private readonly clock: Clock;
  private readonly ids: IdGenerator;
  private readonly capturePreviews: boolean;
  private readonly jsonl: JsonlEventWriter | undefined;
  private readonly onEvent: ((event: SecurityEvent) => void) | undefined;
  private readonly warnedCategories = new Set<string>();
  private fingerprintKey: FingerprintKey | undefined;
  /** The fingerprint key, resolved on first use; one function for every event, not one per event. */
  private readonly keyOf = (): FingerprintKey => (this.fingerprintKey ??= defaultFingerprintKey());
  /** buildEvent's fixed inputs: one object for every event. */
  private readonly buildDeps: BuildDeps;

  constructor(options: SecurityEventsOptions = {}) {
    super();
    this.serviceName = options.serviceName;
    this.tracer = options.tracer;
    this.logger = options.logger ?? logs.getLogger('@llmsec/sdk');
    this.metrics = options.metrics ?? new LlmsecMetrics();
    this.clock = options.clock ?? systemClock;
    this.ids = options.ids ?? defaultIdGenerator;
    this.capturePreviews = options.capturePreviews ?? false;
    this.jsonl = options.jsonl;
    this.onEvent = options.onEvent;
    // A configured key is checked now (bad configuration throws here); the default is resolved on first use.
    if (options.fingerprintKey !== undefined || options.fingerprintKeyFile !== undefined) {
      const keyOptions: FingerprintKeyOptions = {};
      if (options.fingerprintKey !== undefined) keyOptions.fingerprintKey = options.fingerprintKey;
      if (options.fingerprintKeyFile !== undefined)
        keyOptions.fingerprintKeyFile = options.fingerprintKeyFile;
      this.fingerprintKey = resolveFingerprintKey(keyOptions);
    }
    if (options.onEvent !== undefined && typeof options.onEvent !== 'function') {
      throw new TypeError('SecurityEvents: onEvent must be a function');
    }
    this.buildDeps = {
      ids: this.ids,
      serviceName: this.serviceName,
      capturePreviews: this.capturePreviews,
      fingerprintKey: this.keyOf,
    };
  }

  emit<C extends Category>(category: C, input: EventInputFor<C>): SecurityEvent {
    return this.emitNamed(category, input, undefined);
  }

  protected emitNamed(
    category: Category,
    input: unknown,
    named: Record<string, unknown> | undefined,
  ): SecurityEvent {
    // A subclass that overrides emit() still sees every category method's event go through it,
    // as before the named fields bypassed it: the input with the named fields merged into its metadata.
    if (named !== undefined && this.emit !== SecurityEvents.prototype.emit)
      return this.emit(category, withNamedMetadata(input, named));
    return this.emitIn(category, input, named, otelContext.active(), undefined);
  }

  static {
    // The instrumentation's path (emitInCallContext below), without a public member.
    emitInContext = (events, category, input, ctx, security) =>
      events.emitIn(category, input, undefined, ctx, security);
  }

  /**
   * `ctx`: the context the event belongs to (the active one, or the instrumented call's, whose
   * span is active in it). `security`: the security context of `ctx` when the caller has it
   * already (the instrumented call read it at its start), else undefined (read from `ctx`).
   */
  private emitIn(
    category: Category,
    input: unknown,
    named: Record<string, unknown> | undefined,
    ctx: Context,
    security: SecurityContext | undefined,
  ): SecurityEvent {
    const name = typeof category === 'string' ? category : String(category as unknown);
    // Looked up once: buildEvent needs it for the default severity, and record() runs only for a known one.
    const known = isCategory(name);
    const activeSpan = trace.getSpan(ctx);
    const span = spanOf(input as EventInput | undefined, activeSpan);
    let event: SecurityEvent;
    let timeMs: number;
    let observedNow: boolean;
    try {
      const given = givenTime(input);
      timeMs = eventTime(given, this.clock);
      // The system clock read now for this event: its reading is also when the event was observed.
      observedNow = given === undefined && this.clock === systemClock;
      event = buildEvent(
        name,
        input as EventInput,
        named,
        this.buildDeps,
        ctx,
        span?.spanContext(),
        timeMs,
        security,
        known,
      );
    } catch (err) {
      // Only a broken clock or id generator gets here; still return a usable event.
      reportTelemetryError('events', err);
      return {
        event_id: 'EVT-000000000000',
        timestamp: new Date().toISOString(),
        category: name,
        severity: 'warning',
        user_id: 'anonymous',
      };
    }
    if (!known) {
      this.warnUnknown(name);
      return event;
    }
    try {
      this.record(event, timeMs, observedNow, span, ctx, activeSpan);
    } catch (err) {
      reportTelemetryError('events', err);
    }
    return event;
  }

  private record(
    event: SecurityEvent,
    timeMs: number,
    observedNow: boolean,
    span: Span | undefined,
    active: Context,
    activeSpan: Span | undefined,
  ): void {
    const name = spanEventName(event.category);
    // An HrTime, not epoch ms: the span treats a number below performance.now() as a
    // performance-clock reading, which would misplace small (test or replayed) event times.
    const time = hrTimeOf(timeMs);
    let attributes;
    try {
      attributes = eventAttributes(event);
    } catch (err) {
      reportTelemetryError('events', err);
      return;
    }
    let target = span;
    let ownSpan: Span | undefined;
    if (target === undefined && this.tracer !== undefined) {
      try {
        ownSpan = this.tracer.startSpan(`llmsec ${event.category}`, { startTime: time }, active);
        target = ownSpan;
        const sc = ownSpan.spanContext();
        event.trace_id = sc.traceId;
        event.span_id = sc.spanId;
      } catch (err) {
        reportTelemetryError('events.span', err);
      }
    }
    try {
      target?.addEvent(name, attributes, time);
    } catch (err) {
      reportTelemetryError('events.span', err);
    }
    try {
      this.logger.emit({
        eventName: name,
        severityNumber: SEVERITY_NUMBER[event.severity],
        severityText: event.severity,
        body: event.description ?? event.category,
        attributes,
        timestamp: time,
        // Without one, the SDK converts its own Date.now() into a new HrTime kept with the record.
        // When this call read the system clock for the event time, that reading is the observed
        // time, in the same (shared) HrTime. Otherwise (a given or injected time) the SDK's own.
        observedTimestamp: observedNow ? time : undefined,
        context: target !== undefined && target !== activeSpan ? contextWithSpan(active, target) : active,
      });
    } catch (err) {
      reportTelemetryError('events.log', err);
    }
    if (ownSpan !== undefined) {
      try {
        ownSpan.end(time);
      } catch (err) {
        reportTelemetryError('events.span', err);
      }
    }
    this.metrics.recordEvent(event);
    if (event.category === 'request_completed') this.recordRequestMetrics(event);
    if (this.jsonl !== undefined) {
      try {
        this.jsonl.write(event);
      } catch (err) {
        reportTelemetryError('jsonl', err);
      }
    }
    if (this.onEvent !== undefined) {
      try {
        this.onEvent(event);
      } catch (err) {
        reportTelemetryError('events.listener', err);
      }
    }
  }

  /**
   * `request_completed` is emitted once per LLM request, so it is what counts requests
   * (`llmsec.requests{outcome, model}`) and cost (`llmsec.cost.usd{model}`). The outcome is
   * metadata `outcome` when given (allowed, blocked, rate_limited, error), else from `blocked`.
   */
  private recordRequestMetrics(event: SecurityEvent): void {
    const md = event.metadata ?? {};
    const model = typeof md.model === 'string' ? md.model : undefined;
    const outcome = typeof md.outcome === 'string' ? md.outcome : md.blocked === true ? 'blocked' : 'allowed';
    this.metrics.recordRequest({ outcome, model });
    if (typeof md.cost_usd === 'number') this.metrics.recordCost({ model, usd: md.cost_usd });
  }

  private warnUnknown(name: string): void {
    this.metrics.recordTelemetryError('events', 'unknown_category');
    if (this.warnedCategories.has(name) || this.warnedCategories.size >= MAX_WARNED_CATEGORIES) return;
    this.warnedCategories.add(name);
    diag.warn(`llmsec: unknown event category ${JSON.stringify(name.slice(0, 64))}: event not recorded`);
  }
}

/**
 * Not public (not exported by the package): the instrumentation emits `request_completed` after
 * its call's context is gone, with its own span as `input.span`; the log record then needs a
 * context holding that span, which `emit` would build per event (`trace.setSpan`, a context
 * copy). The call built that context once in `invoke()`, so it hands it over here, with the
 * security context it read at its start: `ctx` is that context with the call's span set, so its
 * security context is the same, and the event builder would otherwise read it again (walking the
 * context and its baggage, two objects). `ctx` must have `input.span` as its span. Another
 * emitter, or a subclass overriding `emit`, gets `emit`, run in `ctx`: it reads the ids the call
 * lacks from the active context, which is otherwise whoever's reads the stream.
 */
export function emitInCallContext<C extends Category>(
  events: SecurityEventEmitter,
  category: C,
  input: EventInputFor<C>,
  ctx: Context,
  security: SecurityContext,
): SecurityEvent {
  if (events instanceof SecurityEvents && events.emit === SecurityEvents.prototype.emit)
    return emitInContext(events, category, input, ctx, security);
  return otelContext.with(ctx, () => events.emit(category, input));
}

/** The input as one emit() argument: a copy with the named fields over a copy of its metadata (undefined ones erase nothing). */
function withNamedMetadata(input: unknown, named: Record<string, unknown>): EventInputFor<Category> {
  const src = input !== null && typeof input === 'object' ? (input as Record<string, unknown>) : {};
  const md = src.metadata;
  const caller =
    md !== null && typeof md === 'object' && !Array.isArray(md) ? (md as Record<string, unknown>) : {};
  return { ...src, metadata: mergeNamed(caller, named) } as unknown as EventInputFor<Category>;
}

function spanOf(input: EventInput | undefined, active: Span | undefined): Span | undefined {
  try {
    const given = input?.span;
    if (given !== undefined && given !== null && typeof given.spanContext === 'function') return given;
    return active;
  } catch {
    return undefined;
  }
}
