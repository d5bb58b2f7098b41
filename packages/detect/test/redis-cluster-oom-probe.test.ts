import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../../../test/support/until.ts';
import { defaultRules } from '../src/index.ts';
import { block, ev, T0, SEC } from './helpers.ts';
import { useOomCluster } from './oom-cluster.ts';
import { freshRuleset, redisEngine } from './redis-support.ts';

/**
 * A 3-master Redis Cluster whose master that does NOT own the probe key's slot runs out of
 * memory (`noeviction`: it refuses every write and answers everything else). The degraded probe
 * wrote only `<prefix>:probe`, on another master, so it passed: the engine went back to shared
 * mode at every probe, failed its next round on the full master and degraded again, an episode
 * and a warning per probe interval. Now the probe also writes in the slot of each key whose call
 * failed (ProbeTags): one episode until that master takes writes again. The writes it refused
 * were for memory, so the probe asks that master's `INFO memory` (the script routed by the probe
 * key's slot) for their room first, and writes nothing there while it has none.
 */

const oom = useOomCluster();
const direct: Redis[] = [];
afterEach(() => {
  for (const r of direct.splice(0)) r.disconnect();
});

/** SET calls a node has seen (taken, refused for memory, or failed). */
async function sets(node: Redis): Promise<number> {
  const line = /cmdstat_set:(\S+)/.exec(await node.info('commandstats'))?.[1] ?? '';
  let n = 0;
  for (const m of line.matchAll(/(?:^|,)(calls|rejected_calls|failed_calls)=(\d+)/g)) n += Number(m[2]);
  return n;
}

describe('RedisDetectionState on a Cluster: a master other than the probe key’s refusing writes', () => {
  it('one degraded episode until that master takes writes again', async () => {
    const prefix = 'llmsec:det';
    const probePort = await oom.ownerPort(`${prefix}:probe`);
    const full = oom.nodes.find((n) => n.port !== probePort)!.port;
    const { engine, alerts } = redisEngine(oom.client, defaultRules(), 0, freshRuleset('cluster-oom'), {
      // A bound on a hung call only: a refusal (OOM) answers at once. The 2 episodes (want 1)
      // seen under load were not timeouts but the full master taking a write between two
      // refusals, at the edge of its memory limit (see refuseWrites).
      commandTimeoutMs: 10_000,
      probeIntervalMs: 50,
    });
    // Many users: their groups' keys spread over the three masters, the full one among them.
    const users = Array.from({ length: 30 }, (_, i) => `u${i}`);
    const round = async (s: number): Promise<void> => {
      for (const u of users) engine.ingest(ev(block(T0 + s * SEC, u)).event, T0 + s * SEC);
      await engine.forceFlush();
    };
    await round(0);
    expect(engine.stats.state?.mode).toBe('shared');

    const takeWrites = await oom.refuseWritesOn(full);
    const fullNode = new Redis({ host: '127.0.0.1', port: full, lazyConnect: true, maxRetriesPerRequest: 1 });
    direct.push(fullNode);
    await fullNode.connect();
    // Counted from the first refused round on: its scripts' SETs count as refused SET calls.
    await round(1);
    expect(engine.stats.state?.mode).toBe('degraded');
    const setsBefore = await sets(fullNode);
    const modes: string[] = [];
    for (let s = 2; s < 30; s++) {
      await round(s);
      await new Promise((r) => setTimeout(r, 40));
      modes.push(engine.stats.state!.mode);
    }
    expect(engine.stats.state?.degradedEpisodes).toBe(1);
    expect(modes.slice(5).every((m) => m === 'degraded')).toBe(true);
    // The probes asked the full master's INFO, not the probe key's master's, and wrote nothing
    // there (before: a pad in its slot at each probe, refused).
    expect((await sets(fullNode)) - setsBefore).toBe(0);
    // Every event still detected (locally): u0's blocks fire the burst rule.
    expect(alerts.map((a) => `${a.rule}:${a.status}`)).toContain('rapid_guardrail_blocks:firing');

    await takeWrites();
    await until(() => engine.stats.state?.mode === 'shared', 5_000, 20);
    await round(31);
    expect(engine.stats.state?.mode).toBe('shared');
    expect(engine.stats.state?.degradedEpisodes).toBe(1);
    await engine.shutdown();
  }, 60_000);
});
