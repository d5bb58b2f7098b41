import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { MissingBinaryError, requireBinary } from './binaries.ts';
import { getFreePort } from './ports.ts';
import { startServer, type ServerProcess } from './process.ts';

/** A redis-server started by a test on 127.0.0.1 (no persistence), in its own temp dir. */
export interface RedisHandle {
  url: string;
  port: number;
  proc: ServerProcess;
  /** SIGTERM and wait (removes the temp dir). */
  stop(): Promise<void>;
  /** SIGKILL: the crash case; resolves when the process is gone. */
  kill(): Promise<void>;
}

/** PING over a raw socket: true when the server answers +PONG. */
export function ping(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('error', () => done(false));
    socket.on('data', (d) => done(d.toString().startsWith('+PONG')));
    socket.on('connect', () => socket.write('PING\r\n'));
  });
}

function redisArgs(port: number, extra: string[]): (dir: string) => string[] {
  return (dir) => [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    ...extra,
  ];
}

/** Starts redis-server on a free port (or `port`, e.g. to restart on the same one). */
export async function startRedis(
  options: { port?: number; extraArgs?: string[] } = {},
): Promise<RedisHandle> {
  for (let attempt = 0; ; attempt++) {
    const port = options.port ?? (await getFreePort());
    try {
      const proc = await startServer('redis-server', redisArgs(port, options.extraArgs ?? []), {
        name: 'redis',
        ready: () => ping(port),
      });
      return handle(port, proc);
    } catch (err) {
      if (options.port !== undefined || attempt >= 3 || err instanceof MissingBinaryError) throw err;
    }
  }
}

function handle(port: number, proc: ServerProcess): RedisHandle {
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    proc,
    stop: () => proc.stop(),
    kill: async () => {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
      const gone = new Promise((r) => proc.child.once('exit', r));
      proc.child.kill('SIGKILL');
      await gone;
    },
  };
}

export interface RedisClusterHandle {
  nodes: { host: string; port: number }[];
  stop(): Promise<void>;
}

/** Starts `masters` cluster-enabled redis-servers on loopback and joins them (no replicas). */
export async function startRedisCluster(masters = 3): Promise<RedisClusterHandle> {
  const started: RedisHandle[] = [];
  try {
    for (let i = 0; i < masters; i++) {
      started.push(
        await startRedis({
          extraArgs: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            '5000',
          ],
        }),
      );
    }
    const addrs = started.map((r) => `127.0.0.1:${r.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addrs, '--cluster-replicas', '0', '--cluster-yes']);
    // Wait until every node reports the cluster state ok.
    const deadline = Date.now() + 20_000;
    for (const r of started) {
      for (;;) {
        const info = await run('redis-cli', ['-p', String(r.port), 'cluster', 'info']);
        if (info.includes('cluster_state:ok')) break;
        if (Date.now() > deadline) throw new Error(`cluster did not reach state ok:\n${info}`);
        await new Promise((res) => setTimeout(res, 100));
      }
    }
  } catch (err) {
    await Promise.all(started.map((r) => r.stop()));
    throw err;
  }
  return {
    nodes: started.map((r) => ({ host: '127.0.0.1', port: r.port })),
    stop: async () => {
      await Promise.all(started.map((r) => r.stop()));
    },
  };
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    let bin: string;
    try {
      bin = requireBinary(cmd);
    } catch (err) {
      reject(err as Error);
      return;
    }
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${out}`)),
    );
  });
}
