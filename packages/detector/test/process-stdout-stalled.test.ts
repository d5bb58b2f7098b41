// `llmsec detector --alerts -` whose stdout is a pipe nobody reads (a sidecar that hung, `| less`
// left open): once the pipe's buffer is full, a write to it must not stop the service. Node's
// process.stdout writes to a pipe synchronously, so the event loop blocked in write(2): no
// ingest, no Alertmanager delivery, not even /-/healthy. The child's stdout here is a real pipe
// (a FIFO the test holds open read-write and never reads), so the kernel's buffer fills for real.
import { execFileSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import { afterEach, describe, expect, it } from 'vitest';
import { startAlertmanager, type AlertmanagerHandle } from '../../../test/support/alertmanager.ts';
import { startDetectorProcess, tempDir, writeConfig, type DetectorProcess } from './process-support.ts';
import { emitThrough } from './sender.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Bounded wait: a blocked detector answers nothing, so every fetch carries a timeout. */
async function fetchText(url: string, timeoutMs = 2_000): Promise<string> {
  return await (await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })).text();
}

async function waitFor(what: string, fn: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await fn()) return;
    } catch {
      // a timed-out fetch: try again until the deadline
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function metric(text: string, re: RegExp): number {
  const m = re.exec(text);
  return m ? Number(m[1]) : 0;
}

const ROUNDS = 5;
const PER_ROUND = 300;
const USERS = ROUNDS * PER_ROUND;

describe('llmsec detector --alerts - with a stdout pipe nobody reads', () => {
  it.runIf(process.platform === 'linux')(
    'keeps ingesting and delivering every alert to Alertmanager, drops the stdout copy past its bound, counted and said once',
    async () => {
      const am: AlertmanagerHandle = await startAlertmanager({
        config: ['route:', '  receiver: none', 'receivers:', '  - name: none', ''].join('\n'),
      });
      cleanups.push(() => am.stop());
      const dir = tempDir();
      const fifo = join(dir, 'stdout.pipe');
      execFileSync('mkfifo', [fifo]);
      // Read-write: opening does not wait for a reader, and the pipe never reports EPIPE (a
      // reader exists: us), it only fills up. We never read it.
      const pipeFd = openSync(fifo, 'r+');
      cleanups.push(() => closeSync(pipeFd));
      const cfg = writeConfig(dir, 'c.json', {
        otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' },
        allowed_lateness: '0s',
        // No idle ticks: a tick moves event time on by the wall time since the last export
        // (tick_interval, README), and with no lateness allowed, a round's second export (its
        // 900 records go out as 512 + 388) or the next round then arrived late on a loaded
        // host: 100 events dropped, 299 or 566 alerts where 300 or 600 were awaited. In order,
        // with no ticks, every event counts whatever the gaps between exports.
        tick_interval: '1h',
        shutdown_timeout: '3s',
        sinks: { alerts: '-', alertmanager: [am.url] },
      });
      const d: DetectorProcess = await startDetectorProcess(cfg, { stdout: pipeFd });
      cleanups.push(() => d.kill('SIGKILL'));

      // 1,500 users with long ids (cut by the SDK), one critical alert each: lines of ~1 KB,
      // 1.5 MB in all, more than the 64 KiB pipe buffer and the sink's 1 MiB bound together. In
      // rounds of 300 (Alertmanager's sink queue holds 1,000), each one detected and delivered
      // before the next, the stdout pipe full from the first round on. Event times now:
      // Alertmanager treats startsAt as wall-clock time.
      const pad = 'x'.repeat(900);
      const firing =
        /llmsec_alerts_total\{rule="output_filter_bypass",severity="critical",status="firing"[^}]*\} (\d+)/;
      const t0 = Date.now() - 120_000; // each round's events after the last one's (no lateness allowed)
      for (let round = 1; round <= ROUNDS; round++) {
        await emitThrough(
          new ProtoLogExporter({ url: `${d.httpUrl}/v1/logs` }) as unknown as LogRecordExporter,
          round,
          t0 + round * 10_000,
          (ev, clock) => {
            for (let u = 0; u < PER_ROUND; u++) {
              for (let i = 0; i < 3; i++) {
                const userId = `stalled-${round}-${u}-${pad}`;
                ev.outputFilterBlock({ userId, filter: 'secrets', reason: 'api_key' });
                clock.advance(10);
              }
            }
          },
          true,
        );
        const want = round * PER_ROUND;
        await waitFor(
          `round ${round}'s alerts detected`,
          async () => metric(await fetchText(`${d.httpUrl}/metrics`), firing) === want,
          30_000,
        );
        await waitFor(
          `round ${round}'s alerts in Alertmanager`,
          async () => {
            const listed = JSON.parse(await fetchText(`${am.url}/api/v2/alerts`, 20_000)) as {
              labels: Record<string, string>;
            }[];
            return listed.filter((a) => a.labels.alertname === 'output_filter_bypass').length === want;
          },
          30_000,
        );
      }
      const text = await fetchText(`${d.httpUrl}/metrics`);
      const stdoutSent = metric(
        text,
        /llmsec_alert_notifications_total\{sink="alerts-stdout",outcome="sent"[^}]*\} (\d+)/,
      );
      const stdoutDropped = metric(
        text,
        /llmsec_alert_notifications_total\{sink="alerts-stdout",outcome="dropped"[^}]*\} (\d+)/,
      );
      // Sent: taken by the pipe; the rest up to the bound held; dropped past it.
      expect(stdoutDropped).toBeGreaterThan(0);
      expect(stdoutSent).toBeGreaterThan(0);
      expect(stdoutSent + stdoutDropped).toBeLessThan(USERS);
      expect(d.stderr().split('alert lines to stdout dropped').length - 1).toBe(1);
      expect(await fetchText(`${d.httpUrl}/-/healthy`)).toBeTruthy();

      // SIGTERM: the lines held for stdout cannot be delivered; the drain gives up at its timeout
      // and the process ends (1: not all output delivered) instead of hanging on the pipe.
      d.kill('SIGTERM');
      expect(await d.exited).toBe(1);
    },
    120_000,
  );
});
