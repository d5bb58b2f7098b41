// A running `llmsec detector` counts every way it sheds load on its /metrics, so an operator
// sees it (before, the gRPC connection refusals were only a log line, a silent connection's
// close nothing at all, an HTTP 429 for max_inflight_bytes was an `overloaded` export like a full
// queue's, and a full queue's refusal did not say which bound it met). Each refusal is provoked
// against a spawned detector and read back from its /metrics:
// - gRPC: connections past max_grpc_connections (closed on arrival) and a silent one (closed at 10 s);
// - HTTP: a silent connection (closed at headersTimeout, 10 s) and one not speaking HTTP; a body not
//   received within body_timeout (408), bodies in flight past max_inflight_bytes (429);
// - the ingest queue: refused at queue_capacity and at queue_max_bytes (429), by bound.
import { Buffer } from 'node:buffer';
import { connect, type Socket } from 'node:net';
import { ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { afterAll, describe, expect, it } from 'vitest';
import { llmsecLogRecords } from './otlp-support.ts';
import { startDetectorProcess, tempDir, writeConfig, type DetectorProcess } from './process-support.ts';

const KiB = 1024;
const running: DetectorProcess[] = [];

afterAll(async () => {
  for (const d of running) d.kill('SIGTERM');
  await Promise.all(running.map((d) => d.exited));
});

async function start(config: Record<string, unknown>): Promise<DetectorProcess> {
  const otlp = { http: '127.0.0.1:0', grpc: '127.0.0.1:0', ...(config.otlp as object) };
  const d = await startDetectorProcess(writeConfig(tempDir(), 'c.json', { ...config, otlp }));
  running.push(d);
  return d;
}

/** The value of one series on a /metrics page: the line of `name` holding every label given. */
function value(page: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of page.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

const scrape = async (d: DetectorProcess): Promise<string> => (await fetch(`${d.httpUrl}/metrics`)).text();

function tcp(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  socket.on('error', () => {});
  return new Promise((resolve) => socket.once('connect', () => resolve(socket)));
}

const closed = (socket: Socket): Promise<void> =>
  socket.destroyed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()));

/** Sends an OTLP/HTTP request's head and `sent` of its `declared` body bytes; resolves with the status line. */
async function partialPost(
  url: string,
  declared: number,
  sent: number,
): Promise<{ socket: Socket; status: Promise<string> }> {
  const socket = await tcp(url);
  let got = '';
  const status = new Promise<string>((resolve) => {
    socket.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      const end = got.indexOf('\r\n');
      if (end !== -1) resolve(got.slice(0, end));
    });
    socket.once('close', () => resolve(got === '' ? 'closed' : got.split('\r\n')[0]!));
  });
  socket.write(
    `POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: ${declared}\r\n\r\n`,
  );
  socket.write(Buffer.alloc(sent, 0x0a));
  return { socket, status };
}

