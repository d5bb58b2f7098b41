import { describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { FanoutSink } from '../src/sinks/fanout.ts';
import type { AlertSink, FleetIncidentCheck } from '../src/sinks/types.ts';
import { alert } from './sink-support.ts';

class Recording implements AlertSink {
  readonly name = 'recording';
  readonly alerts: Alert[] = [];
  flushes = 0;
  shutdowns = 0;
  send(a: Alert): void {
    this.alerts.push(a);
  }
  async forceFlush(): Promise<void> {
    this.flushes++;
  }
  async shutdown(): Promise<void> {
    this.shutdowns++;
  }
}

const broken: AlertSink = {
  name: 'broken',
  send: () => {
    throw new Error('boom');
  },
  forceFlush: async () => {
    throw new Error('boom');
  },
  shutdown: async () => {
    throw new Error('boom');
  },
};

describe('FanoutSink', () => {
  it('isolates a failing sink from the others', async () => {
    const a = new Recording();
    const b = new Recording();
    const fanout = new FanoutSink({ sinks: [a, broken, b] });
    expect(() => fanout.send(alert())).not.toThrow();
    await expect(fanout.forceFlush()).resolves.toBeUndefined();
    expect(a.alerts).toHaveLength(1);
    expect(b.alerts).toHaveLength(1);
    expect([a.flushes, b.flushes]).toEqual([1, 1]);
    const first = fanout.shutdown();
    expect(fanout.shutdown()).toBe(first);
    await first;
    fanout.send(alert());
    expect([a.shutdowns, b.shutdowns, a.alerts.length]).toEqual([1, 1, 1]);
  });

  it("hands a shared-state engine's fleet check on to the sinks that take it, past one that throws", () => {
    const got: FleetIncidentCheck[] = [];
    const takes = (): AlertSink => {
      const sink = new Recording() as AlertSink;
      sink.useFleet = (f) => void got.push(f);
      return sink;
    };
    const throws: AlertSink = {
      ...broken,
      useFleet: () => {
        throw new Error('boom');
      },
    };
    const fanout = new FanoutSink({ sinks: [takes(), throws, new Recording(), takes()] });
    const check: FleetIncidentCheck = {
      closed: async () => ({ ended: new Set(), superseded: new Set(), users: new Map() }),
    };
    fanout.useFleet(check);
    expect(got).toEqual([check, check]);
  });
});
