// The compose Collector's filter/llmsec-events (deploy/otel-collector/config.yaml) decides what
// the detector is fed: llmsec security-event records, but not the detector's own enforcement
// actions, which it sends back through sinks.otlp_alerts for Loki (fed back, they would count
// as the user's events, and a rule on anomalous_pattern would loop alert -> enforcement ->
// alert). No otelcol binary runs here, so this evaluates the two condition forms the file uses
// (`attributes["k"] == nil`, `attributes["k"] == "v"`; ORed, a match drops) against the
// attributes the SDK and the detector really write; any other form fails the test, to be added.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { eventToAttributes, type Alert, type SecurityEvent } from '@llmsec/core';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { FleetEnforcement } from '../src/service/fleet-enforcement.ts';
import { silentLogger } from '../src/service/log.ts';

const CONFIG = fileURLToPath(new URL('../../../deploy/otel-collector/config.yaml', import.meta.url));

interface CollectorConfig {
  processors: Record<string, { error_mode?: string; logs?: { log_record?: string[] } }>;
  service: { pipelines: Record<string, { processors?: string[] }> };
}

const collector = parseYaml(readFileSync(CONFIG, 'utf8')) as CollectorConfig;

/** One OTTL condition of the forms the file uses, on a log record's attributes. */
function matches(condition: string, attributes: Record<string, unknown>): boolean {
  const m = /^attributes\["([^"]+)"\] == (nil|"([^"]*)")$/.exec(condition.trim());
  if (m === null) throw new Error(`condition form not evaluated by this test: ${condition}`);
  const value = attributes[m[1]!];
  return m[2] === 'nil' ? value === undefined : value === m[3];
}

function dropped(attributes: Record<string, unknown>): boolean {
  const conditions = collector.processors['filter/llmsec-events']?.logs?.log_record ?? [];
  expect(conditions.length).toBeGreaterThan(0);
  return conditions.some((c) => matches(c, attributes));
}

const db = useRedis();

describe('compose Collector: filter/llmsec-events', () => {
  it('is on logs/detector only: Loki still gets every record', () => {
    const users = Object.entries(collector.service.pipelines)
      .filter(([, p]) => p.processors?.includes('filter/llmsec-events'))
      .map(([name]) => name);
    expect(users).toEqual(['logs/detector']);
  });

  it("keeps the SDK's security events, drops alert records and the detector's enforcement actions", async () => {
    const sdkEvent: SecurityEvent = {
      event_id: 'EVT-0123456789ab',
      timestamp: '2026-12-04T10:00:00.000Z',
      category: 'anomalous_pattern',
      severity: 'warning',
      user_id: 'u-1',
      metadata: { anomaly_type: 'velocity' },
    };
    expect(dropped(eventToAttributes(sdkEvent) as Record<string, unknown>)).toBe(false);
    // An llmsec.alert log record carries the alert, not llmsec.event.id.
    expect(dropped({ 'llmsec.alert.id': 'ALR-0123456789abcdef', 'llmsec.alert.rule': 'x' })).toBe(true);

    const actions: SecurityEvent[] = [];
    const enforcement = new FleetEnforcement({
      client: db.redis,
      actions: [{ severity: 'alert', action: 'throttle', duration: 60_000 }],
      logger: silentLogger,
      onAction: (e) => actions.push(e),
    });
    const alert: Alert = {
      alert_id: 'ALR-0123456789abcdef',
      rule: 'rapid_guardrail_blocks',
      severity: 'alert',
      status: 'firing',
      labels: { user_id: 'u-1' },
      user_ids: ['u-1'],
      starts_at: '2026-12-04T10:00:00.000Z',
      description: 'x',
      evidence: ['EVT-0123456789ab'],
    };
    enforcement.send(alert);
    await enforcement.forceFlush();
    expect(actions).toHaveLength(1);
    const attributes = eventToAttributes(actions[0]!) as Record<string, unknown>;
    expect(attributes['llmsec.event.id']).toBeDefined(); // so llmsec.event.id == nil alone keeps it
    expect(dropped(attributes)).toBe(true);
  });
});
