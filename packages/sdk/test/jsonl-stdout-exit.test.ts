import { execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * `await sdk.shutdown(); process.exit()` loses no JSONL line on a slow stdout pipe. Node writes
 * stdout to a full pipe asynchronously: lines the stream had accepted but not yet handed to the
 * OS were lost at exit, because flush/shutdown waited only for 'drain', after which the writer
 * hands the stream up to its 16 KiB high-water mark of lines at once. The child's stdout is a
 * FIFO that this process reads 1 KiB at a time (a slow log shipper), so the pipe stays full and
 * those last lines are still queued in the child when its shutdown resolves, unless it waited.
 * Real child processes: the loss is in Node's stdout.
 */
const FIXTURE = fileURLToPath(new URL('./fixtures/jsonl-stdout-exit.ts', import.meta.url));
const EVENTS = 2000; // ~1 MB of lines: far more than the pipe's 64 KiB
const dir = mkdtempSync(join(tmpdir(), 'llmsec-jsonl-exit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stderr: string;
  /** stdout's lines (undefined when stdout was left unread). */
  lines: string[] | undefined;
}

let runs = 0;

function runChild(read: boolean, env: Record<string, string> = {}): Promise<Run> {
  const fifo = join(dir, `stdout-${runs++}`);
  execFileSync('mkfifo', [fifo]);
  // The read end first (non-blocking, so neither open waits for the other).
  const readFd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const writeFd = openSync(fifo, 'w');
  const child = spawn(process.execPath, ['--conditions=@llmsec/source', FIXTURE, String(EVENTS)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', writeFd, 'pipe'],
  });
  closeSync(writeFd); // the child holds the only write end: end of file when it exits
  const errors = child.stderr;
  if (errors === null) throw new Error('no stderr pipe');
  let stderr = '';
  errors.setEncoding('utf8');
  errors.on('data', (d: string) => (stderr += d));
  const stderrClosed = new Promise<void>((resolve) => errors.on('close', resolve));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', resolve);
  });
  const chunks: Buffer[] = [];
  const drained = !read
    ? Promise.resolve()
    : new Promise<void>((resolve, reject) => {
        const buf = Buffer.alloc(1024);
        const step = (): void => {
          try {
            const n = readSync(readFd, buf, 0, buf.length, null);
            if (n === 0) return resolve(); // end of file: the child exited
            chunks.push(Buffer.from(buf.subarray(0, n)));
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return reject(err as Error);
          }
          setTimeout(step, 0); // one small read per turn of the loop
        };
        step();
      });
  return Promise.all([exited, drained, stderrClosed]).then(([code]) => {
    closeSync(readFd);
    return {
      code,
      stderr,
      lines: read
        ? Buffer.concat(chunks)
            .toString('utf8')
            .split('\n')
            .filter((l) => l.length > 0)
        : undefined,
    };
  });
}

describe('JSONL to a stdout pipe at process exit', () => {
  it('every line written before `await shutdown()` reaches a slow reader', async () => {
    const run = await runChild(true, { OTEL_BLRP_EXPORT_TIMEOUT: '50000' }); // a bound far above the reading's
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`shutdown resolved, written ${EVENTS}`);
    const users = run.lines!.map((l) => (JSON.parse(l) as { user_id: string }).user_id);
    expect(users).toHaveLength(EVENTS);
    expect(users[EVENTS - 1]).toBe(`u${EVENTS - 1}`);
  }, 60_000);

  it('a stdout nobody reads does not hold shutdown past its bound (OTEL_BLRP_EXPORT_TIMEOUT)', async () => {
    // Without the bound shutdown would wait for a reader for ever and the child never exits
    // (this test then times out).
    const run = await runChild(false, { OTEL_BLRP_EXPORT_TIMEOUT: '300' });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`shutdown resolved, written`);
  }, 60_000);
});
