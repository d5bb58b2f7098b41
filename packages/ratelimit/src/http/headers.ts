/**
 * Rate-limit response headers from an AcquireResult.
 *
 * IETF fields: draft-ietf-httpapi-ratelimit-headers-10 (27 September 2025; the text was
 * read in the working group's repository, github.com/ietf-wg-httpapi/ratelimit-headers, as
 * of its 23 September 2025 head; revision -11 of May 2026 was not compared). Both fields are
 * Structured Field Lists (RFC 9651) of String items with parameters:
 *
 *   RateLimit-Policy: "rpm";q=60;w=60, "tpm";q=100000;w=60;llmsec-qu="tokens"
 *   RateLimit: "rpm";r=59;t=60, "tpm";r=98800;t=60
 *
 * - One item per configured dimension and subject. The policy name is the dimension
 *   (`rpm`, `tph`, `cost_day`, `concurrent`, ...); dimensions of the secondary subject (client
 *   IP by default) are prefixed, `"secondary-rpm"`, so the names stay unique.
 * - `q` quota, `w` window in seconds (omitted for concurrency, which has no window; the draft
 *   requires a non-zero `w`), `r` remaining, `t` seconds until more quota is available.
 * - Quota units: request dimensions use the draft's default unit (requests, no `qu`);
 *   concurrency uses the registered `qu="concurrent-requests"`. Tokens and micro-USD are not
 *   registered units, and the draft says service-specific parameters SHOULD carry a vendor
 *   prefix, so these policies carry `llmsec-qu="tokens"` or `llmsec-qu="micro-usd"` instead
 *   of `qu`. Units go in RateLimit-Policy only; `RateLimit` items refer to it by name.
 *   (Parameter keys must be lowercase: RFC 9651 §3.1.2.)
 * - `pk` (partition key, a Byte Sequence) only with `partitionKeys: true`: 8 bytes of
 *   SHA-256 of the subject, so the key identifies the partition without revealing the user.
 *
 * Legacy fields `X-RateLimit-Limit/-Remaining/-Reset` (the de facto convention) describe the
 * most constrained request-count dimension (rpm/rph/rpd over both subjects: fewest remaining,
 * then the longest reset), or the refusing dimension when a request-count dimension refused.
 * Tokens and cost appear only in the IETF fields, where units are explicit. When no
 * request-count dimension is configured, the most constrained dimension of any kind is used.
 * `X-RateLimit-Reset` is delta-seconds until reset, like the draft's `t` and like
 * `Retry-After`; NOT epoch seconds as GitHub's `x-ratelimit-reset` is. Delta-seconds need no
 * clock agreement between client and server.
 *
 * `Retry-After` (RFC 9110 §10.2.3, delay-seconds) only on refusal: the limiter's
 * `retryAfterMs` (the true time until the refusing dimension has room for this request, the
 * block or the ban ends), rounded up, at least 1. The draft says Retry-After SHOULD NOT point
 * earlier than the reset parameter, so the refusing policy's `t` is capped at the Retry-After
 * value. A ban or block refuses every request until it ends: then every `RateLimit` item has
 * r=0 and t the Retry-After value, and the legacy fields 0 remaining, reset at that end.
 *
 * A refusal retrying cannot cure (`retryCannotHelp`) has `X-Should-Retry: false`, the header
 * the OpenAI and Anthropic SDKs read before retrying a 429 on their own. One that no wait
 * cures either (the estimate alone exceeds a full limit) has no `Retry-After` (any delay
 * would be a lie that clients honour, retrying every second for a request that never fits);
 * a ban keeps its end in `Retry-After` (the SDKs ignore one over 60 s, openai, or sleep
 * through it up to 24.8 days holding the caller's request, @anthropic-ai/sdk 1.x; either
 * way their retries are refused while the ban lasts).
 */
