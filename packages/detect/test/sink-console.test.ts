import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
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
});
