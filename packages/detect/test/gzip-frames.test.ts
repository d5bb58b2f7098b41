// gunzipIfCompressed member by member (gzip-frames.ts, gzip-inflate.ts): the text of a verified member is never
// lost to what follows it. Before, Node's Gunzip failed on bytes after a whole member that were
// no member (a log with junk appended, a next member half written at a crash) and dropped the
// output of the call that failed: up to 16 KiB of the whole member's text. Zero padding is
// ignored as gzip(1) ignores it; a damaged member gives its text up to the damage, less the
// output of zlib's call that met it (≤16 KiB, as before).
import { constants, crc32, createGzip, deflateRawSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { gunzipIfCompressed } from '../src/gzip-input.ts';

/** `lines` JSON lines of varied length (~120-220 bytes each). */
function lines(count: number, from = 0): string {
  let text = '';
  for (let i = from; i < from + count; i++)
    text += `${JSON.stringify({ i, pad: 'x'.repeat(100 + ((i * 7919) % 97)) })}\n`;
  return text;
}

/** `bytes` in chunks of `size`, as a file stream delivers them. */
async function* chunked(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

/** The text gunzipIfCompressed yields, and the error it ends with, if any. */
async function read(bytes: Buffer, size: number): Promise<{ text: string; error: string | undefined }> {
  const out: Buffer[] = [];
  try {
    for await (const c of gunzipIfCompressed(chunked(bytes, size))) out.push(c as Buffer);
  } catch (err) {
    return { text: Buffer.concat(out).toString('utf8'), error: (err as Error).message };
  }
  return { text: Buffer.concat(out).toString('utf8'), error: undefined };
}

/** A member's CRC32 and ISIZE trailer for `text`. */
function trailer(text: string): Buffer {
  const t = Buffer.alloc(8);
  t.writeUInt32LE(crc32(text), 0);
  t.writeUInt32LE(Buffer.byteLength(text) % 2 ** 32, 4);
  return t;
}

const PLAIN_HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
const SIZES = [4096, 64 << 10, 1 << 20];

describe('gunzipIfCompressed: bytes after the last whole member', () => {
  const first = lines(30_000);
  const second = lines(700, 30_000);
  const one = gzipSync(first);
  const two = Buffer.concat([one, gzipSync(second)]);

  it('trailing garbage after one member: all its text, then an error at the garbage byte', async () => {
    // Junk, or plain JSONL appended to the .gz (a lone 1f is a member cut short: below).
    for (const garbage of ['junk\n', '{"plain":"line appended to the .gz"}\n']) {
      for (const size of SIZES) {
        const read1 = await read(Buffer.concat([one, Buffer.from(garbage)]), size);
        expect(read1.text.length, `chunks of ${size}`).toBe(first.length);
        expect(read1.text).toBe(first);
        expect(read1.error).toBe(
          `trailing garbage at byte ${one.length}: not a gzip member (the 1 whole gzip member before it, bytes 0-${one.length - 1}, were read)`,
        );
      }
    }
  });

  it('trailing garbage after two members: the text of both, then the error', async () => {
    for (const size of SIZES) {
      const got = await read(Buffer.concat([two, Buffer.from('garbage after two members')]), size);
      expect(got.text, `chunks of ${size}`).toBe(first + second);
      expect(got.error).toMatch(
        new RegExp(`^trailing garbage at byte ${two.length}: .*2 whole gzip members`),
      );
    }
  });

  it('zero padding (tape, dd) is ignored as gzip does; zeros then other bytes are garbage', async () => {
    for (const size of SIZES) {
      expect(await read(Buffer.concat([two, Buffer.alloc(10_000)]), size)).toEqual({
        text: first + second,
        error: undefined,
      });
      const got = await read(Buffer.concat([one, Buffer.alloc(512), Buffer.from('x')]), size);
      expect(got.text).toBe(first);
      expect(got.error).toMatch(new RegExp(`^trailing garbage at byte ${one.length}:`));
    }
  });

  it('a next member cut short (a crash mid-write): every byte it inflates, then unexpected end of file', async () => {
    const next = gzipSync(second);
    for (const keep of [1, 2, 9, 10, 200]) {
      const got = await read(Buffer.concat([one, next.subarray(0, keep)]), 4096);
      expect(got.error, `${keep} bytes of the next member`).toBe('unexpected end of file');
      expect(got.text.startsWith(first)).toBe(true);
      expect(second.startsWith(got.text.slice(first.length))).toBe(true);
    }
  });

  it('a next "member" with a bad method or reserved flags is refused where it begins', async () => {
    const badMethod = Buffer.concat([one, Buffer.from([0x1f, 0x8b, 7, 0, 0, 0, 0, 0, 0, 3])]);
    expect(await read(badMethod, 4096)).toEqual({
      text: first,
      error: `not a gzip member at byte ${one.length}: its compression method is 7, not deflate (8)`,
    });
    const reserved = Buffer.concat([one, Buffer.from([0x1f, 0x8b, 8, 0x20, 0, 0, 0, 0, 0, 3])]);
    expect((await read(reserved, 4096)).error).toMatch(/reserved bits/);
  });
});

describe('gunzipIfCompressed: headers', () => {
  const text = lines(200);
  /** A member with FEXTRA, FNAME, FCOMMENT and FHCRC, as RFC 1952 lays them out. */
  function fullHeader(hcrcDelta = 0): Buffer {
    const extra = Buffer.from([6, 0, 0x41, 0x42, 2, 0, 0x78, 0x79]); // XLEN 6: subfield AB, 2 bytes
    const head = Buffer.concat([
      Buffer.from([0x1f, 0x8b, 8, 0x02 | 0x04 | 0x08 | 0x10, 1, 2, 3, 4, 0, 3]),
      extra,
      Buffer.from('events.jsonl\0', 'latin1'),
      Buffer.from('rotated by logrotate\0', 'latin1'),
    ]);
    const hcrc = Buffer.alloc(2);
    hcrc.writeUInt16LE(((crc32(head) & 0xffff) + hcrcDelta) & 0xffff, 0);
    return Buffer.concat([head, hcrc, deflateRawSync(text), trailer(text)]);
  }

  it('FEXTRA, FNAME, FCOMMENT and FHCRC are read past, however the chunks cut them', async () => {
    const member = fullHeader();
    for (const size of [1, 3, 7, 4096]) {
      expect(await read(Buffer.concat([member, member]), size)).toEqual({
        text: text + text,
        error: undefined,
      });
    }
  });

  it('a header whose FHCRC does not match, or a file name over 64 KiB, is no member', async () => {
    expect((await read(fullHeader(1), 4096)).error).toBe(
      'not a gzip member at byte 0: its header fails its CRC16 check (FHCRC)',
    );
    const longName = Buffer.concat([
      Buffer.from([0x1f, 0x8b, 8, 0x08, 0, 0, 0, 0, 0, 3]),
      Buffer.alloc(100_000, 0x61),
      Buffer.from([0]),
      deflateRawSync(text),
      trailer(text),
    ]);
    expect((await read(longName, 4096)).error).toBe(
      'not a gzip member at byte 0: its file name is over 64 KiB',
    );
  });
});

describe('gunzipIfCompressed: a damaged member', () => {
  const first = lines(30_000);
  // The second member's text, A then B, deflated so that B's first block begins on a byte of
  // its own (A flushed with Z_SYNC_FLUSH): that byte set to ff is a block of type 3, which
  // zlib refuses ("invalid block type") right where the damage is.
  const a = lines(3_000, 30_000);
  const b = lines(3_000, 33_000);
  const bodyA = deflateRawSync(a, { finishFlush: constants.Z_SYNC_FLUSH });
  const body = Buffer.concat([bodyA, deflateRawSync(b)]);
  body[bodyA.length] = 0xff;
  const one = gzipSync(first);
  const damaged = Buffer.concat([one, PLAIN_HEADER, body, trailer(a + b)]);

  it("gives all the first member and the second up to the damage (less ≤16 KiB, zlib's call that met it)", async () => {
    for (const size of SIZES) {
      const got = await read(damaged, size);
      expect(got.error).toMatch(
        new RegExp(
          `^invalid block type \\(gzip member 2 from byte ${one.length}, damaged in the compressed bytes from [0-9]+; its text before that was read\\)$`,
        ),
      );
      expect(got.text.startsWith(first), `chunks of ${size}`).toBe(true);
      const ofSecond = got.text.slice(first.length);
      expect(a.startsWith(ofSecond)).toBe(true);
      // Node drops the output of zlib's call that failed, at most its 16 KiB chunk.
      expect(ofSecond.length, `chunks of ${size}`).toBeGreaterThanOrEqual(a.length - (16 << 10));
    }
  });

  it('a member whose text fails its CRC32: all of it given, then the check fails', async () => {
    const text = lines(1_000);
    const member = gzipSync(text);
    member.writeUInt32LE((member.readUInt32LE(member.length - 8) + 1) >>> 0, member.length - 8);
    const got = await read(Buffer.concat([one, member]), 4096);
    expect(got.text).toBe(first + text);
    expect(got.error).toBe(
      `gzip member 2 (bytes ${one.length}-${one.length + member.length - 1}) fails its CRC32 check: its text is damaged (all of it was read)`,
    );
  });
});

describe('gunzipIfCompressed: a gzip bomb', () => {
  it('is held a chunk at a time: the source is read only as the text is consumed', async () => {
    // 256 MiB of zeros in ~256 KB of gzip.
    const gzip = createGzip();
    const parts: Buffer[] = [];
    gzip.on('data', (c: Buffer) => parts.push(c));
    const zeros = Buffer.alloc(1 << 20);
    for (let i = 0; i < 256; i++) gzip.write(zeros);
    await new Promise((resolve) => gzip.end(resolve));
    const bomb = Buffer.concat(parts);
    let pulled = 0;
    async function* source(): AsyncGenerator<Buffer> {
      for (let at = 0; at < bomb.length; at += 16 << 10) {
        pulled++;
        yield bomb.subarray(at, at + (16 << 10));
      }
    }
    let chunks = 0;
    for await (const c of gunzipIfCompressed(source())) {
      expect(c.length).toBeLessThanOrEqual(16 << 10);
      if (++chunks === 200) break;
    }
    // 200 chunks are ≤3.2 MiB of zeros: the first 16 KiB of input inflate to ~16 MiB.
    expect(pulled).toBe(1);
  });
});
