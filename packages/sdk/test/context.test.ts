import { ROOT_CONTEXT, context, propagation, type TextMapGetter } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CBaggagePropagator } from '@opentelemetry/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  contextWithSecurity,
  getSecurityContext,
  normaliseId,
  securityContextFromBaggage,
  withSecurityContext,
} from '../src/context.ts';

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
});
afterAll(() => {
  context.disable();
});

describe('security context', () => {
  it('is visible inside the block, including after awaits and timers, and gone after it', async () => {
    const seen = await withSecurityContext(
      { userId: 'u1', sessionId: 's1', conversationId: 'c1' },
      async () => {
        const first = getSecurityContext();
        await new Promise((r) => setTimeout(r, 1));
        const second = await new Promise((resolve) => setImmediate(() => resolve(getSecurityContext())));
        return [first, second];
      },
    );
    expect(seen).toEqual([
      { userId: 'u1', sessionId: 's1', conversationId: 'c1' },
      { userId: 'u1', sessionId: 's1', conversationId: 'c1' },
    ]);
    expect(getSecurityContext()).toEqual({});
  });

  it('nested blocks override given fields and inherit the rest', () => {
    const inner = withSecurityContext({ userId: 'u1', sessionId: 's1' }, () =>
      withSecurityContext({ sessionId: 's2', conversationId: 'c2' }, () => getSecurityContext()),
    );
    expect(inner).toEqual({ userId: 'u1', sessionId: 's2', conversationId: 'c2' });
  });

  it('writes W3C baggage entries that a propagator serialises', () => {
    const ctx = contextWithSecurity({ userId: 'alice@example', sessionId: 'sess 1' }, ROOT_CONTEXT);
    const carrier: Record<string, string> = {};
    new W3CBaggagePropagator().inject(ctx, carrier, {
      set: (c, k, v) => ((c as Record<string, string>)[k] = v),
    });
    expect(carrier.baggage).toContain('user.id=alice%40example');
    expect(carrier.baggage).toContain('session.id=sess%201');
  });

  it('reads baggage when no context value is set (the far side of an HTTP hop)', () => {
    const getter: TextMapGetter<Record<string, string>> = {
      get: (c, k) => c[k],
      keys: (c) => Object.keys(c),
    };
    const extracted = new W3CBaggagePropagator().extract(
      ROOT_CONTEXT,
      { baggage: 'user.id=bob,session.id=s9,gen_ai.conversation.id=c9,other=x' },
      getter,
    );
    expect(getSecurityContext(extracted)).toEqual({ userId: 'bob', sessionId: 's9', conversationId: 'c9' });
    expect(securityContextFromBaggage(propagation.getBaggage(extracted))).toEqual({
      userId: 'bob',
      sessionId: 's9',
      conversationId: 'c9',
    });
  });

  it('normalises ids: numbers become strings, objects and blanks are ignored, long ids are cut', () => {
    const ctx = contextWithSecurity(
      { userId: 42 as unknown as string, sessionId: '   ', conversationId: 'c'.repeat(1000) },
      ROOT_CONTEXT,
    );
    const sc = getSecurityContext(ctx);
    expect(sc.userId).toBe('42');
    expect(sc.sessionId).toBeUndefined();
    expect(sc.conversationId).toHaveLength(256);
  });

  it("returns what the block returns and lets its errors through (it is the app's code)", () => {
    expect(withSecurityContext({ userId: 'u' }, () => 7)).toBe(7);
    expect(() =>
      withSecurityContext({ userId: 'u' }, () => {
        throw new Error('app error');
      }),
    ).toThrow('app error');
    expect(withSecurityContext(null as never, () => getSecurityContext())).toEqual({});
  });
});

describe('normaliseId', () => {
  it('cuts at 256 UTF-16 units, never inside a surrogate pair (an emoji across the 256th unit goes whole)', () => {
    expect(normaliseId('u'.repeat(300))).toBe('u'.repeat(256));
    expect(normaliseId(`${'u'.repeat(255)}😈tail`)).toBe('u'.repeat(255));
    expect(normaliseId(`${'u'.repeat(254)}😈tail`)).toBe(`${'u'.repeat(254)}😈`);
    expect(normaliseId(`${'u'.repeat(254)}😈`)).toBe(`${'u'.repeat(254)}😈`);
  });
});
