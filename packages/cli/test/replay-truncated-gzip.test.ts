// A gzip-compressed log cut short (a rotation still being written, a partial download): every
// complete line it holds can be decompressed, and `llmsec replay` says it cannot read the file
// (exit 1, 'unexpected end of file'). What it prints before giving up is not what those lines
// give: events read ahead but not yet run through the rules are dropped with the error, so the
// output is a prefix whose length depends on buffer sizes, and differs between --threads 1 and
// 2 (measured: 1,787 and 1,612 alert lines where the decodable lines give 2,297; no summary).
// Known defect, found by the acceptance sweep; not fixed here (replay's reader is being
// reworked). Fix: on a read error, run the events already decoded through the rules, flush, print
// the alerts and the summary, then report the error and exit 1 (the "nothing lost" rule, as
// zcat prints what it could inflate before its error). Then make this `it`.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants, gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { blockFloodFile } from './replay-io.ts';

const BIN = fileURLToPath(new URL('../bin/llmsec.mjs', import.meta.url));
const NODE = fileURLToPath(new URL('../../../node_modules/.bin/node', import.meta.url));

function replay(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(NODE, [BIN, 'replay', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('llmsec replay of a truncated gzip file', () => {
  it.fails(
    'prints the alerts of every line it could inflate, then fails (exit 1), on one thread and two',
    async () => {
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

      for (const threads of ['1', '2']) {
        const run = await replay([truncated, '--threads', threads]);
        expect(run.code, run.stderr).toBe(1);
        expect(run.stderr).toContain('unexpected end of file');
        expect(run.stdout, `--threads ${threads}`).toBe(expected.stdout);
      }
    },
    120_000,
  );
});
