/**
 * Cost of one security event (span event + log record + metrics) against a bare
 * `span.addEvent` in the same run, with the real SDK providers as setupLlmsec wires them
 * (batch span and log-record processors in front of exporters that drop everything, the
 * Prometheus reader aggregating in memory).
 *
 *   npm run bench:events [-- --seconds 0.1 --rounds 40 --before <git revision>]
 *
 * Cases run interleaved, round by round and in a new random order each round, so machine noise
 * and garbage collection hit them alike; the table shows the median round and the median of the
 * per-round ratios, in process CPU time (the figure to trust on a loaded machine) and wall time.
 * Spans are rotated every 100 operations in every case (a span keeps at most 128 events), so
 * each case pays the same span start/end overhead; the loop yields there so the batch
 * processors export.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import {
  ROOT_CONTEXT,
  context,
  trace,
  type Attributes,
  type Context,
  type HrTime,
  type Span,
} from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import { SecurityEvents } from '@llmsec/sdk';
import { SdkCounterMetrics } from '../instrumentation/sdk-counter-metrics.ts';
import { emitInCallContext } from '../../packages/sdk/src/security-events.ts';
import { getSecurityContext } from '../../packages/sdk/src/context.ts';
import { eventsAt } from './revision.ts';
import {
  PROMPT,
  benchLogger as logger,
  llmsec,
  sameAttributes,
  sample,
  tracer,
  withJsonl,
} from './providers.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '0.1' },
    rounds: { type: 'string', default: '40' },
    // An earlier revision's SecurityEvents as one more row (same providers; its own metrics code): before/after in one run.
    before: { type: 'string' },
    // request_completed after its call: emit() vs the context the instrumentation hands over.
    'call-context': { type: 'boolean', default: false },
  },
});
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);

// The fields of the log record an event writes (docs/formats.md), the time left to the SDK.
const sameRecord = {
  eventName: 'llmsec.guardrail_block',
  severityNumber: 13,
  severityText: 'warning',
  body: 'guardrail_block',
  attributes: sameAttributes,
};
// The floor as llmsec makes the two calls (security-events.ts record()): one clock read, its HrTime
// (converted once per millisecond) as the span event's time and the record's time and observed
// time, and the active context given. What any event recorded this way costs, nothing built.
let floorMs = Number.NaN;
let floorTime: HrTime = [0, 0];
function oneReading(): HrTime {
  const ms = Date.now();
  if (ms !== floorMs) {
    floorMs = ms;
    floorTime = Object.freeze(millisToHrTime(ms)) as unknown as HrTime;
  }
  return floorTime;
}
// The A side of local-counter.ts: the same SecurityEvents with the previous SDK counters.
const beforeEvents = new SecurityEvents({
  serviceName: 'bench',
  logger: llmsec.loggerProvider.getLogger('@llmsec/sdk'),
  metrics: new SdkCounterMetrics(llmsec.meterProvider.getMeter('bench-before')),
});
const sdkCounter = llmsec.meterProvider.getMeter('bench').createCounter('bench.events');
const counterSet: Attributes = Object.freeze({
  category: 'guardrail_block',
  severity: 'warning',
  layer: 'injection',
});

// request_completed as the instrumentation emits it: after its call, its span given but not the
// active one (here no span is active). emit() puts the span into a context per event for the log
// record; the instrumentation hands over the context it built once per call (emitInCallContext).
const COMPLETED = {
  model: 'gpt-4o-mini',
  prompt_tokens: 34,
  completion_tokens: 17,
  latency_ms: 12.5,
  cost_usd: 0.0000153,
  prompt_length: 120,
  blocked: false,
  outcome: 'allowed',
};
let callSpan: Span | undefined;
let callContext: Context = ROOT_CONTEXT;
/** The security context of contextOfCall's (ROOT_CONTEXT with a span): none, read once as the call does. */
const NO_SECURITY = getSecurityContext(ROOT_CONTEXT);
function contextOfCall(span: Span): Context {
  if (span !== callSpan) {
    callSpan = span;
    callContext = trace.setSpan(ROOT_CONTEXT, span);
  }
  return callContext;
}

interface Case {
  name: string;
  op: (span: Span, i: number) => void;
}

