import fc from 'fast-check';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { forEachLine, type LineReaderOptions } from '../src/index.ts';

interface Read {
  lines: [number, string][];
  overlong: [number, number][];
}

async function read(chunks: (string | Buffer)[], options: LineReaderOptions = {}): Promise<Read> {
  const out: Read = { lines: [], overlong: [] };
  await forEachLine(Readable.from(chunks), (line, n) => out.lines.push([n, line]), {
    ...options,
    onOverlong: (n, bytes) => out.overlong.push([n, bytes]),
  });
  return out;
}

/** The reference: split the whole text at once. */
function reference(text: string, max: number): Read {
  const out: Read = { lines: [], overlong: [] };
  const parts = text.split('\n');
  if (parts.at(-1) === '') parts.pop();
  parts.forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const bytes = Buffer.byteLength(line);
    if (bytes > max) out.overlong.push([i + 1, bytes]);
    else out.lines.push([i + 1, line]);
  });
  return out;
}

/** Cuts `text` into string or byte chunks at the given positions (bytes may split characters). */
function cut(text: string, sizes: number[], kinds: boolean[]): (string | Buffer)[] {
  const bytes = Buffer.from(text, 'utf8');
  const chunks: (string | Buffer)[] = [];
  let at = 0;
  let i = 0;
  while (at < bytes.length) {
    const size = sizes[i % sizes.length]!;
    // A string chunk holds whole characters: after a byte chunk that cut one, send bytes.
    const asBytes = kinds[i % kinds.length]! || (bytes[at]! & 0xc0) === 0x80;
    let end = Math.min(bytes.length, at + size);
    if (!asBytes) {
      // ...and ends at a character boundary.
      while (end < bytes.length && (bytes[end]! & 0xc0) === 0x80) end++;
      chunks.push(bytes.toString('utf8', at, end));
    } else {
      chunks.push(bytes.subarray(at, end));
    }
    at = end;
    i++;
  }
  return chunks;
}

