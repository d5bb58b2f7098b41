// The detector's JSON log on stderr. Node writes a stderr pipe asynchronously: with its reader
// stalled (a log shipper that hung), every line (one per alert, per warning) was held in the
// process's memory without limit.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createJsonLogger } from '../src/service/log.ts';

/** A stream that takes nothing until released: a pipe whose reader stalled. */
function stalled(): { stream: Writable; taken: string[]; release: () => Promise<void> } {
  const held: (() => void)[] = [];
  const taken: string[] = [];
  const stream = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _enc, cb) {
      held.push(() => {
        taken.push(chunk.toString());
        cb();
      });
    },
  });
  const release = async (): Promise<void> => {
    while (held.length > 0) {
      held.shift()!();
      await new Promise((r) => setImmediate(r));
    }
  };
  return { stream, taken, release };
}

describe('createJsonLogger', () => {
  it('holds at most maxBufferedBytes for a stalled stream, drops the rest, and says how many once the reader is back', async () => {
    const { stream, taken, release } = stalled();
    const log = createJsonLogger({ stream, maxBufferedBytes: 1_000, now: () => 0 });
    for (let i = 0; i < 10_000; i++) log.info('alert', { i });
    // One turn's burst may hold 16 times the bound; a later turn, nothing having been taken, none.
    expect(stream.writableLength).toBeLessThanOrEqual(16_000);
    const held = stream.writableLength;
    await new Promise((r) => setImmediate(r));
    log.info('alert', { i: 'late' });
    expect(stream.writableLength).toBe(held);
    await release();
    const kept = taken.length;
    expect(kept).toBeGreaterThan(80);
    expect(kept).toBeLessThan(480);

    log.warn('after');
    await release();
    const lines = taken.slice(kept).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      {
        time: '1970-01-01T00:00:00.000Z',
        level: 'warn',
        msg: 'log lines dropped: the log reader did not keep up',
        dropped: 10_001 - kept,
      },
      { time: '1970-01-01T00:00:00.000Z', level: 'warn', msg: 'after' },
    ]);
    log.info('again');
    await release();
    expect(JSON.parse(taken.at(-1)!)).toMatchObject({ msg: 'again' }); // no second note
    expect(taken).toHaveLength(kept + 3);
  });

  it('writes every line to a stream that keeps up, below the level nothing', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const log = createJsonLogger({ stream, level: 'info', base: { service: 's' }, now: () => 0 });
    // 20,000 lines in one turn (~2.5 MB: one per alert of a sweep that resolves thousands at
    // once): no stream takes anything within a turn, so the bound is not theirs.
    for (let i = 0; i < 20_000; i++) log.info('x', { i, error: new Error('boom') });
    log.debug('hidden');
    await new Promise((r) => setImmediate(r));
    expect(lines).toHaveLength(20_000);
    expect(lines.some((l) => l.includes('log lines dropped'))).toBe(false);
    expect(JSON.parse(lines[0]!)).toEqual({
      time: '1970-01-01T00:00:00.000Z',
      level: 'info',
      msg: 'x',
      service: 's',
      i: 0,
      error: { name: 'Error', message: 'boom' },
    });
  });
});