const CASES: Case[] = [
  { name: 'span.addEvent (no attributes)', op: (span) => span.addEvent('llmsec.guardrail_block') },
  {
    name: 'span.addEvent (same attributes)',
    op: (span) => span.addEvent('llmsec.guardrail_block', sameAttributes),
  },
  {
    name: 'logger.emit (same attributes)',
    op: () => logger.emit(sameRecord),
  },
  // What any security event must record at least, with nothing built: the SDK's floor.
  {
    name: 'addEvent + logger.emit (SDK floor)',
    op: (span) => {
      span.addEvent('llmsec.guardrail_block', sameAttributes);
      logger.emit(sameRecord);
    },
  },
  {
    name: 'the floor as llmsec calls it',
    op: (span) => {
      const time = oneReading();
      span.addEvent('llmsec.guardrail_block', sameAttributes, time);
      logger.emit({ ...sameRecord, timestamp: time, observedTimestamp: time, context: context.active() });
    },
  },
  // A/B for local-counter.ts: what recordEvent cost when it called the SDK's Counter.add
  // with its cached attribute set (the SDK hashes the set on every add).
  { name: 'sdk Counter.add (cached set) [before]', op: () => sdkCounter.add(1, counterSet) },
  { name: 'metrics.recordEvent', op: () => llmsec.metrics.recordEvent(sample) },
  {
    name: 'events.guardrailBlock',
    op: (_s, i) =>
      llmsec.events.guardrailBlock({
        layer: 'injection',
        reason: 'ignore previous instructions',
        userId: `u-${i & 1023}`,
        sessionId: 's-1',
      }),
  },
  {
    name: 'events.guardrailBlock [before: SDK counters]',
    op: (_s, i) =>
      beforeEvents.guardrailBlock({
        layer: 'injection',
        reason: 'ignore previous instructions',
        userId: `u-${i & 1023}`,
        sessionId: 's-1',
      }),
  },
  {
    name: 'events.guardrailBlock + requestText',
    op: (_s, i) =>
      llmsec.events.guardrailBlock({
        layer: 'injection',
        reason: 'r',
        userId: `u-${i & 1023}`,
        requestText: PROMPT,
      }),
  },
  {
    name: 'events.guardrailBlock + JSONL line',
    op: (_s, i) =>
      withJsonl.guardrailBlock({
        layer: 'injection',
        reason: 'r',
        userId: `u-${i & 1023}`,
        sessionId: 's-1',
      }),
  },
];
// Off by default: more categories and input shapes through the same code make its call sites
// polymorphic, which moves the headline row (and biases it against --before, whose copy serves one row).
if (values['call-context'] === true) {
  CASES.push(
    {
      name: 'request_completed after the call: emit',
      op: (span, i) =>
        context.with(ROOT_CONTEXT, () =>
          llmsec.events.emit('request_completed', { span, userId: `u-${i & 1023}`, metadata: COMPLETED }),
        ),
    },
    {
      name: 'request_completed after the call: call context',
      op: (span, i) =>
        context.with(ROOT_CONTEXT, () =>
          emitInCallContext(
            llmsec.events,
            'request_completed',
            { span, userId: `u-${i & 1023}`, metadata: COMPLETED },
            contextOfCall(span),
            NO_SECURITY,
          ),
        ),
    },
  );
}
if (values.before !== undefined) {
  // With its own metrics code (revision.ts eventsAt): the current tree's would be the same on both rows.
  const previous = await eventsAt(values.before, {
    logger: llmsec.loggerProvider.getLogger('@llmsec/sdk'),
    meter: llmsec.meterProvider.getMeter('@llmsec/sdk-bench-before'),
  });
  CASES.push({
    name: `events.guardrailBlock [${values.before}]`,
    op: (_s, i) =>
      previous.guardrailBlock({
        layer: 'injection',
        reason: 'ignore previous instructions',
        userId: `u-${i & 1023}`,
        sessionId: 's-1',
      }),
  });
}

interface Sample {
  /** Operations per wall-clock second. */
  ops: number;
  /** Process CPU µs per operation (all threads: GC helpers and the batch exports count too). */
  cpuUs: number;
}

/**
 * Runs `c` for about SECONDS. Every 100 operations the span ends and the loop yields to the event
 * loop (setImmediate), as a server does between requests: the batch processors' exports run, so
 * their queues are drained rather than full and dropping, as they would be in a tight loop.
 */
async function measure(c: Case): Promise<Sample> {
  const deadline = process.hrtime.bigint() + BigInt(Math.round(SECONDS * 1e9));
  let ops = 0;
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  let now = start;
  while (now < deadline) {
    const span = tracer.startSpan('bench');
    context.with(trace.setSpan(context.active(), span), () => {
      for (let i = 0; i < 100; i++) c.op(span, ops + i);
    });
    span.end();
    ops += 100;
    await new Promise(setImmediate);
    now = process.hrtime.bigint();
  }
  const cpu = process.cpuUsage(cpu0);
  return { ops: ops / (Number(now - start) / 1e9), cpuUs: (cpu.user + cpu.system) / ops };
}

/** Upper median (kept from the first version of this bench: for an even count it is the higher of the two middle figures). */
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

