import type { Category, EventInput, EventInputFor, Metadata, SecurityEvent } from '@llmsec/core';
import { reportTelemetryError } from './errors.ts';
import { REQUEST_OUTCOMES, type RequestOutcome } from './metrics.ts';

/**
 * One method per category, taking the category's fields in camelCase and writing them as the
 * snake_case metadata of events.md. Extra `metadata` is kept; the named fields win over it.
 */

type WithMetadata = EventInput & { metadata?: Metadata };

export type GuardrailBlockInput = WithMetadata & { layer: string; reason: string };
export type OutputFilterBlockInput = WithMetadata & { filter: string; reason: string };
export type RateLimitHitInput = WithMetadata & { limitType: string; current: number; limit: number };
export type AnomalousPatternInput = WithMetadata & { anomalyType: string };
export type SystemPromptLeakageInput = WithMetadata & { method: string; confidence: number };
export type PiiDetectedInput = WithMetadata & { piiTypes: string[]; direction: 'input' | 'output' };
export type ToolAbuseAttemptInput = WithMetadata & { tool: string; reason: string };
export type AuthFailureInput = WithMetadata & { reason: string };
export type UnusualTokenUsageInput = WithMetadata & { promptTokens: number; completionTokens: number };
export type RequestCompletedInput = WithMetadata & {
  model: string;
  promptTokens: number;
  completionTokens: number;
  latencyMs: number;
  costUsd: number;
  /** Prompt length in characters; default: the length of `requestText` when given. */
  promptLength?: number;
  /** Characters this call added (the trailing user / tool messages), without the resent history. */
  newInputLength?: number;
  /** 1-based model call index within the conversation. */
  turnIndex?: number;
  blocked: boolean;
  /** Overrides the request outcome label derived from `blocked` (e.g. `rate_limited`, `error`). */
  outcome?: RequestOutcome;
};

/**
 * Numeric fields accept numeric strings (form and header values). Text that is no number, and a
 * boolean, is NaN: dropped and warned about as NaN is, never written as another type than the
 * number events.md gives the field. The rest is normalised later.
 */
function num(value: unknown): unknown {
  if (typeof value === 'string') return value.trim() === '' ? Number.NaN : Number(value);
  return typeof value === 'boolean' ? Number.NaN : value;
}

/**
 * A count (tokens, characters, a turn index): a whole number from 0 to 2^53 - 1, as the
 * instrumentation reads a provider's usage (adapter.ts usageAsCounts); anything else (-5, 1.5,
 * 1e300, 'many') is not reported rather than recorded as given, where it skewed the token
 * baselines and prompt-length rules and turned sums negative. Not clamped: 0 would be a value
 * nobody reported.
 */
function count(value: unknown): number | undefined {
  const n = num(value);
  return Number.isSafeInteger(n) && (n as number) >= 0 ? (n as number) : undefined;
}

/** A measure (latency_ms, cost_usd): a finite number >= 0, fractions taken; else not reported. */
function measure(value: unknown): number | undefined {
  const n = num(value);
  return typeof n === 'number' && n >= 0 && n < Infinity ? n : undefined;
}

/** `blocked` (events.md: bool): a boolean, else not reported ('yes' is neither value). */
function bool(value: unknown): boolean | undefined {
  return typeof value === 'boolean' ? value : undefined;
}

/**
 * `outcome` (events.md: allowed, blocked, rate_limited or error): one of those, else not
 * reported, so `blocked` decides the request's outcome (an untyped caller's 'weird' or 42 was
 * written as given and counted as outcome `other`).
 */
function requestOutcome(value: unknown): RequestOutcome | undefined {
  return (REQUEST_OUTCOMES as readonly unknown[]).includes(value) ? (value as RequestOutcome) : undefined;
}

/** `direction` (events.md: input or output): one of those, else not reported ('sideways', 5). */
function piiDirection(value: unknown): 'input' | 'output' | undefined {
  return value === 'input' || value === 'output' ? value : undefined;
}

/**
 * Text fields (events.md: strings) given as a number or boolean, as untyped callers do
 * (`layer: 5`), are written as their string: a number there would be another value than the
 * same field's "5" from other senders (distinct counts, group keys, a Loki or jq filter).
 */
function str(value: unknown): unknown {
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
}

/** The input's fields; bad input (not an object) reads as `{}`. */
const NO_FIELDS: Readonly<Record<string, unknown>> = Object.freeze({});
function fieldsOf(input: unknown): Readonly<Record<string, unknown>> {
  return input !== null && typeof input === 'object' ? (input as Record<string, unknown>) : NO_FIELDS;
}

/**
 * The named fields when reading them threw: a throwing getter or a Proxy in the caller's object.
 * Telemetry never throws into the host: the failure is reported as llmsec's own, and the event
 * is still recorded with what the builder can read (it catches its own reads). Each method
 * reads its fields inline under its own catch: a shared reader taking a function per category
 * cost 12-19% of a guardrailBlock call (bench/events/ab.ts --case event).
 */
function unreadable(err: unknown): Record<string, unknown> {
  reportTelemetryError('events', err);
  return {};
}

