import { afterEach, describe, expect, it, vi } from 'vitest';
import { alertRevision } from '../src/incident.ts';
import { AlertmanagerSink, type AlertmanagerSinkOptions } from '../src/sinks/alertmanager.ts';
import type { AlertmanagerAlert } from '../src/sinks/alertmanager-payload.ts';
import type { FleetAlertRef, FleetCheckAnswer, FleetIncidentCheck } from '../src/sinks/types.ts';
import { alert, fakeFetch, type FetchCall } from './sink-support.ts';

/** The sink's side of the fleet check (AlertSink.useFleet): what it re-sends for each answer. */

const sinks: AlertmanagerSink[] = [];

/**
 * The sinks' clock stands still in 2030: a firing POST's endsAt (now + 4 intervals, stamped at
 * the POST) is after it, a resolve's (the check's wall time, or event time) before it.
 */
const CLOCK_NOW = Date.parse('2030-01-01T00:00:00.000Z');
const isFiring = (a: AlertmanagerAlert): boolean =>
  a.endsAt !== undefined && Date.parse(a.endsAt) > CLOCK_NOW;

function sink(options: AlertmanagerSinkOptions): AlertmanagerSink {
  const s = new AlertmanagerSink({
    backoff: { initialMs: 1, maxMs: 5 },
    flushTimeoutMs: 2_000,
    clock: { now: () => CLOCK_NOW },
    ...options,
  });
  sinks.push(s);
  return s;
}

afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.shutdown()));
});

const sent = (calls: FetchCall[]): AlertmanagerAlert[] =>
  calls.filter((c) => c.status === 200).flatMap((c) => c.body as AlertmanagerAlert[]);
const firingOf = (calls: FetchCall[], rule: string) =>
  sent(calls).filter((a) => a.labels.rule === rule && isFiring(a)).length;
const resolvesOf = (calls: FetchCall[], rule: string) =>
  sent(calls).filter((a) => a.labels.rule === rule && !isFiring(a));

async function until(check: () => boolean, ms = 3_000): Promise<void> {
  const start = Date.now();
  while (!check() && Date.now() - start < ms) await new Promise((r) => setTimeout(r, 2));
  expect(check()).toBe(true);
}

/** A check answering from a set the test controls (a set: those ended), recording what it was asked. */
function fleet(answer: (refs: readonly FleetAlertRef[]) => Promise<Set<string> | FleetCheckAnswer>) {
  const asked: FleetAlertRef[][] = [];
  const check: FleetIncidentCheck = {
    closed: async (refs) => {
      asked.push([...refs]);
      const got = await answer(refs);
      return got instanceof Set ? { ended: got, superseded: new Set(), users: new Map() } : got;
    },
  };
  return { check, asked };
}

const two = () => [
  alert({ alert_id: 'ALR-open', rule: 'open_rule', labels: { user_id: 'u1' } }),
  alert({ alert_id: 'ALR-closed', rule: 'closed_rule', labels: { user_id: 'u2' } }),
];

