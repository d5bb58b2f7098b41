import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { cli, line } from './replay-io.ts';

/**
 * `llmsec replay --state redis://…` of a log whose times are ahead of the wall clock (synthetic
 * test data dated 2030, a log from a host whose clock ran ahead) gives the answer of an
 * in-memory replay of the same log. A log's times are not the wall clock's: the Redis state's
 * live-detection guards (drop events more than an hour ahead, hold the shared clock to this
 * machine's and the Redis server's clock) dropped every event of a 2030 log without a word
 * (0 alerts, 0 late) and, for a log 30 minutes ahead, held the clock back until the end of
 * input, so no event was late and the alerts had other evidence, times and ids.
 */

let server: RedisHandle;

beforeAll(async () => {
  server = await startRedis();
});

afterAll(async () => {
  await server?.stop();
});

/** 120 blocks a second apart over three users; every 7th line 20 s behind (late at 5 s). */
function log(t0: number): string {
  const lines: string[] = [];
  for (let i = 0; i < 120; i++) {
    lines.push(
      line({
        event_id: `E${i}`,
        timestamp: new Date(t0 + i * 1_000 - (i % 7 === 3 ? 20_000 : 0)).toISOString(),
        category: 'guardrail_block',
        severity: 'warning',
        user_id: `u${i % 3}`,
        metadata: { guardrail_layer: 'injection', block_reason: 'jailbreak' },
      }),
    );
  }
  return `${lines.join('\n')}\n`;
}

const alerts = (stdout: string): string[] =>
  stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const a = JSON.parse(l) as {
        alert_id: string;
        rule: string;
        status: string;
        starts_at: string;
        evidence: string[];
      };
      return `${a.rule} ${a.status} ${a.alert_id} ${a.starts_at} ${a.evidence.join(',')}`;
    })
    .sort();

const late = (stderr: string): number => Number(/, (\d+) late \(dropped\)/.exec(stderr)?.[1] ?? NaN);

describe('llmsec replay --state of a log dated ahead of the clock', () => {
  for (const [name, t0] of [
    ['dated 2030', Date.parse('2030-01-01T00:00:00.000Z')],
    ['30 minutes ahead', Date.now() + 30 * 60_000],
  ] as const) {
    it(`${name}: the alerts and late count of an in-memory replay`, async () => {
      const input = log(t0);
      const memory = await cli(['replay', '-', '--format', 'jsonl', '--allowed-lateness', '5s'], input);
      expect(memory.code).toBe(0);
      const want = alerts(memory.stdout);
      expect(want).toHaveLength(3);
      expect(late(memory.stderr)).toBeGreaterThan(0);

      const shared = await cli(
        [
          'replay',
          '-',
          '--format',
          'jsonl',
          '--allowed-lateness',
          '5s',
          '--state',
          server.url,
          '--ruleset',
          `future-${process.pid}-${Date.now()}`,
        ],
        input,
      );
      expect(shared.code).toBe(0);
      expect(alerts(shared.stdout)).toEqual(want);
      expect(late(shared.stderr)).toBe(late(memory.stderr));
    });
  }
});