describe('forEachLine', () => {
  it('gives the lines (and line numbers) of splitting the whole text, for any chunking', async () => {
    const line = fc.string({ unit: fc.constantFrom('a', 'é', '€', '𝄞', '\r', ' ', '{'), maxLength: 40 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(line, { maxLength: 12 }),
        fc.boolean(),
        fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 60 }),
        async (lines, trailingNewline, sizes, kinds, max) => {
          const text = lines.join('\n') + (trailingNewline && lines.length > 0 ? '\n' : '');
          const got = await read(cut(text, sizes, kinds), { maxLineBytes: max });
          expect(got).toEqual(reference(text, max));
        },
      ),
      { numRuns: 1500, seed: 12 },
    );
  });

  it('decodes a large byte chunk in windows without moving a line, however long the lines are', async () => {
    // A chunk's complete lines are decoded 64 KiB at a time, each window cut after its own last
    // newline: lines just under, at and over the window (one with no newline for 200 KiB),
    // multi-byte characters and CRLF across window edges, overlong lines among them.
    const window = 64 << 10;
    const sizes = [1, window - 2, window - 1, window, window + 1, 3 * window, 200 << 10, 17, 0, 40_000];
    let seed = 5;
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const units = ['a', 'é', '€', '𝄞', '\r', '{'];
    const lines: string[] = [];
    for (let i = 0; i < 24; i++) {
      const target = sizes[Math.floor(random() * sizes.length)]!;
      // The byte length is kept as the line grows: measuring the whole line at every step was
      // quadratic (up to 200 KiB measured ~2,000 times a line: >30 s on a loaded CI machine).
      let line = '';
      let bytes = 0;
      while (bytes < target) {
        const piece = units[Math.floor(random() * units.length)]!.repeat(97);
        line += piece;
        bytes += Buffer.byteLength(piece);
      }
      lines.push(line);
    }
    const text = lines.join('\n') + '\n';
    const max = 150_000;
    const want = reference(text, max);
    expect(want.overlong.length).toBeGreaterThan(0);
    for (const size of [512 << 10, 3 * window + 5]) {
      expect(await read(cut(text, [size], [true]), { maxLineBytes: max })).toEqual(want);
    }
    expect(await read([Buffer.from(text)], { maxLineBytes: max })).toEqual(want);
  });

  it('windows at every 64 KiB edge: lines of bytes (invalid UTF-8 too) as a byte-level split decodes them', async () => {
    // Random byte layouts around the decode window's edges: lines W-4..W+4 bytes long ending in a
    // multi-byte character, a CR, a lone lead or continuation byte, in chunks that are the
    // window, 512 KiB or the window plus or minus a few bytes. The reference splits the bytes at
    // each newline and decodes each line apart (no string split: invalid bytes are U+FFFD).
    const W = 64 << 10;
    const tails = [
      [],
      [0xc3, 0xa9],
      [0xe2, 0x82, 0xac],
      [0xf0, 0x9d, 0x84, 0x9e],
      [0x0d],
      [0xe2, 0x82],
      [0x80],
      [0xf0],
    ];
    const line = fc.tuple(
      fc.oneof(fc.integer({ min: W - 4, max: W + 4 }), fc.integer({ min: 0, max: 6 }), fc.constant(2 * W)),
      fc.constantFrom(...tails),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(line, { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        fc.constantFrom(W, W - 1, W + 1, W + 3, 512 << 10, 3 * W - 2),
        async (specs, trailingNewline, size) => {
          const lines = specs.map(([n, tail]) =>
            Buffer.concat([Buffer.alloc(Math.max(0, n - tail.length), 0x61), Buffer.from(tail)]),
          );
          const bytes = Buffer.concat(
            lines.flatMap((l, i) => (i < lines.length - 1 || trailingNewline ? [l, Buffer.from('\n')] : [l])),
          );
          const chunks: Buffer[] = [];
          for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
          const want: Read = { lines: [], overlong: [] };
          lines.forEach((l, i) => {
            const body = l.at(-1) === 0x0d ? l.subarray(0, -1) : l;
            if (i === lines.length - 1 && !trailingNewline && l.length === 0) return;
            want.lines.push([i + 1, body.toString('utf8')]);
          });
          expect(await read(chunks, { maxLineBytes: 4 * W })).toEqual(want);
        },
      ),
      { numRuns: 300, seed: 7 },
    );
  });

  it('drops a UTF-8 byte order mark at the start of the input (Windows tools write one), however the chunks cut it', async () => {
    const text = '{"a":1}\r\n{"b":2}\n';
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]);
    const want = [
      [1, '{"a":1}'],
      [2, '{"b":2}'],
    ];
    for (let cut = 1; cut < 6; cut++) {
      expect((await read([bytes.subarray(0, cut), bytes.subarray(cut)])).lines).toEqual(want);
    }
    expect((await read([bytes])).lines).toEqual(want);
    expect((await read(['\uFEFF' + text])).lines).toEqual(want);
    // Only at the start: elsewhere it is the line's content, left to the decoder.
    expect((await read(['x\n\uFEFFy\n'])).lines).toEqual([
      [1, 'x'],
      [2, '\uFEFFy'],
    ]);
    // Nor at the start of a continuation (a byte range of a file, from a line boundary on).
    expect((await read([bytes], { continuation: true })).lines).toEqual([
      [1, '\uFEFF{"a":1}'],
      [2, '{"b":2}'],
    ]);
  });

  it('skips a line over maxLineBytes with its number and length, and goes on', async () => {
    const long = 'x'.repeat(100);
    const text = `a\n${long}\nb\n${long}é\r\nc\n${long}`;
    for (const size of [1, 7, 64, 1000]) {
      const got = await read(cut(text, [size], [true]), { maxLineBytes: 50 });
      expect(got.lines).toEqual([
        [1, 'a'],
        [3, 'b'],
        [5, 'c'],
      ]);
      expect(got.overlong).toEqual([
        [2, 100],
        [4, 102],
        [6, 100],
      ]);
    }
  });

  it('counts the limit in UTF-8 bytes, not characters', async () => {
    const got = await read([Buffer.from('ééé\néé\n')], { maxLineBytes: 5 });
    expect(got.lines).toEqual([[2, 'éé']]);
    expect(got.overlong).toEqual([[1, 6]]);
  });

  it('defaults to 1 MiB and rejects a non-positive limit', async () => {
    const got = await read([Buffer.from(`${'y'.repeat((1 << 20) + 1)}\nok\n`)]);
    expect(got.overlong).toEqual([[1, (1 << 20) + 1]]);
    expect(got.lines).toEqual([[2, 'ok']]);
    await expect(read(['a'], { maxLineBytes: 0 })).rejects.toThrow(RangeError);
  });

  it('joins a line without newline in linear time (no re-concatenation per chunk)', async () => {
    // One line of n bytes in 16 KiB chunks, as bytes and as strings. Sizes 16x apart: linear
    // joining costs ~16x, quadratic (the old reader: concat or rescan per chunk) ~256x. The
    // bound, 64, is 4x from each, so a loaded machine (CPU time of this thread, best of five,
    // a 4 ms floor under the small size's noise) cannot fail it, and the quadratic reader,
    // ~3 s per 16 MiB run here, cannot pass it.
    const chunk = 16 << 10;
    const time = async (n: number, asString: boolean): Promise<number> => {
      const piece = asString ? 'z'.repeat(chunk) : Buffer.alloc(chunk, 0x7a);
      const chunks = Array.from({ length: n / chunk }, () => piece);
      let best = Infinity;
      for (let i = 0; i < 5; i++) {
        let length = 0;
        const t0 = process.threadCpuUsage();
        await forEachLine(Readable.from(chunks), (l) => (length = l.length), { maxLineBytes: Infinity });
        const t = process.threadCpuUsage(t0);
        best = Math.min(best, (t.user + t.system) / 1000);
        expect(length).toBe(n);
      }
      return best;
    };
    for (const asString of [false, true]) {
      const small = await time(1 << 20, asString);
      const large = await time(16 << 20, asString);
      expect(large / Math.max(small, 4), `${small.toFixed(1)} ms -> ${large.toFixed(1)} ms CPU`).toBeLessThan(
        64,
      );
    }
  });
});
