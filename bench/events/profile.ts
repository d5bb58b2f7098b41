/**
 * A driver for profiling one security event alone (same providers as run.ts):
 *
 *   npx node --cpu-prof --cpu-prof-dir=/tmp/prof --conditions=@llmsec/source bench/events/profile.ts [--seconds 5 --case event]
 *
 * `--case`: event (events.guardrailBlock), text (the same with a requestText), jsonl (with a JSONL line to
 * a Writable that drops it), floor (span.addEvent + logger.emit), addEvent, own
 * (guardrailBlock on a non-recording span with a logger that drops the record: what llmsec does
 * besides the two SDK calls).
 */
import { parseArgs } from 'node:util';
import { context, trace, TraceFlags, type Logger } from '@opentelemetry/api';
import { SecurityEvents } from '@llmsec/sdk';
import {
  PROMPT,
  benchLogger as logger,
  llmsec,
  sameAttributes as attrs,
  tracer,
  withJsonl,
} from './providers.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '5' }, case: { type: 'string', default: 'event' } },
});
const dropLogger: Logger = { emit: () => {}, enabled: () => true } as unknown as Logger;
const own = new SecurityEvents({ serviceName: 'bench', logger: dropLogger, metrics: llmsec.metrics });
const nonRecording = trace.wrapSpanContext({
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: TraceFlags.SAMPLED,
});
const ops: Record<string, (i: number) => void> = {
  event: (i) => {
    llmsec.events.guardrailBlock({
      layer: 'injection',
      reason: 'ignore previous instructions',
      userId: `u-${i & 1023}`,
      sessionId: 's-1',
    });
  },
  floor: () => {
    trace.getActiveSpan()!.addEvent('llmsec.guardrail_block', attrs);
    logger.emit({ eventName: 'llmsec.guardrail_block', severityNumber: 13, attributes: attrs });
  },
  own: (i) => {
    own.guardrailBlock({
      layer: 'injection',
      reason: 'ignore previous instructions',
      userId: `u-${i & 1023}`,
      sessionId: 's-1',
    });
  },
  text: (i) => {
    llmsec.events.guardrailBlock({
      layer: 'injection',
      reason: 'r',
      userId: `u-${i & 1023}`,
      requestText: PROMPT,
    });
  },
  jsonl: (i) => {
    withJsonl.guardrailBlock({
      layer: 'injection',
      reason: 'ignore previous instructions',
      userId: `u-${i & 1023}`,
      sessionId: 's-1',
    });
  },
  addEvent: () => {
    trace.getActiveSpan()!.addEvent('llmsec.guardrail_block', attrs);
  },
};
const op = ops[values.case]!;
const deadline = Date.now() + Number(values.seconds) * 1000;
let n = 0;
const cpu = process.cpuUsage();
while (Date.now() < deadline) {
  const span = values.case === 'own' ? nonRecording : tracer.startSpan('bench');
  context.with(trace.setSpan(context.active(), span), () => {
    for (let i = 0; i < 100; i++) op(n + i);
  });
  span.end();
  n += 100;
  // Yield as run.ts does, so the batch processors export: in a loop that never yields their queues
  // fill (2,048 records) and every later record takes the drop path (a counter add) instead.
  await new Promise(setImmediate);
}
const used = process.cpuUsage(cpu);
console.log(`${values.case}: ${n} ops, ${((used.user + used.system) / n).toFixed(2)} us CPU/op`);
await llmsec.shutdown();
