import { describe, expect, it } from 'vitest';
import { MeterProvider, MetricReader, type SumMetricData } from '@opentelemetry/sdk-metrics';
import { ManualClock, type Alert } from '@llmsec/core';
import { DetectionEngine, type CodeRule } from '../src/index.ts';
import { block, brief, ev, feed, MIN, recordingEngine, SEC, T0 } from './helpers.ts';

const RAPID = 'rapid_guardrail_blocks';

class TestReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

describe('event time and lateness', () => {
  it('handles events late within the allowed lateness as if they had come in order', () => {
    const { engine, alerts } = recordingEngine({ allowedLatenessMs: 30 * SEC });
    // Ten blocks within 10 minutes, delivered shuffled by up to 20 seconds.
    const times = [0, 20, 10, 40, 30, 60, 50, 80, 70, 90].map((s) => T0 + 9 * MIN + s * SEC);
    feed(
      engine,
      times.map((t) => block(t)),
    );
    engine.flush();
    expect(brief(alerts, RAPID)).toEqual([`${RAPID}:firing:u1`]);
    expect(alerts[0]!.starts_at).toBe(new Date(T0 + 9 * MIN + 90 * SEC).toISOString());
    expect(engine.stats.droppedLate).toBe(0);
  });

  it('holds events until the watermark passes them, then releases them in time order', () => {
    const seen: string[] = [];
    const rule: CodeRule = {
      id: 'order_probe',
      title: 'records processing order',
      severity: 'warning',
      categories: ['guardrail_block'],
      window_ms: MIN,
      condition: {
        createState: () => null,
        update: (_s, e) => {
          seen.push(e.event_id);
          return false;
        },
        describe: () => '',
      },
    };
    const engine = new DetectionEngine({ rules: [rule], allowedLatenessMs: 10 * SEC });
    feed(engine, [
      { ...block(T0 + 5 * SEC), id: 'b' },
      { ...block(T0), id: 'a' },
      { ...block(T0 + 5 * SEC), id: 'c' },
    ]);
    expect(seen).toEqual([]);
    expect(engine.stats.buffered).toBe(3);
    feed(engine, [{ ...block(T0 + 15 * SEC), id: 'd' }]);
    expect(seen).toEqual(['a', 'b', 'c']);
    engine.flush();
    expect(seen).toEqual(['a', 'b', 'c', 'd']);
  });

  it('counts and drops events later than the allowed lateness; they do not count toward rules', () => {
    const { engine, alerts } = recordingEngine({ allowedLatenessMs: 30 * SEC });
    feed(
      engine,
      Array.from({ length: 9 }, (_, i) => block(T0 + 5 * MIN + i * SEC)),
    );
    feed(engine, [block(T0 + 5 * MIN - 31 * SEC)]); // 39 s behind the newest: too late
    engine.flush();
    expect(engine.stats.droppedLate).toBe(1);
    expect(brief(alerts, RAPID)).toEqual([]);
  });

  it('with no lateness, an event older than the newest is late; an equal time is not', () => {
    const { engine } = recordingEngine({ allowedLatenessMs: 0 });
    feed(engine, [block(T0 + SEC), block(T0 + SEC), block(T0)]);
    expect(engine.stats).toMatchObject({ ingested: 3, processed: 2, droppedLate: 1 });
  });

  it('parses the timestamp when no time is given and drops events without a usable one', () => {
    const { engine } = recordingEngine();
    const { event } = ev(block(T0));
    engine.ingest(event);
    engine.ingest({ ...event, event_id: 'bad', timestamp: 'yesterday' });
    expect(engine.stats).toMatchObject({ processed: 1, droppedInvalid: 1 });
  });
});

