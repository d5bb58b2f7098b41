// Encoders for what the receivers send back: ExportLogsServiceResponse / ExportTraceService-
// Response (with partial_success) and google.rpc.Status (with google.rpc.RetryInfo), in
// protobuf and in OTLP/JSON. Hand-written: four tiny messages, no schema library needed.
import { Buffer } from 'node:buffer';

export type Signal = 'logs' | 'traces';
export type WireFormat = 'protobuf' | 'json';

/** gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html) used here. */
export const GrpcCode = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

const RETRY_INFO_TYPE_URL = 'type.googleapis.com/google.rpc.RetryInfo';

function varint(out: number[], value: number): void {
  // Non-negative values below 2^53 (counts and lengths); no negative int32 is ever written.
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

function lengthDelimited(out: number[], field: number, payload: Uint8Array): void {
  varint(out, (field << 3) | 2);
  varint(out, payload.length);
  for (const b of payload) out.push(b);
}

function varintField(out: number[], field: number, value: number): void {
  varint(out, field << 3);
  varint(out, value);
}

/**
 * Export<Signal>ServiceResponse { Export<Signal>PartialSuccess partial_success = 1 } with
 * PartialSuccess { int64 rejected_log_records | rejected_spans = 1; string error_message = 2 }.
 * Per the spec, partial_success is left out (an empty message) when nothing was rejected.
 */
export function encodeExportResponse(rejected: number, message: string): Uint8Array {
  if (rejected <= 0 && message === '') return new Uint8Array(0);
  const partial: number[] = [];
  if (rejected > 0) varintField(partial, 1, rejected);
  if (message !== '') lengthDelimited(partial, 2, Buffer.from(message, 'utf8'));
  const out: number[] = [];
  lengthDelimited(out, 1, Uint8Array.from(partial));
  return Uint8Array.from(out);
}

export function exportResponseJson(signal: Signal, rejected: number, message: string): string {
  if (rejected <= 0 && message === '') return '{}';
  const key = signal === 'logs' ? 'rejectedLogRecords' : 'rejectedSpans';
  const partial: Record<string, unknown> = {};
  // proto3 JSON writes int64 as a string; OTLP/JSON readers accept strings and numbers.
  if (rejected > 0) partial[key] = String(rejected);
  if (message !== '') partial.errorMessage = message;
  return JSON.stringify({ partialSuccess: partial });
}

/** google.rpc.RetryInfo { google.protobuf.Duration retry_delay = 1 } with Duration { int64 seconds = 1 }. */
export function encodeRetryInfo(retryAfterSeconds: number): Uint8Array {
  const duration: number[] = [];
  if (retryAfterSeconds > 0) varintField(duration, 1, retryAfterSeconds);
  const out: number[] = [];
  lengthDelimited(out, 1, Uint8Array.from(duration));
  return Uint8Array.from(out);
}

/**
 * google.rpc.Status { int32 code = 1; string message = 2; repeated google.protobuf.Any details = 3 },
 * with one RetryInfo detail (Any { string type_url = 1; bytes value = 2 }) when a delay is given.
 */
export function encodeStatus(code: number, message: string, retryAfterSeconds?: number): Uint8Array {
  const out: number[] = [];
  if (code !== 0) varintField(out, 1, code);
  if (message !== '') lengthDelimited(out, 2, Buffer.from(message, 'utf8'));
  if (retryAfterSeconds !== undefined) {
    const any: number[] = [];
    lengthDelimited(any, 1, Buffer.from(RETRY_INFO_TYPE_URL, 'utf8'));
    lengthDelimited(any, 2, encodeRetryInfo(retryAfterSeconds));
    lengthDelimited(out, 3, Uint8Array.from(any));
  }
  return Uint8Array.from(out);
}

export function statusJson(code: number, message: string, retryAfterSeconds?: number): string {
  const status: Record<string, unknown> = { code, message };
  if (retryAfterSeconds !== undefined) {
    status.details = [{ '@type': RETRY_INFO_TYPE_URL, retryDelay: `${retryAfterSeconds}s` }];
  }
  return JSON.stringify(status);
}

/** Whole seconds for Retry-After / RetryInfo: rounded up, never negative, at most a day. */
export function retrySeconds(value: number): number {
  if (!Number.isFinite(value) || value <= 0) return 0;
  return Math.min(86_400, Math.ceil(value));
}