/** A pii type as a string; one with no string form (no prototype, a throwing toString) is named so, not thrown on. */
function typeName(type: unknown): string {
  try {
    return String(type);
  } catch {
    return '[unprintable]';
  }
}

export abstract class CategoryMethods {
  abstract emit<C extends Category>(category: C, input: EventInputFor<C>): SecurityEvent;

  /**
   * Records `category` from the caller's `input` (read, never changed or copied) with the
   * category's `named` fields as metadata: named fields win over `input.metadata`, but an
   * absent (undefined) named field does not erase it. The category fields' own names
   * (`layer`, `reason`, ...) are not EventInput fields, so the input needs no copy without them.
   */
  protected abstract emitNamed(
    category: Category,
    input: unknown,
    named: Record<string, unknown>,
  ): SecurityEvent;

  guardrailBlock(input: GuardrailBlockInput): SecurityEvent {
    let named: Record<string, unknown>;
    try {
      const fields = fieldsOf(input);
      named = { guardrail_layer: str(fields.layer), block_reason: str(fields.reason) };
    } catch (err) {
      named = unreadable(err);
    }
    return this.emitNamed('guardrail_block', input, named);
  }

  outputFilterBlock(input: OutputFilterBlockInput): SecurityEvent {
    let named: Record<string, unknown>;
    try {
      const fields = fieldsOf(input);
      named = { filter_name: str(fields.filter), block_reason: str(fields.reason) };
    } catch (err) {
      named = unreadable(err);
    }
    return this.emitNamed('output_filter_block', input, named);
  }

  rateLimitHit(input: RateLimitHitInput): SecurityEvent {
    let named: Record<string, unknown>;
    try {
      const fields = fieldsOf(input);
      named = { limit_type: str(fields.limitType), current: num(fields.current), limit: num(fields.limit) };
    } catch (err) {
      named = unreadable(err);
    }
    return this.emitNamed('rate_limit_hit', input, named);
  }

  anomalousPattern(input: AnomalousPatternInput): SecurityEvent {
    let named: Record<string, unknown>;
    try {
      const fields = fieldsOf(input);
      named = { anomaly_type: str(fields.anomalyType) };
    } catch (err) {
      named = unreadable(err);
    }
    return this.emitNamed('anomalous_pattern', input, named);
  }

  systemPromptLeakage(input: SystemPromptLeakageInput): SecurityEvent {
    let named: Record<string, unknown>;
    try {
      const fields = fieldsOf(input);
      const c = num(fields.confidence);
      // events.md: confidence is 0..1; clamp rather than reject a detector's rounding.
      const confidence = typeof c === 'number' && !Number.isNaN(c) ? Math.min(1, Math.max(0, c)) : c;
      named = { detection_method: str(fields.method), confidence };
    } catch (err) {
      named = unreadable(err);
    }
    return this.emitNamed('system_prompt_leakage', input, named);
  }

  piiDetected(input: PiiDetectedInput): SecurityEvent {
    let named: Record<string, unknown>;
    try {
      const fields = fieldsOf(input);
      const types = fields.piiTypes;
      const piiTypes = Array.isArray(types)
        ? types.map(typeName)
        : types === undefined
          ? undefined
          : [typeName(types)];
      named = { pii_types: piiTypes, direction: piiDirection(fields.direction) };
    } catch (err) {
      named = unreadable(err);
    }
    return this.emitNamed('pii_detected', input, named);
  }

  toolAbuseAttempt(input: ToolAbuseAttemptInput): SecurityEvent {
    let named: Record<string, unknown>;
    try {
      const fields = fieldsOf(input);
      named = { tool_name: str(fields.tool), block_reason: str(fields.reason) };
    } catch (err) {
      named = unreadable(err);
    }
    return this.emitNamed('tool_abuse_attempt', input, named);
  }

  authFailure(input: AuthFailureInput): SecurityEvent {
    let named: Record<string, unknown>;
    try {
      const fields = fieldsOf(input);
      named = { reason: str(fields.reason) };
    } catch (err) {
      named = unreadable(err);
    }
    return this.emitNamed('auth_failure', input, named);
  }

  unusualTokenUsage(input: UnusualTokenUsageInput): SecurityEvent {
    let named: Record<string, unknown>;
    try {
      const fields = fieldsOf(input);
      named = {
        prompt_tokens: count(fields.promptTokens),
        completion_tokens: count(fields.completionTokens),
      };
    } catch (err) {
      named = unreadable(err);
    }
    return this.emitNamed('unusual_token_usage', input, named);
  }

  requestCompleted(input: RequestCompletedInput): SecurityEvent {
    let named: Record<string, unknown>;
    try {
      const fields = fieldsOf(input);
      named = {
        model: str(fields.model),
        prompt_tokens: count(fields.promptTokens),
        completion_tokens: count(fields.completionTokens),
        latency_ms: measure(fields.latencyMs),
        cost_usd: measure(fields.costUsd),
        prompt_length: count(fields.promptLength),
        new_input_length: count(fields.newInputLength),
        turn_index: count(fields.turnIndex),
        blocked: bool(fields.blocked),
        outcome: requestOutcome(fields.outcome),
      };
    } catch (err) {
      named = unreadable(err);
    }
    return this.emitNamed('request_completed', input, named);
  }
}
