import { createInflateRaw, type InflateRaw } from 'node:zlib';
import { GzipFrames } from './gzip-frames.ts';

/**
 * `chunks` of a gzip file gunzipped, member by member: the framing (headers, trailers, padding)
 * read by GzipFrames, each deflate body inflated by a zlib InflateRaw stream of its own, which
 * stops at the body's end and takes nothing after it. Every byte inflated before an error is
 * yielded before it: the whole text of each verified member before trailing garbage or a bad
 * next member (Gunzip, given the garbage in the same call as the member's end, failed that call
 * and dropped its output, up to 16 KiB of the verified member's text); a truncated file's text
 * up to its cut, then 'unexpected end of file'; the source's own read error after all it gave.
 * A damaged body costs the output of zlib's call that met the damage (≤16 KiB: Node drops it;
 * what sat in the stream's buffer is still read). Pulled as consumed: the stream holds at most
 * its 16 KiB buffer while the consumer is slower (a gzip bomb stays a chunk at a time).
 */
export async function* gunzipMembers(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const frames = new GzipFrames();
  let body: InflateRaw | undefined;
  try {
    for await (const chunk of chunks) {
      let at = 0;
      while (at < chunk.length) {
        if (!frames.inBody) {
          at = frames.parse(chunk, at);
          continue;
        }
        body ??= quietInflateRaw();
        const from = frames.offset;
        const before = body.bytesWritten;
        try {
          yield* inflateInto(body, chunk.subarray(at), frames);
        } catch (error) {
          throw frames.damaged(error as Error, from);
        }
        const consumed = body.bytesWritten - before;
        at += consumed;
        frames.consumed(consumed);
        // zlib left input: it reached the body's end (it takes nothing past it). A body that
        // ends exactly with a chunk is found so at the next: zlib takes none of it.
        if (at < chunk.length) {
          frames.bodyEnded();
          body.destroy();
          body = undefined;
        }
      }
    }
    frames.end();
  } finally {
    body?.destroy();
  }
}

/** An InflateRaw whose errors are read per write (inflateInto); none is left unhandled between. */
function quietInflateRaw(): InflateRaw {
  const body = createInflateRaw();
  body.on('error', () => {});
  return body;
}

/**
 * `piece` written to `body`, and its output read and yielded as it comes, until zlib has done
 * with the piece (taken all of it, or stopped at the body's end); throws zlib's error after
 * yielding what the stream holds.
 */
async function* inflateInto(body: InflateRaw, piece: Buffer, frames: GzipFrames): AsyncGenerator<Buffer> {
  let done = false;
  let failure: { error: Error } | undefined;
  let wake: (() => void) | undefined;
  const signal = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const fail = (error: Error): void => {
    failure ??= { error };
    signal();
  };
  body.on('readable', signal);
  body.on('error', fail);
  try {
    body.write(piece, (error) => {
      if (error) fail(error);
      done = true;
      signal();
    });
    for (;;) {
      // Read before the failure is said: what the stream holds came before it.
      const out = body.read() as Buffer | null;
      if (out !== null) {
        frames.text(out);
        yield out;
        continue;
      }
      if (failure !== undefined) throw failure.error;
      if (done) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    body.off('readable', signal);
    body.off('error', fail);
  }
}
