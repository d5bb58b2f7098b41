// `llmsec detector` says in its log when an alert target stops taking alerts. The sinks report a
// failing target, and core's error funnel lost notifications, to OpenTelemetry's diag logger,
// which the command did not route anywhere: with its Alertmanager down, a detector logged the
// alert and then nothing (its notifications counter moves only when one is given up, 5 min on).
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startDetectorProcess, tempDir, writeConfig } from './process-support.ts';

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Ten guardrail blocks of one user as OTLP/JSON log records, a second apart, ending now. */
function blocks(): unknown {
  const now = Date.now();
  const s = (key: string, value: string) => ({ key, value: { stringValue: value } });
  const logRecords = Array.from({ length: 10 }, (_, i) => ({
    eventName: 'llmsec.guardrail_block',
    attributes: [
      s('llmsec.event.id', `EVT-sinklog${i}`),
      s('llmsec.event.category', 'guardrail_block'),
      s('llmsec.event.severity', 'warning'),
      s('llmsec.event.timestamp', new Date(now - (10 - i) * 1_000).toISOString()),
      s('user.id', 'u-sink'),
    ],
  }));
  return { resourceLogs: [{ scopeLogs: [{ logRecords }] }] };
}

function logLines(stderr: string): Array<Record<string, unknown>> {
  return stderr
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('llmsec detector logs a failing alert target', () => {
  it('an unreachable Alertmanager: one warn line naming it, as JSON, after the alert', async () => {
    const port = await closedPort();
    const cfg = writeConfig(tempDir(), 'c.json', {
      otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' },
      allowed_lateness: '100ms',
      tick_interval: '100ms',
      sinks: { alertmanager: [`http://127.0.0.1:${port}`] },
    });
    const d = await startDetectorProcess(cfg);
    const res = await fetch(`${d.httpUrl}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(blocks()),
    });
    expect(res.status).toBe(200);
    const deadline = Date.now() + 20_000;
    const failing = () =>
      logLines(d.stderr()).filter((l) => l.level === 'warn' && String(l.msg).includes('failed, retrying'));
    while (failing().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const [line, ...more] = failing();
    expect(line, d.stderr()).toBeDefined();
    expect(String(line!.msg)).toContain(`127.0.0.1:${port}`);
    expect(more).toHaveLength(0); // once per episode, not per retry
    expect(logLines(d.stderr()).map((l) => l.msg)).toContain('alert');
    d.kill('SIGTERM');
    await d.exited;
    for (const l of logLines(d.stderr())) expect(l.service).toBe('llmsec-detector');
  }, 60_000);
});
