/**
 * A fixed amount of work for instruction counts under valgrind, which are free of the shared
 * machine's noise (the CPU-time A/Bs here spread ±6% between processes):
 *
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null node_modules/node/bin/node --conditions=@llmsec/source \
 *     bench/events/count-driver.ts --rev <rev|WORKTREE> --n 20000 [--case event|given|floor|addEvent]
 *
 * Run it for two counts of events (say 20,000 and 80,000) and take the difference of the
 * collected instructions over the difference of the counts: start-up, loading and JIT warm-up
 * cancel out, what is left is the instructions per event (GC included). Valgrind serialises
 * the JIT's threads, so compare revisions with it, not against CPU times.
 * Same providers and loop as ab.ts (a span per 100 events, then a yield).
 */
import { parseArgs } from 'node:util';
import { ROOT_CONTEXT, context, trace, type Span } from '@opentelemetry/api';
import type { SecurityEvents } from '@llmsec/sdk';
import { eventsAt } from './revision.ts';
import { benchLogger, llmsec, sameAttributes, tracer } from './providers.ts';

const { values } = parseArgs({
  options: {
    rev: { type: 'string', default: 'HEAD' },
    n: { type: 'string', default: '20000' },
    case: { type: 'string', default: 'event' },
  },
});
const N = Number(values.n);
/** The metadata an instrumented call records, in completedMetadata's order (instrumentation/completed-event.ts). */
const COMPLETED = {
  model: 'gpt-4o-mini',
  prompt_tokens: 34,
  completion_tokens: 17,
  latency_ms: 12.5,
  cost_usd: 0.0000153,
  prompt_length: 120,
  new_input_length: 62,
  blocked: false,
  outcome: 'allowed',
};
const record = {
  eventName: 'llmsec.guardrail_block',
  severityNumber: 13,
  severityText: 'warning',
  body: 'guardrail_block',
  attributes: sameAttributes,
};

let events: SecurityEvents | undefined;
if (values.case !== 'floor' && values.case !== 'addEvent') {
  // The revision's own metrics code too (revision.ts eventsAt), not the current tree's.
  events = await eventsAt(values.rev, {
    logger: llmsec.loggerProvider.getLogger('@llmsec/sdk'),
    meter: llmsec.meterProvider.getMeter('@llmsec/sdk-bench-rev'),
  });
}
const op: (span: Span, i: number) => void =
  values.case === 'addEvent'
    ? (span) => span.addEvent('llmsec.guardrail_block', sameAttributes)
    : values.case === 'floor'
      ? (span) => {
          span.addEvent('llmsec.guardrail_block', sameAttributes);
          benchLogger.emit(record);
        }
      : values.case === 'given'
        ? (span, i) =>
            context.with(ROOT_CONTEXT, () =>
              events!.emit('request_completed', { span, userId: `u-${i & 1023}`, metadata: COMPLETED }),
            )
        : (_span, i) =>
            events!.guardrailBlock({
              layer: 'injection',
              reason: 'ignore previous instructions',
              userId: `u-${i & 1023}`,
              sessionId: 's-1',
            });

for (let done = 0; done < N; done += 100) {
  const span = tracer.startSpan('bench');
  context.with(trace.setSpan(context.active(), span), () => {
    for (let i = 0; i < 100; i++) op(span, done + i);
  });
  span.end();
  await new Promise(setImmediate);
}
await llmsec.shutdown();
