import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { readerSplit } from '../src/commands/replay-readers.ts';
import { cli, line } from './replay-io.ts';

/** LLMSEC_REPLAY_READERS: how many reader threads read a large regular file (bench knob). */

afterEach(() => {
  delete process.env.LLMSEC_REPLAY_READERS;
  delete process.env.LLMSEC_REPLAY_RAW_LINES;
});

describe('LLMSEC_REPLAY_READERS', () => {
  it('unset or empty: the default; 1 to 16: that many readers', () => {
    expect(readerSplit({})).toBeUndefined();
    expect(readerSplit({ LLMSEC_REPLAY_READERS: '' })).toBeUndefined();
    expect(readerSplit({ LLMSEC_REPLAY_READERS: '1' })).toEqual({ readers: 1 });
    expect(readerSplit({ LLMSEC_REPLAY_READERS: '16' })).toEqual({ readers: 16 });
  });

  it('anything else is a usage error (exit 2) naming the variable, before anything is read', async () => {
    for (const bad of ['0', '17', '2.5', ' 2', 'two', '-1', '1e1']) {
      expect(() => readerSplit({ LLMSEC_REPLAY_READERS: bad }), bad).toThrow(/LLMSEC_REPLAY_READERS/);
    }
    const dir = mkdtempSync(join(tmpdir(), 'llmsec-replay-readers-'));
    const file = join(dir, 'events.jsonl');
    writeFileSync(
      file,
      line({
        event_id: 'e1',
        timestamp: '2026-11-22T10:00:00.000Z',
        category: 'request_completed',
        severity: 'info',
        user_id: 'u1',
      }),
    );
    process.env.LLMSEC_REPLAY_READERS = 'lots';
    const bad = await cli(['replay', file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/LLMSEC_REPLAY_READERS must be a whole number from 1 to 16, got "lots"/);
    expect(bad.stdout).toBe('');
    process.env.LLMSEC_REPLAY_READERS = '2';
    const good = await cli(['replay', file]);
    expect(good.code).toBe(0);
  });

  it('LLMSEC_REPLAY_RAW_LINES: auto, never or always (beside the readers), else a usage error', async () => {
    expect(readerSplit({ LLMSEC_REPLAY_RAW_LINES: '' })).toBeUndefined();
    expect(readerSplit({ LLMSEC_REPLAY_RAW_LINES: 'never' })).toEqual({ rawLines: 'never' });
    expect(readerSplit({ LLMSEC_REPLAY_READERS: '2', LLMSEC_REPLAY_RAW_LINES: 'always' })).toEqual({
      readers: 2,
      rawLines: 'always',
    });
    for (const bad of ['yes', 'AUTO', ' never', '1']) {
      expect(() => readerSplit({ LLMSEC_REPLAY_RAW_LINES: bad }), bad).toThrow(/LLMSEC_REPLAY_RAW_LINES/);
    }
    const dir = mkdtempSync(join(tmpdir(), 'llmsec-replay-raw-'));
    const file = join(dir, 'events.jsonl');
    writeFileSync(
      file,
      line({
        event_id: 'e1',
        timestamp: '2026-11-22T10:00:00.000Z',
        category: 'request_completed',
        severity: 'info',
        user_id: 'u1',
      }) + '\nnot json\n',
    );
    process.env.LLMSEC_REPLAY_RAW_LINES = 'sometimes';
    const bad = await cli(['replay', file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/LLMSEC_REPLAY_RAW_LINES must be auto, never or always, got "sometimes"/);
    // Accepted, same answer (whether a file this small reaches the reader's raw batches, read
    // before the rules come, is the detect tests' concern: replay-pipeline.test.ts).
    process.env.LLMSEC_REPLAY_RAW_LINES = 'always';
    const good = await cli(['replay', file]);
    expect(good.code).toBe(0);
    expect(good.stderr).toMatch(/^line 2: invalid JSON/m);
    expect(good.stderr).toMatch(/1 events, 1 malformed/);
  });
});
