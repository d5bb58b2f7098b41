// `llmsec detector` as a process: usage errors, SIGTERM drain, and fleet enforcement through a
// real redis-server with an app's RateLimiter in yet another process.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import {
  startDetectorProcess,
  runDetectorCli,
  tempDir,
  writeConfig,
  type DetectorProcess,
} from './process-support.ts';
import { emitThrough } from './sender.ts';

const run = promisify(execFile);
const APP = fileURLToPath(new URL('./fixtures/app-limiter.ts', import.meta.url));
const CLI = fileURLToPath(new URL('../../cli/src/bin.ts', import.meta.url));
const T0 = Date.parse('2026-12-04T10:00:00.000Z');

function alertLines(file: string): Array<Record<string, unknown>> {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 15_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function metric(d: DetectorProcess, pattern: RegExp): Promise<number | undefined> {
  const text = await (await fetch(`${d.httpUrl}/metrics`)).text();
  const m = pattern.exec(text);
  return m ? Number(m[1]) : undefined;
}

/**
 * Cases' timeouts: each starts CLI processes from the TypeScript sources (~1.4 s of CPU each; a
 * usage error took 5 s at load 10 on 2 cores), one after the other. The 30 s default was
 * shorter than seven such runs on a loaded host, and 15 s a process than two detector starts
 * (the bearer-token case: 'detector did not start within 11863 ms', the time its 30 s left the
 * second start, at load 20-30 in the detector package's run).
 */
const PER_PROCESS_MS = 30_000;

describe('llmsec detector (process)', () => {
  it(
    'exits 2 with the field named for a bad config file, a bad flag or a rule file it cannot read',
    async () => {
      const dir = tempDir();
      const bad = writeConfig(dir, 'bad.json', { otlp: { http: 'localhost' } });
      const r1 = await runDetectorCli(['--config', bad]);
      expect(r1.code).toBe(2);
      expect(r1.stderr).toContain('bad.json: field "otlp.http": want HOST:PORT');
      const r2 = await runDetectorCli(['--queue-capacity=-3']);
      expect(r2.code).toBe(2);
      expect(r2.stderr).toContain('--queue-capacity: Too small: expected number to be >0');
      const r3 = await runDetectorCli(['--bogus']);
      expect(r3.code).toBe(2);
      expect(r3.stderr).toMatch(/Unknown option '--bogus'/);
      const r4 = await runDetectorCli(['--rules', join(dir, 'missing-rules.yaml')]);
      expect(r4.code).toBe(2);
      expect(r4.stderr).toContain('missing-rules.yaml: cannot read');
      // A rule file with no rules would run a service that can never alert.
      const noRules = await runDetectorCli(['--rules', writeConfig(dir, 'no-rules.json', { rules: [] })]);
      expect(noRules.code).toBe(2);
      expect(noRules.stderr).toContain('no-rules.json: no rules');
      // A throttle the apps' thresholds cannot express: refused before anything connects.
      const enf = writeConfig(dir, 'enf.json', {
        enforcement: {
          redis: 'redis://127.0.0.1:1',
          actions: [{ severity: 'alert', action: 'throttle', duration: '1h' }],
        },
      });
      const r5 = await runDetectorCli(['--config', enf]);
      expect(r5.code).toBe(2);
      expect(r5.stderr).toContain('enforcement: throttle duration 3600000ms is longer than');
      const r6 = await runDetectorCli(['--auth-token-file', join(dir, 'missing-token')]);
      expect(r6.code).toBe(2);
      expect(r6.stderr).toMatch(/--auth-token-file: cannot read .*missing-token/);
    },
    7 * PER_PROCESS_MS,
  );

  it(
    'requires the bearer token from $LLMSEC_DETECTOR_AUTH_TOKEN, or from --auth-token-file over it',
    async () => {
      const dir = tempDir();
      const cfg = writeConfig(dir, 'c.json', { otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' } });
      const status = async (d: DetectorProcess, token?: string): Promise<number> =>
        (
          await fetch(`${d.httpUrl}/v1/logs`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
            },
            body: '{}',
          })
        ).status;
      const fromEnv = await startDetectorProcess(cfg, {
        env: { LLMSEC_DETECTOR_AUTH_TOKEN: 'env-token' },
      });
      expect(fromEnv.stderr()).toContain('"auth":"bearer"');
      expect(await status(fromEnv)).toBe(401);
      expect(await status(fromEnv, 'env-token')).toBe(200);
      fromEnv.kill('SIGTERM');
      expect(await fromEnv.exited).toBe(0);

      const tokenFile = join(dir, 'token');
      writeFileSync(tokenFile, 'file-token\n', { mode: 0o600 });
      const fromFile = await startDetectorProcess(cfg, {
        args: ['--auth-token-file', tokenFile],
        env: { LLMSEC_DETECTOR_AUTH_TOKEN: 'env-token' },
      });
      expect(await status(fromFile, 'env-token')).toBe(401);
      expect(await status(fromFile, 'file-token')).toBe(200);
    },
    2 * PER_PROCESS_MS,
  );

  it(
    'on SIGTERM stops taking exports, drains and flushes what it accepted into alerts, and exits 0',
    async () => {
      const dir = tempDir();
      const alerts = join(dir, 'alerts.jsonl');
      // An hour of lateness: the events are held in the engine until the drain flushes them.
      const cfg = writeConfig(dir, 'c.json', {
        otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' },
        allowed_lateness: '1h',
        sinks: { alerts },
      });
      const d = await startDetectorProcess(cfg);
      await emitThrough(
        new ProtoLogExporter({ url: `${d.httpUrl}/v1/logs` }) as unknown as LogRecordExporter,
        1,
        T0,
        (ev, clock) => {
          for (let i = 0; i < 10; i++) {
            ev.guardrailBlock({ userId: 'drained', layer: 'input', reason: 'prompt_injection' });
            clock.advance(1000);
          }
        },
      );
      expect(await metric(d, /llmsec_detector_records_accepted_total\{signal="logs"[^}]*\} (\d+)/)).toBe(10);
      expect(alertLines(alerts)).toEqual([]);
      d.kill('SIGTERM');
      // 0: drained within shutdown_timeout (10 s), by the detector's own clock (1 when it gave
      // up). A wall-clock bound here counted the process's exit on a busy host too.
      expect(await d.exited).toBe(0);
      expect(alertLines(alerts).map((a) => [a.rule, a.status, a.user_ids])).toEqual([
        ['rapid_guardrail_blocks', 'firing', ['drained']],
      ]);
      expect(d.stderr()).toContain('"msg":"detector stopped"');
      await expect(fetch(`${d.httpUrl}/-/ready`)).rejects.toThrow();
    },
    2 * PER_PROCESS_MS,
  );
});

