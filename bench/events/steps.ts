/**
 * llmsec's own cost per event, by step (profile.ts's `own` case, cut into its parts):
 *
 *   npx node --conditions=@llmsec/source bench/events/steps.ts [--rounds 20 --seconds 0.1]
 *
 * Each step runs alone, 100 calls per span-and-context (as ab.ts and profile.ts run events), the
 * steps in a new random order each round; the figure is CPU ns per call, median and quartiles of
 * the rounds, and the same less the empty step's (the loop, the context and the yield). A step
 * alone is not its share of the event: inlined into the event, its work can cost less (shared
 * checks) or more (a call site that sees other shapes), and its garbage is collected with the
 * event's. The sum of the parts against the whole event shows how much that matters.
 */
import { parseArgs } from 'node:util';
import { TraceFlags, context, trace, type Context, type Logger } from '@opentelemetry/api';
import { defaultIdGenerator } from '@llmsec/core';
import { median } from '../report.ts';
import { normaliseId } from '../../packages/sdk/src/context.ts';
import { buildEvent, type BuildDeps } from '../../packages/sdk/src/event-builder.ts';
import { eventAttributes } from '../../packages/sdk/src/event-attributes.ts';
import { isoTime } from '../../packages/sdk/src/iso-time.ts';
import { LlmsecMetrics } from '../../packages/sdk/src/metrics.ts';
import { SecurityEvents } from '../../packages/sdk/src/security-events.ts';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '20' }, seconds: { type: 'string', default: '0.1' } },
});
const dropLogger = { emit: () => {}, enabled: () => true } as unknown as Logger;
const metrics = new LlmsecMetrics();
const events = new SecurityEvents({ serviceName: 'bench', logger: dropLogger, metrics });
const span = trace.wrapSpanContext({
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: TraceFlags.SAMPLED,
});
const deps: BuildDeps = {
  ids: defaultIdGenerator,
  serviceName: 'bench',
  capturePreviews: false,
  fingerprintKey: () => {
    throw new Error('no payload in this bench');
  },
};
/** One event as the whole-event step builds it, for the steps that take an event. */
const sample = events.guardrailBlock({ layer: 'injection', reason: 'r', userId: 'u-1', sessionId: 's-1' });
/** A millisecond that changes every 2,048 calls, as Date.now() does at ~0.5 us per event. */
const msOf = (i: number): number => 1_765_000_000_000 + (i >> 11);
const input = (i: number) => ({
  layer: 'injection',
  reason: 'ignore previous instructions',
  userId: `u-${i & 1023}`,
  sessionId: 's-1',
});
let sink: unknown;

const STEPS: Record<string, (i: number, ctx: Context) => void> = {
  'empty (the loop)': () => {
    sink = undefined;
  },
  'the whole event (guardrailBlock)': (i) => {
    sink = events.guardrailBlock(input(i));
  },
  "the caller's input (bench)": (i) => {
    sink = input(i);
  },
  'Date.now() (the event time)': () => {
    sink = Date.now();
  },
  'buildEvent (with the input, named fields)': (i, ctx) => {
    const named = { guardrail_layer: 'injection', block_reason: 'ignore previous instructions' };
    sink = buildEvent(
      'guardrail_block',
      input(i),
      named,
      deps,
      ctx,
      span.spanContext(),
      msOf(i),
      undefined,
      true,
    );
  },
  '  the event id': () => {
    sink = defaultIdGenerator.eventId();
  },
  '  two normaliseId (a new user id string)': (i) => {
    sink = normaliseId(`u-${i & 1023}`);
    sink = normaliseId('s-1');
  },
  '  isoTime': (i) => {
    sink = isoTime(msOf(i));
  },
  eventAttributes: () => {
    sink = eventAttributes(sample);
  },
  'metrics.recordEvent': () => {
    metrics.recordEvent(sample);
  },
  'context.active() and its span': () => {
    sink = trace.getSpan(context.active());
  },
};

async function run(step: (i: number, ctx: Context) => void, seconds: number): Promise<number> {
  const end = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  let calls = 0;
  const cpu0 = process.cpuUsage();
  while (process.hrtime.bigint() < end) {
    const ctx = trace.setSpan(context.active(), span);
    context.with(ctx, () => {
      for (let i = 0; i < 100; i++) step(calls + i, ctx);
    });
    calls += 100;
    await new Promise(setImmediate);
  }
  const cpu = process.cpuUsage(cpu0);
  return ((cpu.user + cpu.system) * 1000) / calls;
}

const names = Object.keys(STEPS);
for (const name of names) await run(STEPS[name]!, 0.3);
const ns = new Map<string, number[]>(names.map((name) => [name, []]));
for (let r = 0; r < Number(values.rounds); r++) {
  for (const name of [...names].sort(() => Math.random() - 0.5))
    ns.get(name)!.push(await run(STEPS[name]!, Number(values.seconds)));
}
const quartile = (xs: number[], q: number): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))]!;
const loop = median(ns.get('empty (the loop)')!);
console.log(
  `node ${process.version}, ${values.rounds} rounds x ${values.seconds}s per step; CPU ns per call`,
);
console.log(`${'step'.padEnd(44)}  median  quartiles   less the loop`);
for (const name of names) {
  const xs = ns.get(name)!;
  const m = median(xs);
  const iqr = `${quartile(xs, 0.25).toFixed(0)}-${quartile(xs, 0.75).toFixed(0)}`;
  console.log(
    `${name.padEnd(44)}  ${m.toFixed(0).padStart(6)}  ${iqr.padStart(9)}   ${(m - loop).toFixed(0).padStart(6)}`,
  );
}
void sink;