describe('alert lifecycle', () => {
  it('resolves after the quiet period on the watermark, with the same alert id, and can fire again', () => {
    const { engine, alerts } = recordingEngine();
    feed(
      engine,
      Array.from({ length: 12 }, (_, i) => block(T0 + i * SEC)),
    );
    const last = T0 + 11 * SEC;
    engine.advanceTo(last + 10 * MIN - 1);
    expect(brief(alerts, RAPID)).toEqual([`${RAPID}:firing:u1`]);
    engine.advanceTo(last + 10 * MIN);
    expect(brief(alerts, RAPID)).toEqual([`${RAPID}:firing:u1`, `${RAPID}:resolved:u1`]);
    const [firing, resolved] = alerts.filter((a) => a.rule === RAPID) as [Alert, Alert];
    expect(resolved.alert_id).toBe(firing.alert_id);
    expect(resolved.ends_at).toBe(new Date(last + 10 * MIN).toISOString());
    expect(resolved.starts_at).toBe(firing.starts_at);
    feed(
      engine,
      Array.from({ length: 10 }, (_, i) => block(T0 + 20 * MIN + i * SEC)),
    );
    const again = alerts.filter((a) => a.rule === RAPID);
    expect(again.map((a) => a.status)).toEqual(['firing', 'resolved', 'firing']);
    expect(again[2]!.alert_id).not.toBe(firing.alert_id);
  });

  it("an event processed at the end of the quiet period resolves first; the resolved line carries its span only when it is an implicated user's", () => {
    const resolvedBy = (user: string) => {
      const { engine, alerts } = recordingEngine();
      feed(
        engine,
        Array.from({ length: 10 }, (_, i) => block(T0 + i * SEC)),
      );
      const trace = 'a'.repeat(32);
      feed(engine, [{ at: T0 + 9 * SEC + 10 * MIN, category: 'guardrail_block', user, trace }]);
      return { resolved: alerts.find((a) => a.status === 'resolved')!, trace };
    };
    // The incident's own user: the resolving event's span correlates the resolved record.
    const own = resolvedBy('u1');
    expect(own.resolved.trigger).toEqual({ trace_id: own.trace });
    // Another user's event only moved the clock: its trace must not be linked to u1's alert
    // (Alertmanager's generatorURL / trace_links, the OTel log record's parent).
    const other = resolvedBy('u9');
    expect(other.resolved.user_ids).toEqual(['u1']);
    expect(other.resolved.trigger).toBeUndefined();
  });

  it('flush resolves incidents whose quiet period ended by the last event and keeps the others firing', () => {
    const { engine, alerts } = recordingEngine();
    feed(
      engine,
      Array.from({ length: 10 }, (_, i) => block(T0 + i * SEC, 'early')),
    );
    feed(
      engine,
      Array.from({ length: 10 }, (_, i) => block(T0 + 30 * MIN + i * SEC, 'late')),
    );
    engine.flush();
    expect(brief(alerts, RAPID)).toEqual([
      `${RAPID}:firing:early`,
      `${RAPID}:resolved:early`,
      `${RAPID}:firing:late`,
    ]);
    expect(engine.activeIncidents().map((a) => a.labels)).toEqual([{ user_id: 'late' }]);
  });

  it('gives the same alert ids on a replay of the same events', () => {
    const run = () => {
      const { engine, alerts } = recordingEngine();
      feed(
        engine,
        Array.from({ length: 10 }, (_, i) => ({ ...block(T0 + i * SEC), id: `x${i}` })),
      );
      return alerts.map((a) => a.alert_id);
    };
    const first = run();
    expect(first[0]).toMatch(/^ALR-[0-9a-f]{16}$/);
    expect(run()).toEqual(first);
  });

  it('collects trace ids of the evidence, bounded', () => {
    const { engine, alerts } = recordingEngine();
    feed(
      engine,
      Array.from({ length: 40 }, (_, i) => ({
        ...block(T0 + i * SEC),
        trace: i.toString(16).padStart(32, '0'),
      })),
    );
    engine.advanceTo(T0 + 60 * MIN);
    const resolved = alerts.find((a) => a.rule === RAPID && a.status === 'resolved')!;
    expect(resolved.trace_ids).toHaveLength(10);
    expect(resolved.trace_ids![0]).toBe('0'.padStart(32, '0'));
  });
});