describe('fleet enforcement through the detector (real redis-server)', () => {
  let redis: RedisHandle;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it(
    'an alert from the detector blocks the user in an app RateLimiter in another process; llmsec limits lift reverses it',
    async () => {
      const dir = tempDir();
      const cfg = writeConfig(dir, 'enf.json', {
        otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' },
        allowed_lateness: '0s',
        sinks: { alerts: join(dir, 'alerts.jsonl') },
        enforcement: {
          redis: redis.url,
          actions: [
            { severity: 'critical', action: 'block', duration: '10m' },
            { severity: 'alert', action: 'throttle', duration: '5m' },
          ],
        },
      });
      const d = await startDetectorProcess(cfg);
      const app = async (user: string) =>
        JSON.parse((await run(process.execPath, [APP, redis.url, user], { env: process.env })).stdout) as {
          allowed: boolean;
          reason: string | null;
          level: string;
        };
      expect(await app('exfil')).toMatchObject({ allowed: true, level: 'normal' });

      // Three output-filter blocks in ten minutes: output_filter_bypass (critical) → block.
      await emitThrough(
        new ProtoLogExporter({ url: `${d.httpUrl}/v1/logs` }) as unknown as LogRecordExporter,
        2,
        T0,
        (ev, clock) => {
          for (let i = 0; i < 3; i++) {
            ev.outputFilterBlock({ userId: 'exfil', filter: 'secrets', reason: 'api_key' });
            clock.advance(1000);
          }
        },
        true, // in order: the detector allows no lateness
      );
      await waitFor('enforcement applied', () =>
        metric(d, /llmsec_detector_enforcement_actions_total\{action="block",outcome="applied"[^}]*\} (\d+)/),
      );
      expect(await app('exfil')).toEqual({
        user: 'exfil',
        allowed: false,
        reason: 'blocked',
        level: 'blocked',
      });
      expect(await app('bystander')).toMatchObject({ allowed: true, level: 'normal' });
      expect(d.stderr()).toMatch(/"msg":"enforcement action".*"action":"block"/);

      await run(process.execPath, [CLI, 'limits', 'lift', 'exfil', '--redis', redis.url], {
        env: process.env,
      });
      expect(await app('exfil')).toMatchObject({ allowed: true, level: 'normal' });
    },
    6 * PER_PROCESS_MS,
  );
});