import { createHash } from 'node:crypto';
import type { AcquireResult, Dimension, DimensionState } from '../types.ts';
import { serializeItem, serializeList } from './structured-fields.ts';
import type { BareItem } from './structured-fields.ts';
import type { RateLimitHeaderOptions } from './types.ts';

const REQUEST_DIMENSIONS: ReadonlySet<Dimension> = new Set(['rpm', 'rph', 'rpd']);
const TOKEN_DIMENSIONS: ReadonlySet<Dimension> = new Set(['tpm', 'tph', 'tpd']);
const COST_DIMENSIONS: ReadonlySet<Dimension> = new Set(['cost_hour', 'cost_day']);

/** Seconds, rounded up, for a millisecond duration (negative and NaN count as 0). */
export function ceilSeconds(ms: number): number {
  return Number.isFinite(ms) && ms > 0 ? Math.ceil(ms / 1000) : 0;
}

/** Retry-After value for a refusal: whole seconds rounded up, never less than 1. */
export function retryAfterSeconds(retryAfterMs: number): number {
  return Math.max(1, ceilSeconds(retryAfterMs));
}

/**
 * True for a refusal that retrying cannot cure, so a client should not retry it on its own
 * (HTTP: `X-Should-Retry: false`): `estimate_exceeds_limit` with `retryAfterMs` 0, the
 * request's estimate alone above a limit in full (one above a throttled limit only has the
 * time until the throttle ends), which no wait cures: send a smaller request, or none; and
 * `banned`, which lasts until an operator lifts it or `retryAfterMs` (the ban's end,
 * `banTtlMs` after it: a year by default) has passed. A `blocked` subject is not included: a
 * block ends by itself (`blockMs`, 5 min by default) and a client honouring its
 * `retryAfterMs` is then admitted.
 */
export function retryCannotHelp(result: AcquireResult): boolean {
  if (result.allowed) return false;
  return result.reason === 'banned' || neverFits(result);
}

/** A refusal no wait cures: the estimate alone exceeds a full limit (retryAfterMs 0). */
export function neverFits(result: AcquireResult): boolean {
  return !result.allowed && result.reason === 'estimate_exceeds_limit' && !(result.retryAfterMs > 0);
}

export function rateLimitHeaders(
  result: AcquireResult,
  options: RateLimitHeaderOptions = {},
): Record<string, string> {
  const draft = options.draftHeaders ?? true;
  const legacy = options.legacyHeaders ?? true;
  const prefix = options.secondaryPolicyPrefix ?? 'secondary-';
  const dims = uniqueDimensions(result.dimensions);
  const primary = options.primarySubject ?? dims[0]?.subject;
  const headers: Record<string, string> = {};
  const retryAfter = result.allowed || neverFits(result) ? undefined : retryAfterSeconds(result.retryAfterMs);
  // A ban or block refuses every request until it ends, whatever the buckets hold: the
  // remaining figures say 0 and their reset its end, as Retry-After does (the buckets' own
  // figures told a banned client it had its whole budget left, reset in 0 s).
  const enforced = refusesUntilEnd(result) ? retryAfter : undefined;

  if (draft && dims.length > 0) {
    const name = (s: DimensionState): string =>
      s.subject === primary ? s.dimension : `${prefix}${s.dimension}`;
    const pk = (s: DimensionState): Uint8Array | undefined =>
      options.partitionKeys ? partitionKey(s.subject) : undefined;
    headers['RateLimit-Policy'] = serializeList(
      dims.map((s) =>
        serializeItem(name(s), [
          ['q', s.limit],
          ['w', s.windowSeconds > 0 ? s.windowSeconds : undefined],
          ...unitParam(s.dimension),
          ['pk', pk(s)],
        ]),
      ),
    );
    const shown = options.mostConstrainedOnly ? [mostConstrained(dims, result.refusedBy)] : dims;
    headers.RateLimit = serializeList(
      shown.map((s) => {
        // Banned or blocked: nothing is available until the end Retry-After gives.
        if (enforced !== undefined)
          return serializeItem(name(s), [
            ['r', 0],
            ['t', enforced],
            ['pk', pk(s)],
          ]);
        let t = s.windowSeconds > 0 || s.resetMs > 0 ? ceilSeconds(s.resetMs) : undefined;
        if (t !== undefined && retryAfter !== undefined && sameState(s, result.refusedBy))
          t = Math.min(t, retryAfter);
        return serializeItem(name(s), [
          ['r', Math.max(0, s.remaining)],
          ['t', t],
          ['pk', pk(s)],
        ]);
      }),
    );
  }

  if (legacy) {
    const chosen = legacyDimension(dims, result.refusedBy);
    if (chosen) {
      headers['X-RateLimit-Limit'] = String(Math.max(0, Math.trunc(chosen.limit)));
      headers['X-RateLimit-Remaining'] =
        enforced !== undefined ? '0' : String(Math.max(0, Math.trunc(chosen.remaining)));
      headers['X-RateLimit-Reset'] = String(enforced ?? ceilSeconds(chosen.resetMs));
    }
  }

  if (retryAfter !== undefined) headers['Retry-After'] = String(retryAfter);
  if (retryCannotHelp(result)) headers['X-Should-Retry'] = 'false';
  return headers;
}

