import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/service/config.ts';
import { startDetector } from '../src/service/detector.ts';
import type { Logger } from '../src/service/log.ts';
import { startDetectorWith } from './service-support.ts';
import { secEvent, T0 } from './support.ts';

describe('sinks.alerts (--alerts FILE)', () => {
  it('a file that cannot be opened stops the start with a ConfigError naming it (the CLI exits 2), not a service whose alerts vanish', async () => {
    const started = startDetectorWith('alerts-file-bad', (dir) => ({
      sinks: { alerts: join(dir, 'no-such-dir', 'alerts.jsonl') },
    }));
    await expect(started).rejects.toBeInstanceOf(ConfigError);
    await expect(started).rejects.toThrow(/no-such-dir[/\\]alerts\.jsonl.*ENOENT/);
  });

  it('a writable file is opened for appending: what was there stays', async () => {
    const { detector, dir } = await startDetectorWith('alerts-file-ok', (d) => {
      writeFileSync(join(d, 'alerts.jsonl'), '{"earlier":true}\n');
      return { sinks: { alerts: join(d, 'alerts.jsonl') } };
    });
    expect(await detector.shutdown()).toBe(true);
    expect(readFileSync(join(dir, 'alerts.jsonl'), 'utf8')).toBe('{"earlier":true}\n');
  });

  it.runIf(existsSync('/dev/full'))(
    'a write that fails later (a full disk: /dev/full) is logged as an error, once, and the service goes on',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'llmsec-detector-alerts-full-'));
      const file = join(dir, 'config.json');
      writeFileSync(
        file,
        JSON.stringify({
          otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' },
          allowed_lateness: '0s',
          sinks: { alerts: '/dev/full' },
        }),
      );
      const errors: string[] = [];
      const logger: Logger = { debug() {}, info() {}, warn() {}, error: (msg) => errors.push(msg) };
      const detector = await startDetector({ config: loadConfig(file), logger });
      try {
        // Two incidents, so two alert lines are written (and fail).
        for (const user of ['alice', 'bob'])
          for (let i = 0; i < 10; i++)
            detector.engine.ingest(
              secEvent({
                event_id: `EVT-${user}-${i}`,
                user_id: user,
                timestamp: new Date(T0 + i * 1000).toISOString(),
              }),
            );
        detector.engine.flush();
        await new Promise((r) => setTimeout(r, 100));
        expect(errors).toEqual(['alerts file write failed: no more alerts are written to it']);
      } finally {
        await detector.shutdown();
      }
    },
  );
});
