import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getFreePort } from './ports.ts';
import { startServer, type ServerProcess } from './process.ts';

/** Debian's package installs the binary under this name (not `alertmanager`). */
export const ALERTMANAGER_BIN = 'prometheus-alertmanager';
export const AMTOOL_BIN = 'amtool';

export interface AlertmanagerHandle {
  /** Base URL, e.g. http://127.0.0.1:41234 (the sink appends /api/v2/alerts). */
  readonly url: string;
  readonly port: number;
  /** Everything Alertmanager printed since the last (re)start, for failure messages. */
  output(): string;
  /** Stops the process and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
  /** Stops and starts again on the same port with fresh storage: Alertmanager forgets its alerts. */
  restart(): Promise<void>;
}

export interface StartAlertmanagerOptions {
  /** alertmanager.yml text. */
  config: string;
  /** Listen port; default: a free one. Given, a test can point a sink at an Alertmanager not started yet. */
  port?: number;
  readyTimeoutMs?: number;
}

/**
 * Starts a real Alertmanager on 127.0.0.1 in a temp dir, with clustering disabled: an empty
 * --cluster.listen-address, otherwise it binds 0.0.0.0:9094 (colliding between parallel tests)
 * and waits for the gossip to settle before it notifies. Ready once GET /-/ready answers 200.
 */
export async function startAlertmanager(options: StartAlertmanagerOptions): Promise<AlertmanagerHandle> {
  const port = options.port ?? (await getFreePort());
  const url = `http://127.0.0.1:${port}`;
  let dir = '';
  const launch = async (): Promise<ServerProcess> => {
    // The config must exist before the process starts, so the dir is ours, not startServer's.
    dir = await mkdtemp(join(tmpdir(), 'llmsec-alertmanager-'));
    await writeFile(join(dir, 'alertmanager.yml'), options.config);
    return await startServer(
      ALERTMANAGER_BIN,
      (d) => [
        `--config.file=${join(d, 'alertmanager.yml')}`,
        `--storage.path=${join(d, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--cluster.listen-address=',
        '--log.level=warn',
      ],
      {
        name: 'alertmanager',
        dir,
        readyTimeoutMs: options.readyTimeoutMs ?? 20_000,
        ready: async () => (await fetch(`${url}/-/ready`)).ok,
      },
    );
  };
  const stopCurrent = async (p: ServerProcess): Promise<void> => {
    await p.stop();
    await rm(p.dir, { recursive: true, force: true });
  };
  let proc = await launch();
  let stopped = false;
  return {
    url,
    port,
    output: () => proc.output(),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await stopCurrent(proc);
    },
    restart: async () => {
      await stopCurrent(proc);
      proc = await launch();
      stopped = false;
    },
  };
}
