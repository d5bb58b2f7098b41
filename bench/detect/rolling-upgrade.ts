/**
 * A rolling upgrade that adds rules, measured: replicas of the previous release (the built-in
 * rules without the newest ones) and of this one (all of them) share one Redis and are fed one
 * scenario round-robin; how many of one in-memory engine's incidents the mixed fleet finds, for
 * the rules both releases run and for the added ones.
 *
 *   npx node --conditions=@llmsec/source bench/detect/rolling-upgrade.ts [--old N] [--new M] [--added K]
 *
 * N replicas of the previous release (default 1), M of this one (default 2), the previous
 * release lacking the last K built-in rules (default 1). Starts its own redis-server.
 */
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import type { Alert } from '@llmsec/core';
import { defaultRules, DetectionEngine, RedisDetectionState, type RuleDefinition } from '@llmsec/detect';
import { startRedis } from '../../test/support/redis.ts';
import { fleetScenario } from '../../packages/detect/test/engine-children.ts';
import { rounds } from '../../packages/detect/test/redis-split.ts';

const LATENESS = 30_000;
const { values } = parseArgs({
  options: { old: { type: 'string' }, new: { type: 'string' }, added: { type: 'string' } },
});
const nOld = Number(values.old ?? 1);
const nNew = Number(values.new ?? 2);
const added = Number(values.added ?? 1);

const all = defaultRules();
const previous = all.slice(0, all.length - added);
const addedIds = new Set(all.slice(all.length - added).map((r) => r.id));
const stream = fleetScenario();

/** Incidents as (rule, labels, start): what a fleet found, whoever printed it. */
function incidents(alerts: Alert[]): Set<string> {
  return new Set(
    alerts
      .filter((a) => a.status === 'firing')
      .map((a) => `${a.rule}|${JSON.stringify(a.labels)}|${a.starts_at}`),
  );
}

const memory: Alert[] = [];
const mem = new DetectionEngine({ rules: all, allowedLatenessMs: LATENESS, onAlert: (a) => memory.push(a) });
for (const { event, t } of stream) mem.ingest(event, t);
mem.flush();
const want = incidents(memory);

const server = await startRedis();
const clients: Redis[] = [];
try {
  const engines = [
    ...Array.from({ length: nOld }, () => previous),
    ...Array.from({ length: nNew }, () => all),
  ].map((rules: RuleDefinition[]) => {
    const redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
    clients.push(redis);
    const alerts: Alert[] = [];
    const engine = new DetectionEngine({
      rules,
      allowedLatenessMs: LATENESS,
      state: new RedisDetectionState({ redis, commandTimeoutMs: 5_000, shutdownGraceMs: 0 }),
      onAlert: (a) => alerts.push(a),
    });
    return { engine, alerts };
  });
  let i = 0;
  for (const round of rounds(stream, LATENESS)) {
    for (const { event, t } of round) engines[i++ % engines.length]!.engine.ingest(event, t);
    await Promise.all(engines.map((e) => e.engine.forceFlush()));
  }
  for (let pass = 0; pass < 2; pass++) {
    for (const e of engines) e.engine.flush();
    await Promise.all(engines.map((e) => e.engine.forceFlush()));
  }
  for (const e of engines) await e.engine.shutdown();
  const got = incidents(engines.flatMap((e) => e.alerts));
  const firings = engines.flatMap((e) => e.alerts).filter((a) => a.status === 'firing').length;
  const count = (pick: (rule: string) => boolean) => {
    const w = [...want].filter((k) => pick(k.split('|')[0]!));
    const found = w.filter((k) => got.has(k)).length;
    const extra = [...got].filter((k) => pick(k.split('|')[0]!) && !want.has(k)).length;
    return `${found} of ${w.length} found, ${extra} not in the memory engine's`;
  };
  console.log(
    `${nOld} replica(s) with ${previous.length} rules + ${nNew} with ${all.length}, ${stream.length} events, lateness ${LATENESS} ms`,
  );
  console.log(`rules of both releases: ${count((r) => !addedIds.has(r))}`);
  console.log(`added rule(s) (${[...addedIds].join(', ')}): ${count((r) => addedIds.has(r))}`);
  console.log(`firing lines: ${firings} (memory engine: ${want.size})`);
} finally {
  for (const c of clients) c.disconnect();
  await server.stop();
}
