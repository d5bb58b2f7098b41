/**
 * What the SDK calls cost as llmsec makes them, and what the alternatives not taken would save
 * (bench/events/README.md, third round), on the providers run.ts uses:
 *
 *   npx node --conditions=@llmsec/source bench/events/what-if.ts [--rounds 40 --seconds 0.1]
 *
 * Rows, CPU per operation and the median of the per-round ratios to `span.addEvent` with the
 * same attributes (cases in a random order per round):
 * - the two calls as llmsec makes them (one HrTime for the span event and the record's time and
 *   observed time, the context given, the attributes prebuilt), without the observed time, and
 *   with a log record without attributes (what dropping them would save: not done);
 * - each call with the attributes from eventAttributes (a constructor) or core's eventToAttributes
 *   (a literal with computed keys), built per call: how the object's shape moves the SDKs' copies;
 * - the SDK floor with 700 bytes of short-lived objects more per operation, and those alone:
 *   what an event's own garbage costs beside the SDKs'.
 */
import { parseArgs } from 'node:util';
import { context, trace, type Attributes, type Context, type HrTime, type Span } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import { eventToAttributes } from '@llmsec/core';
import { eventAttributes } from '../../packages/sdk/src/event-attributes.ts';
import { benchLogger as logger, llmsec, sameAttributes, sample, tracer } from './providers.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '0.1' }, rounds: { type: 'string', default: '40' } },
});
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);

const NAME = 'llmsec.guardrail_block';
const time: HrTime = Object.freeze(millisToHrTime(Date.now())) as unknown as HrTime;
const record = (attributes: Attributes | undefined, ctx: Context, observed: boolean) => ({
  eventName: NAME,
  severityNumber: 13,
  severityText: 'warning',
  body: 'guardrail_block',
  attributes,
  timestamp: time,
  observedTimestamp: observed ? time : undefined,
  context: ctx,
});
const plainRecord = {
  eventName: NAME,
  severityNumber: 13,
  severityText: 'warning',
  body: 'guardrail_block',
  attributes: sameAttributes,
};
let sink: unknown;
function garbage700(i: number): void {
  const a: object[] = [];
  for (let k = 0; k < 10; k++) a.push({ a: k, b: i, c: k + i, d: null, e: 1 });
  sink = a;
}
const event = { ...sample };

type Op = (span: Span, ctx: Context, i: number) => void;
const CASES: Record<string, Op> = {
  'span.addEvent (same attributes)': (span) => span.addEvent(NAME, sameAttributes),
  'both calls as llmsec makes them': (span, ctx) => {
    span.addEvent(NAME, sameAttributes, time);
    logger.emit(record(sameAttributes, ctx, true));
  },
  '  the same without the observed time': (span, ctx) => {
    span.addEvent(NAME, sameAttributes, time);
    logger.emit(record(sameAttributes, ctx, false));
  },
  '  the same, log record without attributes': (span, ctx) => {
    span.addEvent(NAME, sameAttributes, time);
    logger.emit(record(undefined, ctx, true));
  },
  'addEvent, attributes from a constructor': (span) => span.addEvent(NAME, eventAttributes(event), time),
  'addEvent, attributes from a literal': (span) => span.addEvent(NAME, eventToAttributes(event), time),
  'emit, attributes from a constructor': (_s, ctx) => logger.emit(record(eventAttributes(event), ctx, true)),
  'emit, attributes from a literal': (_s, ctx) => logger.emit(record(eventToAttributes(event), ctx, true)),
  'SDK floor (run.ts)': (span) => {
    span.addEvent(NAME, sameAttributes);
    logger.emit(plainRecord);
  },
  '  the same + 700 bytes of garbage': (span, _c, i) => {
    span.addEvent(NAME, sameAttributes);
    logger.emit(plainRecord);
    garbage700(i);
  },
  '  700 bytes of garbage alone': (_s, _c, i) => garbage700(i),
};
const names = Object.keys(CASES);

async function measure(op: Op): Promise<number> {
  const deadline = process.hrtime.bigint() + BigInt(Math.round(SECONDS * 1e9));
  let ops = 0;
  const cpu0 = process.cpuUsage();
  while (process.hrtime.bigint() < deadline) {
    const span = tracer.startSpan('bench');
    const ctx = trace.setSpan(context.active(), span);
    context.with(ctx, () => {
      for (let i = 0; i < 100; i++) op(span, ctx, ops + i);
    });
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
  `${ROUNDS} rounds x ${SECONDS}s per case; CPU us per operation and x span.addEvent (same attributes), median of the per-round ratios`,
);
for (const n of names) {
  const xs = results.get(n)!;
  console.log(
    `${n.padEnd(44)} ${median(xs).toFixed(2).padStart(6)} us ${median(xs.map((x, k) => x / base[k]!))
      .toFixed(2)
      .padStart(6)}x`,
  );
}
void sink;
await llmsec.shutdown();
