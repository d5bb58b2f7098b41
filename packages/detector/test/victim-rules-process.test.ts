// Custom rules on auth_failure through `llmsec detector` with fleet enforcement on a real
// redis-server: the accounts they name were only typed by the attacker (victims), so no action
// reaches them, whatever the rule's id; the attacker's own user, named by a rule on its
// guardrail blocks, is still banned. Checked in an app RateLimiter in another process.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { startDetectorProcess, tempDir, writeConfig, type DetectorProcess } from './process-support.ts';
import { emitThrough } from './sender.ts';

const run = promisify(execFile);
const APP = fileURLToPath(new URL('./fixtures/app-limiter.ts', import.meta.url));
const T0 = Date.parse('2026-12-04T10:00:00.000Z');
const ATTACKER_IP = '203.0.113.66';
const TRIED = ['alice', 'bob', 'carol', 'dave', 'erin'];

// Not one of them is in VICTIM_RULES: only what they read (auth_failure) exempts the first three.
const RULES = `rules:
  - id: stuffing_by_address
    title: Failed logins from one address
    severity: critical
    description: Many failed logins from one address.
    match: { categories: [auth_failure] }
    group_by: source_ip
    window: 5m
    condition: { kind: count, min: 5 }
  - id: accounts_by_address
    title: Many accounts tried from one address
    severity: critical
    description: Many accounts tried from one address.
    match: { categories: [auth_failure] }
    group_by: source_ip
    window: 5m
    condition: { kind: distinct, field: user_id, min: 4 }
  - id: login_failures_per_account
    title: Failed logins for one account
    severity: critical
    description: Failed logins for one account.
    match: { categories: [auth_failure] }
    group_by: user_id
    window: 5m
    condition: { kind: count, min: 3 }
  - id: blocks_per_user
    title: Guardrail blocks by one user
    severity: critical
    description: One user keeps hitting the guardrails.
    match: { categories: [guardrail_block] }
    group_by: user_id
    window: 5m
    condition: { kind: count, min: 3 }
`;

type Decision = { user: string; allowed: boolean; reason: string | null; level: string };

/** The timeout bounds a hang only: the fixture starts from the sources, slower than 20 s at load ~25. */
async function appDecisions(url: string, users: string[]): Promise<Map<string, Decision>> {
  const { stdout } = await run(process.execPath, [APP, url, ...users], {
    env: process.env,
    timeout: 120_000,
  });
  const out = new Map<string, Decision>();
  for (const line of stdout.trim().split('\n')) {
    const d = JSON.parse(line) as Decision;
    out.set(d.user, d);
  }
  return out;
}

function alertLines(file: string): Array<{ rule: string; status: string; user_ids: string[] }> {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { rule: string; status: string; user_ids: string[] });
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const until = Date.now() + 15_000;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Enforcement actions counted by the detector, by outcome (`action="ban"`). */
async function bans(d: DetectorProcess): Promise<Record<string, number>> {
  const text = await (await fetch(`${d.httpUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(
    /llmsec_detector_enforcement_actions_total\{action="ban",outcome="(\w+)"[^}]*\} (\d+)/g,
  ))
    out[m[1]!] = Number(m[2]);
  return out;
}

describe('custom auth_failure rules never enforce on the accounts they name (llmsec detector, real redis-server)', () => {
  let redis: RedisHandle;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('count and distinct by source_ip and a per-account count: no action on the accounts tried; the attacker, by its own blocks, banned', async () => {
    const dir = tempDir();
    const rules = join(dir, 'rules.yaml');
    writeFileSync(rules, RULES);
    const alerts = join(dir, 'alerts.jsonl');
    const cfg = writeConfig(dir, 'victims.json', {
      otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' },
      rules,
      // Detection state on Redis too: the fleet's alerts are rebuilt from it.
      state: redis.url,
      allowed_lateness: '0s',
      sinks: { alerts },
      enforcement: { redis: redis.url, actions: [{ severity: 'critical', action: 'ban' }] },
    });
    const d = await startDetectorProcess(cfg);

    // mallory, from one address, fails logins as five accounts, alice twice more; then is
    // blocked three times as herself.
    await emitThrough(
      new ProtoLogExporter({ url: `${d.httpUrl}/v1/logs` }) as unknown as LogRecordExporter,
      7,
      T0,
      (ev, clock) => {
        for (const user of [...TRIED, 'alice', 'alice']) {
          ev.authFailure({ userId: user, sourceIp: ATTACKER_IP, reason: 'bad_password' });
          clock.advance(1000);
        }
        for (let i = 0; i < 3; i++) {
          ev.guardrailBlock({
            userId: 'mallory',
            sourceIp: ATTACKER_IP,
            layer: 'input',
            reason: 'jailbreak',
          });
          clock.advance(1000);
        }
      },
      true, // in order: the detector allows no lateness
    );

    // Every rule fired, the auth rules naming the accounts tried (else this test proves nothing).
    const firing = await waitFor('four firing alerts', () => {
      const lines = alertLines(alerts).filter((a) => a.status === 'firing');
      return new Set(lines.map((a) => a.rule)).size === 4 ? lines : undefined;
    });
    const named = (rule: string) =>
      firing
        .filter((a) => a.rule === rule)
        .flatMap((a) => a.user_ids)
        .sort();
    expect(named('stuffing_by_address')).toEqual([...TRIED].sort());
    expect(named('accounts_by_address')).toEqual(['alice', 'bob', 'carol', 'dave']);
    expect(named('login_failures_per_account')).toEqual(['alice']);
    expect(named('blocks_per_user')).toEqual(['mallory']);

    await waitFor('the ban applied', async () => ((await bans(d)).applied ?? 0) >= 1 || undefined);
    // The victims' alerts came first; give any action they started time to land before
    // asserting none did.
    await new Promise((r) => setTimeout(r, 500));
    const now = await appDecisions(redis.url, ['mallory', ...TRIED]);
    expect(now.get('mallory')).toMatchObject({ allowed: false, reason: 'banned', level: 'banned' });
    for (const user of TRIED) expect(now.get(user), user).toMatchObject({ allowed: true, level: 'normal' });
    expect(await bans(d)).toEqual({ applied: 1 });
  });
});
