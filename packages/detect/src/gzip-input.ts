import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';

/**
 * An events file as logs are often kept (`events.jsonl.gz`, rotated by logrotate): its chunks
 * decompressed when it begins with gzip's magic bytes (RFC 1952: 1f 8b), as they are otherwise.
 * Without this every line of a compressed file was "malformed" and the replay found nothing.
 * Streaming, so a file of any size (or a gzip bomb) is held a chunk at a time; a corrupt file
 * ends the iteration with zlib's error.
 */
export async function* gunzipIfCompressed(
  input: AsyncIterable<Buffer | string>,
): AsyncGenerator<Buffer | string> {
  const chunks = input[Symbol.asyncIterator]();
  const first = await chunks.next();
  if (first.done === true) return;
  let head = first.value;
  // The magic is two bytes, and a pipe may deliver one first (a slow writer on stdin).
  while (typeof head !== 'string' && head.length < 2) {
    const next = await chunks.next();
    if (next.done === true) break;
    head =
      typeof next.value === 'string'
        ? Buffer.concat([head, Buffer.from(next.value)])
        : Buffer.concat([head, next.value]);
  }
  const rest: AsyncIterable<Buffer | string> = { [Symbol.asyncIterator]: () => chunks };
  if (!(typeof head !== 'string' && head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b)) {
    yield head;
    yield* rest;
    return;
  }
  const source = Readable.from(
    (async function* () {
      yield head;
      yield* rest;
    })(),
    { objectMode: false },
  );
  const gunzip = createGunzip();
  // pipeline destroys the gunzip stream with the first error (the file's or zlib's): the loop
  // below then throws it.
  pipeline(source, gunzip, () => undefined);
  yield* gunzip as AsyncIterable<Buffer>;
}
