import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SecurityEvent } from '@llmsec/core';
import { setupLlmsec } from '../src/setup.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { SecurityEvents } from '../src/security-events.ts';
import { startFakeLlm, type FakeLlm } from '../../../examples/fake-llm/server.ts';

let fake: FakeLlm;
beforeAll(async () => {
  fake = await startFakeLlm();
});
afterAll(async () => {
  await fake.close();
});

const ask = (client: OpenAI) =>
  client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });

/**
 * The root README's two snippets: setupLlmsec({ jsonl, onEvent, detection }), then
 * `instrumentClient(new OpenAI(), { guards })` with no `events`. The instrumentation README
 * promises that such a client records through setupLlmsec's SecurityEvents; it used a
 * SecurityEvents of its own on the global providers, so the setup's JSONL, onEvent and
 * detection never saw an instrumented call.
 */
describe('instrumentClient without an events option', () => {
  it('records through the running setupLlmsec (its onEvent, service name), also when instrumented before it', async () => {
    const early = instrumentClient(new OpenAI({ apiKey: 'x', baseURL: fake.openaiBaseURL, maxRetries: 0 }));
    const seen: SecurityEvent[] = [];
    const setup = setupLlmsec({
      serviceName: 'default-events',
      onEvent: (e) => seen.push(e),
      prometheus: false,
      otlp: false,
    });
    try {
      const client = instrumentClient(
        new OpenAI({ apiKey: 'x', baseURL: fake.openaiBaseURL, maxRetries: 0 }),
      );
      await ask(client);
      await ask(early);
      expect(seen.map((e) => [e.category, e.service])).toEqual([
        ['request_completed', 'default-events'],
        ['request_completed', 'default-events'],
      ]);
    } finally {
      await setup.shutdown();
    }
  });

  it('an explicit events option still wins, and after shutdown the setup is no longer used', async () => {
    const seen: SecurityEvent[] = [];
    const mine: SecurityEvent[] = [];
    const setup = setupLlmsec({
      serviceName: 'default-events',
      onEvent: (e) => seen.push(e),
      prometheus: false,
      otlp: false,
    });
    const own = new SecurityEvents({ serviceName: 'own', onEvent: (e) => mine.push(e) });
    const client = instrumentClient(new OpenAI({ apiKey: 'x', baseURL: fake.openaiBaseURL, maxRetries: 0 }));
    try {
      const explicit = instrumentClient(
        new OpenAI({ apiKey: 'x', baseURL: fake.openaiBaseURL, maxRetries: 0 }),
        { events: own },
      );
      await ask(explicit);
      expect(mine.map((e) => e.service)).toEqual(['own']);
      expect(seen).toEqual([]);
    } finally {
      await setup.shutdown();
    }
    await ask(client);
    expect(seen).toEqual([]);
  });

  it('a setup started after another shut down is the default; while one runs, a second is not', async () => {
    const client = instrumentClient(new OpenAI({ apiKey: 'x', baseURL: fake.openaiBaseURL, maxRetries: 0 }));
    const services = (seen: SecurityEvent[]) => seen.map((e) => e.service);
    const start = (serviceName: string, seen: SecurityEvent[]) =>
      setupLlmsec({ serviceName, onEvent: (e) => seen.push(e), prometheus: false, otlp: false });
    const a: SecurityEvent[] = [];
    const b: SecurityEvent[] = [];
    const c: SecurityEvent[] = [];
    const first = start('a', a);
    await ask(client);
    await first.shutdown();
    const second = start('b', b);
    try {
      // A second setup while one runs installs no globals, so it is not the default either.
      const third = start('c', c);
      await ask(client);
      await third.shutdown();
      await ask(client);
    } finally {
      await second.shutdown();
    }
    expect([services(a), services(b), services(c)]).toEqual([['a'], ['b', 'b'], []]);
  });

  it('a setup with registerGlobal: false is not the default', async () => {
    const seen: SecurityEvent[] = [];
    const setup = setupLlmsec({
      serviceName: 'not-global',
      registerGlobal: false,
      onEvent: (e) => seen.push(e),
      prometheus: false,
      otlp: false,
    });
    try {
      await ask(instrumentClient(new OpenAI({ apiKey: 'x', baseURL: fake.openaiBaseURL, maxRetries: 0 })));
      expect(seen).toEqual([]);
    } finally {
      await setup.shutdown();
    }
  });
});
