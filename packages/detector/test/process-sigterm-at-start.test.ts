import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { getFreePort } from '../../../test/support/ports.ts';
import { testTimeLeftMs } from '../../../test/support/time-left.ts';

const BIN = fileURLToPath(new URL('../../cli/src/bin.ts', import.meta.url));

// With --state redis://… unreachable, the detector waits for Redis (up to 5 s) before it
// listens and then detects locally. An orchestrator's SIGTERM in that window (a rollout, a
// scale-in) must get the documented stop, a drain and exit 0, not the default death by signal.
describe('llmsec detector stopped while it starts', () => {
  it('drains and exits 0 on a SIGTERM received while it waits for Redis', async () => {
    const closed = await getFreePort(); // nothing listens there
    const child = spawn(
      process.execPath,
      [
        BIN,
        'detector',
        '--otlp-http',
        '127.0.0.1:0',
        '--otlp-grpc',
        '127.0.0.1:0',
        '--state',
        `redis://127.0.0.1:${closed}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    const exited = new Promise<number | string>((resolve) =>
      child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
    );
    // The line comes after the CLI's modules load, which a loaded host stretches: the test's bound.
    const bound = testTimeLeftMs();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no Redis error logged in ${bound} ms:\n${stderr}`)),
        bound,
      );
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('"state redis error"')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    expect(stderr).not.toContain('"detector started"'); // still in its start-up wait
    child.kill('SIGTERM');
    const started = Date.now();
    const code = await Promise.race([
      exited,
      new Promise<string>((resolve) =>
        setTimeout(() => {
          child.kill('SIGKILL');
          resolve('hung');
        }, 20_000),
      ),
    ]);
    expect(code, stderr).toBe(0);
    expect(stderr).toContain('"signal":"SIGTERM"');
    expect(stderr).toContain('"detector stopped"');
    expect(Date.now() - started).toBeLessThan(15_000);
  }, 60_000);
});
