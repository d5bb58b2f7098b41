/**
 * The framework-neutral part of the HTTP guard: decide (subject, estimate, acquire), produce
 * the headers and the refusal, and own the lease until the response ends.
 *
 * Lease lifecycle, per request, exactly once:
 * - response 'finish' (fully handed to the OS), or 'close' after the app called `end()` →
 *   settle with the actual usage;
 * - response 'close' or 'error' before 'finish' (client went away, socket error) → settle
 *   with the reported usage if the app reported some (tokens already spent upstream are
 *   charged), otherwise cancel (the reservation and the concurrency slot are returned). An
 *   app that streams should report usage as it accrues (`setRateLimitUsage`), or a client
 *   could read most of a stream and disconnect to have its tokens refunded;
 * - client gone while acquire was still pending → the lease is cancelled as soon as it
 *   arrives, and the request goes no further.
 * The listeners are attached before acquire, so no ending can be missed.
 */
import type { ServerResponse } from 'node:http';
import { diag } from '@opentelemetry/api';
import { estimateRequestBody } from '../estimate/request.ts';
import type { RequestEstimate } from '../estimate/request.ts';
import type { AcquireRequest, AcquireResult, Lease, Usage } from '../types.ts';
import { reportError } from './errors.ts';
import { neverFits, rateLimitHeaders, retryAfterSeconds, retryCannotHelp } from './headers.ts';
import { checkIpv6Prefix, DEFAULT_IPV6_PREFIX } from './ip.ts';
import { defaultSecondarySubject, defaultSubject, sanitizeSubject, type SubjectOptions } from './subject.ts';
import type {
  GuardResponse,
  RateLimitDecision,
  RateLimitHeaderOptions,
  RateLimitMiddlewareOptions,
  RequestLike,
} from './types.ts';
import { recordDecision, reportedUsage } from './usage.ts';

export type Admission =
  /** Go on to the handler, with these headers on the response. */
  | { kind: 'allowed'; headers: Record<string, string> }
  /** Answer now with this status, headers and JSON body. */
  | { kind: 'refused'; status: number; headers: Record<string, string>; body: string }
  /** The client is gone; nothing to send, nothing held. */
  | { kind: 'aborted' };

export interface RefusalBody {
  error: {
    type: 'rate_limited' | 'rate_limiter_unavailable';
    reason: string;
    /**
     * Seconds to wait, as in `Retry-After` (at least 1); 0, with no `Retry-After` and
     * `X-Should-Retry: false`, when no wait can cure the refusal (reason
     * `estimate_exceeds_limit`: the request alone exceeds a limit). A `banned` refusal has
     * the seconds until the ban ends and `X-Should-Retry: false`.
     */
    retry_after_seconds: number;
    message: string;
  };
}

export class RateLimitGuard<Req extends RequestLike> {
  readonly #options: RateLimitMiddlewareOptions<Req>;
  readonly #failureStatus: number;
  readonly #failOpen: boolean;
  readonly #headerOptions: Omit<RateLimitHeaderOptions, 'primarySubject'>;
  readonly #subjectOptions: SubjectOptions;
  /** Said once per middleware: a request body no parser read (unparsedBodyWarning). */
  #warnedUnparsedBody = false;

