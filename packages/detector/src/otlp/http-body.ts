// Reads one OTLP/HTTP request body under explicit caps: wire bytes (Content-Length checked
// before reading, then counted as chunks arrive), decompressed bytes (a gzip or zstd bomb stops
// at the cap, zlib's maxOutputLength), and a deadline for the whole body (a slow sender cannot
// hold the request open), plus a budget shared by all requests in flight (wire and inflated
// bytes, a zstd decoder's window while it runs), so many concurrent large bodies cannot add up
// past it. Never throws; every outcome is a value.
import { Buffer } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import { decompressBody, zstdWindowLog, type BodyEncoding, type InflateResult } from '@llmsec/core/internal';

export interface BodyLimits {
  maxBodyBytes: number;
  maxDecompressedBytes: number;
  bodyTimeoutMs: number;
  /**
   * Slowest body taken, on average, once `bodyRateGraceMs` have passed: a body may take
   * bodyRateGraceMs + (bytes received so far) / minBodyBytesPerSecond, never more than
   * bodyTimeoutMs (Apache's mod_reqtimeout MinRate works so). Without it, with a long
   * bodyTimeoutMs a sender trickling a byte a second held its request, connection and buffer
   * for all of it.
   */
  minBodyBytesPerSecond: number;
  bodyRateGraceMs: number;
}

/** Bytes held by requests in flight, across the handler; a request over it is refused (busy). */
export class InflightBudget {
  used = 0;
  readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  take(bytes: number): boolean {
    if (this.used + bytes > this.max) return false;
    this.used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }
}

/** `held`: bytes this request took from the budget; the caller releases them when done. */
export type BodyResult =
  | { ok: true; bytes: Buffer; held: number }
  | {
      ok: false;
      reason: 'too_large' | 'timeout' | 'bad_encoding' | 'busy' | 'aborted';
      message: string;
      held: number;
    };

export function readBody(
  req: IncomingMessage,
  encoding: BodyEncoding,
  limits: BodyLimits,
  budget: InflightBudget,
): Promise<BodyResult> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limits.maxBodyBytes) {
    req.on('error', ignore);
    return Promise.resolve({
      ok: false,
      reason: 'too_large',
      message: `body of ${declared} bytes exceeds the ${limits.maxBodyBytes}-byte limit`,
      held: 0,
    });
  }
  return new Promise<BodyResult>((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let held = 0;
    let settled = false;
    let received = false;
    const busy = (): BodyResult => ({
      ok: false,
      reason: 'busy',
      message: 'too many bytes in flight; retry later',
      held,
    });
    const finish = (result: BodyResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAbort);
      req.off('aborted', onAbort);
      req.off('close', onClose);
      // Stop reading: the caller answers and closes the connection on every failure. The
      // sender may then reset the connection; a listener keeps that from ever being an
      // unhandled 'error' (Node emits it only to listeners today, but this is cheap insurance).
      if (!result.ok) {
        req.on('error', ignore);
        req.pause();
      }
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limits.maxBodyBytes) {
        finish({
          ok: false,
          reason: 'too_large',
          message: `body exceeds the ${limits.maxBodyBytes}-byte limit`,
          held,
        });
        return;
      }
      if (!budget.take(chunk.length)) {
        finish(busy());
        return;
      }
      held += chunk.length;
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      received = true;
      const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      if (encoding === 'identity') {
        finish({ ok: true, bytes: raw, held });
        return;
      }
      // A zstd decoder allocates the window its frame declares (up to the cap) while it runs.
      // Never more than an empty budget holds beside a whole body: the handler takes any budget
      // of maxBodyBytes + maxDecompressedBytes, and a smaller one than the window answered
      // every zstd export 429 for ever (retried by the sender, never taken).
      const window =
        encoding === 'zstd'
          ? Math.min(2 ** zstdWindowLog(limits.maxDecompressedBytes), budget.max - limits.maxBodyBytes)
          : 0;
      if (!budget.take(window)) {
        finish(busy());
        return;
      }
      decompressBody(raw, encoding, limits.maxDecompressedBytes, (out: InflateResult) => {
        budget.release(window);
        if (settled) return; // timed out meanwhile: take nothing more from the budget
        if (!out.ok) finish({ ...out, held });
        else if (!budget.take(out.bytes.length)) finish(busy());
        else {
          held += out.bytes.length;
          finish({ ok: true, bytes: out.bytes, held });
        }
      });
    };
    const onAbort = (): void => finish({ ok: false, reason: 'aborted', message: 'request aborted', held });
    const onClose = (): void => {
      if (!req.complete) onAbort();
    };
    // One timer, re-armed only when it fires early (bytes arrived since it was set): no timer
    // work per chunk. A monotonic clock: on the wall clock, a step back while a body trickled
    // re-armed the timer for the step's length, past every deadline.
    const start = performance.now();
    const hardEnd = start + limits.bodyTimeoutMs;
    const deadline = (): number =>
      received
        ? hardEnd
        : Math.min(
            hardEnd,
            start + limits.bodyRateGraceMs + Math.floor((size * 1000) / limits.minBodyBytesPerSecond),
          );
    const check = (): void => {
      const now = performance.now();
      const end = deadline();
      if (now < end) {
        timer = setTimeout(check, end - now);
        timer.unref();
        return;
      }
      finish({
        ok: false,
        reason: 'timeout',
        message:
          end < hardEnd
            ? `body arrived slower than ${limits.minBodyBytesPerSecond} bytes/s (${size} bytes in ${Math.round(now - start)} ms)`
            : `body not received within ${limits.bodyTimeoutMs} ms`,
        held,
      });
    };
    let timer = setTimeout(check, deadline() - start);
    timer.unref();
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onAbort);
    req.on('aborted', onAbort);
    req.on('close', onClose);
  });
}

function ignore(): void {}
