/**
 * Public types of the HTTP layer. The middleware depends on the limiter only through
 * `LimiterLike`, so any object with these three methods (the package's RateLimiter, a test
 * double, a remote client) can guard a server.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AcquireRequest, AcquireResult, Lease, Usage } from '../types.ts';

export interface LimiterLike {
  acquire(req: AcquireRequest): Promise<AcquireResult>;
  settle(lease: Lease, usage: Usage): Promise<void>;
  cancel(lease: Lease): Promise<void>;
}

/**
 * What the default extractors read from a request. node's IncomingMessage, Express's request
 * and Fastify's request all have this shape, so one set of options serves all three.
 */
export interface RequestLike {
  headers: IncomingHttpHeaders;
  /** Client address as the framework resolved it (Express and Fastify honour trust-proxy). */
  ip?: string;
  /** Parsed body, when a body parser ran. */
  body?: unknown;
  socket?: { remoteAddress?: string | undefined } | null;
}

/** The request as the node:http / Express middleware sees it. */
export type GuardRequest = IncomingMessage & {
  /** Set by a body parser (Express `express.json()`, Fastify, `readJsonBody`). */
  body?: unknown;
  /** Express's client address (honours its `trust proxy` setting). */
  ip?: string;
};

/** The raw response; Express adds `locals`, where an app may leave `llmsecUsage`. */
export type GuardResponse = ServerResponse & { locals?: Record<string, unknown> };

export interface RateLimitHeaderOptions {
  /**
   * Emit the IETF `RateLimit-Policy` and `RateLimit` fields.
   * @default true
   */
  draftHeaders?: boolean;
  /**
   * Emit `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset`.
   * @default true
   */
  legacyHeaders?: boolean;
  /**
   * The primary subject of the request; its dimensions get plain policy names (`"tpm"`), the
   * others (the secondary subject) get `secondaryPolicyPrefix` + name. When absent, the first
   * subject in `result.dimensions` is taken as primary.
   */
  primarySubject?: string;
  /** @default 'secondary-' */
  secondaryPolicyPrefix?: string;
  /**
   * Add a `pk` (partition key) parameter to each item: the first 8 bytes of SHA-256 of the
   * subject, as the draft recommends partition keys that do not reveal the subject itself.
   * @default false
   */
  partitionKeys?: boolean;
  /** Only the most constrained policy in the `RateLimit` field (policy field still lists all). */
  mostConstrainedOnly?: boolean;
}

/** What the middleware reports to `onDecision` for logging, events or metrics. */
export interface RateLimitDecision {
  subject: string;
  secondarySubject?: string;
  tier?: string;
  estimatedTokens: number;
  estimatedCostMicroUsd?: number;
  result: AcquireResult;
}

export interface RateLimitMiddlewareOptions<Req extends RequestLike = GuardRequest> {
  limiter: LimiterLike;
  /**
   * The primary subject (usually the user): used as returned (trimmed, cut at 256 characters).
   * For a user return `userSubject(id)`: the bare id, as alerts, `llmsec limits` and the SDK
   * name it. Return `undefined` to fall back to the default, which then ignores `x-user-id`
   * (bearer token, then address) unless `trustUserIdHeader` is `true`.
   * Default: `userSubject(<x-user-id header>)`, else `key:<sha256 prefix of the bearer token>`,
   * else `ip:<client address bucket>#anonymous` (the address's anonymous clients, at the user
   * tier, apart from the address's shared budget, the secondary `ip:<client address bucket>`).
   * The default trusts `x-user-id`, which any client can set:
   * without this function and without `trustUserIdHeader`, the middleware warns once.
   */
  subject?: (req: Req) => string | undefined;
  /**
   * Whether the default subject reads `x-user-id`: `true` when a proxy you control sets it
   * after authentication (no warning), `false` to ignore it (bearer token, then address).
   * @default unset: read it, and warn once at construction; with `subject` given, unset is
   * `false` (its fallback does not read it)
   */
  trustUserIdHeader?: boolean;
  /**
   * Checked together with the primary subject. Default: `ip:<client address bucket>`
   * (omitted when it equals the primary subject). Return `undefined` for none.
   */
  secondarySubject?: (req: Req) => string | undefined;
  /**
   * Prefix length of the IPv6 networks the default subjects bucket by: one host usually owns a
   * whole /64, so per-address buckets would be unlimited buckets. IPv4 is per address, an
   * IPv4-mapped IPv6 address counts as its IPv4 address. 1 to 128.
   * @default 64
   */
  ipv6Prefix?: number;
  tier?: (req: Req) => string | undefined;
  /**
   * Tokens to reserve. May read `req.body` when a body parser ran before the middleware
   * (Express `express.json()`, Fastify with the `preHandler` hook, or `readJsonBody`). The
   * guard never reads the body stream itself. Default: `estimateRequestBody(req.body)`.
   */
  estimateTokens?: (req: Req) => number | Promise<number>;
  /** Cost to reserve in integer micro-USD. Default: from the body's model and token estimate. */
  estimateCostMicroUsd?: (req: Req, estimatedTokens: number) => number | undefined;
  /**
   * The actual usage, read when the response finishes. Default: what the app reported with
   * `setRateLimitUsage(res, usage)`, else `res.locals.llmsecUsage`, else the estimate.
   */
  usage?: (req: Req, res: GuardResponse) => Usage | undefined;
  /** Called on every decision (allowed or not); errors thrown here are reported, not raised. */
  onDecision?: (decision: RateLimitDecision, req: Req) => void;
  /**
   * Status for a refusal caused by the limiter's store (reason `store_unavailable`) or by the
   * limiter failing outright.
   * @default 503
   */
  failureStatus?: number;
  /**
   * When the limiter itself throws (a bug or a misconfigured store without fallback): let the
   * request through (`true`) or answer `failureStatus` (`false`).
   * @default false
   */
  failOpen?: boolean;
  /** Header options; `primarySubject` is filled in by the middleware. */
  headers?: Omit<RateLimitHeaderOptions, 'primarySubject'>;
}
