// Consumer check, TypeScript: compiled with `tsc --noEmit` (strict, NodeNext) in the temporary
// project against the installed packages' declaration files. Every public type used here must
// resolve to a real type: the NotAny checks fail if one degrades to `any`, and every
// expected-error directive fails if the mistake it marks stops being a type error.
import OpenAI from 'openai';
import type { Alert, SecurityEvent } from '@llmsec/core';
import { decodeEventLine } from '@llmsec/core';
import { instrumentClient, setupLlmsec, withSecurityContext, type LlmsecSetup } from '@llmsec/sdk';
import { DetectionEngine, type AnyRule } from '@llmsec/detect';
import { forEachLine } from '@llmsec/detect/replay';
import { RateLimiter, type AcquireResult } from '@llmsec/ratelimit';
import { readJsonBody } from '@llmsec/ratelimit/http';
import { runCli } from 'llmsec';

type IsAny<T> = 0 extends 1 & T ? true : false;
type NotAny<T> = IsAny<T> extends true ? never : true;

const client = instrumentClient(new OpenAI({ apiKey: 'key', baseURL: 'http://127.0.0.1:1/v1' }));
const llmsec: LlmsecSetup = setupLlmsec({ serviceName: 'consumer-ts' });
const engine = new DetectionEngine({ onAlert: (alert: Alert) => console.log(alert.rule) });
const limiter = new RateLimiter({ tiers: { free: { requestsPerMinute: 10 } } });

export async function handle(userId: string): Promise<string | null> {
  const decision: AcquireResult = await limiter.acquire({ subject: userId, estimatedTokens: 100 });
  if (!decision.allowed) return decision.reason ?? null;
  return await withSecurityContext({ userId }, async () => {
    // instrumentClient keeps the client's own type: the completion is OpenAI's type.
    const completion: OpenAI.Chat.Completions.ChatCompletion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    const event: SecurityEvent = llmsec.events.guardrailBlock({ layer: 'prompt_injection', reason: 'test' });
    engine.ingest(event);
    return completion.choices[0]?.message.content ?? null;
  });
}

export const checks: [
  NotAny<typeof client>,
  NotAny<typeof llmsec.events>,
  NotAny<AcquireResult>,
  NotAny<Alert>,
  NotAny<AnyRule>,
  NotAny<typeof decodeEventLine>,
  NotAny<typeof forEachLine>,
  NotAny<typeof readJsonBody>,
  NotAny<typeof runCli>,
] = [true, true, true, true, true, true, true, true, true];

export function mistakes(): void {
  // @ts-expect-error a tier limit is a number
  new RateLimiter({ tiers: { free: { requestsPerMinute: 'ten' } } });
  // @ts-expect-error guardrailBlock needs a layer
  llmsec.events.guardrailBlock({ reason: 'no layer' });
  // @ts-expect-error acquire resolves to a result object, not a boolean
  const allowed: Promise<boolean> = limiter.acquire({ subject: 'u', estimatedTokens: 1 });
  void allowed;
}
