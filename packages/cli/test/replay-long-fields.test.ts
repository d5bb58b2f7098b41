// Any event field can be a rule's group key, distinct value or `across` field, and so a key in
// every group table, a value in shared Redis state and an alert label. Events reach replay
// from any file and the detector from any OTLP sender: a field of a megabyte was held whole as
// the key (source_ip, metadata.payload_fingerprint and custom metadata were cut nowhere but in
// the SDK). Now every path cuts with core's capEventFields (docs/formats.md, "Field caps"):
// replay on one and two threads, in memory and on Redis, and the detector's OTLP records give
// the same alerts with bounded labels, one attacker one group.
import { encodeAlert, eventToAttributes, type Alert, type SecurityEvent } from '@llmsec/core';
import { EVENT_FIELD_CAPS } from '@llmsec/core/internal';
import { DetectionEngine, parseRules, RedisDetectionState } from '@llmsec/detect';
import { logRecordToEvent, type Attributes, type DecodedLogRecord } from '@llmsec/detector';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { cli } from './replay-io.ts';

const MB = 1 << 20;
const RULES = `
rules:
  - id: by_ip
    title: one address
    severity: warning
    match: { categories: [guardrail_block] }
    group_by: source_ip
    window: 10m
    condition: { kind: count, min: 3 }
  - id: fp_variety
    title: many payloads
    severity: warning
    match: { categories: [guardrail_block] }
    group_by: user_id
    window: 10m
    condition: { kind: distinct, field: metadata.payload_fingerprint, min: 3 }
  - id: by_tenant
    title: one tenant
    severity: warning
    match: { categories: [guardrail_block] }
    group_by: metadata.tenant
    window: 10m
    condition: { kind: cross_group, across: source_ip, min: 2 }
`;

const T0 = Date.parse('2026-11-22T10:00:00.000Z');

/**
 * Three blocks of one attacker whose address and tenant are a megabyte, differing only past
 * the caps (so: one address, one tenant once cut), and whose three fingerprints are a
 * megabyte each, differing in their first character (three payloads). A fourth event from
 * another address in the same tenant, and a late one that resolves everything.
 */
function events(): SecurityEvent[] {
  const ip = 'A'.repeat(MB);
  const tenant = 'T'.repeat(MB);
  const out: SecurityEvent[] = [];
  for (let i = 0; i < 3; i++) {
    out.push({
      event_id: `EVT-${i}`,
      timestamp: new Date(T0 + i * 1000).toISOString(),
      category: 'guardrail_block',
      severity: 'warning',
      user_id: 'mallory',
      source_ip: `${ip}-${i}`,
      metadata: {
        guardrail_layer: 'injection',
        block_reason: 'jailbreak',
        payload_fingerprint: `${'abc'[i]!}${'f'.repeat(MB)}`,
        tenant: `${tenant}-${i}`,
      },
    });
  }
  out.push({
    event_id: 'EVT-3',
    timestamp: new Date(T0 + 3000).toISOString(),
    category: 'guardrail_block',
    severity: 'warning',
    user_id: 'eve',
    source_ip: '10.0.0.9',
    metadata: { guardrail_layer: 'injection', block_reason: 'jailbreak', tenant: `${tenant}-x` },
  });
  out.push({
    event_id: 'EVT-4',
    timestamp: new Date(T0 + 3_600_000).toISOString(),
    category: 'request_completed',
    severity: 'info',
    user_id: 'someone-else',
  });
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'llmsec-long-fields-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const rulesFile = join(dir, 'rules.yaml');
writeFileSync(rulesFile, RULES);
const eventsFile = join(dir, 'events.jsonl');
writeFileSync(
  eventsFile,
  events()
    .map((e) => JSON.stringify(e))
    .join('\n') + '\n',
);

/** Alerts as alert JSONL writes them (what replay prints; in-process extras left out), sorted. */
function comparable(alerts: Alert[]): string[] {
  return alerts.map(encodeAlert).sort();
}

async function replay(extra: string[]): Promise<Alert[]> {
  const { code, stdout, stderr } = await cli([
    'replay',
    eventsFile,
    '--rules',
    rulesFile,
    '--max-line-bytes',
    String(8 * MB),
    ...extra,
  ]);
  expect(code, stderr).toBe(0);
  return stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Alert);
}

/**
 * The detector's path: each event as the SDK's log record attributes, decoded back (the
 * detector's record decoding), into an engine in memory or on Redis state.
 */
