// `sinks.alerts` naming a FIFO (a sidecar reads alert lines from a named pipe): opening a FIFO
// for writing blocks until a reader opens it. Opened synchronously at start (4560265, so a bad
// path stops the start), the detector hung there, its event loop blocked: no "started" line, no
// health endpoint, no alerts. Run as a child process: a hang here would block the test's own
// timers too.
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import { afterEach, describe, expect, it } from 'vitest';
import { startDetectorProcess, tempDir, writeConfig, type DetectorProcess } from './process-support.ts';
import { emitThrough } from './sender.ts';

const T0 = Date.parse('2026-12-04T10:00:00.000Z');

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe('llmsec detector, sinks.alerts a named pipe', () => {
  it.runIf(process.platform !== 'win32')(
    'starts before a reader opens the pipe, and the reader then gets the alert lines',
    async () => {
      const dir = tempDir();
      const fifo = join(dir, 'alerts.pipe');
      execFileSync('mkfifo', [fifo]);
      const cfg = writeConfig(dir, 'c.json', {
        otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' },
        allowed_lateness: '0s',
        sinks: { alerts: fifo },
      });
      const d: DetectorProcess = await startDetectorProcess(cfg);
      cleanups.push(() => d.kill('SIGKILL'));
      let read = '';
      const reader = createReadStream(fifo, 'utf8');
      cleanups.push(() => reader.destroy());
      reader.on('data', (c: string | Buffer) => (read += c.toString()));
      await emitThrough(
        new ProtoLogExporter({ url: `${d.httpUrl}/v1/logs` }) as unknown as LogRecordExporter,
        1,
        T0,
        (ev, clock) => {
          for (let i = 0; i < 10; i++) {
            ev.guardrailBlock({ userId: 'piped', layer: 'input', reason: 'prompt_injection' });
            clock.advance(1000);
          }
        },
        true,
      );
      const until = Date.now() + 10_000;
      while (!read.includes('\n') && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      expect((JSON.parse(read.split('\n')[0]!) as { user_ids: string[] }).user_ids).toEqual(['piped']);
      d.kill('SIGTERM');
      expect(await d.exited).toBe(0);
    },
    40_000,
  );
});