  constructor(options: RateLimitMiddlewareOptions<Req>) {
    const limiter = options?.limiter as Partial<RateLimitMiddlewareOptions<Req>['limiter']> | undefined;
    if (
      !limiter ||
      typeof limiter.acquire !== 'function' ||
      typeof limiter.settle !== 'function' ||
      typeof limiter.cancel !== 'function'
    ) {
      throw new TypeError(
        'llmsec rate-limit middleware: options.limiter must have acquire(), settle() and cancel()',
      );
    }
    const failureStatus = options.failureStatus ?? 503;
    if (!Number.isInteger(failureStatus) || failureStatus < 400 || failureStatus > 599) {
      throw new RangeError(
        `llmsec rate-limit middleware: failureStatus must be an HTTP error status (400-599), got ${failureStatus}`,
      );
    }
    this.#options = options;
    this.#failureStatus = failureStatus;
    this.#failOpen = options.failOpen ?? false;
    this.#headerOptions = options.headers ?? {};
    const ipv6Prefix = checkIpv6Prefix(
      options.ipv6Prefix ?? DEFAULT_IPV6_PREFIX,
      'llmsec rate-limit middleware: ipv6Prefix',
    );
    const trust = options.trustUserIdHeader;
    if (trust !== undefined && typeof trust !== 'boolean') {
      throw new TypeError('llmsec rate-limit middleware: trustUserIdHeader must be a boolean');
    }
    // With a subject function of its own, the caller authenticates: a request it names no
    // subject for (unauthenticated) falls back to the token's key or the address, not to the
    // x-user-id header any client can set (which charged, and escalated, the named user),
    // unless the caller says a proxy of theirs sets it.
    const trustHeader = trust ?? (options.subject === undefined ? undefined : false);
    this.#subjectOptions =
      trustHeader === undefined ? { ipv6Prefix } : { ipv6Prefix, trustUserIdHeader: trustHeader };
    if (options.subject === undefined && trust === undefined) {
      diag.warn(
        'llmsec rate-limit middleware: the default subject trusts the x-user-id request header, which any ' +
          'client can set to spread its requests over invented ids (and out of its own limits and bans). ' +
          'Pass `subject` (your authenticated user id), or `trustUserIdHeader: true` if a proxy you control ' +
          'sets x-user-id, or `trustUserIdHeader: false` to ignore it.',
      );
    }
  }

