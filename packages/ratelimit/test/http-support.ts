/**
 * Test support for the HTTP layer: a small deterministic limiter (requests per minute, tokens
 * per minute, concurrency for one subject at a time; no clock: windows never roll) that
 * records every call and the leases it holds, and a raw HTTP client.
 */
import { request } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DiagLogger } from '@opentelemetry/api';
import type { Server } from 'node:http';
import type { LimiterLike } from '../src/http/types.ts';
import type {
  AcquireRequest,
  AcquireResult,
  DimensionState,
  Lease,
  RefusalReason,
  Usage,
} from '../src/types.ts';

export interface FakeLimiterOptions {
  rpm?: number;
  tpm?: number;
  concurrent?: number;
  /** Retry time reported on refusal. */
  retryAfterMs?: number;
  /** Refuse everything with this non-dimension reason. */
  refuseWith?: RefusalReason;
  /** acquire() rejects with this error. */
  throwOnAcquire?: Error;
}

export class FakeLimiter implements LimiterLike {
  readonly acquired: AcquireRequest[] = [];
  readonly settled: Array<{ lease: Lease; usage: Usage }> = [];
  readonly cancelled: Lease[] = [];
  /** Errors the limiter would have raised: settling or cancelling an unknown lease. */
  readonly misuse: string[] = [];
  readonly outstanding = new Map<string, Lease>();
  requests = 0;
  tokens = 0;
  #nextId = 1;
  #gate: Promise<void> | undefined;
  #openGate: (() => void) | undefined;
  readonly #o: Required<Omit<FakeLimiterOptions, 'refuseWith' | 'throwOnAcquire'>> & FakeLimiterOptions;

  constructor(options: FakeLimiterOptions = {}) {
    this.#o = { rpm: 100, tpm: 100_000, concurrent: 10, retryAfterMs: 12_300, ...options };
  }

  /** Make acquire() wait until `openGate()`. */
  closeGate(): void {
    this.#gate = new Promise((resolve) => (this.#openGate = resolve));
  }
  openGate(): void {
    this.#openGate?.();
    this.#gate = undefined;
  }

  async acquire(req: AcquireRequest): Promise<AcquireResult> {
    this.acquired.push(req);
    if (this.#gate) await this.#gate;
    if (this.#o.throwOnAcquire) throw this.#o.throwOnAcquire;
    const refuse = (reason: RefusalReason, refusedBy?: DimensionState): AcquireResult => {
      const result: AcquireResult = {
        allowed: false,
        reason,
        retryAfterMs: this.#o.retryAfterMs,
        dimensions: this.#states(req),
        level: 'normal',
      };
      if (refusedBy) result.refusedBy = refusedBy;
      return result;
    };
    if (this.#o.refuseWith) return refuse(this.#o.refuseWith);
    const states = this.#states(req);
    if (this.outstanding.size + 1 > this.#o.concurrent) return refuse('concurrent', states[2]);
    if (this.requests + 1 > this.#o.rpm) return refuse('rpm', states[0]);
    if (this.tokens + req.estimatedTokens > this.#o.tpm) return refuse('tpm', states[1]);
    this.requests += 1;
    this.tokens += req.estimatedTokens;
    const lease: Lease = {
      id: `lease-${this.#nextId++}`,
      subject: req.subject,
      reservedTokens: req.estimatedTokens,
      reservedCostMicroUsd: req.estimatedCostMicroUsd ?? 0,
      expiresAtMs: 0,
    };
    if (req.secondarySubject !== undefined) lease.secondarySubject = req.secondarySubject;
    this.outstanding.set(lease.id, lease);
    return { allowed: true, retryAfterMs: 0, dimensions: this.#states(req), lease, level: 'normal' };
  }

  async settle(lease: Lease, usage: Usage): Promise<void> {
    this.settled.push({ lease, usage });
    if (!this.outstanding.delete(lease.id)) this.misuse.push(`settle of unknown lease ${lease.id}`);
    this.tokens += usage.tokens - lease.reservedTokens;
  }

  async cancel(lease: Lease): Promise<void> {
    this.cancelled.push(lease);
    if (!this.outstanding.delete(lease.id)) this.misuse.push(`cancel of unknown lease ${lease.id}`);
    this.tokens -= lease.reservedTokens;
    this.requests -= 1;
  }

  /** rpm, tpm, concurrent of the primary subject, then rpm of the secondary. */
  #states(req: AcquireRequest): DimensionState[] {
    const s = (
      dimension: DimensionState['dimension'],
      subject: string,
      limit: number,
      current: number,
      windowSeconds: number,
    ): DimensionState => ({
      dimension,
      subject,
      limit,
      current,
      remaining: Math.max(0, limit - current),
      windowSeconds,
      resetMs: windowSeconds > 0 ? 30_000 : 0,
    });
    const states = [
      s('rpm', req.subject, this.#o.rpm, this.requests, 60),
      s('tpm', req.subject, this.#o.tpm, this.tokens, 60),
      s('concurrent', req.subject, this.#o.concurrent, this.outstanding.size, 0),
    ];
    if (req.secondarySubject !== undefined)
      states.push(s('rpm', req.secondarySubject, this.#o.rpm * 10, this.requests, 60));
    return states;
  }
}

export function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}

export async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return portOf(server);
}

export async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export interface SimpleResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One complete request/response. */
export async function fetchRaw(
  port: number,
  {
    method = 'GET',
    path = '/',
    headers = {},
    body,
  }: { method?: string; path?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<SimpleResponse> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return await new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        headers: {
          ...headers,
          ...(payload !== undefined
            ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }
            : {}),
        },
      },
      (res: IncomingMessage) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * Sends a request, waits for the response head and first body bytes, then destroys the
 * socket: a client that goes away mid-response.
 */
export async function abortAfterFirstChunk(
  port: number,
  { path = '/', headers = {} }: { path?: string; headers?: Record<string, string> } = {},
): Promise<number> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers }, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve(res.statusCode ?? 0);
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET') reject(err);
    });
    req.end();
  });
}

/** Sends a request and destroys the socket once `ready` resolves (before any response). */
export async function abortWhen(port: number, ready: Promise<unknown>, path = '/'): Promise<void> {
  await new Promise<void>((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.end();
    void ready.then(() => req.destroy());
  });
}

export async function waitFor(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A diag logger that keeps its warnings (set it with diag.setLogger(logger, DiagLogLevel.WARN)). */
export function warningCapture(): { warnings: string[]; logger: DiagLogger } {
  const warnings: string[] = [];
  const ignore = (): void => {};
  const warn = (m: string): void => void warnings.push(m);
  return { warnings, logger: { error: ignore, warn, info: ignore, debug: ignore, verbose: ignore } };
}
