// OTLP/HTTP receiver (https://opentelemetry.io/docs/specs/otlp/#otlphttp) as a node:http
// request handler: POST /v1/logs and POST /v1/traces, protobuf or JSON, optionally compressed
// (gzip, zstd, deflate/zlib: core's body-encoding.ts). It
// answers only those two paths and returns false for any other, so the service mounts its
// health and metrics endpoints on the same server.
import { Buffer } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { diag } from '@opentelemetry/api';
import { bearerChecker } from './auth.ts';
import { decodeLogs, decodeTraces } from './decode.ts';
import { droppedValues } from './dropped-values.ts';
import { callIngest, partialSuccess, safeObserver } from './ingest-call.ts';
import { ACCEPTED_ENCODINGS, bodyEncodingOf } from '@llmsec/core/internal';
import { InflightBudget, readBody, type BodyLimits, type BodyResult } from './http-body.ts';
import { OtlpDecodeError, resolveDecodeLimits } from './limits.ts';
import {
  GrpcCode,
  encodeExportResponse,
  encodeStatus,
  exportResponseJson,
  retrySeconds,
  statusJson,
  type Signal,
  type WireFormat,
} from './responses.ts';
import type { DecodeLimits, IngestResult, OtlpIngest, ReceiveObserver, ReceiveReport } from './types.ts';

export interface OtlpHttpHandlerOptions {
  ingest: OtlpIngest;
  /**
   * Largest request body on the wire (compressed or not); larger ones get 413.
   * @default 4 MiB (the gRPC default max receive size, so both receivers agree)
   */
  maxBodyBytes?: number;
  /**
   * Largest body after decompression; a compressed body inflating past it gets 413 (gzip and
   * zstd bombs stop here).
   * @default 4 × maxBodyBytes
   */
  maxDecompressedBytes?: number;
  /**
   * Time allowed to receive the whole body; a slower sender gets 408 and the connection closes.
   * @default 10_000
   */
  bodyTimeoutMs?: number;
  /**
   * Slowest body taken past the grace below, on average: a body may take bodyRateGraceMs plus
   * a second per this many bytes received, and never more than bodyTimeoutMs; slower gets 408
   * and the connection closes. It matters when bodyTimeoutMs is longer than the grace: then a
   * sender trickling a byte a second would otherwise hold its request for all of bodyTimeoutMs.
   * @default 1024
   */
  minBodyBytesPerSecond?: number;
  /**
   * Time any body gets before minBodyBytesPerSecond applies.
   * @default 10_000
   */
  bodyRateGraceMs?: number;
  /**
   * Bytes all requests in flight may hold together (wire bytes as they arrive, plus the
   * inflated body of gzip requests); a request that would go over gets 429 with Retry-After: 1,
   * so many concurrent large bodies cannot exhaust memory. At least maxBodyBytes +
   * maxDecompressedBytes.
   * @default max(128 MiB, 2 × (maxBodyBytes + maxDecompressedBytes))
   */
  maxInflightBytes?: number;
  /**
   * When set, requests must carry `Authorization: Bearer <authToken>`; others get 401 before
   * their body is read.
   * @default undefined (no authentication)
   */
  authToken?: string;
  /** Caps applied while decoding (records, attributes, string lengths, nesting). */
  limits?: DecodeLimits;
  /** Told how each export request ended (for metrics). */
  observer?: ReceiveObserver;
}

/** Handles the request and returns true, or returns false without touching it (another path). */
export type OtlpHttpHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

const MiB = 1024 * 1024;

