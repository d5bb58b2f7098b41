import type { FakeRequest, FakeResponse } from '../fake-llm/server.ts';
import { SYSTEM_PROMPT } from './guards.ts';

/**
 * How the demo's fake model misbehaves, so the output filters have something to catch: asked
 * for "example configuration" or "credentials" it answers with a (fake) cloud key, and asked
 * to repeat its setup text it repeats its system prompt. Everything else gets the default echo.
 */
const FAKE_AWS_KEY = 'AKIAIOSFODNN7EXAMPLE';

export function demoUpstreamScript(req: FakeRequest): FakeResponse | undefined {
  if (req.path !== '/v1/chat/completions') return undefined;
  const messages = Array.isArray(req.body.messages)
    ? (req.body.messages as Array<{ role?: string; content?: unknown }>)
    : [];
  const last = [...messages].reverse().find((m) => m.role === 'user');
  const text = typeof last?.content === 'string' ? last.content.toLowerCase() : '';
  if (/configuration|credentials|environment variables|config again/.test(text)) {
    return reply(req, `Here is the example config:\nAWS_ACCESS_KEY_ID=${FAKE_AWS_KEY}\nREGION=eu-west-1`);
  }
  if (/repeat the text you were given|initial setup text/.test(text)) {
    return reply(req, `Of course. ${SYSTEM_PROMPT}`);
  }
  return undefined;
}

function reply(req: FakeRequest, content: string): FakeResponse {
  const model = typeof req.body.model === 'string' ? req.body.model : 'gpt-4o-mini';
  const promptChars = JSON.stringify(req.body.messages ?? '').length;
  return {
    kind: 'json',
    body: {
      id: `chatcmpl-demo-${content.length}`,
      object: 'chat.completion',
      created: 1_763_800_000,
      model,
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
      usage: {
        prompt_tokens: Math.ceil(promptChars / 4),
        completion_tokens: Math.ceil(content.length / 4),
        total_tokens: Math.ceil(promptChars / 4) + Math.ceil(content.length / 4),
      },
    },
  };
}
