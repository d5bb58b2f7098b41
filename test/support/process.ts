import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinary } from './binaries.ts';
import { waitUntil } from './ports.ts';

/** A server process started by a test (Redis, Prometheus, Alertmanager), stopped by `stop()`. */
export interface ServerProcess {
  readonly child: ChildProcess;
  readonly dir: string;
  /** Everything the process printed, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Resolves true once the server answers. */
  ready: () => boolean | Promise<boolean>;
  readyTimeoutMs?: number;
  /** Working directory; default: a new temp dir removed on stop. */
  dir?: string;
  name?: string;
}

export async function startServer(
  command: string,
  args: (dir: string) => string[],
  options: StartOptions,
): Promise<ServerProcess> {
  // A missing binary rejects here with "install X (Debian package Y)", before anything starts.
  const bin = requireBinary(command);
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), `llmsec-${options.name ?? 'srv'}-`)));
  const child = spawn(bin, args(dir), { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const append = (chunk: Buffer): void => {
    out = (out + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  let exited = false;
  let spawnError: Error | undefined;
  child.on('exit', () => {
    exited = true;
  });
  // Without a listener a spawn failure (EACCES, or the binary removed since the lookup) is an
  // uncaught exception that kills the test worker; with one it fails this start-up.
  child.on('error', (err) => {
    spawnError = err;
    exited = true;
  });
  const proc: ServerProcess = {
    child,
    dir,
    output: () => out,
    stop: async () => {
      if (!exited) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await gone;
        clearTimeout(timer);
      }
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitUntil(
      async () => {
        if (spawnError !== undefined) throw spawnError;
        if (exited) throw new Error('exited');
        return await options.ready();
      },
      { timeoutMs: options.readyTimeoutMs ?? 20_000, what: `${command} to be ready` },
    );
  } catch (err) {
    await proc.stop();
    throw new Error(`${command} did not start: ${(err as Error).message}\n${out}`);
  }
  if (exited) throw new Error(`${command} exited during start-up:\n${out}`);
  return proc;
}
