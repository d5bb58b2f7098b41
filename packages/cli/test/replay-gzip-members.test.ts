// `llmsec replay` of a .gz with bytes after its last whole member (junk appended to the log, a
// next member half written at a crash) or a damaged member: every line of each verified member
// is replayed (its alerts printed, counted in the summary), then the replay says where the
// trouble is and exits 1. Before, Gunzip's error on the trailing bytes dropped the last ≤16 KiB
// of the whole member's text (its lines never replayed). Zero padding is ignored, as gzip does.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { constants, crc32, deflateRawSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { blockFloodFile, replayProcess as replay } from './replay-io.ts';

/** The summary's counts ("N lines, N events, ...") and its alerts line. */
const counts = (stderr: string): string | undefined =>
  /^llmsec replay: ([0-9]+ lines, [0-9]+ events, [^;]*);/m.exec(stderr)?.[1];
const alertsLine = (stderr: string): string | undefined => /^alerts: .*$/m.exec(stderr)?.[0];
const lastLine = (stderr: string): string | undefined => stderr.trimEnd().split('\n').at(-1);

describe('llmsec replay of a .gz with trailing bytes or a damaged member', () => {
  // 12,000 guardrail blocks, 10 per user: each user's ten fire and resolve an alert.
  const plain = blockFloodFile(12_000, 'llmsec-gz-members-');
  const dir = dirname(plain);
  const text = `${readFileSync(plain, 'utf8')}\n`;
  const half = text.indexOf('\n', text.length / 2) + 1;
  const first = text.slice(0, half);
  const second = text.slice(half);
  const file = (name: string, bytes: Buffer): string => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  };
  /** The replay of `lines` as a plain file: what a .gz holding them must give. */
  const expected = async (name: string, lines: string) => {
    const run = await replay([file(name, Buffer.from(lines)), '--threads', '1']);
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n').length).toBeGreaterThan(100);
    return run;
  };

  it('replays every line of the whole members before trailing garbage, then exits 1 naming the byte', async () => {
    const one = gzipSync(text);
    const two = Buffer.concat([gzipSync(first), gzipSync(second)]);
    const all = await expected('all.jsonl', text);
    for (const [name, members, whole] of [
      ['one.jsonl.gz', one, '1 whole gzip member'],
      ['two.jsonl.gz', two, '2 whole gzip members'],
    ] as const) {
      const path = file(name, Buffer.concat([members, Buffer.from('{"appended":"plain text"}\n')]));
      for (const threads of ['1', '2']) {
        const run = await replay([path, '--threads', threads]);
        const at = `${name}, --threads ${threads}`;
        expect(run.code, run.stderr).toBe(1);
        expect(run.stdout, at).toBe(all.stdout);
        expect(counts(run.stderr), at).toBe(counts(all.stderr));
        expect(alertsLine(run.stderr), at).toBe(alertsLine(all.stderr));
        expect(lastLine(run.stderr), at).toBe(
          `llmsec replay: cannot read ${path}: trailing garbage at byte ${members.length}: not a gzip member (the ${whole} before it, bytes 0-${members.length - 1}, were read)`,
        );
      }
    }
  }, 300_000);

  it('zero padding after the last member is ignored (exit 0, every line)', async () => {
    const all = await expected('all-z.jsonl', text);
    const path = file(
      'padded.jsonl.gz',
      Buffer.concat([gzipSync(first), gzipSync(second), Buffer.alloc(4096)]),
    );
    const run = await replay([path]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe(all.stdout);
    expect(counts(run.stderr)).toBe(counts(all.stderr));
  }, 300_000);

  it('damage in the second member: all lines of the first and of the second up to the damage, then exit 1', async () => {
    // The second member is `a` then `b`, `a` flushed so that `b` begins on a byte of its own;
    // that byte set to ff is a deflate block of type 3, which zlib refuses ("invalid block type").
    const a = second.slice(0, second.indexOf('\n', second.length / 2) + 1);
    const b = second.slice(a.length);
    const bodyA = deflateRawSync(a, { finishFlush: constants.Z_SYNC_FLUSH });
    const body = Buffer.concat([bodyA, deflateRawSync(b)]);
    body[bodyA.length] = 0xff;
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(crc32(second), 0);
    trailer.writeUInt32LE(Buffer.byteLength(second), 4);
    const one = gzipSync(first);
    const header = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
    const path = file('damaged.jsonl.gz', Buffer.concat([one, header, body, trailer]));
    for (const threads of ['1', '2']) {
      const run = await replay([path, '--threads', threads]);
      expect(run.code, run.stderr).toBe(1);
      expect(lastLine(run.stderr)).toMatch(
        new RegExp(
          `^llmsec replay: cannot read .*damaged\\.jsonl\\.gz: invalid block type \\(gzip member 2 from byte ${one.length}, `,
        ),
      );
      // Every line of `a` but those in its last 16 KiB (the output of zlib's call that met the damage).
      const read = Number(/^llmsec replay: ([0-9]+) lines/m.exec(run.stderr)?.[1]);
      const lines = (s: string): number => s.split('\n').length - 1;
      expect(read).toBeLessThanOrEqual(lines(first) + lines(a));
      expect(read).toBeGreaterThanOrEqual(lines(first) + lines(a.slice(0, a.length - (16 << 10))));
      // ... replayed as those lines are, alone.
      const prefix = text.split('\n').slice(0, read).join('\n') + '\n';
      const alone = await expected(`damaged-prefix-${threads}.jsonl`, prefix);
      expect(run.stdout).toBe(alone.stdout);
      expect(counts(run.stderr)).toBe(counts(alone.stderr));
    }
  }, 300_000);
});
