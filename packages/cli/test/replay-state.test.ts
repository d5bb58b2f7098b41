import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { cli, line } from './replay-io.ts';
import { heldAfter } from './replay-redis-gate.ts';

/**
 * `llmsec replay --state redis://…`: shards of one log replayed at the same time with one
 * --ruleset print, together, the alerts of one in-memory replay of the whole log; an attacker
 * split over three shards is caught (each shard alone sees too little).
 */

let server: RedisHandle;

beforeAll(async () => {
  server = await startRedis();
});

afterAll(async () => {
  await server?.stop();
});

const T0 = Date.parse('2026-11-22T10:00:00.000Z');

function log(): string[] {
  const lines: string[] = [];
  for (let i = 0; i < 12; i++) {
    lines.push(
      line({
        event_id: `EVT-b${i}`,
        timestamp: new Date(T0 + i * 20_000).toISOString(),
        category: 'guardrail_block',
        severity: 'warning',
        user_id: 'mallory',
        metadata: { guardrail_layer: 'injection', block_reason: 'jailbreak' },
      }),
    );
  }
  return lines;
}

const alertLines = (stdout: string): string[] =>
  stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const a = JSON.parse(l) as { alert_id: string; rule: string; status: string };
      return `${a.rule} ${a.status} ${a.alert_id}`;
    })
    .sort();

