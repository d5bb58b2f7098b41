// gunzipIfCompressed (llmsec replay's input): a gzip file or stream is read decompressed, any
// other input passes through unchanged, however the chunks cut it. A cut one yields every byte
// that inflates before its error, however slowly it is read.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { constants, gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it, vi } from 'vitest';
import { gunzipIfCompressed } from '../src/gzip-input.ts';

async function read(chunks: (Buffer | string)[]): Promise<string> {
  async function* source(): AsyncGenerator<Buffer | string> {
    yield* chunks;
  }
  const out: Buffer[] = [];
  for await (const c of gunzipIfCompressed(source())) out.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(out).toString('utf8');
}

describe('gunzipIfCompressed', () => {
  const text = '{"a":1}\n{"b":2}\n';
  const gz = gzipSync(text);

  it('decompresses whatever the first chunk holds of the magic (a pipe may deliver one byte first)', async () => {
    for (let cut = 0; cut <= 3; cut++) {
      expect(await read([gz.subarray(0, cut), gz.subarray(cut)])).toBe(text);
    }
    expect(await read([gz.subarray(0, 1), gz.subarray(1, 2), gz.subarray(2)])).toBe(text);
  });

  it('passes other input through unchanged, one byte first or not, and an empty one as empty', async () => {
    const plain = Buffer.from(text);
    expect(await read([plain.subarray(0, 1), plain.subarray(1)])).toBe(text);
    expect(await read([Buffer.from([0x1f])])).toBe('\x1f');
    expect(await read([text])).toBe(text);
    expect(await read([])).toBe('');
  });
});

/** A text of `lines` JSON lines of varied length (inflates to ~3.8 MB for 30,000). */
function lines(count: number): string {
  let text = '';
  for (let i = 0; i < count; i++)
    text += `${JSON.stringify({ i, pad: 'x'.repeat(100 + ((i * 7919) % 97)) })}\n`;
  return text;
}

/** `bytes` in chunks of `size`, as a file stream delivers them. */
async function* chunked(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

/** What gunzipIfCompressed yields before it throws (or ends), read `slow`ly or not. */
async function drain(
  source: AsyncIterable<Buffer>,
  slow: boolean,
): Promise<{ bytes: number; error: Error | undefined }> {
  let bytes = 0;
  try {
    for await (const c of gunzipIfCompressed(source)) {
      bytes += c.length;
      // A consumer slower than zlib (the replay's reader waits for the engine): zlib runs ahead.
      if (slow) await nextTurn();
    }
  } catch (err) {
    return { bytes, error: err as Error };
  }
  return { bytes, error: undefined };
}

describe('gunzipIfCompressed of a cut file', () => {
  const text = lines(30_000);
  const gz = gzipSync(text);

  it('yields every byte that inflates before the cut, then fails, read fast or slowly', async () => {
    for (const fraction of [0.25, 0.5, 0.75, 0.999]) {
      const cut = gz.subarray(0, Math.floor(gz.length * fraction));
      const inflatable = gunzipSync(cut, { finishFlush: constants.Z_SYNC_FLUSH }).length;
      for (const slow of [false, true]) {
        for (const size of [512 << 10, 16 << 10]) {
          const read = await drain(chunked(cut, size), slow);
          const at = `fraction ${fraction}, ${slow ? 'slow' : 'fast'}, chunks of ${size}`;
          expect(read.error?.message, at).toBe('unexpected end of file');
          expect(read.bytes, at).toBe(inflatable);
        }
      }
    }
  });

  it('a whole file, or two members end to end, inflates whole without an error', async () => {
    const second = lines(500);
    for (const slow of [false, true]) {
      expect(await drain(chunked(gz, 64 << 10), slow)).toEqual({ bytes: text.length, error: undefined });
      const two = Buffer.concat([gz, gzipSync(second)]);
      expect(await drain(chunked(two, 64 << 10), slow)).toEqual({
        bytes: text.length + second.length,
        error: undefined,
      });
    }
  });

  it("a corrupt member fails with zlib's error; the source's own error comes through", async () => {
    const corrupt = Buffer.from(gz);
    corrupt.fill(0xff, 1_000, 1_100);
    const read = await drain(chunked(corrupt, 64 << 10), false);
    expect(read.error).toBeInstanceOf(Error);
    expect(read.error?.message).not.toBe('unexpected end of file');
    // A read error after the source gave some of the file (or all of it): every byte of what
    // it gave comes out first (zlib held input it had been given: before, 0 of 1,272,604 bytes
    // after two chunks, 2.6 of 5.1 MB after the whole file), then the source's error.
    for (const given of [64 << 10, 128 << 10, gz.length]) {
      async function* failing(): AsyncGenerator<Buffer> {
        yield* chunked(gz.subarray(0, given), 64 << 10);
        throw new Error('EIO: i/o error, read');
      }
      const inflatable = gunzipSync(gz.subarray(0, given), { finishFlush: constants.Z_SYNC_FLUSH }).length;
      for (const slow of [false, true]) {
        expect(await drain(failing(), slow), `${given} bytes given, ${slow ? 'slow' : 'fast'}`).toEqual({
          bytes: inflatable,
          error: new Error('EIO: i/o error, read'),
        });
      }
    }
  });

  it('a consumer that stops early closes the source', async () => {
    let closed = false;
    async function* source(): AsyncGenerator<Buffer> {
      try {
        yield* chunked(gz, 16 << 10);
      } finally {
        closed = true;
      }
    }
    for await (const _ of gunzipIfCompressed(source())) break;
    await vi.waitFor(() => expect(closed).toBe(true));
  });
});
