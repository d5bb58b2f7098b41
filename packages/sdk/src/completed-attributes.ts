import type { AttributeValue, Attributes } from '@opentelemetry/api';
import type { Metadata, MetadataValue } from '@llmsec/core';
import { metadataValue } from './normalise.ts';

/*
 * The metadata of an instrumented call's request_completed (completedMetadata's keys, in its
 * order) handled with its names written out, at the two places the generic code stores under
 * computed names: the builder's normalisation and the attributes. Any other shape takes the
 * generic code, which stays the reference (test/completed-attributes.test.ts).
 */

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
  if (!isCompletedShape(keys)) return false;
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
  if (keys.length === 10) attrs['llmsec.metadata.turn_index'] = m.turn_index;
  return true;
}

/** completedMetadata's keys in its order, `turn_index` last when present. */
function isCompletedShape(keys: string[]): boolean {
  const n = keys.length;
  return (
    (n === 9 || (n === 10 && keys[9] === 'turn_index')) &&
    keys[0] === 'model' &&
    keys[1] === 'prompt_tokens' &&
    keys[2] === 'completion_tokens' &&
    keys[3] === 'latency_ms' &&
    keys[4] === 'cost_usd' &&
    keys[5] === 'prompt_length' &&
    keys[6] === 'new_input_length' &&
    keys[7] === 'blocked' &&
    keys[8] === 'outcome'
  );
}

/**
 * The event builder's normalised metadata (normaliseMetadata in normalise.ts: each value through
 * metadataValue) for a request_completed whose metadata has completedMetadata's keys in its
 * order, built as one literal; undefined for any other shape (the generic normalisation handles
 * it). A value the generic normalisation drops is dropped here too, from the values already read,
 * with `onDropped` given the keys it would warn about: the generic path would read every value a
 * second time (a getter twice). Same keys, order, values and drops:
 * test/completed-attributes.test.ts and completed-metadata-property.test.ts compare the two. The generic loop's stores under
 * computed names into `{}` were the largest part of llmsec's own cost of this event (~30% of
 * ~570 ns in a profile of the event with no-op SDK calls).
 */
export function normaliseCompletedMetadata(
  raw: object,
  onDropped: (keys: string[]) => void,
): Metadata | undefined {
  const keys = Object.keys(raw);
  if (!isCompletedShape(keys)) return undefined;
  const r = raw as Record<string, unknown>;
  // Read in key order, each once, as the generic loop reads them.
  const model = metadataValue(r.model);
  const promptTokens = metadataValue(r.prompt_tokens);
  const completionTokens = metadataValue(r.completion_tokens);
  const latencyMs = metadataValue(r.latency_ms);
  const costUsd = metadataValue(r.cost_usd);
  const promptLength = metadataValue(r.prompt_length);
  const newInputLength = metadataValue(r.new_input_length);
  const blocked = metadataValue(r.blocked);
  const outcome = metadataValue(r.outcome);
  const turnIndex = keys.length === 10 ? metadataValue(r.turn_index) : undefined;
  if (
    (keys.length === 10 && turnIndex === undefined) ||
    model === undefined ||
    promptTokens === undefined ||
    completionTokens === undefined ||
    latencyMs === undefined ||
    costUsd === undefined ||
    promptLength === undefined ||
    newInputLength === undefined ||
    blocked === undefined ||
    outcome === undefined
  ) {
    const values = [
      model,
      promptTokens,
      completionTokens,
      latencyMs,
      costUsd,
      promptLength,
      newInputLength,
      blocked,
      outcome,
      turnIndex,
    ];
    return withDrops(r, keys, values, onDropped);
  }
  const metadata: Metadata = {
    model,
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    latency_ms: latencyMs,
    cost_usd: costUsd,
    prompt_length: promptLength,
    new_input_length: newInputLength,
    blocked,
    outcome,
  };
  if (turnIndex !== undefined) metadata.turn_index = turnIndex;
  return metadata;
}

/**
 * normaliseMetadata's result for these keys when a value drops (rare), from the normalised values
 * in key order: the dropped keys are those whose value was not undefined, read again as there.
 */
function withDrops(
  r: Record<string, unknown>,
  keys: string[],
  values: (MetadataValue | undefined)[],
  onDropped: (keys: string[]) => void,
): Metadata {
  const metadata: Metadata = {};
  const dropped: string[] = [];
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const value = values[i];
    if (value !== undefined) metadata[key] = value;
    else if (r[key] !== undefined) dropped.push(key);
  }
  if (dropped.length > 0) onDropped(dropped);
  return metadata;
}
