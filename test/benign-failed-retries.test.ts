import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert, SecurityEvent } from '@llmsec/core';
import { DetectionEngine } from '@llmsec/detect';
import { instrumentClient, setupLlmsec, withSecurityContext } from '@llmsec/sdk';
import { startFakeLlm, type FakeLlm } from '../examples/fake-llm/server.ts';

/**
 * Ordinary retries of a failed call, through the real clients the SDK instruments: the
 * upstream answers 429 or 500 (fake-llm's [[429]] / [[500]] markers), the app sends the same
 * conversation again, as a retry button or a retry loop does, then the upstream recovers. Every
 * attempt is a request_completed of the same prompt_length (outcome error); the default rules
 * must name nobody. The same conversation answered again and again (a replay) still fires
 * identical_requests. Time as recorded: all attempts within seconds, harsher than a real
 * outage for every windowed rule.
 */

let fake: FakeLlm;
beforeAll(async () => {
  fake = await startFakeLlm();
});
afterAll(async () => {
  await fake?.close();
});

/** A four-turn conversation whose last user message carries the failure marker, if any. */
function history(marker: string): { role: 'user' | 'assistant'; content: string }[] {
  return [
    { role: 'user', content: 'Can you help me plan a three-day trip to Lisbon in March?' },
    {
      role: 'assistant',
      content: 'Of course. Day one: Alfama and the castle; day two: Belém; day three: Sintra.',
    },
    {
      role: 'user',
      content: `Could you add a restaurant for each evening, nothing too expensive? ${marker}`,
    },
  ];
}

/** The events of `send`, through setupLlmsec (which also carries the security context). */
async function recorded(send: () => Promise<void>): Promise<SecurityEvent[]> {
  const seen: SecurityEvent[] = [];
  const setup = setupLlmsec({
    serviceName: 'benign-retries',
    onEvent: (e) => seen.push(e),
    prometheus: false,
    otlp: false,
  });
  try {
    await send();
  } finally {
    await setup.shutdown();
  }
  return seen;
}

function alertsOf(events: SecurityEvent[]): Alert[] {
  const alerts: Alert[] = [];
  const engine = new DetectionEngine({ allowedLatenessMs: 60_000, onAlert: (a) => alerts.push(a) });
  for (const e of events) engine.ingest(e, Date.parse(e.timestamp));
  engine.flush();
  return alerts.filter((a) => a.status === 'firing');
}

async function attempt(call: () => Promise<unknown>): Promise<boolean> {
  try {
    await call();
    return true;
  } catch {
    return false;
  }
}

describe('retrying a failed call is not a replay', () => {
  it('openai: seven attempts refused 500 / 429, then one answered: no alert', async () => {
    const events = await recorded(async () => {
      const client = instrumentClient(
        new OpenAI({ apiKey: 'x', baseURL: fake.openaiBaseURL, maxRetries: 0 }),
      );
      await withSecurityContext({ userId: 'traveller', sessionId: 's-1' }, async () => {
        for (let i = 0; i < 7; i++) {
          const marker = i % 2 === 0 ? '[[500]]' : '[[429]]';
          const ok = await attempt(() =>
            client.chat.completions.create({ model: 'gpt-4o-mini', messages: history(marker) }),
          );
          expect(ok).toBe(false);
        }
        await client.chat.completions.create({ model: 'gpt-4o-mini', messages: history('') });
      });
    });
    const completed = events.filter((e) => e.category === 'request_completed');
    expect(completed.map((e) => e.metadata!.outcome)).toEqual([...Array(7).fill('error'), 'allowed']);
    // The markers are the same length: the seven failed attempts are one prompt_length.
    expect(new Set(completed.slice(0, 7).map((e) => e.metadata!.prompt_length)).size).toBe(1);
    expect(alertsOf(events)).toEqual([]);
  });

  it('anthropic: seven attempts refused, then one answered: no alert', async () => {
    const events = await recorded(async () => {
      const client = instrumentClient(new Anthropic({ apiKey: 'x', baseURL: fake.url, maxRetries: 0 }));
      await withSecurityContext({ userId: 'traveller-2', sessionId: 's-2' }, async () => {
        for (let i = 0; i < 7; i++)
          await attempt(() =>
            client.messages.create({
              model: 'claude-haiku-4-5',
              max_tokens: 256,
              messages: history('[[500]]'),
            }),
          );
        await client.messages.create({ model: 'claude-haiku-4-5', max_tokens: 256, messages: history('') });
      });
    });
    const outcomes = events.filter((e) => e.category === 'request_completed').map((e) => e.metadata!.outcome);
    expect(outcomes).toEqual([...Array(7).fill('error'), 'allowed']);
    expect(alertsOf(events)).toEqual([]);
  });

  it('the same conversation answered six times (a replay) still raises identical_requests', async () => {
    const events = await recorded(async () => {
      const client = instrumentClient(
        new OpenAI({ apiKey: 'x', baseURL: fake.openaiBaseURL, maxRetries: 0 }),
      );
      await withSecurityContext({ userId: 'replayer' }, async () => {
        for (let i = 0; i < 6; i++)
          await client.chat.completions.create({ model: 'gpt-4o-mini', messages: history('') });
      });
    });
    expect(alertsOf(events).map((a) => `${a.rule}:${a.user_ids.join(',')}`)).toEqual([
      'identical_requests:replayer',
    ]);
  });
});
