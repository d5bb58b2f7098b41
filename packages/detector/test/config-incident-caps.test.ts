// The engine's open-incident caps in the detector's config: max_open_incidents_per_rule and
// max_overflow_incidents_per_rule (the runbook of LlmsecDetectionIncidentsRefused raises them).
import { afterAll, describe, expect, it } from 'vitest';
import { RedisDetectionState } from '@llmsec/detect';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { configDir, configError } from './config-files.ts';
import { loadConfig } from '../src/service/config.ts';
import { chooseState } from '../src/service/state.ts';

const { file } = configDir('llmsec-detector-caps-');

let redis: RedisHandle | undefined;
afterAll(async () => {
  await redis?.stop();
});

describe('incident caps in the detector config', () => {
  it("defaults to the engine's (10,000 open, 1,000 overflow per rule)", () => {
    const c = loadConfig(undefined);
    expect(c.max_open_incidents_per_rule).toBe(10_000);
    expect(c.max_overflow_incidents_per_rule).toBe(1_000);
  });

  it('reads both from the file, overflow 0 included, and from the flags over the file', () => {
    const p = file('caps.yaml', 'max_open_incidents_per_rule: 50000\nmax_overflow_incidents_per_rule: 0\n');
    const c = loadConfig(p);
    expect(c.max_open_incidents_per_rule).toBe(50_000);
    expect(c.max_overflow_incidents_per_rule).toBe(0);
    const f = loadConfig(p, { maxOpenIncidentsPerRule: '7', maxOverflowIncidentsPerRule: '3' });
    expect(f.max_open_incidents_per_rule).toBe(7);
    expect(f.max_overflow_incidents_per_rule).toBe(3);
  });

  it('names the field, or the flag, of a bad value', () => {
    expect(configError(() => loadConfig(file('a.yaml', 'max_open_incidents_per_rule: 0\n')))).toMatch(
      /^\/.+\/a\.yaml: field "max_open_incidents_per_rule": /,
    );
    expect(configError(() => loadConfig(file('b.yaml', 'max_open_incidents_per_rule: 1.5\n')))).toMatch(
      /^\/.+\/b\.yaml: field "max_open_incidents_per_rule": /,
    );
    expect(configError(() => loadConfig(file('c.yaml', 'max_overflow_incidents_per_rule: -1\n')))).toMatch(
      /^\/.+\/c\.yaml: field "max_overflow_incidents_per_rule": /,
    );
    expect(configError(() => loadConfig(file('d.yaml', 'max_overflow_incidents_per_rule: lots\n')))).toMatch(
      /^\/.+\/d\.yaml: field "max_overflow_incidents_per_rule": /,
    );
    expect(configError(() => loadConfig(undefined, { maxOpenIncidentsPerRule: 'many' }))).toBe(
      '--max-open-incidents-per-rule: want a whole number in decimal digits, got "many"',
    );
    expect(configError(() => loadConfig(undefined, { maxOverflowIncidentsPerRule: '-2' }))).toMatch(
      /^--max-overflow-incidents-per-rule: /,
    );
  });

  it("gives Redis state the fleet's cap from this replica's config", async () => {
    redis = await startRedis();
    const chosen = await chooseState(redis.url, { maxOpenIncidentsPerRule: 7 });
    try {
      const state = chosen.engineOptions.state;
      expect(state).toBeInstanceOf(RedisDetectionState);
      expect((state as RedisDetectionState).maxOpenIncidentsPerRule).toBe(7);
    } finally {
      await chosen.close();
    }
  });
});
