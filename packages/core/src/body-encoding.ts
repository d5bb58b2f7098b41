// The HTTP request Content-Encodings llmsec's servers take (the detector's OTLP/HTTP receiver,
// the rate-limit package's JSON body reader), and their decompression under a size cap. What
// the Collector's otlphttp exporter sends (confighttp `compression`, gzip by
// default; the header is the setting's name): gzip, zlib and deflate (both zlib format, RFC 1950,
// as HTTP's deflate is, RFC 9110 8.4.1.2), zstd (node:zlib has it since Node 23.8), and snappy
// and lz4, which node:zlib does not have: refused 415, naming what is taken.
import { Buffer } from 'node:buffer';
import { constants, gunzip, inflate, inflateRaw, zstdDecompress } from 'node:zlib';

export type BodyEncoding = 'identity' | 'gzip' | 'zlib' | 'zstd';

export const ACCEPTED_ENCODINGS = 'gzip, zstd, deflate, zlib or identity';

/** The encoding named by a Content-Encoding header, or undefined for one not taken (415). */
export function bodyEncodingOf(header: string | undefined): BodyEncoding | undefined {
  const name = (header ?? 'identity').trim().toLowerCase();
  if (name === 'identity' || name === '') return 'identity';
  // x-gzip: RFC 9110 8.4.1.3 asks recipients to take it as gzip.
  if (name === 'gzip' || name === 'x-gzip') return 'gzip';
  if (name === 'deflate' || name === 'zlib') return 'zlib';
  if (name === 'zstd') return 'zstd';
  return undefined;
}

/**
 * Largest zstd window a body may ask for, as a power of two. A zstd frame declares its window
 * and the decoder allocates it before producing a byte: a 20-byte frame declaring 2 GiB would
 * cost that much per request (zstd's own default limit is 128 MiB). 2^23 (8 MiB) is the window
 * of the Collector's zstd encoder at its default level; a larger cap on the decompressed body
 * raises it to cover that body (a window past the whole body is never needed), up to 2^27.
 */
export function zstdWindowLog(maxDecompressedBytes: number): number {
  const needed = Math.ceil(Math.log2(Math.max(1, maxDecompressedBytes)));
  return Math.min(27, Math.max(23, needed));
}

export type InflateResult =
  { ok: true; bytes: Buffer } | { ok: false; reason: 'too_large' | 'bad_encoding'; message: string };

/** Decompresses `raw` (not 'identity'); stops at `maxBytes` of output. Never throws. */
export function decompressBody(
  raw: Buffer,
  encoding: Exclude<BodyEncoding, 'identity'>,
  maxBytes: number,
  done: (result: InflateResult) => void,
): void {
  const callback = (err: Error | null, out: Buffer): void => {
    if (err === null) done({ ok: true, bytes: out });
    else if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
      done({
        ok: false,
        reason: 'too_large',
        message: `decompressed body exceeds the ${maxBytes}-byte limit`,
      });
    else done({ ok: false, reason: 'bad_encoding', message: `body is not valid ${encodingName(encoding)}` });
  };
  try {
    const options = { maxOutputLength: maxBytes };
    if (encoding === 'gzip') gunzip(raw, options, callback);
    else if (encoding === 'zstd')
      zstdDecompress(
        raw,
        { ...options, params: { [constants.ZSTD_d_windowLogMax]: zstdWindowLog(maxBytes) } },
        callback,
      );
    // Some senders' deflate is raw DEFLATE (RFC 1951) without the zlib header: taken too.
    else if (hasZlibHeader(raw)) inflate(raw, options, callback);
    else inflateRaw(raw, options, callback);
  } catch {
    done({ ok: false, reason: 'bad_encoding', message: `body is not valid ${encodingName(encoding)}` });
  }
}

/** RFC 1950 2.2: CM 8 (deflate), a window of at most 32 KiB, and CMF·256 + FLG a multiple of 31. */
function hasZlibHeader(raw: Buffer): boolean {
  if (raw.length < 2) return false;
  const cmf = raw[0]!;
  return (cmf & 0x0f) === 8 && cmf >> 4 <= 7 && (cmf * 256 + raw[1]!) % 31 === 0;
}

function encodingName(encoding: Exclude<BodyEncoding, 'identity'>): string {
  return encoding === 'zlib' ? 'deflate (zlib)' : encoding;
}
