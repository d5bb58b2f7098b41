import { describe, expect, it } from 'vitest';
import type { Alert, SecurityEvent } from '@llmsec/core';
import { DetectionEngine, OBJECT_STATE_ONLY } from '../src/engine.ts';
import type { RuleDefinition } from '../src/index.ts';

/**
 * Which rules get a slab state: rules handed over as objects are not checked by the rule-file
 * schema, and one whose counts cannot size an inline ring keeps the object path. Whatever
 * such a rule does there, the slab engine must do the same, and the other rules of its
 * table must go on working.
 */

const T0 = Date.parse('2026-11-22T10:00:00.000Z');

const MALFORMED: Record<string, unknown>[] = [
  { kind: 'identical', field: 'metadata.a' },
  { kind: 'ratio', field: 'metadata.b', above: 0.5 },
  { kind: 'monotonic', value: ['metadata.a'], factor: 1 },
  { kind: 'identical', field: 'metadata.a', min_events: 2.5 },
  { kind: 'ratio', field: 'metadata.b', above: 0.5, min_events: 0 },
  { kind: 'ratio', field: 'metadata.b', above: 0.5, min_events: '3' },
  { kind: 'monotonic', value: ['metadata.a'], factor: 1, min_events: Number.NaN },
  { kind: 'monotonic', value: ['metadata.a'], factor: 1, min_events: 2, last: 0 },
  { kind: 'monotonic', value: ['metadata.a'], factor: 1, min_events: 2, last: 1.5 },
];

function run(
  condition: Record<string, unknown>,
  objectOnly: boolean,
): { alerts: string[]; processed: number } {
  const rules = [
    { id: 'odd', condition },
    { id: 'count', condition: { kind: 'count', min: 2 } },
  ].map(
    (r) =>
      ({
        ...r,
        title: 't',
        severity: 'warning',
        match: { categories: ['c'] },
        group_by: 'user_id',
        window_ms: 60_000,
      }) as unknown as RuleDefinition,
  );
  const alerts: string[] = [];
  const engine = new DetectionEngine({
    rules,
    allowedLatenessMs: 0,
    onAlert: (a: Alert) => alerts.push(`${a.rule} ${a.status} ${a.labels.user_id} ${a.description}`),
    ...(objectOnly ? { [OBJECT_STATE_ONLY]: true } : {}),
  });
  for (let i = 0; i < 12; i++) {
    const event: SecurityEvent = {
      event_id: `E${i}`,
      timestamp: new Date(T0 + i).toISOString(),
      category: 'c',
      severity: 'info',
      user_id: `u${i % 3}`,
      metadata: { a: 5 + i, b: true },
    };
    engine.ingest(event, T0 + i);
  }
  engine.flush();
  return { alerts, processed: engine.stats.processed };
}

describe('rules whose counts cannot size a slab region', () => {
  for (const condition of MALFORMED) {
    it(`keep the object path: ${JSON.stringify(condition)}`, () => {
      const slab = run(condition, false);
      const object = run(condition, true);
      expect(slab).toEqual(object);
      // The table's other rule still fires for each of the three users.
      expect(slab.alerts.filter((a) => a.startsWith('count firing'))).toHaveLength(3);
    });
  }
});
