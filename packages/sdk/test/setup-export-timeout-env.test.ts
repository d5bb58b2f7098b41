import { createServer, type Server, type Socket } from 'node:net';
import { metrics, trace } from '@opentelemetry/api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { setupLlmsec, type LlmsecSetup } from '../src/setup.ts';

// A collector that accepts the connection and never answers (a stuck proxy, a wedged Collector):
// forceFlush and shutdown wait for the exports in flight. The standard variables bound that wait
// per signal: OTEL_BSP_EXPORT_TIMEOUT (spans), OTEL_BLRP_EXPORT_TIMEOUT (log records, llmsec's
// security events), OTEL_METRIC_EXPORT_TIMEOUT, and the exporters' OTEL_EXPORTER_OTLP_TIMEOUT.
// The 2.x batch processors no longer read theirs, and setupLlmsec passed only the schedule
// delays: with the batch timeouts set to half a second, a flush waited out the exporter's own
// timeout instead (10 s by default; here set to 10 minutes, so that the case cannot pass by it).

const ENV = [
  'OTEL_EXPORTER_OTLP_TIMEOUT',
  'OTEL_BSP_EXPORT_TIMEOUT',
  'OTEL_BLRP_EXPORT_TIMEOUT',
  'OTEL_METRIC_EXPORT_TIMEOUT',
];

/** Far above the batch timeouts set here and far below the exporters' 10 minutes: a hang, not a speed. */
const HANG_MS = 20_000;

let server: Server;
let url: string;
const sockets: Socket[] = [];
let setup: LlmsecSetup | undefined;

beforeEach(async () => {
  server = createServer((s) => {
    sockets.push(s);
    s.resume(); // reads the request, never answers
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterEach(async () => {
  for (const name of ENV) delete process.env[name];
  for (const s of sockets.splice(0)) s.destroy(); // lets a shutdown still waiting on a socket end
  await setup?.shutdown();
  setup = undefined;
  await new Promise((resolve) => server.close(resolve));
});

/** Resolves with 'done', or 'hung' if `work` is still waiting after HANG_MS. */
async function within(work: Promise<void>): Promise<'done' | 'hung'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<'hung'>((resolve) => {
    timer = setTimeout(() => resolve('hung'), HANG_MS);
  });
  try {
    return await Promise.race([work.then(() => 'done' as const), hung]);
  } finally {
    clearTimeout(timer);
  }
}

function telemetry(s: LlmsecSetup): void {
  trace.getTracer('app').startActiveSpan('op', (span) => {
    s.events.guardrailBlock({ layer: 'input', reason: 'x' });
    span.end();
  });
  metrics.getMeter('app').createCounter('app.requests').add(1);
}

describe('setupLlmsec against a collector that never answers', () => {
  it('OTEL_BSP_EXPORT_TIMEOUT / OTEL_BLRP_EXPORT_TIMEOUT / OTEL_METRIC_EXPORT_TIMEOUT bound forceFlush and shutdown', async () => {
    process.env.OTEL_EXPORTER_OTLP_TIMEOUT = '600000';
    process.env.OTEL_BSP_EXPORT_TIMEOUT = '500';
    process.env.OTEL_BLRP_EXPORT_TIMEOUT = '500';
    process.env.OTEL_METRIC_EXPORT_TIMEOUT = '500';
    setup = setupLlmsec({ serviceName: 'p', otlp: { endpoint: url }, prometheus: false });
    telemetry(setup);
    expect(await within(setup.forceFlush())).toBe('done');
    // The exports did reach the collector: the case is the one it names, not a refused connection.
    expect(sockets.length).toBeGreaterThan(0);
    telemetry(setup);
    expect(await within(setup.shutdown())).toBe('done');
  }, 60_000);
});
