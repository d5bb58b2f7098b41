/**
 * A bounded JSON body reader for plain node:http servers, which have no body parser. It
 * stores the parsed body on `req.body`, so the guard's estimator and the handler both use the
 * one parse (the stream can be read only once). Express and Fastify users do not need it.
 */
import { kMaxLength } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import { bodyEncodingOf, decompressBody, type BodyEncoding } from '@llmsec/core/internal';

/** @default 1 MiB */
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;

export class RequestBodyError extends Error {
  /** The status to answer with: 413 (too large), 415 (an encoding not taken) or 400 (not JSON). */
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.name = 'RequestBodyError';
    this.status = status;
  }
}

/**
 * Reads and parses the JSON body (once; later calls return the same value). An empty body is
 * `undefined`. A body sent with `Content-Encoding` gzip (x-gzip), deflate or zstd is decompressed
 * first. Rejects with RequestBodyError (413) past `limitBytes` on the wire or decompressed,
 * without buffering more, (415) for another encoding, or (400) when the body is not JSON or
 * not valid in its encoding.
 */
export async function readJsonBody(
  req: IncomingMessage & { body?: unknown },
  { limitBytes = DEFAULT_BODY_LIMIT_BYTES }: { limitBytes?: number } = {},
): Promise<unknown> {
  if (req.body !== undefined) return req.body;
  // One read per request, shared by every caller (the estimator and the handler, possibly at
  // the same time): the stream can be consumed only once, and a second reader would wait for
  // an 'end' that already happened.
  let pending = reads.get(req);
  if (!pending) {
    pending = read(req, limitBytes);
    reads.set(req, pending);
  }
  return await pending;
}

const reads = new WeakMap<IncomingMessage, Promise<unknown>>();

async function read(req: IncomingMessage & { body?: unknown }, limitBytes: number): Promise<unknown> {
  // Consumed by someone else already: there is nothing left to read (and no 'end' to wait for).
  if (req.readableEnded) return undefined;
  const encoding = bodyEncodingOf(req.headers['content-encoding']);
  if (encoding === undefined) {
    const named = JSON.stringify(String(req.headers['content-encoding']).slice(0, 32));
    throw new RequestBodyError(
      `content-encoding ${named} is not supported: use gzip, deflate, zstd or none`,
      415,
    );
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) {
    throw new RequestBodyError(`request body exceeds ${limitBytes} bytes`, 413);
  }
  const chunks: Buffer[] = [];
  const size = await new Promise<number>((resolve, reject) => {
    let total = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer | string): void => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      total += buf.length;
      if (total > limitBytes) {
        // Stop buffering but leave the socket open, so the caller can still answer 413.
        cleanup();
        req.pause();
        reject(new RequestBodyError(`request body exceeds ${limitBytes} bytes`, 413));
        return;
      }
      chunks.push(buf);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(total);
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onClose = (): void => {
      cleanup();
      reject(new RequestBodyError('client closed the connection before the body ended', 400));
    };
    req.on('data', onData);
    req.once('close', onClose);
    req.once('end', onEnd);
    req.once('error', onError);
  });
  if (size === 0) return undefined;
  const raw = Buffer.concat(chunks, size);
  const bytes = encoding === 'identity' ? raw : await decompress(raw, encoding, limitBytes);
  try {
    req.body = JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    throw new RequestBodyError('request body is not valid JSON', 400);
  }
  return req.body;
}

/**
 * Decompresses under `limitBytes` of output (a gzip bomb stops there: 413), with core's decoder
 * (the detector's): a zstd frame's window is capped, deflate is taken with or without its zlib
 * header.
 */
function decompress(
  raw: Buffer,
  encoding: Exclude<BodyEncoding, 'identity'>,
  limitBytes: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    decompressBody(raw, encoding, Math.min(limitBytes, kMaxLength), (result) => {
      if (result.ok) resolve(result.bytes);
      else if (result.reason === 'too_large')
        reject(new RequestBodyError(`decompressed request body exceeds ${limitBytes} bytes`, 413));
      else
        reject(
          new RequestBodyError(
            `request body is not valid ${encoding === 'zlib' ? 'deflate' : encoding}`,
            400,
          ),
        );
    });
  });
}
