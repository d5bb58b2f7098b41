/**
 * A fair A/B of two revisions' SecurityEvents, one case each, on the same providers:
 *
 *   npx node --conditions=@llmsec/source bench/events/ab.ts --a <rev> --b <rev> [--case event|given|own] [--rounds 40 --seconds 0.1] [--interleave]
 *
 * `--b WORKTREE` (or `--a`) is the working tree's uncommitted packages/sdk/src (revision.ts).
 *
 * run.ts's `--before` row is biased towards the older revision: the current code also serves the
 * other rows (request_completed, requestText, JSONL), so its call sites see more shapes, while the
 * older copy serves one. Here both revisions are loaded the same way (revision.ts), each with its
 * own metrics code (LocalCounter, attribute caches), and each serves one case. `event`: guardrailBlock inside the active span; `given`: request_completed with its
 * span given and none active (as the instrumentation's request_completed without its context);
 * `own`: guardrailBlock with a non-recording span active and a logger that drops the record, i.e.
 * llmsec's own code alone (profile.ts's `own`), where a change of 10-20 ns is ~3-5% rather than
 * the <0.5% it is of a whole event.
 * Rounds alternate in a random order; the figure is the median of the per-round CPU ratios b / a.
 */
import { parseArgs } from 'node:util';
import { ROOT_CONTEXT, TraceFlags, context, trace, type Logger, type Span } from '@opentelemetry/api';
import type { SecurityEvents } from '@llmsec/sdk';
import { median } from '../report.ts';
import { eventsAt } from './revision.ts';
import { llmsec, tracer } from './providers.ts';

const { values } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string', default: 'HEAD' },
    case: { type: 'string', default: 'event' },
    rounds: { type: 'string', default: '40' },
    seconds: { type: 'string', default: '0.1' },
    // The two sides alternate every 100 events within a round rather than taking turns of --seconds.
    interleave: { type: 'boolean', default: false },
  },
});
if (values.a === undefined) throw new Error('--a <revision> is required');
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
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

/** Each side's SecurityEvents with that revision's metrics code, on a meter of its own (revision.ts). */
async function load(rev: string, side: number): Promise<SecurityEvents> {
  return eventsAt(rev, {
    logger: values.case === 'own' ? dropLogger : llmsec.loggerProvider.getLogger('@llmsec/sdk'),
    meter: llmsec.meterProvider.getMeter(`@llmsec/sdk-bench-${side}`),
  });
}
const dropLogger = { emit: () => {}, enabled: () => true } as unknown as Logger;
/** `own`: the span every event of that case belongs to; it records nothing. */
const nonRecording = trace.wrapSpanContext({
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: TraceFlags.SAMPLED,
});
const spanFor = (): Span => (values.case === 'own' ? nonRecording : tracer.startSpan('bench'));
const sides: [string, SecurityEvents][] = [
  [values.a, await load(values.a, 0)],
  [values.b, await load(values.b, 1)],
];
const op =
  values.case === 'given'
    ? (events: SecurityEvents, span: Span, i: number): void => {
        context.with(ROOT_CONTEXT, () =>
          events.emit('request_completed', { span, userId: `u-${i & 1023}`, metadata: COMPLETED }),
        );
      }
    : (events: SecurityEvents, _span: Span, i: number): void => {
        events.guardrailBlock({
          layer: 'injection',
          reason: 'ignore previous instructions',
          userId: `u-${i & 1023}`,
          sessionId: 's-1',
        });
      };

async function measure(events: SecurityEvents): Promise<number> {
  const deadline = process.hrtime.bigint() + BigInt(Math.round(SECONDS * 1e9));
  let ops = 0;
  const cpu0 = process.cpuUsage();
  while (process.hrtime.bigint() < deadline) {
    const span = spanFor();
    context.with(trace.setSpan(context.active(), span), () => {
      for (let i = 0; i < 100; i++) op(events, span, ops + i);
    });
    span.end();
    ops += 100;
    await new Promise(setImmediate);
  }
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / ops;
}

/**
 * One round with the two sides interleaved by chunks of 100 events (a span each, then a yield), in
 * a random order per pair, each chunk's CPU time added to its side: both sides see the same
 * moments of load, which whole 0.1 s turns per side do not on a shared machine. A collection
 * falls in the chunk that triggers it, so the side that allocates more pays it more often.
 */
async function measurePairs(): Promise<[number, number]> {
  const deadline = process.hrtime.bigint() + BigInt(Math.round(2 * SECONDS * 1e9));
  const cpuUs = [0, 0];
  let ops = 0;
  while (process.hrtime.bigint() < deadline) {
    for (const s of Math.random() < 0.5 ? [0, 1] : [1, 0]) {
      const events = sides[s]![1];
      const cpu0 = process.cpuUsage();
      const span = spanFor();
      context.with(trace.setSpan(context.active(), span), () => {
        for (let i = 0; i < 100; i++) op(events, span, ops + i);
      });
      span.end();
      await new Promise(setImmediate);
      const cpu = process.cpuUsage(cpu0);
      cpuUs[s]! += cpu.user + cpu.system;
    }
    ops += 100;
  }
  return [cpuUs[0]! / ops, cpuUs[1]! / ops];
}

for (const [, events] of sides) for (let k = 0; k < 20; k++) await measure(events);
const us: number[][] = [[], []];
for (let r = 0; r < ROUNDS; r++) {
  if (values.interleave === true) {
    const [x, y] = await measurePairs();
    us[0]!.push(x);
    us[1]!.push(y);
    continue;
  }
  const order = Math.random() < 0.5 ? [0, 1] : [1, 0];
  for (const s of order) us[s]!.push(await measure(sides[s]![1]));
}
const [a, b] = us as [number[], number[]];
const how = values.interleave === true ? 'interleaved by 100 events' : 'a turn per side';
console.log(
  `case ${values.case}, ${ROUNDS} rounds x ${SECONDS}s per side (${how}): ${values.a} ${median(a).toFixed(2)} us CPU, ${values.b} ${median(b).toFixed(2)} us CPU; ${values.b} / ${values.a} = ${median(b.map((x, k) => x / a[k]!)).toFixed(3)} (median of the per-round ratios)`,
);
await llmsec.shutdown();
