import type { Alert, Category, Metadata, SecurityEvent } from '@llmsec/core';
import { DetectionEngine, type DetectionEngineOptions, type RuleDefinition } from '../src/index.ts';

export const T0 = Date.parse('2026-11-22T10:00:00.000Z');
export const SEC = 1_000;
export const MIN = 60_000;

let seq = 0;

export interface EventSpec {
  at: number;
  category: Category | string;
  user?: string;
  id?: string;
  metadata?: Metadata;
  preview?: string;
  trace?: string;
}

export function ev(spec: EventSpec): { event: SecurityEvent; t: number } {
  const event: SecurityEvent = {
    event_id: spec.id ?? `e${++seq}`,
    timestamp: new Date(spec.at).toISOString(),
    category: spec.category,
    severity: 'warning',
    user_id: spec.user ?? 'u1',
  };
  if (spec.metadata) event.metadata = spec.metadata;
  if (spec.preview !== undefined) event.request_preview = spec.preview;
  if (spec.trace !== undefined) event.trace_id = spec.trace;
  return { event, t: spec.at };
}

/** An engine that records its alerts; lateness 0 unless given, so alerts come at once. */
export function recordingEngine(options: DetectionEngineOptions = {}): {
  engine: DetectionEngine;
  alerts: Alert[];
} {
  const alerts: Alert[] = [];
  const engine = new DetectionEngine({ allowedLatenessMs: 0, ...options, onAlert: (a) => alerts.push(a) });
  return { engine, alerts };
}

export function feed(engine: DetectionEngine, specs: EventSpec[]): SecurityEvent[] {
  return specs.map((s) => {
    const { event, t } = ev(s);
    engine.ingest(event, t);
    return event;
  });
}

/** (rule, status, first label value) triples, compact for assertions. */
export function brief(alerts: Alert[], rule?: string): string[] {
  return alerts
    .filter((a) => rule === undefined || a.rule === rule)
    .map((a) => `${a.rule}:${a.status}:${Object.values(a.labels)[0]}`);
}

export const block = (at: number, user = 'u1', layer = 'l1', preview?: string): EventSpec => ({
  at,
  category: 'guardrail_block',
  user,
  metadata: { guardrail_layer: layer, block_reason: 'injection' },
  ...(preview !== undefined ? { preview } : {}),
});

export const outBlock = (at: number, user = 'u1', preview?: string): EventSpec => ({
  at,
  category: 'output_filter_block',
  user,
  metadata: { filter_name: 'pii', block_reason: 'leak' },
  ...(preview !== undefined ? { preview } : {}),
});

export const request = (
  at: number,
  user = 'u1',
  m: {
    prompt_length?: number;
    new_input_length?: number;
    blocked?: boolean;
    prompt_tokens?: number;
    completion_tokens?: number;
  } = {},
): EventSpec => ({
  at,
  category: 'request_completed',
  user,
  metadata: {
    model: 'gpt-x',
    prompt_tokens: m.prompt_tokens ?? 100,
    completion_tokens: m.completion_tokens ?? 50,
    latency_ms: 300,
    cost_usd: 0.001,
    prompt_length: m.prompt_length ?? 400,
    // Absent unless given, as in events from before the SDK recorded it.
    ...(m.new_input_length !== undefined ? { new_input_length: m.new_input_length } : {}),
    blocked: m.blocked ?? false,
  },
});

/** Three guardrail blocks of one user within 10 minutes: the repeated-id tests' rule. */
export const blockBurst: RuleDefinition = {
  id: 'burst',
  title: 'Burst',
  severity: 'alert',
  match: { categories: ['guardrail_block'] },
  group_by: 'user_id',
  window_ms: 600_000,
  condition: { kind: 'count', min: 3 },
};

/**
 * An input guard's prompt-injection block as the SDK reports it, `user`'s, stamped `t`: the
 * attack the clock and restart tests replay (rapid_guardrail_blocks fires on the tenth).
 */
export function injectionBlock(id: string, user: string, t: number): SecurityEvent {
  return {
    event_id: id,
    timestamp: new Date(t).toISOString(),
    category: 'guardrail_block',
    severity: 'warning',
    user_id: user,
    metadata: { guardrail_layer: 'input', block_reason: 'prompt_injection' },
  };
}
