/**
 * The victim flag survives the alert's trips out of the process. A rule reading only
 * auth_failure names the accounts an attacker typed (Alert.users_are_victims); an operator who
 * wires the alert→violation bridge behind a webhook receiver, or feeds it the alert JSONL (the
 * detector's `alerts` output, `llmsec replay --format jsonl`), hands it the parsed line. Before,
 * encodeAlert left the flag out ("in-process only"), so the parsed alert of a custom auth rule
 * looked like an actor's and a stranger failing logins as alice got alice banned. Real HTTP
 * receiver, real redis-server behind the limiter.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert, SecurityEvent } from '@llmsec/core';
import { ConsoleSink, DetectionEngine, parseRules, WebhookSink } from '../packages/detect/src/index.ts';
import { alertViolationHook, RateLimiter, RedisStore } from '../packages/ratelimit/src/index.ts';
import { useRedis } from './support/redis-per-file.ts';

const db = useRedis();
const T0 = Date.parse('2026-12-05T10:00:00.000Z');

const RULES = parseRules(
  `rules:
  - id: login_failures_per_account
    title: Failed logins for one account
    severity: critical
    match: { categories: [auth_failure] }
    group_by: user_id
    window: 5m
    condition: { kind: count, min: 3 }
  - id: blocks_per_user
    title: Guardrail blocks by one user
    severity: critical
    match: { categories: [guardrail_block] }
    group_by: user_id
    window: 5m
    condition: { kind: count, min: 3 }
`,
  'readback.yaml',
);

/** Three failed logins typed as alice, then three blocks of mallory's own requests. */
function attack(engine: DetectionEngine): void {
  let i = 0;
  const emit = (category: string, user: string): void => {
    const t = T0 + i * 1000;
    const event: SecurityEvent = {
      event_id: `EVT-${i++}`,
      timestamp: new Date(t).toISOString(),
      category,
      severity: 'warning',
      user_id: user,
      source_ip: '203.0.113.66',
    };
    engine.ingest(event, t);
  };
  for (let k = 0; k < 3; k++) emit('auth_failure', 'alice');
  for (let k = 0; k < 3; k++) emit('guardrail_block', 'mallory');
  engine.flush();
}

function limiter(): RateLimiter {
  return new RateLimiter({
    store: new RedisStore({ client: db.redis }),
    tiers: { t: {} },
    enforcement: { warningAt: 1, throttledAt: 2, blockedAt: 3, bannedAt: 5 }, // one critical alert bans
  });
}

async function until(what: string, ok: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + 10_000;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** mallory banned by her own blocks; alice, whose name was typed, untouched. */
async function expectOnlyMallory(l: RateLimiter): Promise<void> {
  await until('mallory banned', async () => (await l.status('mallory')).level === 'banned');
  // alice's alert came first; give any violation it started time to land.
  await new Promise((r) => setTimeout(r, 300));
  expect((await l.status('alice')).violationScore).toBe(0);
}

describe('the victim flag read back from outside the process', () => {
  let server: Server;
  let url: string;
  const received: unknown[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push(JSON.parse(body));
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  it('a webhook receiver feeding the bridge puts no points on the account typed', async () => {
    await db.redis.flushdb();
    const sink = new WebhookSink({ url });
    const engine = new DetectionEngine({ rules: RULES, allowedLatenessMs: 0, sinks: [sink] });
    attack(engine);
    await engine.shutdown();
    const alerts = received.splice(0) as Alert[];
    expect(alerts.map((a) => `${a.rule}:${a.user_ids.join(',')}:${a.users_are_victims}`).sort()).toEqual([
      'blocks_per_user:mallory:undefined',
      'login_failures_per_account:alice:true',
    ]);
    const l = limiter();
    const hook = alertViolationHook(l);
    for (const a of alerts) hook(a);
    await expectOnlyMallory(l);
  });

  it('the alert JSONL fed to the bridge puts no points on the account typed', async () => {
    await db.redis.flushdb();
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    const engine = new DetectionEngine({
      rules: RULES,
      allowedLatenessMs: 0,
      sinks: [new ConsoleSink({ stream: out })],
    });
    attack(engine);
    await engine.shutdown();
    const l = limiter();
    const hook = alertViolationHook(l);
    const lines = text.trim().split('\n');
    expect(lines).toHaveLength(2);
    for (const line of lines) hook(JSON.parse(line) as Alert);
    await expectOnlyMallory(l);
  });
});
