// Two `llmsec detector` replicas (child processes) on one Redis detection state and one real
// Alertmanager: replica a fires an indirect_prompt_injection incident (one payload
// fingerprint) for one user, then the same payload blocked for a second user reaches replica b,
// whose step joins that user to a's incident. One detector shows both users in Alertmanager at
// once (its sink updates the copy it fired); b's sink held no copy and dropped the update, so
// Alertmanager listed only the first user until a's next fleet check, one re-send interval
// later (1 h here). Found by the acceptance sweep (1 vs 2 detectors, same traffic: 3 of 88
// active alerts had fewer users and evidence on the fleet).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentAlertmanagerConfig } from '../../../test/support/alertmanager.ts';
import { startDetectorProcess, tempDir, writeConfig, type DetectorProcess } from './process-support.ts';
import { useReplicaFleet } from './replicas-support.ts';

/** Event time two hours back (Alertmanager takes startsAt as it is; the rule's quiet is 1 h). */
const T0 = Math.floor((Date.now() - 2 * 3_600_000) / 60_000) * 60_000;
const FINGERPRINT = 'a1b2c3d4e5f60718';

const fleet = useReplicaFleet(silentAlertmanagerConfig());
const { procs } = fleet;

/** One tool-sourced guardrail_block as an OTLP/JSON log record (docs/formats.md "On OpenTelemetry"). */
function block(id: string, user: string, t: number): Record<string, unknown> {
  const s = (key: string, v: string) => ({ key, value: { stringValue: v } });
  return {
    timeUnixNano: `${t}000000`,
    eventName: 'llmsec.guardrail_block',
    attributes: [
      s('llmsec.event.id', id),
      s('llmsec.event.category', 'guardrail_block'),
      s('llmsec.event.severity', 'warning'),
      s('llmsec.event.timestamp', new Date(t).toISOString()),
      s('user.id', user),
      s('llmsec.metadata.guardrail_layer', 'prompt_injection'),
      s('llmsec.metadata.input_source', 'tool'),
      s('llmsec.metadata.payload_fingerprint', FINGERPRINT),
    ],
  };
}

async function send(p: DetectorProcess, records: Array<Record<string, unknown>>): Promise<void> {
  const body = {
    resourceLogs: [
      { resource: { attributes: [] }, scopeLogs: [{ scope: { name: 'test' }, logRecords: records }] },
    ],
  };
  const res = await fetch(`${p.httpUrl}/v1/logs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  expect(await res.text()).not.toContain('rejected');
}

/** The active Alertmanager alert of the fingerprint's incident, if any. */
async function activeAlert(): Promise<{ annotations: Record<string, string> } | undefined> {
  const filter = encodeURIComponent(`fingerprint="${FINGERPRINT}"`);
  const res = await fetch(`${fleet.am.url}/api/v2/alerts?active=true&filter=${filter}`);
  const list = (await res.json()) as Array<{
    annotations: Record<string, string>;
    status: { state: string };
  }>;
  return list.find((a) => a.status.state === 'active');
}

async function until(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('detector replicas, one Alertmanager', () => {
  it('a user joining an incident through another replica reaches Alertmanager at once', async () => {
    const dir = tempDir();
    const [a, b] = await Promise.all(
      ['a', 'b'].map((name) =>
        startDetectorProcess(
          writeConfig(dir, `${name}.json`, {
            otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' },
            state: fleet.redis.url,
            state_timeout: '2s',
            allowed_lateness: '1s',
            sinks: { alerts: join(dir, `${name}.jsonl`), alertmanager: [fleet.am.url] },
          }),
          // No re-send (and so no fleet check) within the test: the update alone must carry it.
          { args: ['--alertmanager-resend-interval', '1h'] },
        ),
      ),
    );
    procs.push(a!, b!);
    await send(a!, [block('EVT-join-1', 'victim-one', T0)]);
    await until(async () => (await activeAlert()) !== undefined, 20_000, 'a fires');
    expect((await activeAlert())!.annotations.user_ids).toBe('victim-one');
    await send(b!, [block('EVT-join-2', 'victim-two', T0 + 2_000)]);
    // One process lists both users once the second block is stepped (lateness 1 s, a tick a second).
    await until(
      async () => (await activeAlert())?.annotations.user_ids === 'victim-one, victim-two',
      15_000,
      'the joined user in Alertmanager',
    );
    expect((await activeAlert())!.annotations.evidence).toBe('EVT-join-1, EVT-join-2');
  }, 150_000);
});
