// SIGTERM (shutdown()) while an export waits for its events to be shipped (Redis state, Redis
// stalled): the export is answered 200 (its events went to the local fallback when Redis did
// not answer within the command timeout), not cut off, and shutdown ends well within
// shutdown_timeout, not held by the waiting answer.
import { Buffer } from 'node:buffer';
import { ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { InMemoryLogRecordExporter } from '@opentelemetry/sdk-logs';
import { post } from './otlp-support.ts';
import { senderEvents } from './sender.ts';
import { startDetectorWith } from './service-support.ts';
import { until } from '../../../test/support/until.ts';

let server: RedisHandle;

beforeAll(async () => {
  server = await startRedis();
});

afterAll(async () => {
  await server?.kill();
});

/** Five guardrail blocks as the SDK exports them; `seed` gives other event ids (the engine drops repeats). */
function exportOf(seed: number, from: number): Buffer {
  const exporter = new InMemoryLogRecordExporter();
  const { events, clock } = senderEvents(
    exporter,
    seed,
    Date.parse('2026-11-22T10:00:00.000Z') + from * 1000,
  );
  for (let i = 0; i < 5; i++) {
    events.guardrailBlock({ userId: `u${i % 2}`, layer: 'input', reason: 'prompt_injection' });
    clock.advance(10);
  }
  return Buffer.from(ProtobufLogsSerializer.serializeRequest(exporter.getFinishedLogRecords())!);
}

describe('detector shutdown while an export waits for shipping', () => {
  it('answers the waiting export and stops within shutdown_timeout', async () => {
    const { detector } = await startDetectorWith('shutdown-waiting', () => ({
      state: server.url,
      // 2 s, not the default 250 ms: the first export's round must be shipped (shared mode),
      // and the waiting export must still wait once it is seen taken, on a loaded host too.
      state_timeout: '2s',
      // The stall (10 s) may hold closing the Redis connection: room past it.
      shutdown_timeout: '20s',
    }));
    const url = `http://127.0.0.1:${detector.http.port}/v1/logs`;
    const headers = { 'content-type': 'application/x-protobuf' };
    let stopped = false;
    try {
      expect((await post(url, exportOf(1, 0), headers)).status).toBe(200);
      expect(detector.engine.stats.state?.mode).toBe('shared');
      // Stall Redis: the detector's next round waits for its commands (2 s timeout). Ten
      // seconds, so that an answer held until Redis answers again is told from one the timeout
      // gave (about 2 s) however loaded the host.
      const admin = new Redis(server.url);
      await admin.call('CLIENT', 'PAUSE', '10000', 'ALL');
      admin.disconnect();
      let answeredAt: number | undefined;
      const waiting = post(url, exportOf(2, 60), headers).then((r) => {
        answeredAt = Date.now();
        return r;
      });
      // Taken (its five events ingested: awaited, a loaded host may read it late; a shutdown
      // before that answers it 503, draining), not answered yet: its events are not in Redis.
      await until(() => detector.engine.stats.ingested >= 10, 20_000);
      expect(answeredAt).toBeUndefined();
      const start = Date.now();
      const finished = await detector.shutdown();
      stopped = true;
      const res = await waiting;
      expect(res.status).toBe(200);
      expect(finished).toBe(true);
      // The command timeout ends the wait (degraded: the fallback took the events), then the
      // shutdown runs; the 10 s pause may hold closing the Redis connection, not the answer.
      expect(answeredAt! - start).toBeLessThan(7_000);
      expect(Date.now() - start).toBeLessThan(20_000);
      expect(detector.engine.stats.state?.degradedEvents).toBeGreaterThanOrEqual(5);
    } finally {
      if (!stopped) await detector.shutdown();
    }
  });
});
