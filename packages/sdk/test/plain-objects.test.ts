import { describe, expect, it } from 'vitest';
import { eventToAttributes } from '@llmsec/core';
import { eventAttributes } from '../src/event-attributes.ts';
import { createHarness } from './harness.ts';

// The event object and its attributes are made by constructors (event-builder.ts,
// event-attributes.ts: fewer bytes per event); they must stay plain objects, as the literals were.
describe('events and attributes are plain objects', () => {
  it('the event: Object.prototype, constructor Object, equal to its plain copy, keys in format order', async () => {
    const h = createHarness();
    try {
      const event = h.events.guardrailBlock({
        layer: 'injection',
        reason: 'r',
        userId: 'u-1',
        sessionId: 's-1',
        description: 'd',
      });
      expect(Object.getPrototypeOf(event)).toBe(Object.prototype);
      expect(event.constructor).toBe(Object);
      expect(event).toStrictEqual(JSON.parse(JSON.stringify(event)));
      expect(Object.keys(event)).toEqual([
        'event_id',
        'timestamp',
        'category',
        'severity',
        'user_id',
        'session_id',
        'service',
        'description',
        'metadata',
      ]);
      expect(structuredClone(event)).toStrictEqual(event);
    } finally {
      await h.close();
    }
  });

  it('the attributes: Object.prototype, the same keys, order and values as core eventToAttributes', async () => {
    const h = createHarness();
    try {
      const event = h.events.rateLimitHit({
        limitType: 'tokens',
        current: 10,
        limit: 5,
        userId: 'u-1',
        metadata: { a: 1, b: 'x' },
      });
      const attrs = eventAttributes(event);
      expect(Object.getPrototypeOf(attrs)).toBe(Object.prototype);
      expect(attrs.constructor).toBe(Object);
      expect(Object.entries(attrs)).toEqual(Object.entries(eventToAttributes(event)));
      expect(attrs).toStrictEqual({ ...attrs });
    } finally {
      await h.close();
    }
  });
});
