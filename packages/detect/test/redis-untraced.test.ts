import { context, propagation, ROOT_CONTEXT, trace, type Context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { isTracingSuppressed } from '@opentelemetry/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { defaultRules, DetectionEngine, RedisDetectionState } from '../src/index.ts';
import { block, ev, SEC, T0 } from './helpers.ts';
import { freshRuleset } from './redis-support.ts';

/**
 * The flusher's work (Redis I/O, and the alerts it delivers) runs in the root context with
 * tracing suppressed: events ingested inside a user's request (active span, W3C baggage with
 * user.id) do not carry that request's context into llmsec's own I/O.
 */

let server: RedisHandle;
let redis: Redis;
const manager = new AsyncLocalStorageContextManager();

beforeAll(async () => {
  context.setGlobalContextManager(manager.enable());
  server = await startRedis();
  redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
});

afterAll(async () => {
  context.disable();
  redis?.disconnect();
  await server?.stop();
});

describe('shared state I/O is untraced', () => {
  it('alerts delivered by the flusher see no span, no baggage and suppressed tracing', async () => {
    const seen: Context[] = [];
    const engine = new DetectionEngine({
      rules: defaultRules(),
      allowedLatenessMs: 0,
      state: new RedisDetectionState({ redis, ruleset: freshRuleset('untraced'), commandTimeoutMs: 5_000 }),
      onAlert: () => void seen.push(context.active()),
    });
    const request = trace.setSpanContext(
      propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage({ 'user.id': { value: 'mallory' } })),
      { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 },
    );
    await context.with(request, async () => {
      for (let i = 0; i < 10; i++) engine.ingest(ev(block(T0 + i * SEC, 'mallory')).event, T0 + i * SEC);
      await engine.forceFlush();
    });
    expect(seen.length).toBeGreaterThan(0);
    for (const ctx of seen) {
      expect(trace.getSpan(ctx)).toBeUndefined();
      expect(propagation.getBaggage(ctx)).toBeUndefined();
      expect(isTracingSuppressed(ctx)).toBe(true);
    }
    await engine.shutdown();
  });
  it('every Redis command, openIncidents() included, is sent untraced when called inside a request', async () => {
    // Where an ioredis instrumentation starts its span (it patches sendCommand).
    const sent: { name: string; ctx: Context }[] = [];
    const client = redis as unknown as { sendCommand: (cmd: { name: string }) => unknown };
    const send = client.sendCommand;
    client.sendCommand = function (this: unknown, cmd: { name: string }) {
      sent.push({ name: cmd.name, ctx: context.active() });
      return send.call(this, cmd);
    };
    try {
      const engine = new DetectionEngine({
        rules: defaultRules(),
        allowedLatenessMs: 0,
        state: new RedisDetectionState({
          redis,
          ruleset: freshRuleset('untraced-list'),
          commandTimeoutMs: 5_000,
        }),
      });
      const request = trace.setSpanContext(
        propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage({ 'user.id': { value: 'mallory' } })),
        { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 },
      );
      const listed = await context.with(request, async () => {
        for (let i = 0; i < 10; i++) engine.ingest(ev(block(T0 + i * SEC, 'mallory')).event, T0 + i * SEC);
        await engine.forceFlush();
        sent.length = 0;
        return engine.openIncidents();
      });
      expect(listed).toHaveLength(1);
      // The listing's own commands: the resolve indexes, then the group read.
      expect(sent.some((c) => c.name === 'zrangebyscore')).toBe(true);
      expect(sent.some((c) => c.name === 'evalsha' || c.name === 'eval')).toBe(true);
      for (const { ctx } of sent) {
        expect(trace.getSpan(ctx)).toBeUndefined();
        expect(propagation.getBaggage(ctx)).toBeUndefined();
        expect(isTracingSuppressed(ctx)).toBe(true);
      }
      await engine.shutdown();
    } finally {
      client.sendCommand = send;
    }
  });
});
