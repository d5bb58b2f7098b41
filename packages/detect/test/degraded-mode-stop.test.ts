import { metrics } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { DegradedMode } from '../src/state/degraded-mode.ts';
import type { RedisDetectionState } from '../src/state/redis-state.ts';
import type { SharedStats } from '../src/state/shared-types.ts';

// A probe can outlast the engine: it waits for a reconnecting client up to the command timeout.
// Its answer after shutdown must not switch back nor hand the degraded incidents back.
describe('DegradedMode.stop', () => {
  it('a probe answering after stop() neither switches back nor calls onBack', async () => {
    let answer: (() => void) | undefined;
    let pings = 0;
    const state = {
      probeIntervalMs: 5,
      ping: () => {
        pings++;
        return new Promise<void>((resolve) => (answer = resolve));
      },
    } as unknown as RedisDetectionState;
    const stats = { mode: 'shared', degradedEpisodes: 0 } as SharedStats;
    let backs = 0;
    const mode = new DegradedMode(stats, state, metrics.getMeter('test'), () => backs++);
    mode.enter(new Error('down'));
    mode.startProbing();
    while (answer === undefined) await new Promise((r) => setTimeout(r, 5));
    mode.stop();
    answer();
    await new Promise((r) => setTimeout(r, 30));
    expect(pings).toBe(1);
    expect(backs).toBe(0);
    expect(stats.mode).toBe('degraded');
  });

  it('a probe answering while running switches back once', async () => {
    const state = { probeIntervalMs: 5, ping: () => Promise.resolve() } as unknown as RedisDetectionState;
    const stats = { mode: 'shared', degradedEpisodes: 0 } as SharedStats;
    let backs = 0;
    const mode = new DegradedMode(stats, state, metrics.getMeter('test'), () => backs++);
    mode.enter(new Error('down'));
    mode.startProbing();
    while (backs === 0) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 30));
    expect(backs).toBe(1);
    expect(stats.mode).toBe('shared');
    expect(stats.degradedEpisodes).toBe(1);
    mode.stop();
  });
});
