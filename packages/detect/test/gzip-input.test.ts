// gunzipIfCompressed (llmsec replay's input): a gzip file or stream is read decompressed, any
// other input passes through unchanged, however the chunks cut it.
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
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