export function createOtlpHttpHandler(options: OtlpHttpHandlerOptions): OtlpHttpHandler {
  if (!options?.ingest) throw new Error('createOtlpHttpHandler: options.ingest is required');
  const maxBodyBytes = options.maxBodyBytes ?? 4 * MiB;
  const body: BodyLimits = {
    maxBodyBytes,
    maxDecompressedBytes: options.maxDecompressedBytes ?? 4 * maxBodyBytes,
    bodyTimeoutMs: options.bodyTimeoutMs ?? 10_000,
    minBodyBytesPerSecond: options.minBodyBytesPerSecond ?? 1024,
    bodyRateGraceMs: options.bodyRateGraceMs ?? 10_000,
  };
  const perRequest = body.maxBodyBytes + body.maxDecompressedBytes;
  const maxInflightBytes = options.maxInflightBytes ?? Math.max(128 * MiB, 2 * perRequest);
  for (const [name, value] of Object.entries({ ...body, maxInflightBytes })) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new Error(`createOtlpHttpHandler: ${name} must be a positive integer, got ${String(value)}`);
    }
  }
  if (maxInflightBytes < perRequest) {
    throw new Error(
      `createOtlpHttpHandler: maxInflightBytes (${maxInflightBytes}) must be at least maxBodyBytes + maxDecompressedBytes (${perRequest})`,
    );
  }
  const budget = new InflightBudget(maxInflightBytes);
  const authorized = bearerChecker(options.authToken, 'createOtlpHttpHandler');
  const limits = resolveDecodeLimits(options.limits);
  const { ingest, observer } = options;

  const report = safeObserver(observer);

  async function handle(req: IncomingMessage, res: ServerResponse, signal: Signal): Promise<void> {
    const format = formatOf(req.headers['content-type']);
    const replyFormat: WireFormat = format ?? 'json';
    const base = { transport: 'http' as const, signal, records: 0, rejected: 0, bytes: 0, droppedValues: 0 };
    if (req.method !== 'POST') {
      sendStatus(res, 405, replyFormat, GrpcCode.UNIMPLEMENTED, `${req.method ?? ''} not allowed; use POST`, {
        Allow: 'POST',
      });
      report({ ...base, outcome: 'unsupported' });
      return;
    }
    if (authorized !== undefined && !authorized(req.headers.authorization)) {
      sendStatus(res, 401, replyFormat, GrpcCode.UNAUTHENTICATED, 'missing or wrong bearer token', {
        'WWW-Authenticate': 'Bearer',
      });
      report({ ...base, outcome: 'unauthenticated' });
      return;
    }
    if (format === undefined) {
      const message = 'Content-Type must be application/x-protobuf or application/json';
      sendStatus(res, 415, replyFormat, GrpcCode.INVALID_ARGUMENT, message);
      report({ ...base, outcome: 'unsupported' });
      return;
    }
    const encoding = bodyEncodingOf(req.headers['content-encoding']);
    if (encoding === undefined) {
      const message = `Content-Encoding ${JSON.stringify(req.headers['content-encoding']?.slice(0, 32))} is not taken; use ${ACCEPTED_ENCODINGS}`;
      sendStatus(res, 415, format, GrpcCode.INVALID_ARGUMENT, message);
      report({ ...base, outcome: 'unsupported' });
      return;
    }
    const got = await readBody(req, encoding, body, budget);
    try {
      answer(res, signal, format, got, base);
    } finally {
      budget.release(got.held);
    }
  }

  function answer(
    res: ServerResponse,
    signal: Signal,
    format: WireFormat,
    got: BodyResult,
    base: Omit<ReceiveReport, 'outcome'>,
  ): void {
    if (!got.ok) {
      if (got.reason === 'aborted') {
        res.destroy();
        report({ ...base, outcome: 'aborted' });
      } else if (got.reason === 'too_large') {
        sendStatus(res, 413, format, GrpcCode.RESOURCE_EXHAUSTED, got.message);
        report({ ...base, outcome: 'too_large' });
      } else if (got.reason === 'busy') {
        sendStatus(res, 429, format, GrpcCode.RESOURCE_EXHAUSTED, got.message, { 'Retry-After': '1' }, 1);
        report({ ...base, outcome: 'overloaded', refusedBy: 'maxInflightBytes' });
      } else if (got.reason === 'timeout') {
        sendStatus(res, 408, format, GrpcCode.DEADLINE_EXCEEDED, got.message);
        report({ ...base, outcome: 'timeout' });
      } else {
        sendStatus(res, 400, format, GrpcCode.INVALID_ARGUMENT, got.message);
        report({ ...base, outcome: 'invalid' });
      }
      return;
    }
    base.bytes = got.bytes.length;
    let result: IngestResult;
    let records: number;
    const droppedBefore = droppedValues.count;
    try {
      if (signal === 'logs') {
        const decoded = decodeLogs(got.bytes, format, limits);
        records = decoded.length;
        result = callIngest(() => ingest.logs(decoded));
      } else {
        const decoded = decodeTraces(got.bytes, format, limits);
        records = decoded.length;
        result = callIngest(() => ingest.traces(decoded));
      }
    } catch (err) {
      const message = err instanceof OtlpDecodeError ? err.message : 'body does not decode';
      if (!(err instanceof OtlpDecodeError))
        diag.error('llmsec detector: OTLP decode failed unexpectedly', err);
      sendStatus(res, 400, format, GrpcCode.INVALID_ARGUMENT, message);
      report({ ...base, outcome: 'invalid' });
      return;
    }
    base.records = records;
    base.droppedValues = droppedValues.count - droppedBefore;
    if (result.kind === 'accepted') {
      const { rejected, message } = partialSuccess(result, records);
      const reply = (): void => {
        if (format === 'protobuf') send(res, 200, format, encodeExportResponse(rejected, message));
        else send(res, 200, format, exportResponseJson(signal, rejected, message));
        report({ ...base, rejected, outcome: 'accepted' });
      };
      // Taken either way; answered once the service says so (its events shipped: see IngestResult).
      if (result.settled !== undefined) void result.settled.then(reply, reply);
      else reply();
      return;
    }
    const seconds = retrySeconds(result.retryAfterSeconds);
    const headers = { 'Retry-After': String(seconds) };
    if (result.kind === 'overloaded') {
      sendStatus(
        res,
        429,
        format,
        GrpcCode.RESOURCE_EXHAUSTED,
        'ingest queue full; retry later',
        headers,
        seconds,
      );
      report({ ...base, outcome: 'overloaded' });
    } else {
      sendStatus(res, 503, format, GrpcCode.UNAVAILABLE, 'detector not ready; retry later', headers, seconds);
      report({ ...base, outcome: 'unavailable' });
    }
  }

  return function otlpHttpHandler(req: IncomingMessage, res: ServerResponse): boolean {
    const signal = signalOf(req.url);
    if (signal === undefined) return false;
    handle(req, res, signal).catch((err: unknown) => {
      // Unreachable by design (every step above returns values); never leave a request hanging.
      diag.error('llmsec detector: OTLP/HTTP handler failed', err);
      if (!res.headersSent) sendStatus(res, 500, 'json', GrpcCode.INTERNAL, 'internal error');
      else res.destroy();
    });
    return true;
  };
}

