// `llmsec detector 2>&1 | log-shipper` whose shipper goes away: the next log line (at the latest
// the SIGTERM drain's own) fails with EPIPE. bin.ts's default for that (end quietly with 1, right
// for `llmsec replay | head -1`) ended the detector there: no drain, the alerts it held lost.
// The service must drain and flush as it would with its logs read.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import { describe, expect, it } from 'vitest';
import { startDetectorProcess, tempDir, writeConfig } from './process-support.ts';
import { emitThrough } from './sender.ts';

const T0 = Date.parse('2026-12-04T10:00:00.000Z');

describe('llmsec detector with stderr closed', () => {
  it('still drains on SIGTERM: the alerts it held reach the file, exit 0', async () => {
    const dir = tempDir();
    const alerts = join(dir, 'alerts.jsonl');
    // An hour of lateness: the events stay in the engine until the drain flushes them.
    const cfg = writeConfig(dir, 'c.json', {
      otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' },
      allowed_lateness: '1h',
      sinks: { alerts },
    });
    const d = await startDetectorProcess(cfg);
    d.child.stderr!.destroy(); // the log reader goes away
    await emitThrough(
      new ProtoLogExporter({ url: `${d.httpUrl}/v1/logs` }) as unknown as LogRecordExporter,
      1,
      T0,
      (ev, clock) => {
        for (let i = 0; i < 10; i++) {
          ev.guardrailBlock({ userId: 'held', layer: 'input', reason: 'prompt_injection' });
          clock.advance(1000);
        }
      },
    );
    expect(readFileSync(alerts, 'utf8')).toBe('');
    d.kill('SIGTERM'); // the drain logs 'draining' to the closed stderr
    expect(await d.exited).toBe(0);
    const lines = readFileSync(alerts, 'utf8').trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { user_ids: string[] }).user_ids)).toEqual([['held']]);
  });
});
