import type { DecodeLimits } from './types.ts';

/** DecodeLimits with every default applied (one place for the defaults). */
export type ResolvedDecodeLimits = Readonly<Required<DecodeLimits>>;

export const DEFAULT_DECODE_LIMITS: ResolvedDecodeLimits = Object.freeze({
  maxRecords: 100_000,
  maxAttributes: 1_024,
  maxStringBytes: 65_536,
  maxDepth: 16,
  maxSpanEvents: 1_024,
});

/** Applies defaults; throws on a nonsensical value (configuration errors surface at startup). */
export function resolveDecodeLimits(limits: DecodeLimits = {}): ResolvedDecodeLimits {
  const resolved = {
    maxRecords: limits.maxRecords ?? DEFAULT_DECODE_LIMITS.maxRecords,
    maxAttributes: limits.maxAttributes ?? DEFAULT_DECODE_LIMITS.maxAttributes,
    maxStringBytes: limits.maxStringBytes ?? DEFAULT_DECODE_LIMITS.maxStringBytes,
    maxDepth: limits.maxDepth ?? DEFAULT_DECODE_LIMITS.maxDepth,
    maxSpanEvents: limits.maxSpanEvents ?? DEFAULT_DECODE_LIMITS.maxSpanEvents,
  };
  for (const [name, value] of Object.entries(resolved)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new Error(`OTLP decode limits: ${name} must be a positive integer, got ${String(value)}`);
    }
  }
  return Object.freeze(resolved);
}

/**
 * An export request that does not decode, or that exceeds a cap. The whole request is refused
 * (HTTP 400 / gRPC INVALID_ARGUMENT); `message` is safe to send back (no payload content).
 */
export class OtlpDecodeError extends Error {
  override readonly name = 'OtlpDecodeError';
}

/**
 * A cap of one record broken (its attributes, its span events, a name or string of its own, or
 * of the resource or scope it is under): that record is rejected alone, as OTLP partial
 * success, and the rest of the request is taken. The decoders catch it at the record's end
 * (over-cap.ts): the record's own bytes are skipped, the request's framing is intact. A
 * request-wide cap (maxRecords, span events per request) or malformed bytes stay OtlpDecodeError.
 */
export class OtlpRecordOverCapError extends OtlpDecodeError {}
