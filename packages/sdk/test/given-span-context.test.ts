import { ROOT_CONTEXT, context, propagation, trace, type Context } from '@opentelemetry/api';
import { LoggerProvider, type LogRecordProcessor, type ReadWriteLogRecord } from '@opentelemetry/sdk-logs';
import { afterEach, describe, expect, it } from 'vitest';
import { createHarness } from './harness.ts';

// An event for a span given outside that span's context: its log record is emitted in the active
// context with the given span put in it. SecurityEvents remembers the last (active, span) pair's
// context; these tests pin that every record still gets its own span and its own active context.

interface Seen {
  spanId: string | undefined;
  ctx: Context;
}

let h: ReturnType<typeof createHarness> | undefined;
let provider: LoggerProvider | undefined;
afterEach(async () => {
  await h?.close();
  await provider?.shutdown();
  h = undefined;
  provider = undefined;
});

function setUp(): { seen: Seen[] } {
  const seen: Seen[] = [];
  const capture: LogRecordProcessor = {
    onEmit: (record: ReadWriteLogRecord, ctx?: Context) =>
      seen.push({ spanId: record.spanContext?.spanId, ctx: ctx ?? ROOT_CONTEXT }),
    forceFlush: async () => {},
    shutdown: async () => {},
  };
  provider = new LoggerProvider({ processors: [capture] });
  h = createHarness({ logger: provider.getLogger('@llmsec/sdk') });
  return { seen };
}

describe('events for a span given outside its context', () => {
  it('each log record carries its given span, alternating spans and repeats alike', () => {
    const { seen } = setUp();
    const a = h!.tracer.startSpan('a');
    const b = h!.tracer.startSpan('b');
    const order = [a, a, b, a, b, b, a];
    context.with(ROOT_CONTEXT, () => {
      for (const span of order) h!.events.authFailure({ reason: 'r', span });
    });
    expect(seen.map((s) => s.spanId)).toEqual(order.map((s) => s.spanContext().spanId));
    for (const s of seen) expect(trace.getSpan(s.ctx)).toBe(order[seen.indexOf(s)]);
    a.end();
    b.end();
  });

  it('the record context is the active one with the span in it, per active context (baggage kept)', () => {
    const { seen } = setUp();
    const span = h!.tracer.startSpan('given');
    const withBaggage = (v: string): Context =>
      propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage({ k: { value: v } }));
    const actives = [withBaggage('1'), withBaggage('1'), withBaggage('2'), ROOT_CONTEXT, withBaggage('2')];
    for (const active of actives) context.with(active, () => h!.events.authFailure({ reason: 'r', span }));
    expect(seen).toHaveLength(actives.length);
    seen.forEach((s, i) => {
      expect(trace.getSpan(s.ctx)).toBe(span);
      expect(propagation.getBaggage(s.ctx)?.getEntry('k')?.value).toBe(
        propagation.getBaggage(actives[i]!)?.getEntry('k')?.value,
      );
    });
    span.end();
  });
});
