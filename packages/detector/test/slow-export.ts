// Export requests for drain tests: an OTLP/HTTP export whose body is sent in two halves (the
// second when the test says), and one OTLP/gRPC logs export, both without retries.
import { Buffer } from 'node:buffer';
import { request } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import type { RawResponse } from './otlp-support.ts';

export interface SlowExport {
  /** The server's answer (it may answer before the body is complete: a timeout, a cap). */
  readonly answer: Promise<RawResponse>;
  /** Sends the rest of the body; resolves with the answer. */
  finish(): Promise<RawResponse>;
}

/**
 * POSTs the first `firstBytes` (default half) of `body` to `url` and resolves once the server
 * is handling the request: `Expect: 100-continue` makes node:http answer `100 Continue` as it
 * hands the request to its handler, so the request is in flight on the server when this resolves.
 */
export function startSlowExport(
  url: string,
  body: Uint8Array,
  options: { headers?: Record<string, string>; firstBytes?: number } = {},
): Promise<SlowExport> {
  const half = options.firstBytes ?? Math.floor(body.length / 2);
  return new Promise((resolveStarted, rejectStarted) => {
    const answer = new Promise<RawResponse>((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'POST',
          agent: false,
          headers: {
            'content-type': 'application/x-protobuf',
            'content-length': String(body.length),
            expect: '100-continue',
            ...options.headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', (err) => {
        reject(err);
        rejectStarted(err);
      });
      req.once('continue', () => {
        req.write(body.subarray(0, half));
        resolveStarted({
          answer,
          finish: () => {
            req.end(body.subarray(half));
            return answer;
          },
        });
      });
      req.flushHeaders();
    });
    answer.catch(() => {}); // observed through finish()
  });
}

const LOGS_PATH = '/opentelemetry.proto.collector.logs.v1.LogsService/Export';

/** One OTLP/gRPC logs export to `host:port`: resolves with its status (code 0 when OK). */
export function grpcExportLogs(
  address: string,
  body: Uint8Array,
  metadata: grpc.Metadata = new grpc.Metadata(),
): Promise<{ code: number; details: string; metadata: grpc.Metadata | undefined }> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      LOGS_PATH,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from(body),
      metadata,
      (err: grpc.ServiceError | null) => {
        client.close();
        resolve(
          err
            ? { code: err.code, details: err.details, metadata: err.metadata }
            : { code: 0, details: '', metadata: undefined },
        );
      },
    );
  });
}