  /** Never rejects: every failure inside is reported and turned into a decision. */
  async admit(req: Req, res: ServerResponse): Promise<Admission> {
    const tracker = new LeaseTracker(this.#options, req, res);
    const subject =
      sanitizeSubject(this.#call('subject', () => this.#options.subject?.(req))) ??
      defaultSubject(req, this.#subjectOptions);
    const secondaryRaw = this.#options.secondarySubject
      ? sanitizeSubject(this.#call('secondarySubject', () => this.#options.secondarySubject?.(req)))
      : defaultSecondarySubject(req, this.#subjectOptions);
    const secondarySubject = secondaryRaw === subject ? undefined : secondaryRaw;
    const tier = this.#call('tier', () => this.#options.tier?.(req));
    const { tokens, costMicroUsd } = await this.#estimate(req);

    const request: AcquireRequest = { subject, estimatedTokens: tokens };
    if (secondarySubject !== undefined) request.secondarySubject = secondarySubject;
    if (tier !== undefined) request.tier = tier;
    if (costMicroUsd !== undefined) request.estimatedCostMicroUsd = costMicroUsd;

    let result: AcquireResult;
    try {
      result = await this.#options.limiter.acquire(request);
    } catch (err) {
      reportError('acquire', err);
      if (tracker.clientGone) return { kind: 'aborted' };
      if (this.#failOpen) return { kind: 'allowed', headers: {} };
      return this.#refusal(this.#failureStatus, 'rate_limiter_unavailable', 'limiter_error', 1000, {});
    }

    const decision: RateLimitDecision = { subject, estimatedTokens: tokens, result };
    if (secondarySubject !== undefined) decision.secondarySubject = secondarySubject;
    if (tier !== undefined) decision.tier = tier;
    if (costMicroUsd !== undefined) decision.estimatedCostMicroUsd = costMicroUsd;
    recordDecision(res, decision);
    this.#call('onDecision', () => this.#options.onDecision?.(decision, req));

    if (result.allowed && result.lease) {
      // Hand the lease over first: if the client already left, this releases it at once.
      if (!tracker.hold(result.lease, { tokens, ...(costMicroUsd !== undefined ? { costMicroUsd } : {}) })) {
        return { kind: 'aborted' };
      }
    }
    if (tracker.clientGone) return { kind: 'aborted' };

    const headers = this.#headers(result, subject);
    if (result.allowed) return { kind: 'allowed', headers };
    const reason = result.reason ?? result.refusedBy?.dimension ?? 'blocked';
    if (reason === 'store_unavailable') {
      return this.#refusal(
        this.#failureStatus,
        'rate_limiter_unavailable',
        reason,
        result.retryAfterMs,
        headers,
      );
    }
    if (neverFits(result)) return this.#refusal(429, 'rate_limited', reason, undefined, headers);
    return this.#refusal(429, 'rate_limited', reason, result.retryAfterMs, headers, retryCannotHelp(result));
  }

  #headers(result: AcquireResult, primarySubject: string): Record<string, string> {
    try {
      return rateLimitHeaders(result, { ...this.#headerOptions, primarySubject });
    } catch (err) {
      reportError('headers', err);
      // A refusal's Retry-After and X-Should-Retry are set by #refusal.
      return {};
    }
  }

  #refusal(
    status: number,
    type: RefusalBody['error']['type'],
    reason: string,
    /** undefined: no wait can cure this refusal (no Retry-After, retry_after_seconds 0). */
    retryAfterMs: number | undefined,
    headers: Record<string, string>,
    /** A ban: Retry-After has its end, and X-Should-Retry: false stops the SDKs' own retries. */
    noRetry = false,
  ): Admission {
    if (retryAfterMs === undefined) {
      const message = `Rate limit exceeded (${reason}): this request alone exceeds the limit; retrying it cannot succeed. Send a smaller request.`;
      const body: RefusalBody = { error: { type, reason, retry_after_seconds: 0, message } };
      const { 'Retry-After': _dropped, ...rest } = headers;
      return {
        kind: 'refused',
        status,
        headers: { ...rest, 'X-Should-Retry': 'false', 'Content-Type': 'application/json; charset=utf-8' },
        body: JSON.stringify(body),
      };
    }
    const seconds = retryAfterSeconds(retryAfterMs);
    const message = noRetry
      ? `Rate limit exceeded (${reason}): retrying cannot succeed until the ban is lifted or ends in ${seconds} s.`
      : type === 'rate_limited'
        ? `Rate limit exceeded (${reason}). Retry in ${seconds} s.`
        : `Rate limiting is unavailable. Retry in ${seconds} s.`;
    const body: RefusalBody = { error: { type, reason, retry_after_seconds: seconds, message } };
    const out: Record<string, string> = { ...headers, 'Retry-After': String(seconds) };
    if (noRetry) out['X-Should-Retry'] = 'false';
    out['Content-Type'] = 'application/json; charset=utf-8';
    return { kind: 'refused', status, headers: out, body: JSON.stringify(body) };
  }

  async #estimate(req: Req): Promise<{ tokens: number; costMicroUsd?: number }> {
    let bodyEstimate: RequestEstimate | undefined;
    const fromBody = (): RequestEstimate => (bodyEstimate ??= estimateRequestBody(req.body));
    if (!this.#options.estimateTokens && !this.#warnedUnparsedBody && unparsedBody(req)) {
      this.#warnedUnparsedBody = true;
      diag.warn(UNPARSED_BODY_WARNING);
    }
    let tokens = 0;
    try {
      tokens = this.#options.estimateTokens
        ? await this.#options.estimateTokens(req)
        : fromBody().totalTokens;
    } catch (err) {
      reportError('estimateTokens', err);
    }
    tokens = Number.isFinite(tokens) && tokens > 0 ? Math.ceil(tokens) : 0;
    let cost: number | undefined;
    try {
      if (this.#options.estimateCostMicroUsd) cost = this.#options.estimateCostMicroUsd(req, tokens);
      // Without a model in the body there is no price, so do not tokenize just to find that out.
      else if (bodyEstimate !== undefined || hasModel(req.body)) cost = fromBody().costMicroUsd;
    } catch (err) {
      reportError('estimateCostMicroUsd', err);
    }
    return cost !== undefined && Number.isFinite(cost) && cost >= 0
      ? { tokens, costMicroUsd: Math.ceil(cost) }
      : { tokens };
  }

  #call<T>(where: string, fn: () => T): T | undefined {
    try {
      return fn();
    } catch (err) {
      reportError(where, err);
      return undefined;
    }
  }
}

/**
 * The default estimate reads `req.body`, which only a body parser sets (the guard never reads the
 * stream). Express without `express.json()` before the middleware, or node:http, left it
 * undefined: every request was estimated at 0 tokens and no cost, so token and cost limits never
 * refused anything, and nothing said so.
 */
const UNPARSED_BODY_WARNING =
  'llmsec rate-limit middleware: a request with a body arrived unparsed (req.body undefined), so its ' +
  'estimate is 0 tokens and no cost: token and cost limits do not apply to it. Put a JSON body parser ' +
  'before the middleware (Express: app.use(express.json(), createRateLimitMiddleware(...))), or pass ' +
  '`estimateTokens` (node:http: readJsonBody from @llmsec/ratelimit/http).';

/** A request that carries a body (a length over 0, or chunked) no parser has read. */
function unparsedBody(req: RequestLike): boolean {
  if (req.body !== undefined) return false;
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

function hasModel(body: unknown): boolean {
  return body !== null && typeof body === 'object' && typeof (body as { model?: unknown }).model === 'string';
}

/** Owns one lease: settles or cancels it exactly once, whatever order the events come in. */
class LeaseTracker<Req extends RequestLike> {
  readonly #options: RateLimitMiddlewareOptions<Req>;
  readonly #req: Req;
  readonly #res: ServerResponse;
  #lease: Lease | undefined;
  #estimate: Usage = { tokens: 0 };
  #finished = false;
  #gone = false;
  #released = false;

  constructor(options: RateLimitMiddlewareOptions<Req>, req: Req, res: ServerResponse) {
    this.#options = options;
    this.#req = req;
    this.#res = res;
    res.once('finish', () => {
      this.#finished = true;
      this.#release();
    });
    res.once('close', () => {
      // The app ended the response but the socket closed before the last bytes were flushed:
      // the work was done, so it is settled like a finished response, not refunded.
      if (!this.#finished && res.writableEnded) this.#finished = true;
      if (!this.#finished) this.#gone = true;
      this.#release();
    });
    // A listener also keeps a socket error from becoming an uncaught exception here.
    res.once('error', () => {
      if (!this.#finished) this.#gone = true;
      this.#release();
    });
  }

  /** True when the response ended without finishing (client aborted, socket error). */
  get clientGone(): boolean {
    return this.#gone || (!this.#finished && this.#res.destroyed);
  }

  /** Take the lease; false when the client is already gone (the lease is then released). */
  hold(lease: Lease, estimate: Usage): boolean {
    this.#lease = lease;
    this.#estimate = estimate;
    if (this.clientGone) {
      this.#gone = true;
      this.#release();
      return false;
    }
    if (this.#finished) this.#release();
    return true;
  }

  #release(): void {
    const lease = this.#lease;
    if (!lease || this.#released) return;
    this.#released = true;
    const { limiter } = this.#options;
    let pending: Promise<void>;
    try {
      if (this.#finished) {
        pending = limiter.settle(lease, this.#actualUsage() ?? this.#estimate);
      } else {
        const reported = this.#actualUsage();
        pending = reported ? limiter.settle(lease, reported) : limiter.cancel(lease);
      }
    } catch (err) {
      reportError(this.#finished ? 'settle' : 'cancel', err);
      return;
    }
    void Promise.resolve(pending).catch((err: unknown) =>
      reportError(this.#finished ? 'settle' : 'cancel', err),
    );
  }

  #actualUsage(): Usage | undefined {
    try {
      return this.#options.usage?.(this.#req, this.#res as GuardResponse) ?? reportedUsage(this.#res);
    } catch (err) {
      reportError('usage', err);
      return reportedUsage(this.#res);
    }
  }
}