async function detectorAlerts(state?: RedisDetectionState): Promise<Alert[]> {
  const alerts: Alert[] = [];
  const engine = new DetectionEngine({
    rules: parseRules(RULES),
    allowedLatenessMs: 5_000,
    ...(state !== undefined ? { state } : {}),
    onAlert: (a) => alerts.push(a),
  });
  for (const e of events()) {
    const record = {
      timeMs: 0,
      eventName: `llmsec.${e.category}`,
      severityNumber: 13,
      body: null,
      attributes: eventToAttributes(e) as Attributes,
      traceId: '',
      spanId: '',
      resource: {},
      scope: '',
    } as DecodedLogRecord;
    const event = logRecordToEvent(record)!;
    engine.ingest(event, Date.parse(event.timestamp));
  }
  engine.flush();
  await engine.shutdown();
  return alerts;
}

/** Every key of a rule set in Redis: the longest key and the largest value, in bytes. */
async function redisSizes(
  redis: Redis,
  ruleset: string,
): Promise<{ keys: number; key: number; value: number }> {
  const keys = await redis.keys(`*${ruleset}*`);
  let key = 0;
  let value = 0;
  for (const k of keys) {
    key = Math.max(key, Buffer.byteLength(k));
    const type = await redis.type(k);
    const v =
      type === 'string'
        ? (await redis.getBuffer(k))!.length
        : type === 'hash'
          ? JSON.stringify(await redis.hgetall(k)).length
          : type === 'zset'
            ? JSON.stringify(await redis.zrange(k, 0, -1)).length
            : type === 'list'
              ? JSON.stringify(await redis.lrange(k, 0, -1)).length
              : JSON.stringify(await redis.smembers(k)).length;
    value = Math.max(value, v);
  }
  return { keys: keys.length, key, value };
}

const db = useRedis();

describe('megabyte fields that rules group by, count or list', () => {
  it('replay: bounded labels, one attacker one address and one tenant, three payloads', async () => {
    const alerts = await replay(['--threads', '1']);
    const firing = alerts.filter((a) => a.status === 'firing');
    const byRule = Object.fromEntries(firing.map((a) => [a.rule, a]));
    expect(Object.keys(byRule).sort()).toEqual(['by_ip', 'by_tenant', 'fp_variety']);
    expect(firing).toHaveLength(3);
    expect(byRule.by_ip!.labels).toEqual({ source_ip: 'A'.repeat(EVENT_FIELD_CAPS.sourceIp) });
    expect(byRule.by_ip!.evidence).toEqual(['EVT-0', 'EVT-1', 'EVT-2']);
    expect(byRule.fp_variety!.labels).toEqual({ user_id: 'mallory' });
    expect(byRule.by_tenant!.labels).toEqual({
      metadata_tenant: 'T'.repeat(EVENT_FIELD_CAPS.metadataString),
    });
    // Every line an alert writes is small: no megabyte label, description or evidence (the
    // largest: fp_variety's description naming its three fingerprints, 1,024 units each).
    for (const a of alerts) expect(JSON.stringify(a).length).toBeLessThan(8_000);
  });

  it('the same alerts on two threads, on Redis state (bounded keys and values), and through the detector', async () => {
    const one = comparable(await replay(['--threads', '1']));
    expect(comparable(await replay(['--threads', '2']))).toEqual(one);
    const ruleset = `long-fields-${process.pid}`;
    expect(
      comparable(await replay(['--threads', '1', '--state', db.server.url, '--ruleset', ruleset])),
    ).toEqual(one);
    // What the shared state holds is bounded too: no key or value near a megabyte (before the
    // caps: a value of 3,145,976 bytes).
    const sizes = await redisSizes(db.redis, ruleset);
    expect(sizes.keys).toBeGreaterThan(0);
    expect(sizes.key).toBeLessThan(2_000);
    expect(sizes.value).toBeLessThan(64_000);
    expect(comparable(await detectorAlerts())).toEqual(one);
    const detectorRuleset = `long-fields-detector-${process.pid}`;
    const state = new RedisDetectionState({
      redis: db.redis,
      ruleset: detectorRuleset,
      commandTimeoutMs: 5_000,
    });
    expect(comparable(await detectorAlerts(state))).toEqual(one);
    const detectorSizes = await redisSizes(db.redis, detectorRuleset);
    expect(detectorSizes.keys).toBeGreaterThan(0);
    expect(detectorSizes.value).toBeLessThan(64_000);
  });
});
