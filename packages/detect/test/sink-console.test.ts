import { PassThrough, Writable } from 'node:stream';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { describe, expect, it, vi } from 'vitest';
import { encodeAlert } from '@llmsec/core';
import { ConsoleSink } from '../src/sinks/console.ts';
import { alert, resolved } from './sink-support.ts';

describe('ConsoleSink', () => {
  it('writes one alert JSONL line per firing and resolve, in events.md field order, without in-process fields', async () => {
    const stream = new PassThrough();
    let out = '';
    stream.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const sink = new ConsoleSink({ stream });
    sink.send(alert());
    sink.send(resolved(alert()));
    await sink.shutdown();
    sink.send(alert({ alert_id: 'after-shutdown' }));
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    const [firing, resolve] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(Object.keys(firing ?? {})).toEqual([
      'alert_id',
      'rule',
      'severity',
      'status',
      'labels',
      'user_ids',
      'starts_at',
      'description',
      'evidence',
      'trace_ids',
    ]);
    expect(firing).toMatchObject({ alert_id: 'ALR-1', status: 'firing', labels: { user_id: 'u1' } });
    expect(resolve).toMatchObject({
      alert_id: 'ALR-1',
      status: 'resolved',
      ends_at: '2026-11-22T10:10:00.000Z',
    });
    expect(out).not.toContain('runbook');
    expect(out).not.toContain('b7ad6b7169203331');
  });

  it('does not throw when the stream does', () => {
    const stream = new PassThrough();
    stream.write = () => {
      throw new Error('EPIPE');
    };
    expect(() => new ConsoleSink({ stream }).send(alert())).not.toThrow();
  });

  it('delivers a burst of one turn, up to 16 times maxBufferedBytes, to a stream that keeps up (an incident sweep resolving thousands at once)', async () => {
    // No stream takes anything within one turn of the event loop (write callbacks come later):
    // a bound on those bytes dropped most of a burst a healthy pipe or file takes at once (1,961
    // of 5,000 lines kept, before).
    const stream = new PassThrough();
    let lines = 0;
    stream.on('data', (c: Buffer) => {
      for (const b of c) if (b === 10) lines++;
    });
    const drops: number[] = [];
    const sink = new ConsoleSink({ stream, onDrop: (b) => drops.push(b) });
    for (let i = 0; i < 5000; i++) sink.send(alert({ alert_id: `ALR-${i}`, description: 'd'.repeat(400) }));
    await sink.shutdown();
    expect(drops).toEqual([]);
    expect(lines).toBe(5000);
  });

  it('holds at most maxBufferedBytes for a stream that does not take them (a stalled pipe): drops the rest, counts it, calls onDrop once', async () => {
    // A destination that accepts nothing until released: a pipe whose reader stalled.
    const held: (() => void)[] = [];
    let taken = 0;
    const stream = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _enc, cb) {
        held.push(() => {
          taken += chunk.length;
          cb();
        });
      },
    });
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const meter = new MeterProvider({ readers: [reader] }).getMeter('t');
    const drops: number[] = [];
    const line = Buffer.byteLength(`${encodeAlert(alert({ alert_id: 'ALR-0000' }))}\n`);
    const sink = new ConsoleSink({
      stream,
      meter,
      maxBufferedBytes: line * 10 + 5,
      onDrop: (b) => drops.push(b),
    });
    for (let i = 0; i < 1000; i++) sink.send(alert({ alert_id: `ALR-${String(i).padStart(4, '0')}` }));
    // One turn's burst: 16 times the bound, 160 lines; the other 840 were not buffered anywhere.
    expect(stream.writableLength).toBeLessThanOrEqual(line * 160);
    expect(drops).toEqual([line * 160]);
    // A later turn, the stream having taken none of it: nothing more is held.
    await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 5; i++) sink.send(alert({ alert_id: `ALR-late${i}` }));
    expect(stream.writableLength).toBeLessThanOrEqual(line * 160);

    // The reader comes back: what was held is delivered, and new lines are accepted again.
    while (held.length > 0) held.shift()!();
    await new Promise((r) => setImmediate(r));
    sink.send(alert({ alert_id: 'ALR-next' }));
    while (held.length > 0) held.shift()!();
    await new Promise((r) => setImmediate(r));
    expect(taken).toBe(line * 161);
    expect(drops).toHaveLength(1); // said once, the rest counted

    await reader.forceFlush();
    const points = exporter
      .getMetrics()
      .at(-1)!
      .scopeMetrics.flatMap((s) => s.metrics)
      .find((m) => m.descriptor.name === 'llmsec.alert.notifications')!.dataPoints;
    const count = (outcome: string) =>
      points.find((p) => p.attributes.sink === 'console' && p.attributes.outcome === outcome)?.value;
    expect({ sent: count('sent'), dropped: count('dropped'), failed: count('failed') }).toEqual({
      sent: 161,
      dropped: 845,
      failed: 0,
    });
  });

  it("forceFlush and shutdown give up after flushTimeoutMs on a stream that takes nothing (the host's shutdown must not hang)", async () => {
    const stream = new Writable({ highWaterMark: 1, write: () => undefined }); // never calls back
    // On fake timers: each wait ends at exactly flushTimeoutMs of timer time, not before, whatever
    // the host's load (a wall-time bound, 2 s against the 10 s default, could not tell on a
    // stalled CI host).
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const sink = new ConsoleSink({ stream, flushTimeoutMs: 50 });
      sink.send(alert());
      for (const wait of [() => sink.forceFlush(), () => sink.shutdown()]) {
        let done = false;
        const waiting = wait().then(() => (done = true));
        await vi.advanceTimersByTimeAsync(49);
        expect(done, 'gave up before flushTimeoutMs').toBe(false);
        await vi.advanceTimersByTimeAsync(1);
        expect(done, 'still waiting at flushTimeoutMs').toBe(true);
        await waiting;
      }
    } finally {
      vi.useRealTimers();
    }
    expect(() => new ConsoleSink({ flushTimeoutMs: -1 })).toThrow(/flushTimeoutMs/);
  });

  it('counts a write after the stream was destroyed (the reader went away) as failed, and frees its bytes', async () => {
    const stream = new PassThrough();
    stream.destroy();
    stream.on('error', () => undefined);
    const line = Buffer.byteLength(`${encodeAlert(alert({ alert_id: 'ALR-0000' }))}\n`);
    const drops: number[] = [];
    const sink = new ConsoleSink({ stream, maxBufferedBytes: line, onDrop: (b) => drops.push(b) });
    sink.send(alert());
    await new Promise((r) => setImmediate(r));
    sink.send(alert()); // fits again: the failed write's bytes were given back
    await new Promise((r) => setImmediate(r));
    expect(drops).toEqual([]);
  });

  it('rejects a negative bound', () => {
    expect(() => new ConsoleSink({ maxBufferedBytes: -1 })).toThrow(/maxBufferedBytes/);
  });
});
