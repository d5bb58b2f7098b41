// `llmsec detector` whose drain cannot finish (an Alertmanager that accepts connections and
// never answers): after shutdown_timeout it gives up, and the process must end then with 1,
// not linger on the sink's request until that request's own timeout, and its warning says what
// each sink leaves undelivered.
import { createServer, type Socket } from 'node:net';
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

describe('llmsec detector drain timeout', () => {
  it('exits 1 about shutdown_timeout after SIGTERM while an Alertmanager request hangs', async () => {
    const sockets: Socket[] = [];
    let acceptedAt = 0;
    const blackhole = createServer((s) => {
      // accepts, reads nothing, never answers
      acceptedAt ||= Date.now();
      sockets.push(s);
    });
    await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
      blackhole.close();
    });
    const { port } = blackhole.address() as { port: number };
    const dir = tempDir();
    const cfg = writeConfig(dir, 'c.json', {
      otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' },
      allowed_lateness: '0s',
      shutdown_timeout: '1s',
      sinks: { alertmanager: [`http://127.0.0.1:${port}`] },
    });
    const d: DetectorProcess = await startDetectorProcess(cfg);
    cleanups.push(() => d.kill('SIGKILL'));
    await emitThrough(
      new ProtoLogExporter({ url: `${d.httpUrl}/v1/logs` }) as unknown as LogRecordExporter,
      1,
      T0,
      (ev, clock) => {
        for (let i = 0; i < 10; i++) {
          ev.guardrailBlock({ userId: 'stuck', layer: 'input', reason: 'prompt_injection' });
          clock.advance(1000);
        }
      },
      true,
    );
    // The alert is on its way to the black hole.
    const until = Date.now() + 10_000;
    while (sockets.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(sockets.length).toBeGreaterThan(0);
    d.kill('SIGTERM');
    expect(await d.exited).toBe(1);
    // Ended by the 1 s drain's give-up, not by the sink's request, which its own 10 s timeout
    // (started before the connection was accepted) would end: a process that lingered on it
    // exits 10 s or more after acceptedAt. Not a bound on the exit's speed: 4 s from SIGTERM
    // was one, which a busy host can stretch (1.2-1.4 s at load 26).
    expect(Date.now() - acceptedAt).toBeLessThan(9_000);
    const warning = d
      .stderr()
      .split('\n')
      .find((l) => l.includes('shutdown timed out'));
    expect(warning).toBeDefined();
    // The operator learns what the exit loses: the alert still bound for the black hole.
    expect(JSON.parse(warning!)).toMatchObject({ sinks_pending: { alertmanager: 1 } });
  }, 30_000);
});
