import type { Category, EventInput, EventInputFor, Metadata, SecurityEvent } from '@llmsec/core';
import { reportTelemetryError } from './errors.ts';
import type { RequestOutcome } from './metrics.ts';

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

/** Numeric fields accept numeric strings (form and header values); the rest is normalised later. */
function num(value: unknown): unknown {
  return typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value))
    ? Number(value)
    : value;
}

/** The input's fields; bad input (not an object) reads as `{}`. */
const NO_FIELDS: Readonly<Record<string, unknown>> = Object.freeze({});
function fieldsOf(input: unknown): Readonly<Record<string, unknown>> {
  return input !== null && typeof input === 'object' ? (input as Record<string, unknown>) : NO_FIELDS;
}

type Fields = Readonly<Record<string, unknown>>;

/**
 * The category's named fields read by `read`, or none when reading throws: a throwing getter or
 * a Proxy in the caller's object, a pii type with no string form. Telemetry never throws into
 * the host: the failure is reported as llmsec's own and the event is still recorded with what
 * the builder can read (it catches its own reads). `read` is a module constant per category,
 * so no closure is made per call.
 */
function readNamed(
  input: unknown,
  read: (fields: Fields) => Record<string, unknown>,
): Record<string, unknown> {
  try {
    return read(fieldsOf(input));
  } catch (err) {
    reportTelemetryError('events', err);
    return {};
  }
}

const GUARDRAIL_BLOCK = (f: Fields) => ({ guardrail_layer: f.layer, block_reason: f.reason });
const OUTPUT_FILTER_BLOCK = (f: Fields) => ({ filter_name: f.filter, block_reason: f.reason });
const RATE_LIMIT_HIT = (f: Fields) => ({
  limit_type: f.limitType,
  current: num(f.current),
  limit: num(f.limit),
});
const ANOMALOUS_PATTERN = (f: Fields) => ({ anomaly_type: f.anomalyType });
const SYSTEM_PROMPT_LEAKAGE = (f: Fields) => {
  const c = num(f.confidence);
  // events.md: confidence is 0..1; clamp rather than reject a detector's rounding.
  const confidence = typeof c === 'number' && !Number.isNaN(c) ? Math.min(1, Math.max(0, c)) : c;
  return { detection_method: f.method, confidence };
};
const PII_DETECTED = (f: Fields) => {
  const types = f.piiTypes;
  const piiTypes = Array.isArray(types)
    ? types.map(typeName)
    : types === undefined
      ? undefined
      : [typeName(types)];
  return { pii_types: piiTypes, direction: f.direction };
};

/** A pii type as a string; one with no string form (no prototype, a throwing toString) is named so, not thrown on. */
function typeName(type: unknown): string {
  try {
    return String(type);
  } catch {
    return '[unprintable]';
  }
}
const TOOL_ABUSE_ATTEMPT = (f: Fields) => ({ tool_name: f.tool, block_reason: f.reason });
const AUTH_FAILURE = (f: Fields) => ({ reason: f.reason });
const UNUSUAL_TOKEN_USAGE = (f: Fields) => ({
  prompt_tokens: num(f.promptTokens),
  completion_tokens: num(f.completionTokens),
});
const REQUEST_COMPLETED = (f: Fields) => ({
  model: f.model,
  prompt_tokens: num(f.promptTokens),
  completion_tokens: num(f.completionTokens),
  latency_ms: num(f.latencyMs),
  cost_usd: num(f.costUsd),
  prompt_length: num(f.promptLength),
  new_input_length: num(f.newInputLength),
  turn_index: num(f.turnIndex),
  blocked: f.blocked,
  outcome: f.outcome,
});

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
    return this.emitNamed('guardrail_block', input, readNamed(input, GUARDRAIL_BLOCK));
  }

  outputFilterBlock(input: OutputFilterBlockInput): SecurityEvent {
    return this.emitNamed('output_filter_block', input, readNamed(input, OUTPUT_FILTER_BLOCK));
  }

  rateLimitHit(input: RateLimitHitInput): SecurityEvent {
    return this.emitNamed('rate_limit_hit', input, readNamed(input, RATE_LIMIT_HIT));
  }

  anomalousPattern(input: AnomalousPatternInput): SecurityEvent {
    return this.emitNamed('anomalous_pattern', input, readNamed(input, ANOMALOUS_PATTERN));
  }

  systemPromptLeakage(input: SystemPromptLeakageInput): SecurityEvent {
    return this.emitNamed('system_prompt_leakage', input, readNamed(input, SYSTEM_PROMPT_LEAKAGE));
  }

  piiDetected(input: PiiDetectedInput): SecurityEvent {
    return this.emitNamed('pii_detected', input, readNamed(input, PII_DETECTED));
  }

  toolAbuseAttempt(input: ToolAbuseAttemptInput): SecurityEvent {
    return this.emitNamed('tool_abuse_attempt', input, readNamed(input, TOOL_ABUSE_ATTEMPT));
  }

  authFailure(input: AuthFailureInput): SecurityEvent {
    return this.emitNamed('auth_failure', input, readNamed(input, AUTH_FAILURE));
  }

  unusualTokenUsage(input: UnusualTokenUsageInput): SecurityEvent {
    return this.emitNamed('unusual_token_usage', input, readNamed(input, UNUSUAL_TOKEN_USAGE));
  }

  requestCompleted(input: RequestCompletedInput): SecurityEvent {
    return this.emitNamed('request_completed', input, readNamed(input, REQUEST_COMPLETED));
  }
}
