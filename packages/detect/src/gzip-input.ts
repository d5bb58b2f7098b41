import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';

/**
 * An events file as logs are often kept (`events.jsonl.gz`, rotated by logrotate): its chunks
 * decompressed when it begins with gzip's magic bytes (RFC 1952: 1f 8b), as they are otherwise.
 * Without this every line of a compressed file was "malformed" and the replay found nothing.
 * Streaming, so a file of any size (or a gzip bomb) is held a chunk at a time; a corrupt file
 * ends the iteration with zlib's error. Input that begins with a UTF-16 byte order mark ends it
 * with an error saying so (events JSONL is UTF-8).
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
  // A UTF-16 file (PowerShell's `>` writes one, with a byte order mark) read as UTF-8 is NUL
  // bytes between characters: every line "invalid JSON", and nothing said why. Its mark says it.
  if (typeof head !== 'string' && head.length >= 2) {
    const bom =
      head[0] === 0xff && head[1] === 0xfe ? 'FF FE' : head[0] === 0xfe && head[1] === 0xff ? 'FE FF' : '';
    if (bom !== '') {
      throw new Error(
        `the input is UTF-16 (byte order mark ${bom}), and events JSONL is UTF-8: convert it first, e.g. iconv -f UTF-16 -t UTF-8`,
      );
    }
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
