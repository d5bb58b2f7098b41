import type { AttributeValue, Attributes } from '@opentelemetry/api';
import type { Metadata } from '@llmsec/core';

/**
 * The metadata attributes of an instrumented call's `request_completed` event, with their names
 * written out: the same attributes, in the same order, with the same values, as eventAttributes'
 * generic loop (event-attributes.ts), which is the reference and still serves any other shape.
 *
 * Why: every instrumented call records this event, and its nine or ten metadata keys are most of
 * its fourteen attributes. The generic loop (`for…in`, an own check, a cached name per key and a
 * store under a computed name) costs ~190 ns for them on Node 24, nearly all in the lookups and
 * the stores that V8 cannot specialise; these named stores cost ~30 ns (bench/events/README.md,
 * fourth round). The check below costs one key array.
 *
 * The keys are completedMetadata's (instrumentation/completed-event.ts), in its order, with
 * `turn_index` last when present; test/completed-attributes.test.ts fails if they drift apart.
 * Any other metadata (another emitter's request_completed, added or missing keys, another
 * order) returns false and takes the generic loop.
 */
export function addCompletedMetadata(attrs: Attributes, md: Metadata): boolean {
  const keys = Object.keys(md);
  const n = keys.length;
  if (
    (n !== 9 && !(n === 10 && keys[9] === 'turn_index')) ||
    keys[0] !== 'model' ||
    keys[1] !== 'prompt_tokens' ||
    keys[2] !== 'completion_tokens' ||
    keys[3] !== 'latency_ms' ||
    keys[4] !== 'cost_usd' ||
    keys[5] !== 'prompt_length' ||
    keys[6] !== 'new_input_length' ||
    keys[7] !== 'blocked' ||
    keys[8] !== 'outcome'
  )
    return false;
  const m = md as Record<string, AttributeValue>;
  attrs['llmsec.metadata.model'] = m.model;
  attrs['llmsec.metadata.prompt_tokens'] = m.prompt_tokens;
  attrs['llmsec.metadata.completion_tokens'] = m.completion_tokens;
  attrs['llmsec.metadata.latency_ms'] = m.latency_ms;
  attrs['llmsec.metadata.cost_usd'] = m.cost_usd;
  attrs['llmsec.metadata.prompt_length'] = m.prompt_length;
  attrs['llmsec.metadata.new_input_length'] = m.new_input_length;
  attrs['llmsec.metadata.blocked'] = m.blocked;
  attrs['llmsec.metadata.outcome'] = m.outcome;
  if (n === 10) attrs['llmsec.metadata.turn_index'] = m.turn_index;
  return true;
}
