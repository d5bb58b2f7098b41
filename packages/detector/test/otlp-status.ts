// An independent decoder (protobufjs over the google.rpc message definitions, wire-compatible
// copies) for the Status bodies and gRPC status details the receivers send.
import protobuf from 'protobufjs';

const root = protobuf.parse(
  `
  syntax = "proto3";
  package check;
  message Any { string type_url = 1; bytes value = 2; }
  message Status { int32 code = 1; string message = 2; repeated Any details = 3; }
  message Duration { int64 seconds = 1; int32 nanos = 2; }
  message RetryInfo { Duration retry_delay = 1; }
`,
  { keepCase: true },
).root;

const Status = root.lookupType('check.Status');
const RetryInfo = root.lookupType('check.RetryInfo');

export interface DecodedStatus {
  code: number;
  message: string;
  /** RetryInfo.retry_delay.seconds when a RetryInfo detail is present. */
  retryDelaySeconds?: number;
}

export function decodeStatus(bytes: Uint8Array): DecodedStatus {
  const s = Status.toObject(Status.decode(bytes), { longs: Number, defaults: true }) as {
    code: number;
    message: string;
    details: { type_url: string; value: Uint8Array }[];
  };
  const out: DecodedStatus = { code: s.code, message: s.message };
  for (const d of s.details) {
    if (d.type_url === 'type.googleapis.com/google.rpc.RetryInfo') {
      const r = RetryInfo.toObject(RetryInfo.decode(d.value), { longs: Number, defaults: true }) as {
        retry_delay?: { seconds: number };
      };
      out.retryDelaySeconds = r.retry_delay?.seconds ?? 0;
    }
  }
  return out;
}
