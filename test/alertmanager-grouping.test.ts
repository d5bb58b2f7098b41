/**
 * The example alertmanager.yml's grouping, on a real Alertmanager: a group is a notification.
 * indirect_prompt_injection opens one incident per payload, and a client that writes its own
 * "tool results" makes a new payload with every attempt: grouped by fingerprint, as campaigns
 * are, each would be a chat notification of its own, as many as the client cares to send.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_CONFIG_PATH, startAlertmanager, type AlertmanagerHandle } from './support/alertmanager.ts';

let am: AlertmanagerHandle;
beforeAll(async () => {
  am = await startAlertmanager({ config: await readFile(EXAMPLE_CONFIG_PATH, 'utf8') });
}, 30_000);
afterAll(async () => {
  await am?.stop();
});

async function post(alerts: Array<Record<string, string>>): Promise<void> {
  const body = alerts.map((labels) => ({ labels, annotations: { summary: 's' } }));
  const res = await fetch(`${am.url}/api/v2/alerts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
}

/** The groups (notifications) holding alerts of `alertname`. */
async function groups(alertname: string): Promise<number> {
  const res = await fetch(`${am.url}/api/v2/alerts/groups?filter=alertname%3D%22${alertname}%22`);
  const all = (await res.json()) as Array<{ alerts: unknown[] }>;
  return all.filter((g) => g.alerts.length > 0).length;
}

describe('example alertmanager.yml grouping', () => {
  it('indirect_prompt_injection: one group for any number of payloads; per-user and campaign rules keep theirs', async () => {
    await post(
      Array.from({ length: 12 }, (_, i) => ({
        alertname: 'indirect_prompt_injection',
        rule: 'indirect_prompt_injection',
        severity: 'alert',
        fingerprint: `fp${i}`,
      })),
    );
    await post([
      { alertname: 'rapid_guardrail_blocks', severity: 'alert', user_id: 'u1' },
      { alertname: 'rapid_guardrail_blocks', severity: 'alert', user_id: 'u2' },
      { alertname: 'coordinated_campaign', severity: 'alert', fingerprint: 'a' },
      { alertname: 'coordinated_campaign', severity: 'alert', fingerprint: 'b' },
    ]);
    await expect.poll(() => groups('indirect_prompt_injection'), { timeout: 10_000 }).toBe(1);
    expect(await groups('rapid_guardrail_blocks')).toBe(2);
    expect(await groups('coordinated_campaign')).toBe(2);
  });

  it('credential_stuffing: one group for any number of addresses (a botnet is one notification)', async () => {
    await post(
      Array.from({ length: 12 }, (_, i) => ({
        alertname: 'credential_stuffing',
        rule: 'credential_stuffing',
        severity: 'alert',
        source_ip: `203.0.113.${i + 1}`,
      })),
    );
    await expect.poll(() => groups('credential_stuffing'), { timeout: 10_000 }).toBe(1);
  });
});
