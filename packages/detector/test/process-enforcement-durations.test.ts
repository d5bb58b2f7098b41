// An enforcement action's duration and the thresholds' half_life had no upper bound. The apps'
// limiter takes a safe integer of ms, so `block` for `99999999999d` (or half_life that long)
// passed the config check and threw from the enforcement sink's construction: the detector
// logged "detector failed to start" and then hung, its Redis clients and sinks still open (no
// exit at all). Now the config refuses both past 10000000d (a rule's longest window) naming the field (exit 2), and a
// failure building the enforcement sink closes what was opened and exits 2.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { configDir, configError } from './config-files.ts';
import { loadConfig } from '../src/service/config.ts';
import { ConfigError } from '../src/service/config.ts';
import { startDetector } from '../src/service/detector.ts';
import type { Logger } from '../src/service/log.ts';
import { tempDir, writeConfig } from './process-support.ts';

const BIN = fileURLToPath(new URL('../../cli/src/bin.ts', import.meta.url));
const redis = useRedis();
const { dir, file } = configDir('llmsec-detector-enforcement-durations-');
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

function run(args: string[], ms: number): Promise<{ code: number | 'running'; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'detector', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    let running = false;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      running = true;
      child.kill('SIGKILL');
    }, ms);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: running ? 'running' : (code ?? -1), stderr });
    });
  });
}

describe('enforcement durations past what the limiter takes', () => {
  it('are refused by the config, naming the field', () => {
    const enforcement = (inner: string) => file('e.yaml', `enforcement: { redis: "redis://r", ${inner} }\n`);
    expect(
      configError(() =>
        loadConfig(
          enforcement('actions: [{ severity: alert, action: block, duration: 99999999999d }]'),
          {},
          {},
        ),
      ),
    ).toBe(`${dir}/e.yaml: field "enforcement.actions.0.duration": must be at most 10000000d`);
    expect(
      configError(() =>
        loadConfig(
          enforcement('thresholds: { half_life: 10000001d }, actions: [{ severity: alert, action: ban }]'),
          {},
          {},
        ),
      ),
    ).toBe(`${dir}/e.yaml: field "enforcement.thresholds.half_life": must be at most 10000000d`);
    const ok = loadConfig(
      enforcement('actions: [{ severity: alert, action: block, duration: 10000000d }]'),
      {},
      {},
    );
    expect(ok.enforcement!.actions[0]!.duration).toBe(864_000_000_000_000);
  });

  it('a failure building the enforcement sink is a ConfigError that leaves no client connected', async () => {
    const config = loadConfig(
      file(
        's.yaml',
        `otlp: { http: "127.0.0.1:0", grpc: "127.0.0.1:0" }\nenforcement: { redis: "${redis.server.url}", actions: [{ severity: alert, action: block, duration: 1m }] }\n`,
      ),
      {},
      {},
    );
    // Past the config's check: what the limiter refuses, as a library caller can pass it.
    (config.enforcement!.actions[0] as { duration: number }).duration = 1e19;
    await expect(startDetector({ config, logger: quiet })).rejects.toBeInstanceOf(ConfigError);
    // The server drops a closed connection from its list a moment later: give it 2 s.
    let clients = '';
    for (let i = 0; i < 40; i++) {
      clients = String(await redis.redis.call('CLIENT', 'LIST'));
      if (!clients.includes('llmsec-detector-enforcement')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(clients).not.toContain('llmsec-detector-enforcement');
  });

  it('the process exits 2 instead of hanging', async () => {
    const config = writeConfig(tempDir(), 'detector.json', {
      otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' },
      enforcement: {
        redis: redis.server.url,
        actions: [{ severity: 'alert', action: 'block', duration: '99999999999d' }],
      },
    });
    const r = await run(['--config', config], 15_000);
    expect(r.code, r.stderr).toBe(2);
  }, 30_000);
});
