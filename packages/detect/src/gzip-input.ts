import { once } from 'node:events';
import { constants, createGunzip } from 'node:zlib';

/**
 * An events file as logs are often kept (`events.jsonl.gz`, rotated by logrotate): its chunks
 * decompressed when it begins with gzip's magic bytes (RFC 1952: 1f 8b), as they are otherwise.
 * Without this every line of a compressed file was "malformed" and the replay found nothing.
 * Streaming, so a file of any size (or a gzip bomb) is held a chunk at a time; a corrupt file
 * ends the iteration with zlib's error. Input that begins with a UTF-16 or UTF-32 byte order mark
 * ends it with an error saying so (events JSONL is UTF-8) and how to convert it.
 */
export async function* gunzipIfCompressed(
  input: AsyncIterable<Buffer | string>,
): AsyncGenerator<Buffer | string> {
  const chunks = input[Symbol.asyncIterator]();
  const first = await chunks.next();
  if (first.done === true) return;
  let head = first.value;
  // The magic is two bytes, a UTF-32 byte order mark four, and a pipe may deliver fewer first
  // (a slow writer on stdin).
  while (typeof head !== 'string' && head.length < 4) {
    const next = await chunks.next();
    if (next.done === true) break;
    head =
      typeof next.value === 'string'
        ? Buffer.concat([head, Buffer.from(next.value)])
        : Buffer.concat([head, next.value]);
  }
  // A UTF-16 file (PowerShell's `>` writes one, with a byte order mark) read as UTF-8 is NUL
  // bytes between characters: every line "invalid JSON", and nothing said why. Its mark says it.
  // UTF-32's marks first: UTF-32LE's begins with UTF-16LE's (FF FE 00 00), and `iconv -f UTF-16`
  // would turn it into text with a NUL after every character.
  if (typeof head !== 'string' && head.length >= 2) {
    const encoding = byteOrderMark(head);
    if (encoding !== undefined) {
      throw new Error(
        `the input is ${encoding.name} (byte order mark ${encoding.mark}), and events JSONL is UTF-8: convert it first, e.g. iconv -f ${encoding.name} -t UTF-8`,
      );
    }
  }
  const rest: AsyncIterable<Buffer | string> = { [Symbol.asyncIterator]: () => chunks };
  if (!(typeof head !== 'string' && head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b)) {
    yield head;
    yield* rest;
    return;
  }
  yield* inflate(
    (async function* () {
      yield head;
      yield* rest;
    })(),
  );
}

/**
 * `source` gunzipped, every byte it holds that inflates before an error, then the error (the
 * source's own, a read error, comes after all it gave; zlib's, on a corrupt stream or garbage
 * after its end, costs the output of the call that failed, at most zlib's 16 KiB chunk). A cut
 * file ends in zlib's 'unexpected end of file': Gunzip raises it at its end (Z_FINISH) and
 * destroys itself, dropping what it still held, the output of that last call and what sat in
 * its readable buffer, which a consumer slower than zlib had not read yet (the replay of a
 * truncated .gz printed up to ~16 KiB of lines fewer, depending on timing). So the input's end
 * is flushed first (Z_SYNC_FLUSH: all it can inflate comes out, nothing fails), read to the
 * last byte, and only then ended, which reports the cut with nothing left to lose. The readable
 * side is read as it is consumed: zlib holds back while it is full (a gzip bomb stays a chunk).
 */
async function* inflate(source: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer> {
  const gunzip = createGunzip();
  let failure: { error: unknown } | undefined;
  let flushed = false;
  let ended = false;
  let wake: (() => void) | undefined;
  const signal = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const fail = (error: unknown): void => {
    failure ??= { error };
    signal();
  };
  gunzip.on('readable', signal);
  gunzip.on('end', () => {
    ended = true;
    signal();
  });
  gunzip.on('error', fail);
  // Aborted when the reading ends: a feed waiting for 'drain' stops, and closes the source.
  const stop = new AbortController();
  /** The source's own read error: said once what it gave before it was inflated and read. */
  let sourceFailure: { error: unknown } | undefined;
  const feed = async (): Promise<void> => {
    try {
      for await (const chunk of source) {
        if (stop.signal.aborted || failure !== undefined) return;
        // once() rejects with the stream's error (the reading loop says it) or the abort.
        if (!gunzip.write(chunk)) await once(gunzip, 'drain', { signal: stop.signal });
      }
    } catch (error) {
      // zlib's error or the abort: nothing more comes out of the stream.
      if (failure !== undefined || stop.signal.aborted) return;
      // The file's (EIO, a pipe's writer gone): zlib may still hold input it was given.
      sourceFailure = { error };
    }
    await new Promise<void>((resolve) => gunzip.flush(constants.Z_SYNC_FLUSH, () => resolve()));
    flushed = true;
    signal();
  };
  feed().catch(fail);
  try {
    for (;;) {
      const chunk = gunzip.read() as Buffer | null;
      if (chunk !== null) {
        yield chunk;
        continue;
      }
      if (failure !== undefined) throw failure.error;
      if (ended) return;
      // Everything inflatable read: the source's error, or the end, which checks the stream was
      // whole ('end', or zlib's error).
      if (flushed && sourceFailure !== undefined) throw sourceFailure.error;
      if (flushed && !gunzip.writableEnded) gunzip.end();
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    // Ended early (the consumer stopped, or an error): the feed stops at its next chunk.
    stop.abort();
    gunzip.destroy();
  }
}

/** The UTF-16 or UTF-32 encoding a byte order mark at the start of `head` names, if any. */
function byteOrderMark(head: Buffer): { name: string; mark: string } | undefined {
  const b = (i: number): number | undefined => head[i];
  if (b(0) === 0xff && b(1) === 0xfe && b(2) === 0 && b(3) === 0)
    return { name: 'UTF-32', mark: 'FF FE 00 00' };
  if (b(0) === 0 && b(1) === 0 && b(2) === 0xfe && b(3) === 0xff)
    return { name: 'UTF-32', mark: '00 00 FE FF' };
  if (b(0) === 0xff && b(1) === 0xfe) return { name: 'UTF-16', mark: 'FF FE' };
  if (b(0) === 0xfe && b(1) === 0xff) return { name: 'UTF-16', mark: 'FE FF' };
  return undefined;
}
