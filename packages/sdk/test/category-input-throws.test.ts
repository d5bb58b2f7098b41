/**
 * The category methods (`events.guardrailBlock(...)`, ...) read their own fields (`layer`,
 * `reason`, `piiTypes`, ...) from the caller's object. An object whose getter throws (a lazy
 * ORM or request object, a Proxy), or a piiTypes entry that cannot become a string, must not
 * make the telemetry call throw into the host: the event is still recorded with what can be
 * read, and the failure is reported as llmsec's own (diag warning), as emit() already did.
 */
import { DiagLogLevel, diag, type DiagLogger } from '@opentelemetry/api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SecurityEvent } from '@llmsec/core';
import { resetTelemetryErrorThrottle } from '../src/errors.ts';
import { createHarness } from './harness.ts';

type Harness = ReturnType<typeof createHarness>;
let h: Harness;
const warnings: string[] = [];

const recordingLogger: DiagLogger = {
  error: (m) => warnings.push(`error: ${m}`),
  warn: (m) => warnings.push(`warn: ${m}`),
  info: () => {},
  debug: () => {},
  verbose: () => {},
};

beforeEach(() => {
  resetTelemetryErrorThrottle();
  warnings.length = 0;
  diag.setLogger(recordingLogger, DiagLogLevel.WARN);
  h = createHarness();
});
afterEach(async () => {
  diag.disable();
  await h.close();
});

/** Each category method and the name of one of its own fields. */
const METHODS: ReadonlyArray<[keyof Harness['events'], string, string]> = [
  ['guardrailBlock', 'layer', 'guardrail_block'],
  ['outputFilterBlock', 'filter', 'output_filter_block'],
  ['rateLimitHit', 'limitType', 'rate_limit_hit'],
  ['anomalousPattern', 'anomalyType', 'anomalous_pattern'],
  ['systemPromptLeakage', 'confidence', 'system_prompt_leakage'],
  ['piiDetected', 'piiTypes', 'pii_detected'],
  ['toolAbuseAttempt', 'tool', 'tool_abuse_attempt'],
  ['authFailure', 'reason', 'auth_failure'],
  ['unusualTokenUsage', 'promptTokens', 'unusual_token_usage'],
  ['requestCompleted', 'model', 'request_completed'],
];

function call(method: keyof Harness['events'], input: unknown): SecurityEvent {
  return (h.events[method] as (i: unknown) => SecurityEvent).call(h.events, input);
}

describe('category methods on input they cannot read', () => {
  for (const [method, field, category] of METHODS) {
    it(`${method}: a throwing ${field} getter records the event without it`, () => {
      const input = { userId: 'alice', metadata: { ticket: 'T-1' } };
      Object.defineProperty(input, field, {
        enumerable: true,
        get() {
          throw new Error(`${field} getter`);
        },
      });
      let event: SecurityEvent | undefined;
      expect(() => (event = call(method, input))).not.toThrow();
      expect(event!.category).toBe(category);
      expect(event!.user_id).toBe('alice');
      expect(event!.metadata?.ticket).toBe('T-1');
      expect(h.logExporter.getFinishedLogRecords()).toHaveLength(1);
      // Reported as llmsec's own failure (by type: a message may hold user data).
      expect(warnings).toContain('error: llmsec events failed (Error); the application is not affected');
    });

    it(`${method}: a Proxy that throws on every read still returns an event`, () => {
      const input = new Proxy(
        {},
        {
          get() {
            throw new Error('no reads');
          },
        },
      );
      let event: SecurityEvent | undefined;
      expect(() => (event = call(method, input))).not.toThrow();
      expect(event!.category).toBe(category);
    });
  }

  it('piiDetected: a pii type that cannot become a string (no prototype, throwing toString)', () => {
    const bad = [
      Object.create(null) as unknown,
      {
        toString() {
          throw new Error('toString');
        },
      },
    ];
    for (const type of bad) {
      let event: SecurityEvent | undefined;
      expect(
        () =>
          (event = h.events.piiDetected({ userId: 'bob', piiTypes: [type as string], direction: 'input' })),
      ).not.toThrow();
      expect(event!.category).toBe('pii_detected');
      expect(event!.user_id).toBe('bob');
      expect(event!.metadata?.direction).toBe('input');
      // named so, not dropped: the event still says a pii type was found
      expect(event!.metadata?.pii_types).toEqual(['[unprintable]']);
    }
    expect(h.logExporter.getFinishedLogRecords()).toHaveLength(2);
  });
});