describe('bounded memory and safety', () => {
  it('evicts past maxGroupsPerRule, the groups seen least first (group-table.ts weights)', () => {
    const { engine, alerts } = recordingEngine({ maxGroupsPerRule: 3 });
    feed(
      engine,
      Array.from({ length: 9 }, (_, i) => block(T0 + i * SEC, 'victim')),
    );
    feed(
      engine,
      ['a', 'b', 'c'].map((u, i) => block(T0 + 10 * SEC + i * SEC, u)),
    );
    expect(engine.groupCount).toBe(3);
    expect(engine.stats.groupsEvicted).toBe(1);
    // a's one block went, not the victim's nine (a second-chance bit forgot them, the oldest):
    // the victim's tenth fires, and a, seen again, is a new group (one more eviction).
    feed(engine, [block(T0 + 20 * SEC, 'victim')]);
    expect(brief(alerts, RAPID)).toEqual([`${RAPID}:firing:victim`]);
    feed(engine, [block(T0 + 21 * SEC, 'a')]);
    expect(engine.stats.groupsEvicted).toBe(2);
  });

  it('keeps a recently seen group over an older one', () => {
    const { engine, alerts } = recordingEngine({ maxGroupsPerRule: 2 });
    feed(
      engine,
      Array.from({ length: 5 }, (_, i) => block(T0 + i * SEC, 'keep')),
    );
    feed(engine, [block(T0 + 6 * SEC, 'other'), block(T0 + 7 * SEC, 'keep'), block(T0 + 8 * SEC, 'new')]);
    feed(
      engine,
      Array.from({ length: 4 }, (_, i) => block(T0 + 10 * SEC + i * SEC, 'keep')),
    );
    expect(brief(alerts, RAPID)).toEqual([`${RAPID}:firing:keep`]);
  });

  it('at maxOpenIncidentsPerRule with the overflow tier off refuses the new incident (counted, no firing line) and evicts none', () => {
    const leak = (at: number, user: string) => ({ at, category: 'system_prompt_leakage', user });
    // maxOverflowIncidentsPerRule 0: the refusal of 0dfdd80 (engine-overflow.test.ts: the default).
    const { engine, alerts } = recordingEngine({
      maxOpenIncidentsPerRule: 2,
      maxOverflowIncidentsPerRule: 0,
    });
    // a, b open; c's incident is refused: a and b stay open, c gets no firing line.
    feed(engine, [leak(T0, 'a'), leak(T0 + SEC, 'b'), leak(T0 + 2 * SEC, 'a'), leak(T0 + 3 * SEC, 'c')]);
    expect(engine.stats.incidentsRefused).toBe(1);
    expect(engine.activeIncidents().map((a) => a.labels.user_id)).toEqual(['b', 'a']);
    // b again extends its open incident (no new line); c again is refused again.
    feed(engine, [leak(T0 + 4 * SEC, 'b'), leak(T0 + 5 * SEC, 'c')]);
    expect(engine.activeIncidents().map((a) => a.labels.user_id)).toEqual(['a', 'b']);
    expect(engine.stats.incidentsRefused).toBe(2);
    engine.flush();
    expect(brief(alerts, 'system_prompt_leakage')).toEqual([
      'system_prompt_leakage:firing:a',
      'system_prompt_leakage:firing:b',
    ]);
    // Both resolve after their quiet period, oldest first; then c can open.
    engine.advanceTo(T0 + 60 * MIN);
    feed(engine, [leak(T0 + 61 * MIN, 'c')]);
    engine.flush();
    expect(brief(alerts, 'system_prompt_leakage').slice(2)).toEqual([
      'system_prompt_leakage:resolved:a',
      'system_prompt_leakage:resolved:b',
      'system_prompt_leakage:firing:c',
    ]);
    expect(engine.stats.incidentsRefused).toBe(2);
  });

  it('never throws into the caller: failing onAlert and sinks are funnelled', () => {
    let sent = 0;
    const engine = new DetectionEngine({
      allowedLatenessMs: 0,
      onAlert: () => {
        throw new Error('listener bug');
      },
      sinks: [
        {
          name: 'broken',
          send: () => {
            throw new Error('sink bug');
          },
          forceFlush: () => Promise.resolve(),
          shutdown: () => Promise.resolve(),
        },
        {
          name: 'ok',
          send: () => void sent++,
          forceFlush: () => Promise.resolve(),
          shutdown: () => Promise.resolve(),
        },
      ],
    });
    expect(() =>
      feed(
        engine,
        Array.from({ length: 10 }, (_, i) => block(T0 + i * SEC)),
      ),
    ).not.toThrow();
    expect(sent).toBe(1);
    // A malformed event (no category string) is swallowed too.
    expect(() => engine.ingest(null as never, T0)).not.toThrow();
  });

  it('rejects invalid configuration at construction', () => {
    expect(() => new DetectionEngine({ allowedLatenessMs: -1 })).toThrow(/allowedLatenessMs/);
    expect(() => new DetectionEngine({ maxGroupsPerRule: 0 })).toThrow(/maxGroupsPerRule/);
    const rule: CodeRule = {
      id: 'dup',
      title: 'x',
      severity: 'warning',
      categories: ['auth_failure'],
      window_ms: MIN,
      condition: { createState: () => 0, update: () => true, describe: () => 'x' },
    };
    expect(() => new DetectionEngine({ rules: [rule, rule] })).toThrow(/duplicate rule id "dup"/);
  });
});

