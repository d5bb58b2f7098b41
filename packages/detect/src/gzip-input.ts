import { gunzipMembers } from './gzip-inflate.ts';

/**
 * An events file as logs are often kept (`events.jsonl.gz`, rotated by logrotate): its chunks
 * decompressed when it begins with gzip's magic bytes (RFC 1952: 1f 8b), as they are otherwise.
 * Without this every line of a compressed file was "malformed" and the replay found nothing.
 * Streaming, so a file of any size (or a gzip bomb) is held a chunk at a time; a corrupt or
 * cut file, or bytes after the last member that are no member, end the iteration with an error
 * after all the text before them. Input that begins with a UTF-16 or UTF-32 byte order mark
 * ends it with an error saying so (events JSONL is UTF-8) and how to convert it.
 */
export async function* gunzipIfCompressed(
  input: AsyncIterable<Buffer | string>,
): AsyncGenerator<Buffer | string> {
  const chunks = input[Symbol.asyncIterator]();
  try {
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
    yield* gunzipMembers(
      (async function* () {
        yield head;
        for await (const chunk of rest) yield typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      })(),
    );
  } finally {
    // The consumer stopped early, or an error: the source is closed (a file's descriptor).
    await chunks.return?.();
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
