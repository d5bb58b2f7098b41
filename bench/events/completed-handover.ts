/**
 * The request_completed event's two SDK copies, with its exact attributes (the fourteen an
 * instrumented non-streaming call records: five event fields and nine metadata fields), and
 * the ways llmsec could hand them over (issue 13, fourth round; bench/events/README.md):
 *
 *   npx node --conditions=@llmsec/source bench/events/completed-handover.ts [--rounds 40 --seconds 0.1]
 *
 * Rows, CPU per operation and the median of the per-round ratios to the first row (cases in a
 * new random order per round, on the providers run.ts uses: batch processors, exporters that
 * drop everything):
 * - `span.addEvent` and `logger.emit` as llmsec makes them (the attributes built per call by
 *   eventAttributes, one HrTime, the context given);
 * - each with one frozen attributes object shared by every call (both SDKs copy it anyway: what
 *   is left is what building ours costs);
 * - eventAttributes alone, with the metadata's names written out (completed-attributes.ts) and
 *   the same metadata through the generic loop (the event under another category), one event in
 *   eight a guard event's in both;
 * - `emit` with the same keys and every value a string (does a value's type move the log SDK's
 *   validation? not byte-identical, evidence only), and without attributes (what the log
 *   record's copy costs: dropping it is not done);
 * - the two calls together, and the whole event through SecurityEvents (building the event,
 *   its attributes, the metrics), its span given as the instrumentation gives it.
 */
import { parseArgs } from 'node:util';
import { context, trace, type Attributes, type Context, type HrTime, type Span } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import { SecurityEvents } from '@llmsec/sdk';
import { eventAttributes } from '../../packages/sdk/src/event-attributes.ts';
import { benchLogger as logger, llmsec, tracer } from './providers.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '0.1' }, rounds: { type: 'string', default: '40' } },
});
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);

const NAME = 'llmsec.request_completed';
const time: HrTime = Object.freeze(millisToHrTime(Date.now())) as unknown as HrTime;
/** The metadata completedMetadata builds for the canned chat call of bench:instrumentation. */
const metadata = {
  model: 'gpt-4o-mini-2024-07-18',
  prompt_tokens: 34,
  completion_tokens: 17,
  latency_ms: 0.053,
  cost_usd: 0.0000153,
  prompt_length: 134,
  new_input_length: 62,
  blocked: false,
  outcome: 'allowed',
};
/** As the instrumentation bench's: no service name (the resource carries it), so fourteen attributes. */
const events = new SecurityEvents({
  logger: llmsec.loggerProvider.getLogger('@llmsec/sdk'),
  metrics: llmsec.metrics,
});
const event = events.emit('request_completed', { metadata });
const shared: Attributes = Object.freeze(eventAttributes(event));
if (Object.keys(shared).length !== 14) throw new Error('expected the fourteen attributes of a call');
/** The same event under another category: eventAttributes takes its generic loop for the same metadata. */
const genericEvent = { ...event, category: 'unusual_token_usage' as const };
const guardEvent = events.guardrailBlock({
  layer: 'injection',
  reason: 'r',
  userId: 'u-1',
  sessionId: 's-1',
});
const sharedUnfrozen: Attributes = eventAttributes(event);
const allStrings: Attributes = eventAttributes(event);
for (const k of Object.keys(allStrings)) allStrings[k] = String(allStrings[k]);
Object.freeze(allStrings);
let sink: unknown;

const record = (attributes: Attributes | undefined, ctx: Context) => ({
  eventName: NAME,
  severityNumber: 9,
  severityText: 'info',
  body: 'request_completed',
  attributes,
  timestamp: time,
  observedTimestamp: time,
  context: ctx,
});

type Op = (span: Span, ctx: Context, i: number) => void;
const CASES: Record<string, Op> = {
  'addEvent, attributes built per call': (span) => span.addEvent(NAME, eventAttributes(event), time),
  'addEvent, one frozen shared object': (span) => span.addEvent(NAME, shared, time),
  'addEvent, one shared object, not frozen': (span) => span.addEvent(NAME, sharedUnfrozen, time),
  // One event in eight another category's, as in a process with guard events: the generic loop's
  // stores then see several shapes, as they do in an application.
  'eventAttributes alone (1 in 8 a guard event)': (_s, _c, i) => {
    sink = eventAttributes(i % 8 === 7 ? guardEvent : event);
  },
  '  the same metadata by the generic loop': (_s, _c, i) => {
    sink = eventAttributes(i % 8 === 7 ? guardEvent : genericEvent);
  },
  'emit, attributes built per call': (_s, ctx) => logger.emit(record(eventAttributes(event), ctx)),
  'emit, one frozen shared object': (_s, ctx) => logger.emit(record(shared, ctx)),
  'emit, every value a string (shape only)': (_s, ctx) => logger.emit(record(allStrings, ctx)),
  'emit without attributes (not done)': (_s, ctx) => logger.emit(record(undefined, ctx)),
  'both calls as llmsec makes them': (span, ctx) => {
    const attributes = eventAttributes(event);
    span.addEvent(NAME, attributes, time);
    logger.emit(record(attributes, ctx));
  },
  'the whole event (SecurityEvents, span given)': (span) => {
    events.emit('request_completed', { span, metadata });
  },
};
const names = Object.keys(CASES);

async function measure(op: Op): Promise<number> {
  const deadline = process.hrtime.bigint() + BigInt(Math.round(SECONDS * 1e9));
  let ops = 0;
  const cpu0 = process.cpuUsage();
  while (process.hrtime.bigint() < deadline) {
    const span = tracer.startSpan('bench');
    const ctx = trace.setSpan(context.active(), span);
    for (let i = 0; i < 100; i++) op(span, ctx, i);
    span.end();
    ops += 100;
    await new Promise(setImmediate);
  }
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / ops;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const results = new Map<string, number[]>(names.map((n) => [n, []]));
for (const n of names) for (let k = 0; k < 5; k++) await measure(CASES[n]!);
for (let r = 0; r < ROUNDS; r++) {
  const order = [...names];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  for (const n of order) results.get(n)!.push(await measure(CASES[n]!));
}
const base = results.get(names[0]!)!;
console.log(
  `${ROUNDS} rounds x ${SECONDS}s per case; CPU us per operation and x the first row, median of the per-round ratios`,
);
for (const n of names) {
  const xs = results.get(n)!;
  console.log(
    `${n.padEnd(46)} ${median(xs).toFixed(2).padStart(6)} us ${median(xs.map((x, k) => x / base[k]!))
      .toFixed(2)
      .padStart(6)}x`,
  );
}

void sink;
await llmsec.shutdown();
