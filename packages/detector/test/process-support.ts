// A detector started as `llmsec detector` in a child process (the CLI's own entry point), with
// its structured stderr parsed: the ports it bound come from its "detector started" line. One
// started in a test is killed when the test ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onTestFinished, TestRunner } from 'vitest';
import { testTimeLeftMs } from '../../../test/support/time-left.ts';

const BIN = fileURLToPath(new URL('../../cli/src/bin.ts', import.meta.url));

export interface DetectorProcess {
  child: ChildProcess;
  httpUrl: string;
  grpcUrl: string;
  /** Every stderr line so far. */
  stderr(): string;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
  kill(signal: NodeJS.Signals): void;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'llmsec-detector-proc-'));
}

export function writeConfig(dir: string, name: string, config: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** Runs `llmsec detector ...args` to completion (for usage errors): exit code and output. */
export function runDetectorCli(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'detector', ...args], {
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Starts `llmsec detector --config FILE ...args` (environment: ours plus `env`) and waits for
 * its "detector started" log line, for as long as the running test's own timeout allows
 * (test/support/time-left.ts): the start is mostly module loading, CPU that a loaded host
 * stretches past any fixed bound (a 20 s one failed at load 20-28 on 2 cores).
 */
export async function startDetectorProcess(
  config: string,
  options: {
    args?: string[];
    env?: NodeJS.ProcessEnv;
    /** an fd for the child's stdout */ stdout?: number;
  } = {},
): Promise<DetectorProcess> {
  const timeoutMs = testTimeLeftMs();
  const child = spawn(process.execPath, [BIN, 'detector', '--config', config, ...(options.args ?? [])], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', options.stdout ?? 'pipe', 'pipe'],
  });
  let err = '';
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  // Started in a test: killed when the test ends, passed or failed, so no test file keeps its
  // own list of processes to kill. Started in a hook (or outside vitest): the caller's to stop.
  if (TestRunner.getCurrentTest() !== undefined)
    onTestFinished(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
  const started = await new Promise<{ otlp_http: string; otlp_grpc: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL'); // a hung start must not outlive the test
      reject(new Error(`detector did not start within ${timeoutMs} ms:\n${err}`));
    }, timeoutMs);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      for (const line of err.split('\n')) {
        if (!line.includes('"detector started"')) continue;
        clearTimeout(timer);
        resolve(JSON.parse(line) as { otlp_http: string; otlp_grpc: string });
        return;
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`detector exited (${code}) before starting:\n${err}`));
    });
  });
  return {
    child,
    httpUrl: `http://${started.otlp_http}`,
    grpcUrl: `http://${started.otlp_grpc}`,
    stderr: () => err,
    exited,
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}