describe('metrics, dedupe, code rules, tick', () => {
  it('counts alerts by rule, severity and status, and late drops', async () => {
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    const engine = new DetectionEngine({ allowedLatenessMs: 0, meter: provider.getMeter('test') });
    feed(
      engine,
      Array.from({ length: 10 }, (_, i) => block(T0 + i * SEC)),
    );
    feed(engine, [block(T0)]);
    engine.advanceTo(T0 + 60 * MIN);
    const { resourceMetrics } = await reader.collect();
    const metrics = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics) as SumMetricData[];
    const alerts = metrics.find((m) => m.descriptor.name === 'llmsec.alerts')!;
    const points = alerts.dataPoints.map((p) => [
      p.attributes.rule,
      p.attributes.severity,
      p.attributes.status,
      p.value,
    ]);
    expect(points.filter((p) => p[3] !== 0)).toEqual([
      [RAPID, 'alert', 'firing', 1],
      [RAPID, 'alert', 'resolved', 1],
    ]);
    // Every rule's series exists from the start, at 0 until it alerts.
    expect(points).toHaveLength(engine.rules.length * 2);
    for (const rule of engine.rules) {
      expect(points).toContainEqual([rule.id, rule.severity, 'firing', rule.id === RAPID ? 1 : 0]);
      expect(points).toContainEqual([rule.id, rule.severity, 'resolved', rule.id === RAPID ? 1 : 0]);
    }
    const dropped = metrics.find((m) => m.descriptor.name === 'llmsec.detect.events.dropped')!;
    expect(dropped.dataPoints.map((p) => [p.attributes.reason, p.value])).toEqual([
      ['late', 1],
      ['invalid', 0],
    ]);
    await provider.shutdown();
  });

  it('counts incidents past maxOpenIncidentsPerRule as refused and, under the former name, evicted (stats and metric)', async () => {
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    const engine = new DetectionEngine({
      allowedLatenessMs: 0,
      maxOpenIncidentsPerRule: 1,
      meter: provider.getMeter('test'),
    });
    const leak = (at: number, user: string) => ({ at, category: 'system_prompt_leakage', user });
    feed(engine, [leak(T0, 'a'), leak(T0 + SEC, 'b'), leak(T0 + 2 * SEC, 'c')]);
    expect(engine.stats.incidentsRefused).toBe(2);
    expect(engine.stats.incidentsEvicted).toBe(2);
    const { resourceMetrics } = await reader.collect();
    const metrics = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics) as SumMetricData[];
    const total = (name: string) =>
      metrics.find((m) => m.descriptor.name === name)!.dataPoints.reduce((sum, p) => sum + p.value, 0);
    expect(total('llmsec.detect.incidents.refused')).toBe(2);
    expect(total('llmsec.detect.incidents.evicted')).toBe(2);
    await provider.shutdown();
  });

  it('ingestOnce drops an event id seen recently', () => {
    const { engine } = recordingEngine();
    const { event, t } = ev(block(T0));
    expect(engine.ingestOnce(event, t)).toBe(true);
    expect(engine.ingestOnce(event, t)).toBe(false);
    expect(engine.stats.processed).toBe(1);
  });

  it('runs code rules beside data rules', () => {
    const rule: CodeRule = {
      id: 'auth_storm',
      title: 'Auth failures from one address',
      severity: 'warning',
      categories: ['auth_failure'],
      group_by: 'source_ip',
      window_ms: MIN,
      condition: {
        createState: () => ({ n: 0 }),
        update: (s: unknown) => ++(s as { n: number }).n >= 2,
        describe: (s: unknown) => `${(s as { n: number }).n} failures`,
      },
    };
    const { engine, alerts } = recordingEngine({ rules: [rule] });
    for (const at of [T0, T0 + SEC]) {
      const { event, t } = ev({
        at,
        category: 'auth_failure',
        user: 'anonymous',
        metadata: { reason: 'bad key' },
      });
      event.source_ip = '10.0.0.7';
      engine.ingest(event, t);
    }
    expect(alerts.map((a) => [a.rule, a.labels, a.user_ids, a.description])).toEqual([
      ['auth_storm', { source_ip: '10.0.0.7' }, ['anonymous'], '2 failures'],
    ]);
  });

  it('tick() moves event time on with the injected clock, so held events and incidents settle on a quiet system', () => {
    const clock = new ManualClock(1_000_000);
    const { engine, alerts } = recordingEngine({ allowedLatenessMs: 5 * SEC, clock, tickIntervalMs: 60_000 });
    feed(
      engine,
      Array.from({ length: 10 }, (_, i) => block(T0 + i * SEC)),
    );
    expect(alerts).toEqual([]); // the last five seconds are still held
    clock.advance(6 * SEC);
    engine.tick();
    expect(brief(alerts, RAPID)).toEqual([`${RAPID}:firing:u1`]);
    clock.advance(10 * MIN);
    engine.tick();
    expect(brief(alerts, RAPID)).toEqual([`${RAPID}:firing:u1`, `${RAPID}:resolved:u1`]);
    return engine.shutdown();
  });

  it('tick() also works when called by hand, without the timer', () => {
    const clock = new ManualClock(5_000_000);
    const { engine, alerts } = recordingEngine({ allowedLatenessMs: 5 * SEC, clock });
    engine.tick(); // starts tracking processing time
    feed(
      engine,
      Array.from({ length: 10 }, (_, i) => block(T0 + i * SEC)),
    );
    clock.advance(2 * SEC);
    engine.tick();
    expect(alerts).toEqual([]); // only 2 s of the 5 s lateness have passed
    clock.advance(4 * SEC);
    engine.tick();
    expect(brief(alerts, RAPID)).toEqual([`${RAPID}:firing:u1`]);
  });

  it('names the group label after group_by, made a valid label name', () => {
    const rule: CodeRule = {
      id: 'by_layer',
      title: 'Blocks by layer',
      severity: 'warning',
      categories: ['guardrail_block'],
      group_by: 'metadata.guardrail_layer',
      window_ms: MIN,
      condition: { createState: () => null, update: () => true, describe: () => 'x' },
    };
    const { engine, alerts } = recordingEngine({ rules: [rule] });
    feed(engine, [block(T0, 'u1', 'pii')]);
    expect(alerts.map((a) => a.labels)).toEqual([{ metadata_guardrail_layer: 'pii' }]);
  });
});
