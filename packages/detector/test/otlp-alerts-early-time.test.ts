// --otlp-alerts: the enforcement-action event log records passed the event time as epoch ms,
// which the OTel SDK reads as a performance.now() offset below timeOrigin / 2 (about 1998):
// an event of 1990 went out dated near today. Read back from a real OTLP/HTTP (JSON) receiver.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metrics } from '@opentelemetry/api';
import type { SecurityEvent } from '@llmsec/core';
import { buildSinks } from '../src/service/sinks.ts';

let server: Server;
let url = '';
const bodies: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      bodies.push(body);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/v1/logs`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const event = (timestamp: string): SecurityEvent => ({
  event_id: `EVT-${timestamp}`,
  timestamp,
  category: 'guardrail_block',
  severity: 'warning',
  user_id: 'u1',
  metadata: {},
});

describe('--otlp-alerts event records', () => {
  it('carry the event time for an event dated before ~1998, and the epoch before 1970', async () => {
    const built = await buildSinks(
      { alertmanager: [], webhook: [], otlpAlerts: url },
      metrics.getMeter('t'),
      'test',
    );
    built.emitEvent(event('1990-01-01T00:00:00.250Z'));
    built.emitEvent(event('1969-12-31T23:59:59.000Z'));
    await built.close();
    const times = bodies.flatMap((b) =>
      (
        JSON.parse(b) as {
          resourceLogs: { scopeLogs: { logRecords: { timeUnixNano: string | number }[] }[] }[];
        }
      ).resourceLogs.flatMap((r) =>
        r.scopeLogs.flatMap((s) => s.logRecords.map((l) => String(l.timeUnixNano))),
      ),
    );
    expect(times).toEqual(['631152000250000000', '0']);
  });
});