describe('a running detector counts the load it sheds', () => {
  it(
    'gRPC connections refused past max_grpc_connections and silent ones closed; HTTP 408 and 429 (max_inflight_bytes)',
    { timeout: 60_000 },
    async () => {
      const d = await start({
        otlp: {
          max_grpc_connections: 1,
          max_body_bytes: 64 * KiB,
          max_decompressed_bytes: 64 * KiB,
          max_inflight_bytes: 128 * KiB,
          body_timeout: '1s',
        },
      });
      const page0 = await scrape(d);
      // Every series is there from the start at 0 (rate() and the panels see the first one).
      for (const [transport, reason] of [
        ['grpc', 'max_grpc_connections'],
        ['grpc', 'silent'],
        ['http', 'headers_timeout'],
        ['http', 'malformed'],
      ])
        expect(value(page0, 'llmsec_detector_connections_refused_total', { transport, reason })).toBe(0);
      for (const reason of ['max_inflight_bytes', 'body_timeout'])
        expect(value(page0, 'llmsec_detector_requests_refused_total', { signal: 'logs', reason })).toBe(0);
      expect(value(page0, 'llmsec_detector_queue_bytes', {})).toBe(0);

      // gRPC: a silent socket takes the one slot; three more are closed on arrival.
      const t0 = Date.now();
      const silent = await tcp(d.grpcUrl);
      const silentClosed = closed(silent).then(() => Date.now() - t0);
      await new Promise((r) => setTimeout(r, 200)); // accepted before the others arrive
      const refused = await Promise.all([1, 2, 3].map(() => tcp(d.grpcUrl)));
      await Promise.all(refused.map(closed));

      // HTTP, meanwhile: a connection that sends nothing is closed at headersTimeout (10 s),
      // one that sends no HTTP at once.
      const silentHttp = await tcp(d.httpUrl);
      const silentHttpClosed = closed(silentHttp).then(() => Date.now() - t0);
      const garbage = await tcp(d.httpUrl);
      garbage.write('NOT HTTP\r\n\r\n');
      await closed(garbage);
      // A body that stops coming gets 408 after body_timeout (1 s).
      const slow = await partialPost(d.httpUrl, 1000, 10);
      expect(await slow.status).toBe('HTTP/1.1 408 Request Timeout');
      slow.socket.destroy();
      // Two bodies holding 100,000 bytes of the 128 KiB in flight: a third is refused with 429.
      const holders = await Promise.all([1, 2].map(() => partialPost(d.httpUrl, 60_000, 50_000)));
      await new Promise((r) => setTimeout(r, 200)); // both read into the budget
      const third = await partialPost(d.httpUrl, 60_000, 50_000);
      expect(await third.status).toBe('HTTP/1.1 429 Too Many Requests');
      for (const h of [...holders, third]) h.socket.destroy();

      const page1 = await scrape(d);
      expect(
        value(page1, 'llmsec_detector_connections_refused_total', { reason: 'max_grpc_connections' }),
      ).toBe(3);
      expect(value(page1, 'llmsec_detector_connections_refused_total', { reason: 'silent' })).toBe(0);
      expect(
        value(page1, 'llmsec_detector_requests_refused_total', { signal: 'logs', reason: 'body_timeout' }),
      ).toBe(1);
      expect(
        value(page1, 'llmsec_detector_requests_refused_total', {
          signal: 'logs',
          reason: 'max_inflight_bytes',
        }),
      ).toBe(1);
      // The ingest's own refusals are not these: the queue never saw the requests.
      for (const bound of ['queue_capacity', 'queue_max_bytes'])
        expect(value(page1, 'llmsec_detector_requests_refused_total', { reason: 'overloaded', bound })).toBe(
          0,
        );

      expect(
        value(page1, 'llmsec_detector_connections_refused_total', { transport: 'http', reason: 'malformed' }),
      ).toBe(1);

      // The silent sockets are closed at 10 s (HTTP: checked every second), and counted.
      const httpAfter = await silentHttpClosed;
      expect(httpAfter).toBeGreaterThan(9_000);
      expect(httpAfter).toBeLessThan(15_000);
      const after = await silentClosed;
      expect(after).toBeGreaterThan(9_000);
      expect(after).toBeLessThan(15_000);
      const page2 = await scrape(d);
      expect(value(page2, 'llmsec_detector_connections_refused_total', { reason: 'silent' })).toBe(1);
      expect(
        value(page2, 'llmsec_detector_connections_refused_total', {
          transport: 'http',
          reason: 'headers_timeout',
        }),
      ).toBe(1);
      expect(
        value(page2, 'llmsec_detector_connections_refused_total', { reason: 'max_grpc_connections' }),
      ).toBe(3);
    },
  );

  it.each([
    // bound, config, records per request: two requests together pass the bound, one does not
    // (an empty queue takes any request). ~1 KB an event as the queue estimates it.
    ['queue_capacity', { queue_capacity: 10 }, 8],
    ['queue_max_bytes', { queue_max_bytes: 1024 * KiB }, 700],
  ] as const)(
    'the ingest queue refusing at %s is counted by that bound, once per 429',
    { timeout: 60_000 },
    async (bound, config, records) => {
      const d = await start(config);
      const body = ProtobufLogsSerializer.serializeRequest(llmsecLogRecords(records, 50))!;
      // Concurrent requests, so that several are read in one turn of the detector's event loop
      // before its queue drains (on the next): the ones past the bound are refused. Rounds until one is.
      let refusals = 0;
      for (let round = 0; round < 20 && refusals === 0; round++) {
        const statuses = await Promise.all(
          Array.from({ length: 16 }, async () => {
            const res = await fetch(`${d.httpUrl}/v1/logs`, {
              method: 'POST',
              body,
              headers: { 'content-type': 'application/x-protobuf' },
            });
            await res.arrayBuffer();
            return res.status;
          }),
        );
        expect(
          statuses.every((s) => s === 200 || s === 429),
          String(statuses),
        ).toBe(true);
        refusals += statuses.filter((s) => s === 429).length;
      }
      expect(refusals).toBeGreaterThan(0);
      const page = await scrape(d);
      const other = bound === 'queue_capacity' ? 'queue_max_bytes' : 'queue_capacity';
      const labels = { signal: 'logs', reason: 'overloaded' };
      expect(value(page, 'llmsec_detector_requests_refused_total', { ...labels, bound })).toBe(refusals);
      expect(value(page, 'llmsec_detector_requests_refused_total', { ...labels, bound: other })).toBe(0);
      expect(
        value(page, 'llmsec_detector_requests_refused_total', {
          signal: 'logs',
          reason: 'max_inflight_bytes',
        }),
      ).toBe(0);
      // Served, and back to 0 once the engine has the events (sampled at the scrape).
      expect(value(page, 'llmsec_detector_queue_bytes', {})).toBe(0);
    },
  );
});
