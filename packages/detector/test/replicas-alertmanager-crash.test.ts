// Two `llmsec detector` replicas (child processes) on one Redis detection state and one real
// Alertmanager whose resolve_timeout (5 s) is no longer than the re-send interval (5 s, the
// least the detector takes). Replica a fires a user's incident and holds the fleet's adoption
// lease; a is killed (SIGKILL: no stop, the lease is not given up). b never saw the incident:
// it takes the lease once it expires (up to two intervals after a's last renewal) and re-sends
// the incident from its next re-send, up to three intervals after a's last POST. Alertmanager
// must show the incident active all along: each firing POST holds it for four intervals
// (endsAt). Without that, Alertmanager ended it resolve_timeout after a's last POST.
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import { describe, expect, it } from 'vitest';
import { activeAlertsFor, silentAlertmanagerConfig } from '../../../test/support/alertmanager.ts';
import { startDetectorProcess, tempDir, writeConfig, type DetectorProcess } from './process-support.ts';
import { useReplicaFleet } from './replicas-support.ts';
import { emitThrough } from './sender.ts';

/** Event time two hours back (the rule's quiet is 10 min: nothing resolves in this test). */
const T0 = Math.floor((Date.now() - 2 * 3_600_000) / 60_000) * 60_000;
const RESEND_MS = 5_000;

const fleet = useReplicaFleet(silentAlertmanagerConfig('5s'));
const { procs } = fleet;

async function until(cond: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const start = (dir: string, name: string): Promise<DetectorProcess> =>
  startDetectorProcess(
    writeConfig(dir, `${name}.json`, {
      otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' },
      state: fleet.redis.url,
      // Exactly once needs no replica degraded: a loaded host's Redis can take 250 ms (the default).
      state_timeout: '2s',
      allowed_lateness: '2s',
      sinks: { alertmanager: [fleet.am.url] },
    }),
    { args: ['--alertmanager-resend-interval', `${RESEND_MS / 1000}s`] },
  );

describe('detector replicas, the adoption lease holder killed', () => {
  it("keeps the killed holder's incident active in Alertmanager until the next holder re-sends it", async () => {
    const dir = tempDir();
    const a = await start(dir, 'a');
    procs.push(a);
    const user = 'crash-am-user';
    await emitThrough(
      new ProtoLogExporter({ url: `${a.httpUrl}/v1/logs` }) as unknown as LogRecordExporter,
      51,
      T0,
      (ev, clock) => {
        for (let i = 0; i < 10; i++) {
          ev.guardrailBlock({ userId: user, layer: 'input', reason: 'prompt_injection' });
          clock.advance(1000);
        }
        clock.advance(5_000);
        ev.guardrailBlock({ userId: 'someone-else', layer: 'input', reason: 'prompt_injection' });
      },
      true,
    );
    await until(async () => (await activeAlertsFor(fleet.am, user)) === 1, 20_000, 'a fires');
    // a's first re-send takes the lease (it is alone); b starts after, so a holds it.
    await new Promise((r) => setTimeout(r, RESEND_MS + 1_000));
    const b = await start(dir, 'b');
    procs.push(b);
    a.kill('SIGKILL');
    expect(await a.exited).toBe('SIGKILL');
    // Five intervals: the lease's two, b's next re-send, and two more of b's own re-sends.
    const end = Date.now() + 5 * RESEND_MS;
    let looks = 0;
    while (Date.now() < end) {
      expect(await activeAlertsFor(fleet.am, user)).toBe(1);
      looks++;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(looks).toBeGreaterThan(50);
  }, 300_000);
});