/** A refusal of every request of the subject until its end: a ban or a block. */
function refusesUntilEnd(result: AcquireResult): boolean {
  return !result.allowed && (result.reason === 'banned' || result.reason === 'blocked');
}

function unitParam(dimension: Dimension): Array<readonly [string, BareItem]> {
  if (dimension === 'concurrent') return [['qu', 'concurrent-requests']];
  if (TOKEN_DIMENSIONS.has(dimension)) return [['llmsec-qu', 'tokens']];
  if (COST_DIMENSIONS.has(dimension)) return [['llmsec-qu', 'micro-usd']];
  return [];
}

function partitionKey(subject: string): Uint8Array {
  return createHash('sha256').update(subject).digest().subarray(0, 8);
}

function sameState(a: DimensionState, b: DimensionState | undefined): boolean {
  return b !== undefined && a.dimension === b.dimension && a.subject === b.subject;
}

/** One state per (subject, dimension): the first wins, order preserved. */
function uniqueDimensions(states: readonly DimensionState[]): DimensionState[] {
  const seen = new Set<string>();
  const out: DimensionState[] = [];
  for (const s of states) {
    const key = `${s.dimension}\u0000${s.subject}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(s);
  }
  return out;
}

/** Fewest remaining relative to the limit; ties go to the longer wait. The refuser wins outright. */
function mostConstrained(
  dims: readonly DimensionState[],
  refusedBy: DimensionState | undefined,
): DimensionState {
  const refusing = dims.find((s) => sameState(s, refusedBy));
  if (refusing) return refusing;
  let best = dims[0] as DimensionState;
  for (const s of dims.slice(1)) {
    const fs = fraction(s);
    const fb = fraction(best);
    if (fs < fb || (fs === fb && s.resetMs > best.resetMs)) best = s;
  }
  return best;
}

function fraction(s: DimensionState): number {
  return s.limit > 0 ? Math.max(0, s.remaining) / s.limit : 0;
}

function legacyDimension(
  dims: readonly DimensionState[],
  refusedBy: DimensionState | undefined,
): DimensionState | undefined {
  if (dims.length === 0) return undefined;
  const requests = dims.filter((s) => REQUEST_DIMENSIONS.has(s.dimension));
  if (requests.length === 0) return mostConstrained(dims, refusedBy);
  const refusing = requests.find((s) => sameState(s, refusedBy));
  if (refusing) return refusing;
  let best = requests[0] as DimensionState;
  for (const s of requests.slice(1)) {
    if (s.remaining < best.remaining || (s.remaining === best.remaining && s.resetMs > best.resetMs))
      best = s;
  }
  return best;
}
