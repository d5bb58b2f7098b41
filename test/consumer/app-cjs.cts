// Consumer check, TypeScript compiled as CommonJS (a .cts file): the packages' types resolve
// through the `require` condition too. Type-checked only (tsc --noEmit in the temporary project).
import core = require('@llmsec/core');
import detect = require('@llmsec/detect');
import ratelimit = require('@llmsec/ratelimit');
import type { SecurityEvent } from '@llmsec/core';
import type { AcquireResult } from '@llmsec/ratelimit';

function firstEvent(line: string): SecurityEvent {
  return core.decodeEventLine(line).event;
}

async function allowed(limiter: ratelimit.RateLimiter, subject: string): Promise<boolean> {
  const result: AcquireResult = await limiter.acquire({ subject, estimatedTokens: 1 });
  return result.allowed;
}

const fiveMinutes: number = detect.parseDuration('5m');

export = { firstEvent, allowed, fiveMinutes };
