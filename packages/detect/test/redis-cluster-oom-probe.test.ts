import { describe, expect, it } from 'vitest';
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
 * failed (ProbeTags): one episode until that master takes writes again.
 */

const oom = useOomCluster();

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
    const modes: string[] = [];
    for (let s = 1; s < 30; s++) {
      await round(s);
      await new Promise((r) => setTimeout(r, 40));
      modes.push(engine.stats.state!.mode);
    }
    expect(engine.stats.state?.degradedEpisodes).toBe(1);
    expect(modes.slice(5).every((m) => m === 'degraded')).toBe(true);
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
