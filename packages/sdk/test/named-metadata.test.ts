import { afterEach, describe, expect, it } from 'vitest';
import { createHarness } from './harness.ts';

/**
 * A category method's fields become the event's metadata without a copy when each is already its
 * normalised value (event-builder.ts eventMetadata). These pin the cases where the copy must
 * still be made, so that the metadata and its attributes stay what the copy gave.
 */
describe('category method fields as metadata', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    delete (Object.prototype as Record<string, unknown>).polluted;
    await close?.();
    close = undefined;
  });

  it('drop an enumerable field inherited from a polluted Object.prototype, on every path', () => {
    const h = createHarness();
    close = h.close;
    // Set after the harness: the providers are built before the prototype is touched. A key past
    // the 64-character cap too: the category methods' path had no key clip, as it had no count cap.
    const proto = Object.prototype as Record<string, unknown>;
    const long = `polluted_${'k'.repeat(100)}`;
    proto.polluted = 'yes';
    proto[long] = 'yes';
    try {
      const events = [
        h.events.guardrailBlock({ layer: 'injection', reason: 'r', userId: 'u' }),
        h.events.guardrailBlock({ layer: 'injection', reason: 'r', userId: 'u', metadata: { extra: 1 } }),
        // A field that makes the copy (clipped) before the inherited key is reached.
        h.events.guardrailBlock({ layer: 'x'.repeat(2000), reason: 'r', userId: 'u' }),
        h.events.emit('guardrail_block', {
          userId: 'u',
          metadata: { guardrail_layer: 'injection', block_reason: 'r' },
        }),
      ];
      for (const event of events) {
        const md = event.metadata ?? {};
        expect(Object.hasOwn(md, 'polluted')).toBe(false);
        expect(Object.hasOwn(md, long)).toBe(false);
      }
      const recorded = [
        ...h.spanExporter.getFinishedSpans().flatMap((s) => s.events.map((e) => e.attributes ?? {})),
        ...h.logExporter.getFinishedLogRecords().map((l) => l.attributes),
      ];
      expect(recorded.length).toBeGreaterThanOrEqual(events.length);
      for (const attrs of recorded)
        expect(Object.keys(attrs).filter((k) => k.includes('polluted'))).toEqual([]);
    } finally {
      delete proto[long];
    }
  });

  it('drop an absent field and clip a long one, keeping the order of the others', () => {
    const h = createHarness();
    close = h.close;
    const long = 'x'.repeat(2000);
    const a = h.events.guardrailBlock({ layer: long, reason: undefined as never, userId: 'u' });
    expect(Object.keys(a.metadata ?? {})).toEqual(['guardrail_layer']);
    expect((a.metadata?.guardrail_layer as string).length).toBe(1024);
    const b = h.events.rateLimitHit({ limitType: 'tokens', current: Number.NaN, limit: 5, userId: 'u' });
    expect(b.metadata).toEqual({ limit_type: 'tokens', limit: 5 });
    expect(Object.keys(b.metadata ?? {})).toEqual(['limit_type', 'limit']);
  });

  it('are not the caller input: the event metadata is a new object', () => {
    const h = createHarness();
    close = h.close;
    const input = { layer: 'l', reason: 'r', userId: 'u' };
    const event = h.events.guardrailBlock(input);
    expect(event.metadata).toEqual({ guardrail_layer: 'l', block_reason: 'r' });
    expect(event.metadata).not.toBe(input);
    expect(input).toEqual({ layer: 'l', reason: 'r', userId: 'u' });
  });
});