describe('llmsec replay --state', () => {
  it('three shards with one ruleset = one replay of the whole log', async () => {
    const all = log();
    const whole = await cli(['replay', '-'], `${all.join('\n')}\n`);
    expect(whole.code).toBe(0);
    const want = alertLines(whole.stdout);
    expect(want.some((a) => a.startsWith('rapid_guardrail_blocks firing'))).toBe(true);

    const shards = [0, 1, 2].map((k) => all.filter((_, i) => i % 3 === k));
    const alone = await cli(['replay', '-'], `${shards[0]!.join('\n')}\n`);
    expect(alertLines(alone.stdout)).toEqual([]);

    const ruleset = `cli-${process.pid}-${Date.now()}`;
    const runs = await Promise.all(
      shards.map((s) =>
        cli(
          [
            'replay',
            '-',
            '--state',
            server.url,
            '--ruleset',
            ruleset,
            '--shards',
            '3',
            '--allowed-lateness',
            '1h',
          ],
          `${s.join('\n')}\n`,
        ),
      ),
    );
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    expect(runs[0]!.stderr).toContain(`ruleset ${ruleset} (shared;`);
    expect(alertLines(runs.map((r) => r.stdout).join('\n'))).toEqual(want);
    // Every shard counts the incidents open in Redis (one shard fired it), as the whole log does.
    expect(whole.stderr).toContain('1 still firing at end of input');
    for (const r of runs) expect(r.stderr).toContain('1 still firing at end of input');
  });

  it('shards count open incidents once every shard has flushed, even when one flushes late', async () => {
    // Mallory's blocks are spread over both shards; Bob's ten are all in shard B, so Bob's
    // incident opens in B's final flush (lateness 1 h: nothing is processed before it, and A's
    // final flush does not sweep a group pending for less than the lateness).
    const bob = Array.from({ length: 10 }, (_, i) =>
      line({
        event_id: `EVT-bob${i}`,
        timestamp: new Date(T0 + 5_000 + i * 20_000).toISOString(),
        category: 'guardrail_block',
        severity: 'warning',
        user_id: 'bob',
        metadata: { guardrail_layer: 'injection', block_reason: 'jailbreak' },
      }),
    );
    const mallory = log();
    const whole = await cli(
      ['replay', '-', '--allowed-lateness', '1h'],
      `${[...mallory, ...bob].join('\n')}\n`,
    );
    expect(whole.stderr).toContain('2 still firing at end of input');
    const shardA = mallory.filter((_, i) => i % 2 === 0);
    const shardB = [...mallory.filter((_, i) => i % 2 === 1), ...bob];

    const ruleset = `cli-late-${process.pid}-${Date.now()}`;
    // Shard B reaches Redis through a gate that holds everything it sends after it counts
    // itself done reading: A passes the read barrier and flushes while B cannot, so B flushes
    // after A, deterministically. The gate opens once A is done or waits at the flush barrier.
    const gate = await heldAfter(server.port, `${ruleset}}:replay-read`);
    const direct = new Redis(server.url);
    try {
      const args = (url: string) => [
        'replay',
        '-',
        '--state',
        url,
        '--ruleset',
        ruleset,
        '--shards',
        '2',
        '--allowed-lateness',
        '1h',
      ];
      let aDone = false;
      const a = cli(args(server.url), `${shardA.join('\n')}\n`).finally(() => (aDone = true));
      const b = cli(args(gate.url), `${shardB.join('\n')}\n`);
      const flushed = `llmsec:det:{${ruleset}}:replay-flushed`;
      while (!aDone && !(Number(await direct.get(flushed)) >= 1)) await new Promise((r) => setTimeout(r, 20));
      expect(gate.held).toBe(true);
      gate.release();
      const runs = await Promise.all([a, b]);
      for (const r of runs) expect(r.code, r.stderr).toBe(0);
      for (const r of runs) expect(r.stderr).toContain('2 still firing at end of input');
    } finally {
      direct.disconnect();
      await gate.close();
    }
  });

  it('a shard whose barrier times out (the other shard never came) prints its alerts, says its counts are partial and exits 1', async () => {
    const ruleset = `cli-lonely-${process.pid}-${Date.now()}`;
    const before = process.env.LLMSEC_REPLAY_BARRIER_TIMEOUT_MS;
    process.env.LLMSEC_REPLAY_BARRIER_TIMEOUT_MS = '1000';
    try {
      const started = Date.now();
      const r = await cli(
        ['replay', '-', '--state', server.url, '--ruleset', ruleset, '--shards', '2'],
        `${log().join('\n')}\n`,
      );
      // Both barriers waited their 1 s, not the default 10 min.
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(r.code, r.stderr).toBe(1);
      expect(alertLines(r.stdout).some((a) => a.startsWith('rapid_guardrail_blocks firing'))).toBe(true);
      expect(r.stderr).toContain('not all 2 shards finished reading within 1 s; flushing anyway');
      // Its pacing waited for the other shard to start as long, then went on without it.
      expect(r.stderr).toContain('llmsec replay: shards went on without pacing each other');
      expect(r.stderr).toContain('not all 2 shards finished their final flush within 1 s; counting anyway');
      expect(r.stderr).toMatch(
        /^alerts: 1 firing, .*; counts partial: not all 2 shards reached the shard barrier within 1 s$/m,
      );
    } finally {
      if (before === undefined) delete process.env.LLMSEC_REPLAY_BARRIER_TIMEOUT_MS;
      else process.env.LLMSEC_REPLAY_BARRIER_TIMEOUT_MS = before;
    }
  });

  it('a sharded replay with late events says their incidents may be missed and what lateness to give', async () => {
    // Which shard runs ahead is a race; a line stamped two hours ahead in one shard's own input
    // makes the rest of it late just as deterministically (the same shared watermark).
    const ahead = line({
      event_id: 'EVT-ahead',
      timestamp: new Date(T0 + 7_200_000).toISOString(),
      category: 'auth_failure',
      severity: 'warning',
      user_id: 'someone',
    });
    const ruleset = `cli-late-${process.pid}-${Date.now()}`;
    const [a, b] = await Promise.all([
      cli(
        ['replay', '-', '--state', server.url, '--ruleset', ruleset, '--shards', '2'],
        `${[ahead, ...log()].join('\n')}\n`,
      ),
      cli(['replay', '-', '--state', server.url, '--ruleset', ruleset, '--shards', '2'], ''),
    ]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(a.stderr).toContain(', 12 late (dropped), ');
    expect(a.stderr).toContain(
      "llmsec replay: 12 events came later than --allowed-lateness (5s) behind the newest event time of the shards' shared state, and their incidents may be missed",
    );
    expect(a.stderr).toContain("--allowed-lateness at least the log's time span");
    expect(alertLines(a.stdout)).toEqual([]);
    // Without late events, or without shards, no such line.
    expect(b.stderr).not.toContain('may be missed');
    const single = await cli(['replay', '-'], `${[ahead, ...log()].join('\n')}\n`);
    expect(single.stderr).toContain(', 12 late (dropped), ');
    expect(single.stderr).not.toContain('may be missed');
  });

  it('rejects a LLMSEC_REPLAY_BARRIER_TIMEOUT_MS that is not a positive integer of milliseconds', async () => {
    const before = process.env.LLMSEC_REPLAY_BARRIER_TIMEOUT_MS;
    try {
      for (const text of ['1s', '0x10', ' 100', '1e3']) {
        process.env.LLMSEC_REPLAY_BARRIER_TIMEOUT_MS = text;
        const r = await cli(['replay', '-', '--state', server.url, '--ruleset', 'x', '--shards', '2'], '');
        expect(r.code).toBe(2);
        expect(r.stderr).toContain('LLMSEC_REPLAY_BARRIER_TIMEOUT_MS must be an integer');
      }
    } finally {
      if (before === undefined) delete process.env.LLMSEC_REPLAY_BARRIER_TIMEOUT_MS;
      else process.env.LLMSEC_REPLAY_BARRIER_TIMEOUT_MS = before;
    }
  });

  it('rejects a --state that is not a Redis URL', async () => {
    const r = await cli(['replay', '-', '--state', 'http://x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--state must be a redis://');
  });

  it('says a --cluster state that is a standalone Redis is no Cluster (not "Failed to refresh slots cache")', async () => {
    const r = await cli(['replay', '-', '--state', server.url, '--cluster'], '');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `cannot connect to ${server.url}: not a Redis Cluster: the server is a standalone Redis`,
    );
    expect(r.stderr).not.toContain('slots cache');
  });
});
