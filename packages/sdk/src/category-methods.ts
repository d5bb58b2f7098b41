import type { Category, EventInput, EventInputFor, Metadata, SecurityEvent } from '@llmsec/core';
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
  return typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value)) ? Number(value) : value;
}

/** Splits the category fields off `input`; bad input (not an object) becomes `{}`. */
function parts<K extends string>(
  input: unknown,
  keys: readonly K[],
): { fields: Partial<Record<K, unknown>>; rest: EventInput; metadata: Record<string, unknown> } {
  const src = input !== null && typeof input === 'object' ? (input as Record<string, unknown>) : {};
  const fields: Partial<Record<K, unknown>> = {};
  const rest: Record<string, unknown> = {};
  for (const key of Object.keys(src)) {
    if ((keys as readonly string[]).includes(key)) fields[key as K] = src[key];
    else if (key !== 'metadata') rest[key] = src[key];
  }
  const md = src.metadata;
  const metadata = md !== null && typeof md === 'object' && !Array.isArray(md) ? { ...(md as Record<string, unknown>) } : {};
  return { fields, rest: rest as EventInput, metadata };
}

export abstract class CategoryMethods {
  abstract emit<C extends Category>(category: C, input: EventInputFor<C>): SecurityEvent;

  /** Named fields win over free metadata, but an absent named field does not erase it. */
  private send(category: Category, rest: EventInput, metadata: Record<string, unknown>, named: Record<string, unknown>): SecurityEvent {
    for (const key of Object.keys(named)) if (named[key] !== undefined) metadata[key] = named[key];
    // `rest` is parts()' own copy: completing it in place saves a second copy of the input.
    (rest as Record<string, unknown>).metadata = metadata;
    return this.emit(category, rest as unknown as EventInputFor<typeof category>);
  }

  guardrailBlock(input: GuardrailBlockInput): SecurityEvent {
    const { fields, rest, metadata } = parts(input, ['layer', 'reason']);
    return this.send('guardrail_block', rest, metadata, { guardrail_layer: fields.layer, block_reason: fields.reason });
  }

  outputFilterBlock(input: OutputFilterBlockInput): SecurityEvent {
    const { fields, rest, metadata } = parts(input, ['filter', 'reason']);
    return this.send('output_filter_block', rest, metadata, { filter_name: fields.filter, block_reason: fields.reason });
  }

  rateLimitHit(input: RateLimitHitInput): SecurityEvent {
    const { fields, rest, metadata } = parts(input, ['limitType', 'current', 'limit']);
    return this.send('rate_limit_hit', rest, metadata, {
      limit_type: fields.limitType,
      current: num(fields.current),
      limit: num(fields.limit),
    });
  }

  anomalousPattern(input: AnomalousPatternInput): SecurityEvent {
    const { fields, rest, metadata } = parts(input, ['anomalyType']);
    return this.send('anomalous_pattern', rest, metadata, { anomaly_type: fields.anomalyType });
  }

  systemPromptLeakage(input: SystemPromptLeakageInput): SecurityEvent {
    const { fields, rest, metadata } = parts(input, ['method', 'confidence']);
    const c = num(fields.confidence);
    // events.md: confidence is 0..1; clamp rather than reject a detector's rounding.
    const confidence = typeof c === 'number' && !Number.isNaN(c) ? Math.min(1, Math.max(0, c)) : c;
    return this.send('system_prompt_leakage', rest, metadata, { detection_method: fields.method, confidence });
  }

  piiDetected(input: PiiDetectedInput): SecurityEvent {
    const { fields, rest, metadata } = parts(input, ['piiTypes', 'direction']);
    const types = fields.piiTypes;
    const piiTypes = Array.isArray(types) ? types.map(String) : types === undefined ? undefined : [String(types)];
    return this.send('pii_detected', rest, metadata, { pii_types: piiTypes, direction: fields.direction });
  }

  toolAbuseAttempt(input: ToolAbuseAttemptInput): SecurityEvent {
    const { fields, rest, metadata } = parts(input, ['tool', 'reason']);
    return this.send('tool_abuse_attempt', rest, metadata, { tool_name: fields.tool, block_reason: fields.reason });
  }

  authFailure(input: AuthFailureInput): SecurityEvent {
    const { fields, rest, metadata } = parts(input, ['reason']);
    return this.send('auth_failure', rest, metadata, { reason: fields.reason });
  }

  unusualTokenUsage(input: UnusualTokenUsageInput): SecurityEvent {
    const { fields, rest, metadata } = parts(input, ['promptTokens', 'completionTokens']);
    return this.send('unusual_token_usage', rest, metadata, {
      prompt_tokens: num(fields.promptTokens),
      completion_tokens: num(fields.completionTokens),
    });
  }

  requestCompleted(input: RequestCompletedInput): SecurityEvent {
    const { fields, rest, metadata } = parts(input, [
      'model',
      'promptTokens',
      'completionTokens',
      'latencyMs',
      'costUsd',
      'promptLength',
      'newInputLength',
      'turnIndex',
      'blocked',
      'outcome',
    ]);
    return this.send('request_completed', rest, metadata, {
      model: fields.model,
      prompt_tokens: num(fields.promptTokens),
      completion_tokens: num(fields.completionTokens),
      latency_ms: num(fields.latencyMs),
      cost_usd: num(fields.costUsd),
      prompt_length: num(fields.promptLength),
      new_input_length: num(fields.newInputLength),
      turn_index: num(fields.turnIndex),
      blocked: fields.blocked,
      outcome: fields.outcome,
    });
  }
}
