import type { AttributeValue, Attributes } from '@opentelemetry/api';
import type { Metadata } from '@llmsec/core';

/*
 * The metadata attributes of the category methods' events (guardrailBlock's `guardrail_layer` and
 * `block_reason`, ...) with their names written out: the same attributes, in the same order, with
 * the same values as eventAttributes' generic loop (event-attributes.ts), which stays the reference
 * and serves every other shape (caller metadata, a payload's prompt_length, a dropped field).
 *
 * Why: the generic loop (`for…in`, an own check, a cached name per key and a store under a
 * computed name) is the largest part of llmsec's own cost of a guardrailBlock: V8 cannot specialise
 * the lookups and stores by name. Written-out names are plain named stores. bench/events/README.md,
 * seventh round, has the figures. The check walks the keys once (for…in) without building an array.
 */

type Values = Record<string, AttributeValue>;

/**
 * Whether `md`'s keys are exactly `a`, then `b`, then `c` (those given), without a key array: for…in
 * yields the own keys in order, then any enumerable key of the prototype chain (a polluted
 * Object.prototype), which makes it not the shape, so the generic loop, which skips those, runs.
 */
function keysAre(md: Metadata, a: string, b?: string, c?: string): boolean {
  let i = 0;
  for (const key in md) {
    if (key !== (i === 0 ? a : i === 1 ? b : i === 2 ? c : undefined)) return false;
    i++;
  }
  return i === (c !== undefined ? 3 : b !== undefined ? 2 : 1);
}

/**
 * Writes `md`'s attributes and returns true when `md` has exactly the keys, in order, of the
 * category method of `category`; else returns false, having written nothing.
 */
export function addNamedMetadata(attrs: Attributes, category: string, md: Metadata): boolean {
  const m = md as Values;
  switch (category) {
    case 'guardrail_block':
      if (!keysAre(md, 'guardrail_layer', 'block_reason')) return false;
      attrs['llmsec.metadata.guardrail_layer'] = m.guardrail_layer;
      attrs['llmsec.metadata.block_reason'] = m.block_reason;
      return true;
    case 'output_filter_block':
      if (!keysAre(md, 'filter_name', 'block_reason')) return false;
      attrs['llmsec.metadata.filter_name'] = m.filter_name;
      attrs['llmsec.metadata.block_reason'] = m.block_reason;
      return true;
    case 'rate_limit_hit':
      if (!keysAre(md, 'limit_type', 'current', 'limit')) return false;
      attrs['llmsec.metadata.limit_type'] = m.limit_type;
      attrs['llmsec.metadata.current'] = m.current;
      attrs['llmsec.metadata.limit'] = m.limit;
      return true;
    case 'anomalous_pattern':
      if (!keysAre(md, 'anomaly_type')) return false;
      attrs['llmsec.metadata.anomaly_type'] = m.anomaly_type;
      return true;
    case 'system_prompt_leakage':
      if (!keysAre(md, 'detection_method', 'confidence')) return false;
      attrs['llmsec.metadata.detection_method'] = m.detection_method;
      attrs['llmsec.metadata.confidence'] = m.confidence;
      return true;
    case 'pii_detected':
      if (!keysAre(md, 'pii_types', 'direction')) return false;
      attrs['llmsec.metadata.pii_types'] = m.pii_types;
      attrs['llmsec.metadata.direction'] = m.direction;
      return true;
    case 'tool_abuse_attempt':
      if (!keysAre(md, 'tool_name', 'block_reason')) return false;
      attrs['llmsec.metadata.tool_name'] = m.tool_name;
      attrs['llmsec.metadata.block_reason'] = m.block_reason;
      return true;
    case 'auth_failure':
      if (!keysAre(md, 'reason')) return false;
      attrs['llmsec.metadata.reason'] = m.reason;
      return true;
    case 'unusual_token_usage':
      if (!keysAre(md, 'prompt_tokens', 'completion_tokens')) return false;
      attrs['llmsec.metadata.prompt_tokens'] = m.prompt_tokens;
      attrs['llmsec.metadata.completion_tokens'] = m.completion_tokens;
      return true;
    default:
      return false;
  }
}
