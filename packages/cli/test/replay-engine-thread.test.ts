import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { command, runReplayHere } from '../src/commands/replay.ts';
import { line } from './replay-io.ts';

// `llmsec replay FILE` runs on an engine thread of its own (a capped young generation, issue 13)
// and forwards its output; the same command run in place must write the same bytes in the same
// order, save the timing figures of the summary.
const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const block = (i: number, ms: number, user: string) =>
  line({
    event_id: `b${i}`,
    timestamp: new Date(T0 + ms).toISOString(),
    category: 'guardrail_block',
    severity: 'warning',
    user_id: user,
    trace_id: i.toString(16).padStart(32, '0'),
    metadata: { guardrail_layer: 'injection', block_reason: 'jailbreak' },
  });

async function capture(
  run: (argv: string[], io: { stdin: Readable; stdout: PassThrough; stderr: PassThrough }) => Promise<number>,
  argv: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await run(argv, { stdin: Readable.from([]), stdout, stderr });
  // Timing figures differ between any two runs, and a rate is printed only after 0.1 s.
  err = err.replace(/ \(\d+ lines(\/s| per CPU second)\)/g, '').replace(/\d+\.\d+ s/g, 'T');
  return { code, stdout: out, stderr: err };
}

describe('llmsec replay on its engine thread', () => {
  // Twelve replays, eight of them each starting an engine thread: 15 s alone, past the default
  // 30 s at load 17-20.
  it('writes what the command writes in place, in the same order', async () => {
    const input: string[] = [];
    for (let i = 0; i < 400; i++) {
      input.push(block(i, i * 3_000, `u${i % 7}`));
      if (i % 50 === 10) input.push('{"event_id": "x"', 'not json');
    }
    input.push(block(999, 3_600_000, 'late'));
    const dir = mkdtempSync(join(tmpdir(), 'llmsec-replay-thread-'));
    const path = join(dir, 'events.jsonl');
    writeFileSync(path, input.join('\n'));
    for (const threads of [[], ['--threads', '1']]) {
      for (const format of [[], ['--format', 'table']]) {
        const argv = [path, ...threads, ...format];
        const forwarded = await capture((a, io) => command.run(a, io), argv);
        const inPlace = await capture(runReplayHere, argv);
        expect(forwarded.code).toBe(0);
        expect(forwarded.stdout.length).toBeGreaterThan(100);
        expect(forwarded.stdout).toBe(inPlace.stdout);
        expect(forwarded.stderr).toBe(inPlace.stderr);
        expect(forwarded.stderr).toMatch(/^line \d+: /);
        expect(forwarded.stderr).toContain('16 malformed');
      }
    }
    // Exit codes and messages of a missing file and a bad rule file come through too.
    for (const argv of [[join(dir, 'missing.jsonl')], [path, '--rules', join(dir, 'missing-rules.yaml')]]) {
      const forwarded = await capture((a, io) => command.run(a, io), argv);
      const inPlace = await capture(runReplayHere, argv);
      expect(forwarded.code).not.toBe(0);
      expect(forwarded).toEqual(inPlace);
    }
  }, 300_000);
});
