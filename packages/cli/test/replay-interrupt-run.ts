import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { line } from './replay-io.ts';

// A real `llmsec replay` process fed through a pipe the test keeps open (stdin, or a FIFO given
// as FILE), for the tests of a replay interrupted by SIGINT / SIGTERM (replay-interrupt*.test.ts).

export const BIN = fileURLToPath(new URL('../src/bin.ts', import.meta.url));
export const NODE = fileURLToPath(new URL('../../../node_modules/.bin/node', import.meta.url));
const T0 = Date.parse('2026-11-22T10:00:00.000Z');

/** Guardrail blocks 10 ms apart, 10 per user: every user fires rapid_guardrail_blocks. */
export function blockLine(i: number, users = 'u'): string {
  return line({
    event_id: `${users}b${i}`,
    timestamp: new Date(T0 + i * 10).toISOString(),
    category: 'guardrail_block',
    severity: 'warning',
    user_id: `${users}${Math.floor(i / 10)}`,
    metadata: { guardrail_layer: 'injection', block_reason: 'jailbreak' },
  });
}

/** What a replay of the first `lines` lines prints, not interrupted (one thread). */
export function replayOfFirst(lines: number): string {
  const file = join(mkdtempSync(join(tmpdir(), 'llmsec-interrupt-')), 'first.jsonl');
  writeFileSync(file, Array.from({ length: lines }, (_, i) => `${blockLine(i)}\n`).join(''));
  const run = spawnSync(NODE, ['--conditions=@llmsec/source', BIN, 'replay', file, '--threads', '1'], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  expect(run.status).toBe(0);
  return run.stdout;
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  pid: number;
}

export interface FedReplay {
  child: ChildProcess;
  /** Resolves when the first output shows on stdout; from then on no more lines are written. */
  output: Promise<void>;
  finished: Promise<Finished>;
}

/**
 * Starts a replay reading `input` ('stdin', or a FIFO given as FILE) and writes blockLine lines
 * (user ids starting with `users`) into it, at the pipe's pace, until alerts show on stdout. The
 * input is not ended before the replay says it was interrupted: it cannot finish by itself.
 */
export function fedReplay(args: string[], input: 'stdin' | 'fifo', users = 'u'): FedReplay {
  let fifo: string | undefined;
  if (input === 'fifo') {
    fifo = join(mkdtempSync(join(tmpdir(), 'llmsec-interrupt-')), 'events.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
  }
  const child = spawn(
    NODE,
    ['--conditions=@llmsec/source', BIN, 'replay', ...(fifo !== undefined ? [fifo] : []), ...args],
    { stdio: [input === 'stdin' ? 'pipe' : 'ignore', 'pipe', 'pipe'] },
  );
  const sink: Writable = input === 'stdin' ? child.stdin! : createWriteStream(fifo!);
  sink.on('error', () => undefined);
  let stdout = '';
  let stderr = '';
  let shown = false;
  let next = 0;
  const write = (): void => {
    while (!shown) {
      const chunk: string[] = [];
      for (let i = 0; i < 2_000; i++) chunk.push(blockLine(next++, users));
      if (!sink.write(`${chunk.join('\n')}\n`)) {
        sink.once('drain', write);
        return;
      }
    }
  };
  write();
  const output = new Promise<void>((resolve) => {
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
      shown = true;
      resolve();
    });
  });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
    // The summary came with the input still open; now the input ends, as a terminal's Ctrl-C
    // ends the writer too. A reader thread blocked reading a FIFO nobody writes to cannot be
    // stopped and would keep the process from exiting (packages/cli/README.md says so).
    if (stderr.includes('llmsec replay: interrupted by ')) sink.end();
  });
  const finished = new Promise<Finished>((resolve) => {
    child.on('close', (code, signal) => {
      sink.destroy();
      resolve({ code, signal, stdout, stderr, pid: child.pid! });
    });
  });
  return { child, output, finished };
}

/**
 * What every interrupted replay must show: exit 130 / 143 (not killed by the signal), whole
 * JSON lines on stdout, as many as the summary counts, the summary's "interrupted" line, and no
 * process left. Returns the lines it says it read.
 */
export function expectInterrupted(run: Finished, signal: 'SIGINT' | 'SIGTERM'): number {
  expect(run.stderr).not.toMatch(/cannot read|warning/);
  expect({ code: run.code, signal: run.signal }).toEqual({
    code: signal === 'SIGINT' ? 130 : 143,
    signal: null,
  });
  const said = new RegExp(`^llmsec replay: interrupted by ${signal} after (\\d+) lines; `, 'm').exec(
    run.stderr,
  );
  expect(said, run.stderr).not.toBeNull();
  const lines = Number(said![1]);
  expect(lines).toBeGreaterThan(0);
  expect(run.stdout.endsWith('\n')).toBe(true);
  const alerts = run.stdout.slice(0, -1).split('\n');
  for (const l of alerts) expect(() => JSON.parse(l) as unknown).not.toThrow();
  const counted = /^alerts: (\d+) firing, (\d+) resolved/m.exec(run.stderr);
  expect(counted, run.stderr).not.toBeNull();
  expect(alerts.length).toBe(Number(counted![1]) + Number(counted![2]));
  // No process left behind (worker threads are the process's own).
  expect(() => process.kill(run.pid, 0)).toThrow();
  return lines;
}
