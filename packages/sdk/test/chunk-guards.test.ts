import { describe, expect, it } from 'vitest';
import type { LlmsecMetrics } from '../src/metrics.ts';
import { runChunkGuards } from '../src/instrumentation/chunk-guards.ts';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import type { OutputGuard } from '../src/instrumentation/index.ts';
import { chatInput, recordingContext } from './guard-context.ts';

/**
 * chunk-guards.ts (split out of guard-runner.ts in f4a4335): the hold is the most any guard
 * asks, whatever the order of the guards (a smaller one would release text another guard holds
 * back as a possible leak), and a chunk block records its guard's duration with outcome block.
 * Neither was checked: taking the first guard's hold, or dropping the block's record, passed.
 */

function holding(name: string, holdChars: number): OutputGuard {
  return {
    name,
    layer: name,
    checkResponse: () => ({ action: 'allow' }),
    checkChunk: () => ({ action: 'allow', holdChars }),
  };
}

function recording(): { metrics: LlmsecMetrics; records: Array<{ layer: string; outcome: string }> } {
  const records: Array<{ layer: string; outcome: string }> = [];
  const metrics = {
    recordGuardrailDuration: ({ layer, outcome }: { layer: string; outcome: string }) =>
      void records.push({ layer, outcome }),
  } as unknown as LlmsecMetrics;
  return { metrics, records };
}

describe('runChunkGuards', () => {
  it('holds back the most any guard asks, in either order', () => {
    const { ctx } = recordingContext(chatInput());
    const { metrics } = recording();
    const cases: Array<[OutputGuard[], number]> = [
      [[holding('a', 3), holding('b', 10), holding('c', 0)], 10],
      [[holding('b', 10), holding('a', 3)], 10],
      [[holding('c', 0), holding('a', 3)], 3],
      [[], 0],
    ];
    for (const [guards, hold] of cases)
      expect(runChunkGuards(guards, 'text', 'text', ctx, metrics)).toBe(hold);
  });

  it('a block throws OutputBlockedError and records that guard with outcome block', () => {
    const { ctx, emitted } = recordingContext(chatInput());
    const { metrics, records } = recording();
    const blocking: OutputGuard = {
      name: 'cut',
      layer: 'cut',
      checkResponse: () => ({ action: 'allow' }),
      checkChunk: () => ({ action: 'block', reason: 'leak' }),
    };
    expect(() => runChunkGuards([holding('a', 3), blocking], 'x', 'x', ctx, metrics)).toThrow(
      OutputBlockedError,
    );
    expect(records).toEqual([{ layer: 'cut', outcome: 'block' }]);
    expect(emitted).toEqual(['output_filter_block']);
  });
});
