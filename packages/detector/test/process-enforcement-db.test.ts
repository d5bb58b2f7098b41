// `enforcement.redis: redis://host:port/N` with N a database the server lacks (16 by default):
// ioredis's SELECT failed with an 'error' event only and the client went on, on database 0, so
// the detector started and its blocks and bans landed in database 0 while the applications'
// limiters read database N: no user was ever blocked. Refused at start, exit 2, as the state
// URL is (process-state-db), the password in the URL masked.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { tempDir, writeConfig } from './process-support.ts';

const BIN = fileURLToPath(new URL('../../cli/src/bin.ts', import.meta.url));

let redis: RedisHandle;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

/** Children still running when a case ends (its timeout): killed then. */
const children = new Set<ChildProcess>();
afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
});

/**
 * Runs the detector until it exits, or until it logs that it started: then it is killed and
 * reported as `running`. No fixed wait: a detector killed after 8 s (15 s for the refusal) was
 * a timing assumption a loaded host broke, its start taking longer (5 s at load 10 for one that
 * only refuses a flag). The case's timeout bounds a start that never comes.
 */
function run(args: string[]): Promise<{ code: number | 'running'; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'detector', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.add(child);
    let stderr = '';
    let running = false;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!running && stderr.includes('"detector started"')) {
        running = true;
        child.kill('SIGKILL');
      }
    });
    child.on('exit', (code) => {
      children.delete(child);
      resolve({ code: running ? 'running' : (code ?? -1), stderr });
    });
  });
}

describe('llmsec detector with enforcement.redis naming a database Redis lacks', () => {
  it('exits 2 at start, naming the field, the URL without its password and Redis’s answer', async () => {
    const withPassword = redis.url.replace('redis://', 'redis://:s3cret@');
    const config = writeConfig(tempDir(), 'detector.json', {
      otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' },
      enforcement: {
        redis: `${withPassword}/99`,
        actions: [{ severity: 'alert', action: 'block', duration: '1m' }],
      },
    });
    const r = await run(['--config', config]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(
      `enforcement.redis: ${redis.url.replace('redis://', 'redis://:***@')}/99: ERR DB index is out of range`,
    );
    expect(r.stderr).not.toContain('s3cret');
    expect(r.stderr).not.toContain('detector started');
  }, 60_000);

  it('starts on a database the server has', async () => {
    const config = writeConfig(tempDir(), 'detector.json', {
      otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' },
      enforcement: {
        redis: `${redis.url}/3`,
        actions: [{ severity: 'alert', action: 'block', duration: '1m' }],
      },
    });
    const r = await run(['--config', config]);
    expect(r.code, r.stderr).toBe('running');
    expect(r.stderr).toContain('detector started');
  }, 60_000);
});
