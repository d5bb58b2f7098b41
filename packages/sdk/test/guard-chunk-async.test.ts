import { afterEach, describe, expect, it } from 'vitest';
import { setTelemetryErrorCounter } from '../src/errors.ts';
import type { LlmsecMetrics } from '../src/metrics.ts';
import { runChunkGuards } from '../src/instrumentation/guard-runner.ts';
import type { OutputDecision, OutputGuard } from '../src/instrumentation/index.ts';
import { chatInput, recordingContext } from './guard-context.ts';

/**
 * Chunk checks are synchronous (types.ts). A guard written in JavaScript with an async
 * checkChunk returned a promise the runner read as `allow` and left unhandled: a rejection
 * crashed the host process (Node's default for unhandled rejections), where a guard that throws
 * is reported and ignored. Now it is reported like a throw, and its rejection is handled
 * (issue 13 review: an async guard mixed with sync ones).
 */

const metrics = { recordGuardrailDuration: () => undefined } as unknown as LlmsecMetrics;

afterEach(() => setTelemetryErrorCounter(undefined));

describe('runChunkGuards with a guard that returns a promise', () => {
  it('is reported, its rejection handled, and the sync guards around it still decide', async () => {
    const reported: string[] = [];
    setTelemetryErrorCounter({ recordTelemetryError: (component) => reported.push(component) });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const asyncGuard = (answer: () => Promise<OutputDecision>): OutputGuard =>
        ({
          name: 'async',
          layer: 'async',
          checkResponse: () => ({ action: 'allow' }),
          checkChunk: answer,
        }) as unknown as OutputGuard;
      const hold: OutputGuard = {
        name: 'hold',
        layer: 'hold',
        checkResponse: () => ({ action: 'allow' }),
        checkChunk: (acc) => ({ action: 'allow', holdChars: acc.length }),
      };
      const guards = [
        asyncGuard(() => Promise.reject(new Error('async chunk bug'))),
        hold,
        asyncGuard(() => Promise.resolve({ action: 'block', reason: 'too late' })),
      ];
      const ctx = recordingContext(chatInput()).ctx;
      expect(runChunkGuards(guards, 'abc', 'abc', ctx, metrics)).toBe(3);
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
      expect(reported).toEqual(['guard', 'guard']);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
