// An interrupted replay whose stdout reader is slower than the replay (a pipe to a busy
// consumer): the alerts of what was read are its product, so the process ends only once they
// are written out. Before, bin.ts called process.exit() as soon as the summary was printed, and
// Node drops what a pipe has not taken yet (stdout on a pipe is asynchronous on Linux): only
// the ~64 KiB the pipe held arrived. The reader here takes nothing until the summary shows.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  BIN,
  blockLine,
  expectInterrupted,
  NODE,
  replayOfFirst,
  type Finished,
} from './replay-interrupt-run.ts';

/** Lines fed before the signal: ~2,000 alert lines, several times what a pipe holds. */
const LINES = 20_000;

describe('llmsec replay interrupted with its stdout not read yet', () => {
  it('writes out every alert before it exits (SIGTERM, stdin)', async () => {
    const child = spawn(NODE, ['--conditions=@llmsec/source', BIN, 'replay'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const input = child.stdin;
    input.on('error', () => undefined);
    // The pipe took every line but what it holds: the replay has read nearly all of them. The
    // input stays open, so the replay can end only by the signal.
    const all = Array.from({ length: LINES }, (_, i) => `${blockLine(i)}\n`).join('');
    if (!input.write(all)) await new Promise((r) => input.once('drain', r));
    child.kill('SIGTERM');
    let stderr = '';
    const summary = new Promise<void>((resolve) => {
      child.stderr.setEncoding('utf8').on('data', (c: string) => {
        stderr += c;
        if (/^alerts: /m.test(stderr) && stderr.includes('llmsec replay: interrupted by ')) resolve();
      });
    });
    // stdout is read only from here: until now the replay's alerts waited in its pipe.
    await summary;
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    const run = await new Promise<Finished>((resolve) =>
      child.on('close', (code, signal) => {
        input.destroy();
        resolve({ code, signal, stdout, stderr, pid: child.pid! });
      }),
    );
    const lines = /interrupted by SIGTERM after (\d+) lines/.exec(run.stderr)?.[1];
    expect(lines, run.stderr).toBeDefined();
    const expected = replayOfFirst(Number(lines));
    // More than a pipe and the reading side's buffer hold, or the test shows nothing.
    expect(expected.length).toBeGreaterThan(512 << 10);
    expect(run.stdout.length).toBe(expected.length);
    expect(run.stdout).toBe(expected);
    expectInterrupted(run, 'SIGTERM');
  }, 300_000);
});
