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
 * seventh round, has the figures. The check is one key array, as completed-attributes.ts does.
 */

type Values = Record<string, AttributeValue>;

/**
 * Writes `md`'s attributes and returns true when `md` has exactly the keys, in order, of the
 * category method of `category`; else returns false, having written nothing.
 */
export function addNamedMetadata(attrs: Attributes, category: string, md: Metadata): boolean {
  const m = md as Values;
  // One key array for the check (the names compared are constants: pointer comparisons).
  const k = Object.keys(md);
  switch (category) {
    case 'guardrail_block':
      if (k.length !== 2 || k[0] !== 'guardrail_layer' || k[1] !== 'block_reason') return false;
      attrs['llmsec.metadata.guardrail_layer'] = m.guardrail_layer;
      attrs['llmsec.metadata.block_reason'] = m.block_reason;
      return true;
    case 'output_filter_block':
      if (k.length !== 2 || k[0] !== 'filter_name' || k[1] !== 'block_reason') return false;
      attrs['llmsec.metadata.filter_name'] = m.filter_name;
      attrs['llmsec.metadata.block_reason'] = m.block_reason;
      return true;
    case 'rate_limit_hit':
      if (k.length !== 3 || k[0] !== 'limit_type' || k[1] !== 'current' || k[2] !== 'limit') return false;
      attrs['llmsec.metadata.limit_type'] = m.limit_type;
      attrs['llmsec.metadata.current'] = m.current;
      attrs['llmsec.metadata.limit'] = m.limit;
      return true;
    case 'anomalous_pattern':
      if (k.length !== 1 || k[0] !== 'anomaly_type') return false;
      attrs['llmsec.metadata.anomaly_type'] = m.anomaly_type;
      return true;
    case 'system_prompt_leakage':
      if (k.length !== 2 || k[0] !== 'detection_method' || k[1] !== 'confidence') return false;
      attrs['llmsec.metadata.detection_method'] = m.detection_method;
      attrs['llmsec.metadata.confidence'] = m.confidence;
      return true;
    case 'pii_detected':
      if (k.length !== 2 || k[0] !== 'pii_types' || k[1] !== 'direction') return false;
      attrs['llmsec.metadata.pii_types'] = m.pii_types;
      attrs['llmsec.metadata.direction'] = m.direction;
      return true;
    case 'tool_abuse_attempt':
      if (k.length !== 2 || k[0] !== 'tool_name' || k[1] !== 'block_reason') return false;
      attrs['llmsec.metadata.tool_name'] = m.tool_name;
      attrs['llmsec.metadata.block_reason'] = m.block_reason;
      return true;
    case 'auth_failure':
      if (k.length !== 1 || k[0] !== 'reason') return false;
      attrs['llmsec.metadata.reason'] = m.reason;
      return true;
    case 'unusual_token_usage':
      if (k.length !== 2 || k[0] !== 'prompt_tokens' || k[1] !== 'completion_tokens') return false;
      attrs['llmsec.metadata.prompt_tokens'] = m.prompt_tokens;
      attrs['llmsec.metadata.completion_tokens'] = m.completion_tokens;
      return true;
    default:
      return false;
  }
}
