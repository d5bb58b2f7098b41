import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { context, propagation, trace, TraceFlags, type Context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { isTracingSuppressed } from '@opentelemetry/core';
import { Redis } from 'ioredis';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { RateLimiter } from '../src/limiter.ts';
import { RedisStore } from '../src/redis-store.ts';
import { BAN_INDEX_KEY } from '../src/redis-ban-index.ts';
import { until } from '../../../test/support/until.ts';

// What an instrumented ioredis sees: its instrumentation patches `sendCommand` and parents the
// command's span on the context active there, and propagators read baggage from it.
let redis: RedisHandle | undefined;
let client: Redis | undefined;
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(async () => {
  context.setGlobalContextManager(contextManager.enable());
  redis = await startRedis();
  client = new Redis(redis.url, { enableOfflineQueue: true, maxRetriesPerRequest: 1 });
  // Connected first: the client's own handshake (CLIENT SETINFO, ...) is not the limiter's I/O.
  await client.ping();
});

afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
  context.disable();
});

function userContext(): Context {
  const span = trace.wrapSpanContext({
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: TraceFlags.SAMPLED,
  });
  const baggage = propagation.createBaggage({ 'user.id': { value: 'alice' }, 'session.id': { value: 's1' } });
  return propagation.setBaggage(trace.setSpan(context.active(), span), baggage);
}

describe('the limiter runs its own Redis I/O untraced', () => {
  it('every command sent from inside a user span with baggage has tracing suppressed and no span or baggage', async () => {
    const seen: Context[] = [];
    const names: string[] = [];
    const original = client!.sendCommand.bind(client!);
    client!.sendCommand = ((...args: Parameters<Redis['sendCommand']>) => {
      seen.push(context.active());
      names.push(args[0].name);
      return original(...args);
    }) as Redis['sendCommand'];
    const lim = new RateLimiter({
      store: new RedisStore({ client: client! }),
      tiers: { t: { requestsPerMinute: 100, tokensPerHour: 10_000, concurrent: 5 } },
      commandTimeoutMs: 2_000,
    });
    const user = userContext();
    await context.with(user, async () => {
      const r = await lim.acquire({
        subject: 'alice',
        secondarySubject: 'ip:192.0.2.1',
        estimatedTokens: 10,
      });
      expect(r.allowed).toBe(true);
      // The caller's own context is untouched after the limiter's await.
      expect(trace.getSpan(context.active())?.spanContext().spanId).toBe('b7ad6b7169203331');
      expect(propagation.getBaggage(context.active())?.getEntry('user.id')?.value).toBe('alice');
      await lim.settle(r.lease!, { tokens: 20 });
      await lim.status('alice');
      await lim.recordViolation('alice', 1);
      await lim.ban('alice');
      await lim.lift('alice');
      await lim.reset('alice');
      expect(isTracingSuppressed(context.active())).toBe(false);
    });
    client!.sendCommand = original;
    // acquire, settle, status, violation, ban, lift, reset (EVALSHA, or EVAL after NOSCRIPT).
    expect(seen.length).toBeGreaterThanOrEqual(7);
    for (const [i, ctx] of seen.entries()) {
      expect(isTracingSuppressed(ctx), names[i]).toBe(true);
      expect(trace.getSpan(ctx)).toBeUndefined();
      expect(propagation.getBaggage(ctx)).toBeUndefined();
    }
  });

  it("the fleet ban index's read, on its timer, is untraced even for a limiter built inside a user span", async () => {
    // A timer keeps the context it was set in: a limiter constructed while a request's span is
    // active would otherwise read the index, every few seconds, as a child of that request.
    const own = new Redis(redis!.url, { maxRetriesPerRequest: 1 });
    await own.ping();
    const reads: Context[] = [];
    const original = own.sendCommand.bind(own);
    own.sendCommand = ((...args: Parameters<Redis['sendCommand']>) => {
      const a = args[0].args as unknown[];
      if (a.includes(BAN_INDEX_KEY)) reads.push(context.active());
      return original(...args);
    }) as Redis['sendCommand'];
    try {
      context.with(userContext(), () => {
        // Kept alive by the test until the read: the timer holds the limiter only weakly.
        (globalThis as { keep?: unknown }).keep = new RateLimiter({
          store: new RedisStore({ client: own }),
          tiers: { t: { requestsPerMinute: 100 } },
          banSyncIntervalMs: 10,
          warmTokenizer: false,
        });
      });
      await until(() => reads.length > 0, 10_000);
    } finally {
      delete (globalThis as { keep?: unknown }).keep;
      own.disconnect();
    }
    expect(isTracingSuppressed(reads[0]!)).toBe(true);
    expect(trace.getSpan(reads[0]!)).toBeUndefined();
    expect(propagation.getBaggage(reads[0]!)).toBeUndefined();
  });

  it('a batch flushed by a command sent from a user span (to keep call order) is still sent untraced', async () => {
    // A client of its own: the test above replaced the shared one's sendCommand.
    const own = new Redis(redis!.url, { maxRetriesPerRequest: 1 });
    await own.ping();
    // Patched on the prototype before the store exists, as an instrumentation does at start-up.
    const seen: { name: string; ctx: Context }[] = [];
    const proto = Object.getPrototypeOf(own) as { sendCommand: Redis['sendCommand'] };
    const protoSend = proto.sendCommand;
    proto.sendCommand = function (this: Redis, ...args: Parameters<Redis['sendCommand']>) {
      seen.push({ name: args[0].name, ctx: context.active() });
      return protoSend.apply(this, args);
    } as Redis['sendCommand'];
    try {
      const lim = new RateLimiter({
        store: new RedisStore({ client: own }),
        tiers: { t: { requestsPerMinute: 100 } },
        commandTimeoutMs: 2_000,
      });
      await lim.acquire({ subject: 'flush-warm', estimatedTokens: 1 }); // its script loaded
      seen.length = 0;
      const acquired = lim.acquire({ subject: 'flush-by-user', estimatedTokens: 1 });
      // The user's own command in the same tick, in the user's context: it flushes the acquire first.
      await context.with(userContext(), () => own.get('some-user-key'));
      expect((await acquired).allowed).toBe(true);
    } finally {
      proto.sendCommand = protoSend;
      own.disconnect();
    }
    expect(seen.map((s) => s.name)).toEqual(['evalsha', 'get']);
    expect(isTracingSuppressed(seen[0]!.ctx)).toBe(true);
    expect(trace.getSpan(seen[0]!.ctx)).toBeUndefined();
    expect(propagation.getBaggage(seen[0]!.ctx)).toBeUndefined();
    expect(trace.getSpan(seen[1]!.ctx)).toBeDefined();
  });
});