/** Fisher-Yates: each round runs the cases in a new order, so none always follows the same (GC-heavy) predecessor. */
function shuffled<T>(xs: readonly T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

// Warm-up: JIT, id pools, metric attribute maps.
for (const c of CASES) {
  for (let i = 0; i < 2000; i++) {
    const span = tracer.startSpan('warm');
    context.with(trace.setSpan(context.active(), span), () => c.op(span, i));
    span.end();
  }
  await new Promise(setImmediate);
}

const results = new Map<string, Sample[]>(CASES.map((c) => [c.name, []]));
for (let r = 0; r < ROUNDS; r++) for (const c of shuffled(CASES)) results.get(c.name)!.push(await measure(c));

// Ratios are taken per round (paired: the cases of one round ran within seconds of each other)
// and the median of those is shown: on a shared machine the load moves between rounds, which a
// ratio of two medians from different rounds would mix in. CPU time is the figure to trust on a
// loaded machine (wall time includes the time the process waited for a core).
const pairedRatio = (name: string, baseName: string, of: (s: Sample) => number): number => {
  const xs = results.get(name)!;
  const bs = results.get(baseName)!;
  return median(xs.map((x, k) => of(x) / of(bs[k]!)));
};
/** The per-round ratios' quartiles and the share of rounds under `aim`: how robust the median is. */
const spread = (name: string, baseName: string, aim: number): string => {
  const bs = results.get(baseName)!;
  const xs = results
    .get(name)!
    .map((x, k) => x.cpuUs / bs[k]!.cpuUs)
    .sort((a, b) => a - b);
  const q = (p: number): number => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
  const under = xs.filter((x) => x < aim).length / xs.length;
  return `per-round CPU ratios: quartiles ${q(0.25).toFixed(2)}-${q(0.75).toFixed(2)}, ${(100 * under).toFixed(0)}% of the rounds under ${aim.toFixed(1)}x`;
};
const wallUs = (s: Sample): number => 1e6 / s.ops;
const cpuUs = (s: Sample): number => s.cpuUs;
const BASE = 'span.addEvent (same attributes)';
const BARE = 'span.addEvent (no attributes)';
console.log(
  `node ${process.version}, ${ROUNDS} rounds x ${SECONDS}s per case, random order per round; median round; ratios: median of the per-round ratios\n`,
);
console.log(
  `${'case'.padEnd(46)} ${'ops/s'.padStart(11)} ${'wall us'.padStart(8)} ${'CPU us'.padStart(7)} ${'x bare (CPU)'.padStart(13)} ${'x addEvent+attrs'.padStart(17)} ${'(wall)'.padStart(7)}`,
);
for (const c of CASES) {
  const rs = results.get(c.name)!;
  const ops = median(rs.map((s) => s.ops));
  console.log(
    `${c.name.padEnd(46)} ${Math.round(ops).toLocaleString('en-US').padStart(11)} ${(1e6 / ops).toFixed(2).padStart(8)} ${median(rs.map(cpuUs)).toFixed(2).padStart(7)} ${pairedRatio(c.name, BARE, cpuUs).toFixed(1).padStart(13)} ${pairedRatio(c.name, BASE, cpuUs).toFixed(2).padStart(17)} ${pairedRatio(c.name, BASE, wallUs).toFixed(2).padStart(7)}`,
  );
}
const EVENT = 'events.guardrailBlock';
const FLOOR = 'addEvent + logger.emit (SDK floor)';
console.log(
  `\nOne security event (span event + log record + metrics) costs ${median(results.get(EVENT)!.map(cpuUs)).toFixed(2)} us CPU,`,
);
console.log(
  `${pairedRatio(EVENT, BASE, cpuUs).toFixed(2)}x span.addEvent with the same attributes in CPU time (${pairedRatio(EVENT, BASE, wallUs).toFixed(2)}x in wall time), ${pairedRatio(EVENT, BARE, cpuUs).toFixed(1)}x a bare span.addEvent`,
);
console.log(`(${spread(EVENT, BASE, 3)})`);
console.log(
  `(the SDK floor, span event + log record with nothing built: ${pairedRatio(FLOOR, BASE, cpuUs).toFixed(2)}x CPU; the event over the floor: ${pairedRatio(EVENT, FLOOR, cpuUs).toFixed(2)}x; load average ${loadavg()[0]!.toFixed(1)}).`,
);
const CALLED = 'the floor as llmsec calls it';
console.log(
  `(the floor as llmsec makes the two calls, one clock reading and the context given: ${pairedRatio(CALLED, BASE, cpuUs).toFixed(2)}x CPU; the event over it, llmsec's own share: ${pairedRatio(EVENT, CALLED, cpuUs).toFixed(2)}x).`,
);
const COMPLETED_EMIT = 'request_completed after the call: emit';
if (values['call-context'] === true)
  console.log(
    `request_completed after its call: the call's context / a context per event: ${pairedRatio('request_completed after the call: call context', COMPLETED_EMIT, cpuUs).toFixed(2)} (CPU, paired rounds).`,
  );
if (values.before !== undefined) {
  const name = `events.guardrailBlock [${values.before}]`;
  console.log(
    `${values.before}: ${median(results.get(name)!.map(cpuUs)).toFixed(2)} us CPU, ${pairedRatio(name, BASE, cpuUs).toFixed(2)}x span.addEvent; now / then: ${pairedRatio(EVENT, name, cpuUs).toFixed(2)} (CPU, paired rounds).`,
  );
}
await llmsec.shutdown();
