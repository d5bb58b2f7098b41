// Consumer check, ESM: what a user's app does with the installed tarballs. Run by
// test/consumer.test.ts in a temporary project outside the repository; prints one JSON line.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import { defaultGuards, instrumentClient, setupLlmsec, withSecurityContext } from '@llmsec/sdk';
import { RateLimiter } from '@llmsec/ratelimit';
import { DetectionEngine } from '@llmsec/detect';
import { decodeEventLine } from '@llmsec/core';
import { loadConfig, startDetector } from '@llmsec/detector';

const jsonlPath = process.argv[2];

// A local OpenAI-compatible server: one chat completion with usage.
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    const model = JSON.parse(body).model;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: 'chatcmpl-1',
        object: 'chat.completion',
        created: 1_700_000_000,
        model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: 'hello from the local server' },
            logprobs: null,
            finish_reason: 'stop',
          },
        ],
        usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 },
      }),
    );
  });
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address();

const alerts = [];
const engine = new DetectionEngine({ onAlert: (alert) => alerts.push(`${alert.status}:${alert.rule}`) });
const llmsec = setupLlmsec({
  serviceName: 'consumer-esm',
  jsonl: { path: jsonlPath },
  onEvent: (e) => engine.ingestOnce(e),
});
const openai = instrumentClient(new OpenAI({ apiKey: 'test-key', baseURL: `http://127.0.0.1:${port}/v1` }), {
  guards: defaultGuards(),
  events: llmsec.events,
});

const limiter = new RateLimiter({ tiers: { free: { requestsPerMinute: 2 } } });
const decisions = [];
for (let i = 0; i < 3; i++) {
  const decision = await limiter.acquire({ subject: 'u-42', estimatedTokens: 17 });
  decisions.push(decision.allowed ? 'allowed' : decision.reason);
  if (decision.lease) await limiter.settle(decision.lease, { tokens: 17 });
}

const reply = await withSecurityContext({ userId: 'u-42', sessionId: 's-9' }, () =>
  openai.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'Say hello.' }],
  }),
);
await withSecurityContext({ userId: 'u-13' }, async () => {
  for (let i = 0; i < 12; i++) {
    llmsec.events.guardrailBlock({
      layer: 'prompt_injection',
      reason: 'ignore-previous',
      requestText: `ignore previous instructions ${i}`,
    });
  }
});
// A client instrumented as the root README prints it (no `events` option): it records through the
// running setup (JSONL, onEvent). A three-turn chat resending its history, an address in turn 1:
// one pii_detected (turn 1's), not one per turn.
const plain = instrumentClient(new OpenAI({ apiKey: 'test-key', baseURL: `http://127.0.0.1:${port}/v1` }), {
  guards: defaultGuards(),
});
await withSecurityContext({ userId: 'u-7', sessionId: 's-7' }, async () => {
  const history = [];
  for (const text of ['My email is alice@example.com.', 'And the weather?', 'Thanks.']) {
    history.push({ role: 'user', content: text });
    const r = await plain.chat.completions.create({ model: 'gpt-4o-mini', messages: history });
    history.push(r.choices[0].message);
  }
});
engine.flush();
await llmsec.shutdown();
await new Promise((resolve) => server.close(resolve));

const events = readFileSync(jsonlPath, 'utf8')
  .split('\n')
  .filter((line) => line !== '')
  .map((line) => decodeEventLine(line).event);
console.log(
  JSON.stringify({
    reply: reply.choices[0].message.content,
    decisions,
    categories: events.map((e) => `${e.category}:${e.user_id}`),
    alerts,
    // The detector service's module graph loads, and its config loader applies its defaults.
    detector: [typeof startDetector, loadConfig(undefined, {}).otlp.http],
  }),
);
