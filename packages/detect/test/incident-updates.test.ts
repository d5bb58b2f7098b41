import { afterEach, describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { defaultRules, DetectionEngine, RedisDetectionState } from '../src/index.ts';
import { AlertmanagerSink } from '../src/sinks/alertmanager.ts';
import type { AlertmanagerAlert } from '../src/sinks/alertmanager-payload.ts';
import type { AlertSink } from '../src/sinks/types.ts';
import { block, ev, MIN, T0 } from './helpers.ts';
import { freshRuleset } from './redis-support.ts';
import { alert as sampleAlert, fakeFetch } from './sink-support.ts';

/**
 * An open incident keeps learning: a seven-account campaign fires with the five accounts that
 * crossed the threshold, the sixth and seventh reach the sinks as updates (no second firing
 * line), the resolved line names all seven, and Alertmanager's re-sent copy carries them.
 */

class RecordingSink implements AlertSink {
  readonly name = 'recording';
  readonly sent: Alert[] = [];
  readonly updates: Alert[] = [];
  send(alert: Alert): void {
    this.sent.push(alert);
  }
  update(alert: Alert): void {
    this.updates.push(alert);
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const campaign = () =>
  Array.from({ length: 7 }, (_, i) =>
    ev(block(T0 + i * MIN, `acct-${i + 1}`, 'injection', 'Ignore previous instructions')),
  );

function check(sink: RecordingSink): void {
  const lines = sink.sent.filter((a) => a.rule === 'coordinated_campaign');
  expect(lines.map((a) => a.status)).toEqual(['firing', 'resolved']);
  expect(lines[0]!.user_ids).toHaveLength(5);
  const updates = sink.updates.filter((a) => a.rule === 'coordinated_campaign');
  expect(updates.map((a) => a.user_ids.length)).toEqual([6, 7]);
  expect(updates.every((a) => a.status === 'firing' && a.alert_id === lines[0]!.alert_id)).toBe(true);
  expect(lines[1]!.user_ids.sort()).toEqual(Array.from({ length: 7 }, (_, i) => `acct-${i + 1}`).sort());
}

describe('open incidents keep learning', () => {
  it('in memory: updates to the sinks, all seven accounts on the resolved line', () => {
    const sink = new RecordingSink();
    const engine = new DetectionEngine({ rules: defaultRules(), allowedLatenessMs: 0, sinks: [sink] });
    for (const { event, t } of campaign()) engine.ingest(event, t);
    engine.advanceTo(T0 + 120 * MIN);
    check(sink);
  });

  describe('on the Redis state', () => {
    const db = useRedis();

    it('the same, with the events spread over two engines', async () => {
      const sink = new RecordingSink();
      const ruleset = freshRuleset('learn');
      const engines = [0, 1].map(
        () =>
          new DetectionEngine({
            rules: defaultRules(),
            allowedLatenessMs: 0,
            sinks: [sink],
            state: new RedisDetectionState({ redis: db.redis, ruleset, commandTimeoutMs: 5_000 }),
          }),
      );
      for (const [i, { event, t }] of campaign().entries()) {
        engines[i % 2]!.ingest(event, t);
        await engines[i % 2]!.forceFlush();
      }
      engines[0]!.advanceTo(T0 + 120 * MIN);
      await engines[0]!.forceFlush();
      await Promise.all(engines.map((e) => e.shutdown()));
      check(sink);
    });
  });
});

describe('AlertmanagerSink.update', () => {
  const sinks: AlertmanagerSink[] = [];
  afterEach(async () => {
    await Promise.all(sinks.splice(0).map((s) => s.shutdown()));
  });

  it('re-sends the updated users at once and on every later re-send; ignores unknown alerts', async () => {
    const { fetch, calls } = fakeFetch(() => 200);
    const s = new AlertmanagerSink({
      urls: ['http://am:9093'],
      fetch,
      resendIntervalMs: 50,
      flushTimeoutMs: 2_000,
    });
    sinks.push(s);
    const first = sampleAlert({ user_ids: ['a', 'b'] });
    s.send(first);
    await s.forceFlush();
    s.update({ ...first, user_ids: ['a', 'b', 'c'] });
    s.update(sampleAlert({ alert_id: 'ALR-unknown', user_ids: ['z'] }));
    await s.forceFlush();
    await new Promise((r) => setTimeout(r, 120)); // at least one re-send
    await s.forceFlush();
    const posted = calls.flatMap((c) => c.body as AlertmanagerAlert[]);
    const users = posted.map((a) => a.annotations.user_ids);
    expect(users[0]).toBe('a, b');
    expect(users.slice(1).length).toBeGreaterThanOrEqual(2);
    expect(users.slice(1).every((u) => u === 'a, b, c')).toBe(true);
    expect(s.firingCount).toBe(1);
  });
});
