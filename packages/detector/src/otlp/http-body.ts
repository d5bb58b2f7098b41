// Reads one OTLP/HTTP request body under explicit caps: wire bytes (Content-Length checked
// before reading, then counted as chunks arrive), decompressed bytes (a gzip bomb stops at the
// cap, zlib's maxOutputLength), and a deadline for the whole body (a slow sender cannot hold
// the request open). Never throws; every outcome is a value.
import { Buffer } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import { gunzip } from 'node:zlib';

export interface BodyLimits {
  maxBodyBytes: number;
  maxDecompressedBytes: number;
  bodyTimeoutMs: number;
}

export type BodyResult =
  | { ok: true; bytes: Buffer }
  | { ok: false; reason: 'too_large' | 'timeout' | 'bad_gzip'; message: string }
  | { ok: false; reason: 'aborted'; message: string };

export function readBody(req: IncomingMessage, gzip: boolean, limits: BodyLimits): Promise<BodyResult> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limits.maxBodyBytes) {
    return Promise.resolve({
      ok: false,
      reason: 'too_large',
      message: `body of ${declared} bytes exceeds the ${limits.maxBodyBytes}-byte limit`,
    });
  }
  return new Promise<BodyResult>((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (result: BodyResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAbort);
      req.off('aborted', onAbort);
      req.off('close', onClose);
      // Stop reading: the caller answers and closes the connection on every failure.
      if (!result.ok) req.pause();
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limits.maxBodyBytes) {
        finish({ ok: false, reason: 'too_large', message: `body exceeds the ${limits.maxBodyBytes}-byte limit` });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      if (!gzip) {
        finish({ ok: true, bytes: raw });
        return;
      }
      gunzip(raw, { maxOutputLength: limits.maxDecompressedBytes }, (err, out) => {
        if (err === null) finish({ ok: true, bytes: out });
        else if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
          finish({
            ok: false,
            reason: 'too_large',
            message: `decompressed body exceeds the ${limits.maxDecompressedBytes}-byte limit`,
          });
        } else finish({ ok: false, reason: 'bad_gzip', message: 'body is not valid gzip' });
      });
    };
    const onAbort = (): void => finish({ ok: false, reason: 'aborted', message: 'request aborted' });
    const onClose = (): void => {
      if (!req.complete) onAbort();
    };
    const timer = setTimeout(
      () => finish({ ok: false, reason: 'timeout', message: `body not received within ${limits.bodyTimeoutMs} ms` }),
      limits.bodyTimeoutMs,
    );
    timer.unref();
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onAbort);
    req.on('aborted', onAbort);
    req.on('close', onClose);
  });
}