function signalOf(url: string | undefined): Signal | undefined {
  if (url === undefined) return undefined;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  if (path === '/v1/logs') return 'logs';
  if (path === '/v1/traces') return 'traces';
  return undefined;
}

function formatOf(contentType: string | undefined): WireFormat | undefined {
  if (contentType === undefined) return undefined;
  const semi = contentType.indexOf(';');
  const type = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (type === 'application/x-protobuf') return 'protobuf';
  if (type === 'application/json') return 'json';
  return undefined;
}

function send(
  res: ServerResponse,
  status: number,
  format: WireFormat,
  payload: Uint8Array | string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const all: Record<string, string | number> = {
    'Content-Type': format === 'protobuf' ? 'application/x-protobuf' : 'application/json',
    'Content-Length': typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length,
    ...headers,
  };
  const req = res.req;
  const unread = status >= 400 && !req.complete;
  const declared = Number(req.headers['content-length'] ?? 0);
  // A refused request may have an unread body. A slow sender (408), or one announcing more
  // than the drain cap, loses the connection. Any other sender's remaining bytes are read and
  // dropped (bounded in bytes and time), so it can finish writing and read the answer: closing
  // with unread data would reset the connection and it would see EPIPE instead of the status.
  const close = unread && (status === 408 || declared > DRAIN_MAX_BYTES);
  if (close) all.Connection = 'close';
  res.writeHead(status, all);
  res.end(payload);
  if (close) res.once('finish', () => req.socket?.destroySoon());
  else if (unread) discardRest(req);
}

/** Most bytes, and longest time, spent reading and dropping a refused request's body. */
const DRAIN_MAX_BYTES = 64 * 1024 * 1024;
const DRAIN_MAX_MS = 5_000;

function discardRest(req: IncomingMessage): void {
  let seen = 0;
  const stop = (): void => {
    clearTimeout(timer);
    req.off('data', onData);
    req.socket?.destroy();
  };
  const onData = (chunk: Buffer): void => {
    seen += chunk.length;
    if (seen > DRAIN_MAX_BYTES) stop();
  };
  const timer = setTimeout(stop, DRAIN_MAX_MS);
  timer.unref();
  req.on('data', onData);
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
  req.on('error', () => clearTimeout(timer));
  req.resume();
}

function sendStatus(
  res: ServerResponse,
  status: number,
  format: WireFormat,
  code: number,
  message: string,
  headers: Record<string, string> = {},
  retryAfterSeconds?: number,
): void {
  const payload =
    format === 'protobuf'
      ? encodeStatus(code, message, retryAfterSeconds)
      : statusJson(code, message, retryAfterSeconds);
  send(res, status, format, payload, headers);
}
