// Shared pieces of the OTLP receiver tests: a recording OtlpIngest, an HTTP server around the
// handler on a free loopback port, and a raw HTTP POST helper that reports status, headers and
// body (or the socket error) without retries.
import { Buffer } from 'node:buffer';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InMemoryLogRecordExporter, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { createOtlpHttpHandler, type OtlpHttpHandlerOptions } from '../src/otlp/http-handler.ts';
import type { DecodedLogRecord, DecodedSpan, IngestResult, OtlpIngest } from '../src/otlp/types.ts';
import { senderEvents } from './sender.ts';

/** Records what it is given; answers with `answer()` (accepted, nothing rejected, by default). */
export class RecordingIngest implements OtlpIngest {
  readonly records: DecodedLogRecord[] = [];
  readonly spans: DecodedSpan[] = [];
  calls = 0;
  answer: (kind: 'logs' | 'traces', count: number) => IngestResult = () => ({
    kind: 'accepted',
    rejected: 0,
  });

  logs(records: DecodedLogRecord[]): IngestResult {
    this.calls++;
    const result = this.answer('logs', records.length);
    if (result.kind === 'accepted') this.records.push(...records);
    return result;
  }

  traces(spans: DecodedSpan[]): IngestResult {
    this.calls++;
    const result = this.answer('traces', spans.length);
    if (result.kind === 'accepted') this.spans.push(...spans);
    return result;
  }
}

export interface TestHttpServer {
  server: Server;
  url: string;
  port: number;
  /** Content-Encoding of every request the handler took, in order ('identity' when none). */
  encodings: string[];
  close(): Promise<void>;
}

/** The handler on a node:http server at 127.0.0.1:<free port>; other paths answer 404. */
export async function startHttp(options: OtlpHttpHandlerOptions): Promise<TestHttpServer> {
  const handler = createOtlpHttpHandler(options);
  const encodings: string[] = [];
  const server = createServer((req, res) => {
    if (handler(req, res)) {
      encodings.push(req.headers['content-encoding'] ?? 'identity');
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    encodings,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** POSTs `body` (or uses `method`) and resolves with the response, or rejects on a socket error. */
export function post(
  url: string,
  body: Uint8Array | string,
  headers: Record<string, string>,
  method = 'POST',
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    // A refused sender may still be writing its body when the answer has come (the server
    // drains it for a bounded time, then closes): a write error after the answer is not the
    // request's outcome (a starved test process can outlast the drain), one before it is.
    let answered = false;
    const req = request(url, { method, headers, agent: false }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    req.end(body);
  });
}

/**
 * `count` llmsec guardrail_block log records as the SDK emits them (users u0..u{users-1}),
 * captured in memory: serialize them with otlp-transformer's serializers to get the exact
 * request bytes the real exporters send.
 */
export function llmsecLogRecords(
  count: number,
  users = 10,
  t0 = Date.parse('2026-11-22T10:00:00.000Z'),
): ReadableLogRecord[] {
  const exporter = new InMemoryLogRecordExporter();
  const { events, clock } = senderEvents(exporter, 11, t0);
  for (let i = 0; i < count; i++) {
    events.guardrailBlock({ userId: `u${i % users}`, layer: 'input', reason: 'prompt_injection' });
    clock.advance(10);
  }
  return exporter.getFinishedLogRecords();
}

/** A protobuf length-delimited field (tag, varint length, payload), for hand-built bodies. */
export function lengthDelimited(field: number, payload: Uint8Array): Buffer {
  const header: number[] = [(field << 3) | 2];
  let len = payload.length;
  while (len >= 0x80) {
    header.push((len & 0x7f) | 0x80);
    len >>>= 7;
  }
  header.push(len);
  return Buffer.concat([Uint8Array.from(header), payload]);
}
