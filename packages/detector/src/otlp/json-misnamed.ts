// OTLP/JSON ignores unknown fields, so a body whose records sit under a key this receiver does
// not read decoded as an empty request and was answered 200 with nothing taken: every record lost
// without a word to the sender. Two such keys are a sender's mistake, not a newer version's field:
// another signal's request (logs posted to /v1/traces, metrics to either path) and the proto field
// names (`resource_logs`, as protobuf's JSON printers write with proto names kept), which OTLP/JSON
// does not allow ("keys are lowerCamelCase"). Such a request is refused with a 400 naming the key.
import { OtlpDecodeError } from './limits.ts';
import type { JsonObject } from './json-common.ts';

/** Top-level keys of the OTLP requests, and where each belongs. */
const REQUEST_KEYS: Record<string, string> = {
  resourceLogs: 'a logs request: POST it to /v1/logs',
  resourceSpans: 'a traces request: POST it to /v1/traces',
  resourceMetrics: 'a metrics request: the detector takes logs (/v1/logs) and traces (/v1/traces) only',
  resourceProfiles: 'a profiles request: the detector takes logs (/v1/logs) and traces (/v1/traces) only',
};

/**
 * Throws when `root` lacks `key` (the request's own top-level key) but holds another signal's, or
 * `key` in proto field-name form. Reads nothing when `key` is there (the common case).
 */
export function checkRequestKey(root: JsonObject, key: string, where: string): void {
  if (root[key] !== undefined) return;
  for (const other of Object.keys(REQUEST_KEYS)) {
    if (other === key) continue;
    for (const found of [other, snakeCase(other)]) {
      if (root[found] !== undefined) {
        throw new OtlpDecodeError(`${where} has no ${key} but ${found}: ${REQUEST_KEYS[other]}`);
      }
    }
  }
  checkNestedKey(root, key, where);
}

/**
 * Throws when `obj` lacks `key` (a repeated field the receiver reads) but holds it as the proto
 * field name, `scope_logs` for `scopeLogs`: its records would be skipped without a word.
 */
export function checkNestedKey(obj: JsonObject, key: string, where: string): void {
  if (obj[key] !== undefined) return;
  const snake = snakeCase(key);
  if (snake !== key && obj[snake] !== undefined) {
    throw new OtlpDecodeError(
      `${where} has ${snake}, not ${key}: OTLP/JSON keys are lowerCamelCase, not proto field names`,
    );
  }
}

function snakeCase(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
