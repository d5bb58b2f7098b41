// A rule's window and quiet period, and --allowed-lateness, were capped at 100000000d, "what a
// Date holds" (8699178, 151ee0a). But a Date holds 100000000 days either side of 1970 as a
// point in time: a 2026 event plus a window or quiet period that long is past it. In memory the
// replay still worked; on the Redis state every incident of such a rule decoded as damaged (its
// resolve time is no time), so it was not listed as open (the summary said 0 still firing where
// memory said 1) and the next step of its group dropped it. By hand: windows up to 99979000d
// agree, 99980000d and longer do not (2026 is ~20,450 days after 1970). The cap is now
// 10000000d: an event up to 9999-12-31 plus a window, quiet period and lateness of that stays a
// time. Against a real redis-server.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { cli, line } from './replay-io.ts';

let redis: RedisHandle;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const dir = mkdtempSync(join(tmpdir(), 'llmsec-replay-duration-range-'));

function rules(duration: string): string {
  const path = join(dir, `rules-${duration}.yaml`);
  writeFileSync(
    path,
    `rules:\n  - id: r\n    title: T\n    severity: alert\n    match: { categories: [guardrail_block] }\n    window: ${duration}\n    quiet: ${duration}\n    condition: { kind: count, min: 2 }\n`,
  );
  return path;
}

const input = ['2026-11-22T10:00:01Z', '2026-11-22T10:00:02Z', '9999-12-31T23:59:59Z']
  .map((timestamp, i) =>
    line({
      event_id: `e${i}`,
      timestamp,
      category: 'guardrail_block',
      severity: 'warning',
      user_id: `u${i >> 1}`,
    }),
  )
  .join('\n');

const summary = (stderr: string) => stderr.split('\n').find((l) => l.startsWith('alerts:'));

describe('rule durations and lateness at their cap', () => {
  it('replay the same on Redis as in memory at the longest allowed', async () => {
    const args = ['replay', '-', '--rules', rules('10000000d'), '--allowed-lateness', '10000000d'];
    const memory = await cli(args, input);
    const shared = await cli([...args, '--state', redis.url], input);
    expect(memory.code, memory.stderr).toBe(0);
    expect(shared.code, shared.stderr).toBe(0);
    expect(summary(memory.stderr)).toBe('alerts: 1 firing, 0 resolved, 1 still firing at end of input');
    expect(summary(shared.stderr)).toBe(summary(memory.stderr));
    expect(shared.stdout).toBe(memory.stdout);
  }, 30_000);

  it('refuse one day past it, and the former cap', async () => {
    for (const d of ['10000001d', '100000000d']) {
      const r = await cli(['replay', '-', '--rules', rules(d)], input);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('field "window": must be at most 10000000d');
      const late = await cli(['replay', '-', '--allowed-lateness', d], input);
      expect(late.code).toBe(2);
      expect(late.stderr).toContain('--allowed-lateness: must be at most 10000000d');
    }
  });
});
