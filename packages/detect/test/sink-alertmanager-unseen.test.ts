import { afterEach, describe, expect, it } from 'vitest';
import { AlertmanagerSink, type AlertmanagerSinkOptions } from '../src/sinks/alertmanager.ts';
import type { AlertmanagerAlert } from '../src/sinks/alertmanager-payload.ts';
import { ShownFirings } from '../src/sinks/unseen-firing.ts';
import { alert, fakeFetch, resolved, type FetchCall } from './sink-support.ts';

/**
 * An incident whose resolve replaces its firing in a target's queue, before that Alertmanager
 * got the firing, is posted to it firing for `unseenIncidentHoldMs` with a `resolved_at`
 * annotation: Alertmanager notifies a resolve only for an alert it notified firing, so the
 * resolve alone paged nobody (sink-alertmanager-unseen-real.test.ts shows it on a real one).
 */

const NOW = Date.parse('2026-11-22T11:00:00.000Z');
const HOLD = 120_000;
const END = '2026-11-22T10:10:00.000Z';
const sinks: AlertmanagerSink[] = [];

function sink(options: Partial<AlertmanagerSinkOptions> & { fetch: AlertmanagerSinkOptions['fetch'] }) {
  const s = new AlertmanagerSink({
    urls: ['http://am:9093'],
    backoff: { initialMs: 1, maxMs: 5 },
    flushTimeoutMs: 2_000,
    clock: { now: () => NOW },
    unseenIncidentHoldMs: HOLD,
    ...options,
  });
  sinks.push(s);
  return s;
}

afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.shutdown()));
});

const posted = (calls: FetchCall[], url = 'http://am:9093/api/v2/alerts'): AlertmanagerAlert[] =>
  calls.filter((c) => c.status === 200 && c.url === url).flatMap((c) => c.body as AlertmanagerAlert[]);

const held = (a: AlertmanagerAlert | undefined) => [a?.endsAt, a?.annotations.resolved_at];

describe('AlertmanagerSink: an incident its Alertmanager never saw firing', () => {
  it('firing and resolve queued in one tick (a backlog of old events): posted firing for the hold', async () => {
    const { fetch, calls } = fakeFetch(() => 200);
    const s = sink({ fetch });
    s.send(alert());
    s.send(resolved(alert(), END));
    await s.forceFlush();
    const sent = posted(calls);
    expect(sent).toHaveLength(1);
    expect(held(sent[0])).toEqual([new Date(NOW + HOLD).toISOString(), END]);
    expect(sent[0]?.startsAt).toBe('2026-11-22T10:00:00.000Z');
    expect(s.firingCount).toBe(0);
  });

  it('an HA cluster down for the whole incident gets it firing on every instance', async () => {
    let up = false;
    const { fetch, calls } = fakeFetch(() => (up ? 200 : 0));
    const s = sink({ fetch, urls: ['http://am-1:9093', 'http://am-2:9093'] });
    s.send(alert());
    for (let i = 0; i < 3_000 && calls.length < 2; i++) await new Promise((r) => setTimeout(r, 1));
    s.send(resolved(alert(), END));
    up = true;
    await s.forceFlush();
    for (const url of ['http://am-1:9093/api/v2/alerts', 'http://am-2:9093/api/v2/alerts']) {
      const sent = posted(calls, url);
      expect(sent).toHaveLength(1);
      expect(held(sent[0])).toEqual([new Date(NOW + HOLD).toISOString(), END]);
    }
  });

  it('an instance down while its peer got the firing gets the plain resolve (the cluster paged)', async () => {
    // The cluster shares its notification log: a firing copy reaching the instance that was
    // down would page the resolved incident again.
    let downUp = false;
    const { fetch, calls } = fakeFetch((url) => (url.startsWith('http://down') && !downUp ? 0 : 200));
    const s = sink({ fetch, urls: ['http://up:9093', 'http://down:9093'] });
    s.send(alert());
    for (let i = 0; i < 3_000 && posted(calls, 'http://up:9093/api/v2/alerts').length === 0; i++)
      await new Promise((r) => setTimeout(r, 1));
    s.send(resolved(alert(), END));
    downUp = true;
    await s.forceFlush();
    const up = posted(calls, 'http://up:9093/api/v2/alerts');
    expect(up.map((a) => a.annotations.resolved_at)).toEqual([undefined, undefined]);
    expect(up.at(-1)?.endsAt).toBe(END);
    const down = posted(calls, 'http://down:9093/api/v2/alerts');
    expect(down.map((a) => [a.endsAt, a.annotations.resolved_at])).toEqual([[END, undefined]]);
  });

  it('a target that got the firing, then failed while a re-send waited, gets a plain resolve', async () => {
    let failing = false;
    const { fetch, calls } = fakeFetch(() => (failing ? 503 : 200));
    const s = sink({ fetch, resendIntervalMs: 20 });
    s.send(alert());
    await s.forceFlush();
    failing = true;
    // A re-send goes out (and fails) while the target is down: the firing waits in its queue.
    const before = calls.length;
    for (let i = 0; i < 3_000 && calls.length < before + 2; i++) await new Promise((r) => setTimeout(r, 1));
    expect(calls.length).toBeGreaterThanOrEqual(before + 2);
    s.send(resolved(alert(), END));
    failing = false;
    await s.forceFlush();
    const last = posted(calls).at(-1);
    expect([last?.endsAt, last?.annotations.resolved_at]).toEqual([END, undefined]);
  });

  it('a resolve with no firing waiting is posted as a resolve (another process fired it)', async () => {
    const { fetch, calls } = fakeFetch(() => 200);
    const s = sink({ fetch });
    s.send(resolved(alert(), END));
    await s.forceFlush();
    expect(posted(calls).map((a) => [a.endsAt, a.annotations.resolved_at])).toEqual([[END, undefined]]);
  });

  it('rejects a hold that is not a positive number', () => {
    const { fetch } = fakeFetch(() => 200);
    expect(() => new AlertmanagerSink({ urls: ['http://am:9093'], fetch, unseenIncidentHoldMs: 0 })).toThrow(
      /unseenIncidentHoldMs/,
    );
  });
});

describe('ShownFirings', () => {
  const firing = { labels: {}, annotations: {}, startsAt: 'x' } satisfies AlertmanagerAlert;
  const resolve = { ...firing, endsAt: 'y' };

  it('remembers delivered firings, forgets a delivered resolve', () => {
    const shown = new ShownFirings(10);
    shown.delivered(['a', 'b'], [firing, firing]);
    shown.delivered(['a'], [resolve]);
    expect([shown.has('a'), shown.has('b')]).toEqual([false, true]);
  });

  it('is bounded: past max the oldest is forgotten (its resolve at worst held, never lost)', () => {
    const shown = new ShownFirings(3);
    shown.delivered(['a', 'b', 'c'], [firing, firing, firing]);
    shown.delivered(['a'], [firing]); // a re-send: now the newest
    shown.delivered(['d'], [firing]);
    expect(['a', 'b', 'c', 'd'].map((id) => shown.has(id))).toEqual([true, false, true, true]);
  });
});
