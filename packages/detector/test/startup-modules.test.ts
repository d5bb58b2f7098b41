// A detector start is mostly module loading (~1,000 modules, about a second of CPU: ~10 s of wall
// time on a loaded host). Fleet enforcement (@llmsec/ratelimit and ioredis), the Redis state
// (ioredis) and the OTLP alert logs sink (the OTLP logs exporter, the logs SDK and their own
// copies of the OpenTelemetry core: ~200 modules) were loaded by every start, through static
// imports and the main entry point's FleetEnforcement export; now only a config that uses them
// loads them (985 -> 687 modules for a minimal start). Counted by a module load hook preloaded
// into `llmsec detector` (bench/detector/startup-probe.ts), not timed: deterministic.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { tempDir, writeConfig } from './process-support.ts';

const BIN = fileURLToPath(new URL('../../cli/src/bin.ts', import.meta.url));
const PROBE = fileURLToPath(new URL('../../../bench/detector/startup-probe.ts', import.meta.url));
const redis = useRedis();
const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Probe {
  modules: number;
  ioredis: number;
  ratelimit: number;
  otlp_logs: number;
}

/**
 * Starts `llmsec detector --config FILE` under the probe; once ready (the probe's line comes
 * with "detector started"), stops it with SIGTERM. The exit code, stderr and the probe's counts
 * (undefined when it never got ready).
 */
function start(config: unknown): Promise<{ code: number | null; stderr: string; probe?: Probe }> {
  const file = writeConfig(dir, `config-${Math.random().toString(36).slice(2)}.json`, config);
  const child = spawn(
    process.execPath,
    ['--conditions=@llmsec/source', '--import', PROBE, BIN, 'detector', '--config', file],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return new Promise((resolve) => {
    let stderr = '';
    let probe: Probe | undefined;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      stderr += d;
      const line = probe === undefined ? /^\[probe\] at=ready (.*)$/m.exec(stderr) : null;
      if (line === null) return;
      const f = Object.fromEntries(line[1]!.split(' ').map((kv) => kv.split('=')));
      probe = {
        modules: Number(f.modules),
        ioredis: Number(f.ioredis),
        ratelimit: Number(f.ratelimit),
        otlp_logs: Number(f.otlp_logs),
      };
      child.kill('SIGTERM');
    });
    child.on('exit', (code) => resolve({ code, stderr, ...(probe !== undefined ? { probe } : {}) }));
  });
}

const LISTEN = { otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' } };
const ENFORCEMENT_ACTIONS = [{ severity: 'critical', action: 'block', duration: '15m' }];

describe('llmsec detector start-up modules', () => {
  it('a minimal config loads neither ioredis, @llmsec/ratelimit nor the OTLP logs exporter', async () => {
    const run = await start({ ...LISTEN, sinks: { alerts: '-' } });
    expect(run.code, run.stderr).toBe(0);
    expect(run.probe, run.stderr).toBeDefined();
    expect({
      ioredis: run.probe!.ioredis,
      ratelimit: run.probe!.ratelimit,
      otlp: run.probe!.otlp_logs,
    }).toEqual({ ioredis: 0, ratelimit: 0, otlp: 0 });
    // 687 today, 985 before; room for small new modules, not for one of these groups back (ioredis
    // and the rate limiter ~85, the OTLP logs exporter ~200).
    expect(run.probe!.modules).toBeLessThanOrEqual(760);
  });

  it('a Redis state loads ioredis, not the rate limiter', async () => {
    const run = await start({ ...LISTEN, state: redis.server.url });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('"state":"redis"');
    expect(run.probe!.ioredis).toBeGreaterThan(0);
    expect({ ratelimit: run.probe!.ratelimit, otlp: run.probe!.otlp_logs }).toEqual({
      ratelimit: 0,
      otlp: 0,
    });
  });

  it('enforcement and sinks.otlp_alerts load what they use, and start as before', async () => {
    const run = await start({
      ...LISTEN,
      state: redis.server.url,
      sinks: { otlp_alerts: 'http://127.0.0.1:9/v1/logs' },
      enforcement: { redis: redis.server.url, actions: ENFORCEMENT_ACTIONS },
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('"sinks":["otel-log","enforcement"]');
    // The hook sees what the minimal start does not load.
    expect(run.probe!.ioredis).toBeGreaterThan(0);
    expect(run.probe!.ratelimit).toBeGreaterThan(0);
    expect(run.probe!.otlp_logs).toBeGreaterThan(0);
  });

  it('a bad enforcement config still exits 2 with its message, before listening', async () => {
    const run = await start({
      ...LISTEN,
      enforcement: {
        redis: redis.server.url,
        actions: ENFORCEMENT_ACTIONS,
        thresholds: { warning_at: 9, throttled_at: 3 },
      },
    });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toBe(
      'llmsec detector: enforcement: thresholds must not decrease (warning_at 9 <= throttled_at 3 <= blocked_at 20 <= banned_at 50)\n',
    );
    expect(run.probe).toBeUndefined();
  });
});
