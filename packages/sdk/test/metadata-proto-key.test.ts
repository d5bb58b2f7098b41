import { afterEach, describe, expect, it } from 'vitest';
import { eventToAttributes } from '@llmsec/core';
import { normaliseMetadata } from '../src/normalise.ts';
import { createHarness } from './harness.ts';

let harness: ReturnType<typeof createHarness> | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

/*
 * A caller's metadata parsed from JSON can hold an own `__proto__` key. Stored with `metadata[k] =`
 * it set the prototype of the event's metadata (to the caller's array) instead of a key: the key
 * and its value were lost without a warning, and the metadata was no plain object.
 */
describe("a metadata key named '__proto__'", () => {
  it('is kept as an own key, and the metadata stays a plain object', () => {
    const raw = JSON.parse('{"__proto__": ["x", "y"], "route": "/chat"}') as unknown;
    const { metadata, dropped } = normaliseMetadata(raw);
    expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype);
    expect(Object.keys(metadata)).toEqual(['__proto__', 'route']);
    expect(Object.getOwnPropertyDescriptor(metadata, '__proto__')?.value).toEqual(['x', 'y']);
    expect(dropped).toEqual([]);
  });

  it('reaches the event, its attributes and its JSON line', () => {
    harness = createHarness();
    const md = JSON.parse('{"__proto__": "p", "route": "/chat"}') as Record<string, string>;
    const event = harness.events.guardrailBlock({ layer: 'l', reason: 'r', metadata: md });
    expect(Object.getPrototypeOf(event.metadata)).toBe(Object.prototype);
    expect(JSON.parse(JSON.stringify(event.metadata)) as unknown).toEqual(
      JSON.parse('{"__proto__": "p", "route": "/chat", "guardrail_layer": "l", "block_reason": "r"}'),
    );
    expect(eventToAttributes(event)['llmsec.metadata.__proto__']).toBe('p');
  });
});
