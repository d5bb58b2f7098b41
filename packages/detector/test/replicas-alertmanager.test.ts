// Two `llmsec detector` replicas (child processes) on one Redis detection state and one real
// Alertmanager, re-sending every 5 s (--alertmanager-resend-interval 5s, the least): replica a fires a
// user's incident, replica b's sweep resolves it (a never gets that resolve), and Alertmanager
// keeps it resolved: a's sink asks the fleet before each re-send instead of re-sending its
// firing copy (which made Alertmanager show the incident active again, for good).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import { describe, expect, it } from 'vitest';
import { activeAlertsFor, silentAlertmanagerConfig } from '../../../test/support/alertmanager.ts';
import { startDetectorProcess, tempDir, writeConfig, type DetectorProcess } from './process-support.ts';
import { useReplicaFleet } from './replicas-support.ts';
import { emitThrough } from './sender.ts';

/** Event time two hours back (Alertmanager takes startsAt as it is; the rule's quiet is 10 min). */
const T0 = Math.floor((Date.now() - 2 * 3_600_000) / 60_000) * 60_000;

const fleet = useReplicaFleet(silentAlertmanagerConfig());
const { procs } = fleet;

function lines(file: string): Array<Record<string, unknown>> {
  return existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
    : [];
}

const activeFor = (user: string): Promise<number> => activeAlertsFor(fleet.am, user);

async function until(cond: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('detector replicas, one Alertmanager', () => {
  it('an incident fired by one replica and resolved by the other stays resolved', async () => {
    const dir = tempDir();
    const files = [join(dir, 'a.jsonl'), join(dir, 'b.jsonl')];
    const [a, b] = await Promise.all(
      files.map((alerts, i) =>
        startDetectorProcess(
          writeConfig(dir, `r${i}.json`, {
            otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' },
            state: fleet.redis.url,
            // Exactly once needs no replica degraded: a loaded host's Redis can take 250 ms (the default).
            state_timeout: '2s',
            allowed_lateness: '2s',
            sinks: { alerts, alertmanager: [fleet.am.url] },
          }),
          { args: ['--alertmanager-resend-interval', '5s'] },
        ),
      ),
    );
    procs.push(a!, b!);
    const to = (p: DetectorProcess) =>
      new ProtoLogExporter({ url: `${p.httpUrl}/v1/logs` }) as unknown as LogRecordExporter;
    const user = 'fleet-am-user';
    // Ten blocks to a (in order), then a later one of another user: a fires.
    await emitThrough(
      to(a!),
      41,
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
    const mine = (f: string) =>
      lines(f).filter((x) => x.rule === 'rapid_guardrail_blocks' && (x.user_ids as string[])[0] === user);
    await until(() => mine(files[0]!).length > 0, 20_000, 'a fires');
    await until(async () => (await activeFor(user)) === 1, 10_000, 'active in Alertmanager');
    // b alone moves event time on by 30 min (its sweep resolves the incident; a sends nothing).
    await emitThrough(
      to(b!),
      42,
      T0 + 30 * 60_000,
      (ev) => ev.guardrailBlock({ userId: 'someone-else-2', layer: 'input', reason: 'prompt_injection' }),
      true,
    );
    await until(() => mine(files[1]!).some((x) => x.status === 'resolved'), 20_000, 'b resolves');
    expect(mine(files[0]!).map((x) => x.status)).toEqual(['firing']);
    await until(async () => (await activeFor(user)) === 0, 10_000, 'resolved in Alertmanager');
    // Four of a's re-sends: never active again.
    const end = Date.now() + 4 * 5_000;
    while (Date.now() < end) {
      expect(await activeFor(user)).toBe(0);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(mine(files[0]!).map((x) => x.status)).toEqual(['firing']);
  }, 300_000);
});
