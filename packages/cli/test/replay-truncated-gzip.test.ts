// A gzip-compressed log cut short (a rotation still being written, a partial download): every
// complete line it holds can be decompressed. llmsec replay runs those lines through the rules,
// flushes, prints their alerts and the summary, then says it cannot read the file (exit 1,
// 'unexpected end of file'), as zcat prints what it could inflate before its error. Found by the
// acceptance sweep: it printed a prefix of the alerts that depended on buffering (1,787 alert
// lines with --threads 1, 1,612 with 2, where the readable lines give 2,297) and no summary.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { constants, gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { blockFloodFile, replayProcess as replay } from './replay-io.ts';

describe('llmsec replay of a truncated gzip file', () => {
  it('prints the alerts of every line it could inflate, then fails (exit 1), on one thread and two', async () => {
    const plain = blockFloodFile(30_000, 'llmsec-gz-trunc-');
    const whole = gzipSync(readFileSync(plain));
    const cut = whole.subarray(0, Math.floor(whole.length * 0.75));
    const truncated = join(dirname(plain), 'events.jsonl.gz');
    writeFileSync(truncated, cut);
    // What the cut file holds: its complete lines, as gunzip inflates them before the end.
    const inflated = gunzipSync(cut, { finishFlush: constants.Z_SYNC_FLUSH }).toString('utf8');
    const readable = join(dirname(plain), 'readable.jsonl');
    writeFileSync(readable, inflated.slice(0, inflated.lastIndexOf('\n') + 1));
    const expected = await replay([readable, '--threads', '1']);
    expect(expected.code).toBe(0);
    expect(expected.stdout.split('\n').length).toBeGreaterThan(1_000);

    // The summary of the readable lines, then the error, last.
    const counts = (stderr: string) =>
      /^llmsec replay: ([0-9]+ lines, [0-9]+ events, [^;]*);/m.exec(stderr)?.[1];
    const alertsLine = (stderr: string) => /^alerts: .*$/m.exec(stderr)?.[0];
    expect(counts(expected.stderr)).toBeDefined();
    for (const threads of ['1', '2']) {
      const run = await replay([truncated, '--threads', threads]);
      expect(run.code, run.stderr).toBe(1);
      expect(run.stdout, `--threads ${threads}`).toBe(expected.stdout);
      expect(counts(run.stderr), `--threads ${threads}`).toBe(counts(expected.stderr));
      expect(alertsLine(run.stderr)).toBe(alertsLine(expected.stderr));
      expect(run.stderr.trimEnd().split('\n').at(-1)).toMatch(
        /^llmsec replay: cannot read .*events\.jsonl\.gz: unexpected end of file$/,
      );
    }
  }, 300_000);
});