describe('AlertmanagerSink with a fleet check', () => {
  it('resolves (endsAt now) what the fleet closed, once, and re-sends only the rest', async () => {
    const { fetch, calls } = fakeFetch(() => 200);
    const s = sink({ urls: ['http://am:9093'], fetch, resendIntervalMs: 20 });
    // The fleet closes the incident once this sink's first POST has gone out. Closed from the
    // start, a loaded host failed the case: more than 20 ms passed between the sink's start and
    // the sends, the first re-send's check came before the first delivery, and the resolve
    // replaced the queued firing copy (the delivery queue keeps each alert's latest state, as
    // designed), so closed_rule was never posted firing (0, want 1).
    const f = fleet(async () => new Set(firingOf(calls, 'closed_rule') > 0 ? ['ALR-closed'] : []));
    s.useFleet(f.check);
    for (const a of two()) s.send(a);
    const before = Date.now();
    await until(() => firingOf(calls, 'open_rule') >= 4);
    // Each with what its copy shows (alertRevision), so the check rebuilds only changed ones.
    const [open, closed] = two().map(alertRevision);
    expect(f.asked[0]).toEqual([
      { alert_id: 'ALR-open', rule: 'open_rule', labels: { user_id: 'u1' }, revision: open },
      { alert_id: 'ALR-closed', rule: 'closed_rule', labels: { user_id: 'u2' }, revision: closed },
    ]);
    expect(firingOf(calls, 'closed_rule')).toBe(1); // the first send only
    const resolves = resolvesOf(calls, 'closed_rule');
    expect(resolves).toHaveLength(1);
    expect(Date.parse(resolves[0]!.endsAt!)).toBeGreaterThanOrEqual(before - 5);
    expect(s.firingCount).toBe(1);
    // Later checks are asked about the open one only.
    expect(f.asked.at(-1)!.map((r) => r.alert_id)).toEqual(['ALR-open']);
  });

  it('drops what a later incident of the group superseded without a resolve (it would end the later one)', async () => {
    const { fetch, calls } = fakeFetch(() => 200);
    const s = sink({ urls: ['http://am:9093'], fetch, resendIntervalMs: 20 });
    s.useFleet(
      fleet(async () => ({ ended: new Set(), superseded: new Set(['ALR-closed']), users: new Map() })).check,
    );
    for (const a of two()) s.send(a);
    await until(() => firingOf(calls, 'open_rule') >= 4);
    expect(firingOf(calls, 'closed_rule')).toBe(1); // the first send only
    expect(resolvesOf(calls, 'closed_rule')).toHaveLength(0);
    expect(s.firingCount).toBe(1);
  });

  it("a second engine's check turns the check off (each would find the other's alerts ended)", async () => {
    const { fetch, calls } = fakeFetch(() => 200);
    const s = sink({ urls: ['http://am:9093'], fetch, resendIntervalMs: 20 });
    const first = fleet(async () => new Set(['ALR-closed']));
    const second = fleet(async () => new Set(['ALR-closed']));
    s.useFleet(first.check);
    s.useFleet(first.check); // the same check again is still that one
    s.useFleet(second.check);
    s.useFleet(first.check); // and stays off
    for (const a of two()) s.send(a);
    await until(() => firingOf(calls, 'closed_rule') >= 4);
    expect(first.asked).toHaveLength(0);
    expect(second.asked).toHaveLength(0);
    expect(resolvesOf(calls, 'closed_rule')).toHaveLength(0);
  });

  it('shutdown with a check still out: does not wait for it, and its answer sends nothing after', async () => {
    const { fetch, calls } = fakeFetch(() => 200);
    const s = sink({ urls: ['http://am:9093'], fetch, resendIntervalMs: 20 });
    let answer: (closed: Set<string>) => void = () => undefined;
    const f = fleet(() => new Promise((resolve) => (answer = resolve)));
    s.useFleet(f.check);
    for (const a of two()) s.send(a);
    await until(() => f.asked.length === 1);
    await s.shutdown();
    const posted = calls.length;
    answer(new Set(['ALR-closed']));
    await new Promise((r) => setTimeout(r, 100));
    expect(calls.length).toBe(posted);
    expect(resolvesOf(calls, 'closed_rule')).toHaveLength(0);
    expect(f.asked).toHaveLength(1);
  });

  it("takes the fleet's longer user list, not an older shorter one (its own update came after the read)", async () => {
    const { fetch, calls } = fakeFetch(() => 200);
    const s = sink({ urls: ['http://am:9093'], fetch, resendIntervalMs: 20 });
    const campaign = alert({
      alert_id: 'ALR-c',
      rule: 'camp',
      labels: { fingerprint: 'f' },
      user_ids: ['a', 'b'],
    });
    let fleetUsers = ['a', 'b', 'c'];
    s.useFleet(
      fleet(async () => ({
        ended: new Set(),
        superseded: new Set(),
        users: new Map([['ALR-c', fleetUsers]]),
      })).check,
    );
    s.send(campaign);
    const usersSent = () =>
      sent(calls)
        .filter((a) => a.labels.rule === 'camp')
        .map((a) => a.annotations.user_ids);
    await until(() => usersSent().includes('a, b, c'));
    // This process's own update adds d and e; the fleet's answer (read before it) still says a, b, c.
    s.update({ ...campaign, user_ids: ['a', 'b', 'c', 'd', 'e'] });
    fleetUsers = ['a', 'b', 'c'];
    const from = calls.length;
    await until(() => calls.length >= from + 4);
    const later = sent(calls.slice(from))
      .filter((a) => a.labels.rule === 'camp')
      .map((a) => a.annotations.user_ids);
    expect(new Set(later)).toEqual(new Set(['a, b, c, d, e']));
  });

  it("re-sends the fleet's current copy (new evidence, same users), not one with fewer users than its own update", async () => {
    const { fetch, calls } = fakeFetch(() => 200);
    const s = sink({ urls: ['http://am:9093'], fetch, resendIntervalMs: 20 });
    const campaign = alert({
      alert_id: 'ALR-c',
      rule: 'camp',
      labels: { fingerprint: 'f' },
      user_ids: ['a', 'b'],
    });
    let fleetCopy = { ...campaign, evidence: ['EVT-1', 'EVT-9'] };
    s.useFleet(
      fleet(async () => ({
        ended: new Set(),
        superseded: new Set(),
        users: new Map([['ALR-c', fleetCopy.user_ids]]),
        current: new Map([['ALR-c', fleetCopy]]),
      })).check,
    );
    s.send(campaign);
    const camp = (from = 0) => sent(calls.slice(from)).filter((a) => a.labels.rule === 'camp');
    // Same users, later evidence: the fleet's copy is what is re-sent.
    await until(() => camp().some((a) => a.annotations.evidence === 'EVT-1, EVT-9'));
    // This process's own update adds c; the fleet's answers (read before it) still have a, b.
    s.update({ ...campaign, user_ids: ['a', 'b', 'c'], evidence: ['EVT-1', 'EVT-10'] });
    const from = calls.length;
    await until(() => calls.length >= from + 4);
    expect(new Set(camp(from).map((a) => a.annotations.evidence))).toEqual(new Set(['EVT-1, EVT-10']));
    // The fleet catches up (and moves on): its copy again.
    fleetCopy = { ...campaign, user_ids: ['a', 'b', 'c'], evidence: ['EVT-1', 'EVT-11'] };
    await until(() => camp().at(-1)?.annotations.evidence === 'EVT-1, EVT-11');
  });

  it('re-sends everything when the check fails (never resolves on a failed check)', async () => {
    const { fetch, calls } = fakeFetch(() => 200);
    const s = sink({ urls: ['http://am:9093'], fetch, resendIntervalMs: 20 });
    const f = fleet(() => Promise.reject(new Error('Connection is closed.')));
    s.useFleet(f.check);
    for (const a of two()) s.send(a);
    await until(() => firingOf(calls, 'closed_rule') >= 4 && firingOf(calls, 'open_rule') >= 4);
    expect(f.asked.length).toBeGreaterThanOrEqual(3);
    expect(resolvesOf(calls, 'closed_rule')).toHaveLength(0);
    expect(s.firingCount).toBe(2);
  });

  it('a check that does not answer does not hold the re-send up; its late answer still resolves', async () => {
    // On fake timers: "at the check's timeout, not at the next tick" is an order of timers. Timed
    // by the wall clock (under 350 ms after the check), a loaded host failed it.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    try {
      const { fetch, calls } = fakeFetch(() => 200);
      const s = sink({ urls: ['http://am:9093'], fetch, resendIntervalMs: 400 });
      let answer: (closed: Set<string>) => void = () => undefined;
      const f = fleet(() => new Promise((resolve) => (answer = resolve)));
      s.useFleet(f.check);
      for (const a of two()) s.send(a);
      await vi.advanceTimersByTimeAsync(400); // the first POST, then the first tick asks
      expect(f.asked).toHaveLength(1);
      expect(firingOf(calls, 'closed_rule')).toBe(1);
      // Re-sent at the check's timeout (half the interval: 200 ms), not at the next tick (400 ms).
      await vi.advanceTimersByTimeAsync(199);
      expect(firingOf(calls, 'closed_rule')).toBe(1);
      await vi.advanceTimersByTimeAsync(2);
      expect(firingOf(calls, 'closed_rule')).toBe(2);
      // While it is still out, every tick re-sends without asking again.
      await vi.advanceTimersByTimeAsync(400);
      expect(firingOf(calls, 'closed_rule')).toBe(3);
      expect(f.asked).toHaveLength(1);
      answer(new Set(['ALR-closed']));
      await vi.advanceTimersByTimeAsync(1);
      expect(resolvesOf(calls, 'closed_rule')).toHaveLength(1);
      expect(s.firingCount).toBe(1);
      await vi.advanceTimersByTimeAsync(400);
      expect(f.asked.length).toBeGreaterThanOrEqual(2);
      const stopped = s.shutdown();
      await vi.advanceTimersByTimeAsync(2_000);
      await stopped;
    } finally {
      vi.useRealTimers();
    }
  });

  it("fleetCheck: false ignores the engine's check", async () => {
    const { fetch, calls } = fakeFetch(() => 200);
    const s = sink({ urls: ['http://am:9093'], fetch, resendIntervalMs: 10, fleetCheck: false });
    const f = fleet(async () => new Set(['ALR-closed']));
    s.useFleet(f.check);
    for (const a of two()) s.send(a);
    await until(() => firingOf(calls, 'closed_rule') >= 3);
    expect(f.asked).toHaveLength(0);
    expect(resolvesOf(calls, 'closed_rule')).toHaveLength(0);
  });

  it('an alert the check lists that this sink no longer holds (resolved here meanwhile) gets no second resolve', async () => {
    const { fetch, calls } = fakeFetch(() => 200);
    const s = sink({ urls: ['http://am:9093'], fetch, resendIntervalMs: 20 });
    let answer: (closed: Set<string>) => void = () => undefined;
    s.useFleet(fleet(() => new Promise((resolve) => (answer = resolve))).check);
    const [open, closed] = two();
    s.send(open!);
    s.send(closed!);
    await until(() => firingOf(calls, 'closed_rule') >= 2);
    s.send({ ...closed!, status: 'resolved', ends_at: '2026-11-22T10:05:00.000Z' });
    answer(new Set(['ALR-closed']));
    await until(() => firingOf(calls, 'open_rule') >= 4);
    expect(resolvesOf(calls, 'closed_rule').map((a) => a.endsAt)).toEqual(['2026-11-22T10:05:00.000Z']);
  });
});
