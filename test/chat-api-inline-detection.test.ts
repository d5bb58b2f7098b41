// The chat API's inline detection switch (LLMSEC_INLINE_DETECTION): on, its own engine sees
// every security event; off (a `llmsec detector` fleet behind the Collector detects instead),
// the engine gets nothing while the API serves and emits its telemetry as before.
import { afterEach, describe, expect, it } from 'vitest';
import { startChatApi, type ChatApi } from '../examples/chat-api/app.ts';
import { configFromEnv } from '../examples/chat-api/options.ts';
import { startFakeLlm, type FakeLlm } from '../examples/fake-llm/server.ts';

let upstream: FakeLlm | undefined;
let api: ChatApi | undefined;
afterEach(async () => {
  await api?.close();
  await upstream?.close();
  api = undefined;
  upstream = undefined;
});

async function chat(a: ChatApi, user: string): Promise<number> {
  const res = await fetch(`${a.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-user-id': user },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'What are your opening hours?' }] }),
  });
  await res.text();
  return res.status;
}

describe('chat API LLMSEC_INLINE_DETECTION', () => {
  it('parses true / false and refuses anything else', () => {
    expect(configFromEnv({}).inlineDetection).toBeUndefined();
    expect(configFromEnv({ LLMSEC_INLINE_DETECTION: 'false' }).inlineDetection).toBe(false);
    expect(configFromEnv({ LLMSEC_INLINE_DETECTION: 'true' }).inlineDetection).toBe(true);
    expect(() => configFromEnv({ LLMSEC_INLINE_DETECTION: 'off' })).toThrow(
      /LLMSEC_INLINE_DETECTION must be true or false, got "off"/,
    );
  });

  for (const inline of [true, false]) {
    it(`${inline ? 'feeds' : 'does not feed'} the in-process engine when inlineDetection is ${inline}`, async () => {
      upstream = await startFakeLlm({ port: 0, chunkDelayMs: 0 });
      api = await startChatApi({
        upstream: { baseURL: upstream.openaiBaseURL, apiKey: 'fake-key' },
        serviceName: `chat-api-inline-${inline}`,
        inlineDetection: inline,
      });
      expect(await chat(api, 'inline-user')).toBe(200);
      await new Promise((r) => setTimeout(r, 100));
      // Every request records request_completed (span event and log record).
      if (inline) expect(api.engine.stats.ingested).toBeGreaterThan(0);
      else expect(api.engine.stats.ingested).toBe(0);
    });
  }
});
