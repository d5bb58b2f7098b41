// pii_detected's `direction` is `input` or `output` (docs/formats.md). piiDetected wrote an
// untyped caller's other value as given ('sideways', 5, 'Input'), another value than the format
// has for every reader (a rule's `where`, jq, Loki). Now it is left out, as requestCompleted's
// values outside their kind are; the event is still emitted. Found by the acceptance sweep.
import { describe, expect, it } from 'vitest';
import { ManualClock, createIdGenerator, seededRandom } from '@llmsec/core';
import { SecurityEvents } from '../src/security-events.ts';

const events = (): SecurityEvents =>
  new SecurityEvents({
    serviceName: 'svc',
    clock: new ManualClock(Date.parse('2026-12-07T10:00:00.000Z')),
    ids: createIdGenerator(seededRandom(3)),
    fingerprintKey: 'k'.repeat(32),
  });

describe('pii_detected direction', () => {
  it('keeps input and output', () => {
    const e = events();
    for (const direction of ['input', 'output'] as const)
      expect(e.piiDetected({ userId: 'u', piiTypes: ['email'], direction }).metadata).toEqual({
        pii_types: ['email'],
        direction,
      });
  });

  it('leaves any other value out of the event, which is still emitted', () => {
    const e = events();
    for (const direction of ['sideways', 5, 'Input', '', null, { a: 1 }]) {
      const event = e.piiDetected({ userId: 'u', piiTypes: ['email'], direction: direction as 'input' });
      expect(event.category).toBe('pii_detected');
      expect(event.metadata).toEqual({ pii_types: ['email'] });
    }
  });
});
