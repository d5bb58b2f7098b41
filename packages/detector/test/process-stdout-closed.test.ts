// `llmsec detector --alerts -` whose stdout reader goes away: a service, unlike `llmsec replay |
// head -1`, must not vanish on the next alert (no drain, no log line, the other sinks' queues
// lost); it says so on stderr once and goes on serving.
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import { describe, expect, it } from 'vitest';
import { startDetectorProcess, tempDir, writeConfig, type DetectorProcess } from './process-support.ts';
import { emitThrough } from './sender.ts';

const T0 = Date.parse('2026-12-04T10:00:00.000Z');

async function firingAlerts(d: DetectorProcess): Promise<number> {
  const text = await (await fetch(`${d.httpUrl}/metrics`)).text();
  const m =
    /llmsec_alerts_total\{rule="rapid_guardrail_blocks",severity="alert",status="firing"[^}]*\} (\d+)/.exec(
      text,
    );
  return m ? Number(m[1]) : 0;
}

async function tenBlocks(d: DetectorProcess, seed: number, userId: string): Promise<void> {
  await emitThrough(
    new ProtoLogExporter({ url: `${d.httpUrl}/v1/logs` }) as unknown as LogRecordExporter,
    seed,
    T0 + seed * 60_000,
    (ev, clock) => {
      for (let i = 0; i < 10; i++) {
        ev.guardrailBlock({ userId, layer: 'input', reason: 'prompt_injection' });
        clock.advance(1000);
      }
    },
    true,
  );
}

async function waitFor(
  what: string,
  fn: () => Promise<boolean> | boolean,
  timeoutMs = 15_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('llmsec detector --alerts - with stdout closed', () => {
  it('logs once that stdout is gone, keeps detecting and serving, and still drains to exit 0 on SIGTERM', async () => {
    const dir = tempDir();
    const cfg = writeConfig(dir, 'c.json', {
      otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' },
      allowed_lateness: '0s',
      sinks: { alerts: '-' },
    });
    const d = await startDetectorProcess(cfg);
    d.child.stdout!.destroy(); // the reader goes away
    let exitedEarly: number | string | undefined;
    void d.exited.then((code) => (exitedEarly = code));

    await tenBlocks(d, 1, 'first');
    await waitFor('the first alert', async () => (await firingAlerts(d)) === 1);
    await waitFor('the stdout error on stderr', () => d.stderr().includes('stdout closed'));
    await tenBlocks(d, 2, 'second');
    await waitFor('the second alert', async () => (await firingAlerts(d)) === 2);

    expect(exitedEarly).toBeUndefined();
    expect((await fetch(`${d.httpUrl}/-/healthy`)).status).toBe(200);
    expect(d.stderr().split('stdout closed').length - 1).toBe(1);
    const said = d
      .stderr()
      .split('\n')
      .find((line) => line.includes('stdout closed'));
    expect(JSON.parse(said!)).toMatchObject({ level: 'warn', error: 'EPIPE' }); // the log's format
    d.kill('SIGTERM');
    expect(await d.exited).toBe(0);
    expect(d.stderr()).toContain('"msg":"detector stopped"');
  });
});
