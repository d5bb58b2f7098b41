// RedisStore's coalescing (redis-coalesce.ts) on a real Redis: what goes over the wire (one
// EVALSHA per batch, the lone call as before, the caps), the failures (a failed batch, a call
// failing inside a batch, NOSCRIPT, a reply that does not parse, the limiter's timeout per
// call), Cluster mode, and a differential run: random ticks of concurrent acquires, settles
// and cancels over subjects and tiers, (a) coalesced and (b) one EVALSHA per call in the
// same order on a second database, with one fixed clock: identical decisions and final state.
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createIdGenerator } from '@llmsec/core';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { leaseKey, rlKey } from '../src/keys.ts';
import { RateLimiter } from '../src/limiter.ts';
import { coalescerOf, RedisStore } from '../src/redis-store.ts';
import type { EnforcementParams } from '../src/enforcement.ts';
import type { AcquireOp } from '../src/store.ts';
import type { AcquireRequest, AcquireResult, Lease, TierLimits } from '../src/types.ts';
import { prng } from './lua-trials.ts';
import { until } from '../../../test/support/until.ts';

const db = useRedis();

type Sent = { command: 'evalsha' | 'eval'; numKeys: number; args: number };

/** A fresh client whose script commands are recorded (and can be replaced) before they go out. */
function spiedClient(dbIndex = 0): { client: Redis; sent: Sent[] } {
  const client = new Redis(db.server.url, { db: dbIndex, maxRetriesPerRequest: 1 });
  const sent: Sent[] = [];
  const c = client as unknown as Record<string, (...a: unknown[]) => Promise<Buffer>>;
  const evalsha = c.evalshaBuffer!.bind(client);
  const evalLua = c.evalBuffer!.bind(client);
  c.evalshaBuffer = (sha, ...args) => {
    sent.push({ command: 'evalsha', numKeys: args[0] as number, args: args.length });
    return evalsha(sha, ...args);
  };
  c.evalBuffer = (lua, ...args) => {
    sent.push({ command: 'eval', numKeys: args[0] as number, args: args.length });
    return evalLua(lua, ...args);
  };
  return { client, sent };
}

/** The EVALSHAs sent (a script's first call is answered NOSCRIPT and re-sent as EVAL: left out). */
const shas = (sent: Sent[]): Sent[] => sent.filter((s) => s.command === 'evalsha');

const ENFORCEMENT: EnforcementParams = {
  warningAt: 5,
  throttledAt: 10,
  blockedAt: 20,
  bannedAt: 50,
  halfLifeMs: 600_000,
  blockMs: 300_000,
  throttleFactor: 0.5,
  refusalWeight: 1,
  banTtlMs: 31_536_000_000,
};

/** 100 requests per hour: one vector shared by every call (the tier's, hence one script). */
const PER_HOUR_100 = [0, 100, 0, 0, 0, 0, 0, 0, 0];

/** A store-level acquire of one request on one subject, 100 per hour. */
const storeOp = (subject: string): AcquireOp => ({
  subjects: [{ subject, limits: PER_HOUR_100 }],
  leaseId: 'lease-1',
  leaseTtlMs: 60_000,
  tokens: 1,
  costMicroUsd: 0,
  enforcement: ENFORCEMENT,
});

/**
 * Script replies held back while `hold` is on (a Redis that answers late), released together by
 * `release()`; `settled()` waits for every script call sent so far and for those their replies
 * lead to (a late reservation's give-back). A hold, not a delay: the limiter's short timeout
 * then fires first however loaded the host, and the test waits for the late replies and what
 * follows them instead of guessing how long they take.
 */
function heldReplies(client: Redis): { hold(): void; release(): void; settled(): Promise<void> } {
  const c = client as unknown as Record<string, (...a: unknown[]) => Promise<Buffer>>;
  let gate: Promise<void> | undefined;
  let open = (): void => {};
  const calls: Promise<unknown>[] = [];
  for (const name of ['evalshaBuffer', 'evalBuffer']) {
    const send = c[name]!;
    c[name] = (...a) => {
      const held = gate;
      const p = send(...a).then(async (r) => (held !== undefined && (await held), r));
      calls.push(p.catch(() => {}));
      return p;
    };
  }
  return {
    hold: () => {
      gate = new Promise((r) => (open = r));
    },
    release: () => {
      gate = undefined;
      open();
    },
    settled: async () => {
      // Until no call is added while the ones sent are awaited (a give-back is sent on the
      // next tick after its late reply: coalesced on process.nextTick).
      for (let seen = -1; seen !== calls.length;) {
        seen = calls.length;
        await Promise.all(calls);
        await new Promise((r) => setImmediate(r));
      }
    },
  };
}

const req = (subject: string, tokens = 10): AcquireRequest => ({
  subject,
  estimatedTokens: tokens,
  estimatedCostMicroUsd: 5,
});

describe('what coalescing sends', () => {
  it('a lone acquire and a lone settle are one EVALSHA of the script itself, as before (c=1)', async () => {
    const { client, sent } = spiedClient();
    const lim = new RateLimiter({
      store: new RedisStore({ client }),
      tiers: { t: { tokensPerHour: 1_000 } },
      // As in the other cases: past the default 100 ms (at load) a call fails open, and one
      // EVALSHA was seen instead of six (as with a 1 ms timeout).
      commandTimeoutMs: 5_000,
    });
    for (let i = 0; i < 3; i++) {
      const r = await lim.acquire(req(`lone-${i}`));
      expect(r.allowed).toBe(true);
      await lim.settle(r.lease!, { tokens: 20 });
    }
    // Lean one-subject scripts: acquire numKeys 1 + rl + tokens + cost, settle + requests.
    expect(shas(sent)).toEqual(
      Array.from({ length: 3 }, () => [
        { command: 'evalsha', numKeys: 1, args: 4 },
        { command: 'evalsha', numKeys: 1, args: 5 },
      ]).flat(),
    );
    client.disconnect();
  });

  it('100 concurrent acquires of one tier: batches of 32, 32, 32 and 4, and exactly the limit admitted', async () => {
    const { client, sent } = spiedClient();
    const lim = new RateLimiter({
      store: new RedisStore({ client }),
      tiers: { t: { requestsPerHour: 50 } },
      enforcement: false, // every refusal by the limit, none escalated to a block
      commandTimeoutMs: 5_000,
    });
    const results = await Promise.all(Array.from({ length: 100 }, () => lim.acquire(req('flood'))));
    expect(results.filter((r) => r.allowed)).toHaveLength(50);
    expect(results.filter((r) => r.reason === 'rph')).toHaveLength(50);
    expect(shas(sent).map((s) => s.numKeys)).toEqual([32, 32, 32, 4]);
    // One key and two amounts per call.
    expect(shas(sent).map((s) => s.args)).toEqual([97, 97, 97, 13]);
    client.disconnect();
  });

  it('the byte cap splits a batch before the call cap; one call alone goes out as itself', async () => {
    const { client, sent } = spiedClient();
    const store = new RedisStore({ client });
    coalescerOf(store).maxBytes = 200;
    const lim = new RateLimiter({ store, tiers: { t: { requestsPerHour: 50 } }, commandTimeoutMs: 5_000 });
    // Keys of 40-odd characters plus two amounts: about 75 per call, two calls per 200.
    const subject = 'x'.repeat(30);
    const results = await Promise.all(Array.from({ length: 5 }, () => lim.acquire(req(subject))));
    expect(results.every((r) => r.allowed)).toBe(true);
    expect(shas(sent).map((s) => s.numKeys)).toEqual([2, 2, 1]);
    expect(shas(sent)[2]!.args).toBe(4);
    client.disconnect();
  });

  it('calls of different tiers on different subjects in one tick: one batch per tier, in the order of their first call', async () => {
    const { client, sent } = spiedClient();
    const lim = new RateLimiter({
      store: new RedisStore({ client }),
      tiers: { a: { requestsPerHour: 100 }, b: { requestsPerHour: 100, concurrent: 10 } },
      defaultTier: 'a',
      commandTimeoutMs: 5_000,
    });
    const tiers = ['b', 'a', 'b', 'a', 'a', 'b', 'b'];
    const results = await Promise.all(
      tiers.map((tier, i) => lim.acquire({ ...req(`tiers-${tier}-${i % 2}`), tier })),
    );
    expect(results.every((r) => r.allowed)).toBe(true);
    // b: four calls with rl, lease keys; a: three with the rl key only.
    expect(shas(sent).map((s) => [s.numKeys, s.args])).toEqual([
      [8, 1 + 8 + 12],
      [3, 1 + 3 + 6],
    ]);
    await Promise.all(results.map((r) => lim.settle(r.lease!, { tokens: 10 })));
    expect(await client.zcard(leaseKey('tiers-b-0'))).toBe(0);
    client.disconnect();
  });

  it('a call never moves ahead of an earlier call on one of its keys: the batch of its tier is cut there', async () => {
    const { client, sent } = spiedClient();
    const lim = new RateLimiter({
      store: new RedisStore({ client }),
      tiers: { a: { requestsPerHour: 1 }, b: { requestsPerHour: 100 } },
      defaultTier: 'b',
      enforcement: false,
      commandTimeoutMs: 5_000,
    });
    // a on x, b on shared, a on shared, b on y. In call order b's request on shared is counted
    // first, and a (1 per hour) refuses the third; joining the first a batch would have run it
    // ahead of b and admitted it.
    const order = [
      ['a', 'order-x'],
      ['b', 'order-shared'],
      ['a', 'order-shared'],
      ['b', 'order-y'],
    ] as const;
    const results = await Promise.all(order.map(([tier, subject]) => lim.acquire({ ...req(subject), tier })));
    expect(results.map((r) => r.reason ?? 'ok')).toEqual(['ok', 'ok', 'rph', 'ok']);
    // a on x alone, b on shared and y together (no conflict), then a on shared.
    expect(shas(sent).map((s) => s.numKeys)).toEqual([1, 2, 1]);
    client.disconnect();
  });

  it('two stores on one client keep call order between them (one queue per client)', async () => {
    const { client, sent } = spiedClient();
    // Told apart on the wire: one's tier is lean (1 key, 4 arguments), two's has a concurrency limit (2 keys, 6).
    const one = new RateLimiter({
      store: new RedisStore({ client }),
      tiers: { t: { requestsPerHour: 100 } },
      commandTimeoutMs: 5_000,
    });
    const two = new RateLimiter({
      store: new RedisStore({ client }),
      tiers: { t: { requestsPerHour: 100, concurrent: 5 } },
      commandTimeoutMs: 5_000,
    });
    const results = await Promise.all([
      one.acquire(req('two-stores')),
      two.acquire(req('two-stores')),
      one.acquire(req('two-stores')),
    ]);
    expect(results.every((r) => r.allowed)).toBe(true);
    // In call order; one's second call cannot join its first (two's call on the subject is between).
    expect(shas(sent).map((s) => [s.numKeys, s.args])).toEqual([
      [1, 4],
      [2, 6],
      [1, 4],
    ]);
    client.disconnect();
  });

  it('a command sent on the client after a pending call does not overtake it (reset, QUIT)', async () => {
    const { client } = spiedClient();
    const store = new RedisStore({ client });
    const lim = new RateLimiter({
      store,
      tiers: { t: { requestsPerHour: 100, concurrent: 5 } },
      commandTimeoutMs: 5_000,
    });
    // Warm the scripts (a first call is NOSCRIPT then EVAL, which a later command overtakes
    // with or without coalescing).
    const warm = await Promise.all([lim.acquire(req('ord-warm')), lim.acquire(req('ord-warm'))]);
    await Promise.all(warm.map((r) => lim.settle(r.lease!, { tokens: 1 })));
    const lone = await lim.acquire(req('ord-warm'));
    await lim.settle(lone.lease!, { tokens: 1 });
    // Acquire then reset in one tick: the reset wipes the lease, as it did one EVALSHA per call.
    await Promise.all([lim.acquire(req('ord-reset')), lim.reset('ord-reset')]);
    expect(await db.redis.zcard(leaseKey('ord-reset'))).toBe(0);
    const leases = await Promise.all([lim.acquire(req('ord-quit')), lim.acquire(req('ord-quit'))]);
    expect(await db.redis.zcard(leaseKey('ord-quit'))).toBe(2);
    // Settles then quit() in the same tick: the settles reach Redis before QUIT.
    const settles = leases.map((r) => lim.settle(r.lease!, { tokens: 1 }));
    await client.quit();
    await Promise.all(settles);
    expect(await db.redis.zcard(leaseKey('ord-quit'))).toBe(0);
  });

  it('settles then disconnect() in one tick: written before the socket closes, as each alone was', async () => {
    const { client } = spiedClient();
    const lim = new RateLimiter({
      store: new RedisStore({ client }),
      tiers: { t: { requestsPerHour: 100, concurrent: 5 } },
      commandTimeoutMs: 5_000,
    });
    const warm = await Promise.all([lim.acquire(req('disc-warm')), lim.acquire(req('disc-warm'))]);
    await Promise.all(warm.map((r) => lim.settle(r.lease!, { tokens: 1 })));
    const leases = await Promise.all([lim.acquire(req('disc')), lim.acquire(req('disc'))]);
    const settles = leases.map((r) => lim.settle(r.lease!, { tokens: 1 }));
    client.disconnect();
    await Promise.all(settles);
    // The server reads what was written before the close (awaited: a loaded host's Redis may
    // take longer than any fixed sleep; a settle never written leaves its lease for good).
    await until(async () => (await db.redis.zcard(leaseKey('disc'))) === 0, 20_000);
  });

  it('10,000 calls in one tick: batches of at most 32, exactly the limits admitted', async () => {
    const { client, sent } = spiedClient();
    const lim = new RateLimiter({
      store: new RedisStore({ client }),
      tiers: { t: { requestsPerHour: 1_000 } },
      enforcement: false,
      commandTimeoutMs: 10_000,
    });
    const results = await Promise.all(
      Array.from({ length: 10_000 }, (_, i) => lim.acquire(req(`ten-k-${i % 3}`))),
    );
    for (let s = 0; s < 3; s++) {
      expect(results.filter((r, i) => i % 3 === s && r.allowed)).toHaveLength(1_000);
    }
    expect(shas(sent).length).toBe(Math.ceil(10_000 / 32));
    expect(Math.max(...shas(sent).map((x) => x.numKeys))).toBe(32);
    client.disconnect();
  });

  it('Cluster mode does not coalesce: one EVALSHA per call', async () => {
    const { client, sent } = spiedClient();
    const store = new RedisStore({ client, cluster: true });
    expect(coalescerOf(store).enabled).toBe(false);
    const lim = new RateLimiter({ store, tiers: { t: { requestsPerHour: 100 } }, commandTimeoutMs: 5_000 });
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => lim.acquire(req(`cl-${i}`))));
    expect(results.every((r) => r.allowed)).toBe(true);
    expect(shas(sent).map((s) => s.numKeys)).toEqual([1, 1, 1, 1, 1, 1]);
    // Nor does it wrap the client's methods (the call-order hook of a coalescing store).
    expect(Object.hasOwn(client, 'sendCommand')).toBe(false);
    expect(Object.hasOwn(client, 'disconnect')).toBe(false);
    client.disconnect();
  });
});

describe('failures of a batch are the failures of each call', () => {
  it('NOSCRIPT (scripts flushed): the batch is re-sent once as EVAL and every call is answered', async () => {
    const { client, sent } = spiedClient();
    const lim = new RateLimiter({
      store: new RedisStore({ client }),
      tiers: { t: { requestsPerHour: 100 } },
      commandTimeoutMs: 5_000,
    });
    expect(
      (await Promise.all([lim.acquire(req('ns')), lim.acquire(req('ns'))])).every((r) => r.allowed),
    ).toBe(true);
    await client.script('FLUSH');
    sent.length = 0;
    const results = await Promise.all(Array.from({ length: 4 }, () => lim.acquire(req('ns'))));
    expect(results.every((r) => r.allowed && !r.degraded)).toBe(true);
    expect(sent.map((s) => `${s.command} ${s.numKeys}`)).toEqual(['evalsha 4', 'eval 4']);
    client.disconnect();
  });

  it('a call whose command fails inside the batch fails alone, with a ReplyError; the others are decided', async () => {
    const { client } = spiedClient();
    const store = new RedisStore({ client });
    await client.del(rlKey('wrong'));
    await client.rpush(rlKey('wrong'), 'not a state');
    const settled = await Promise.allSettled(['ok-1', 'wrong', 'ok-2'].map((s) => store.acquire(storeOp(s))));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const err = (settled[1] as PromiseRejectedResult).reason as Error;
    expect(err.name).toBe('ReplyError');
    expect(err.message).toMatch(/WRONGTYPE/);
    // Through the limiter failing closed: that request is refused as store_unavailable, the others admitted.
    const lim = new RateLimiter({
      store,
      tiers: { t: { requestsPerHour: 100 } },
      failurePolicy: 'closed',
      commandTimeoutMs: 5_000,
    });
    const results = await Promise.all(['ok-3', 'wrong', 'ok-4'].map((s) => lim.acquire(req(s))));
    expect(results.map((r) => r.allowed)).toEqual([true, false, true]);
    expect(results[1]!.reason).toBe('store_unavailable');
    client.disconnect();
  });

  it('a batch that fails as a whole fails each of its calls, then the failure policy decides each', async () => {
    const { client } = spiedClient();
    const c = client as unknown as Record<string, unknown>;
    c.evalshaBuffer = () => Promise.reject(new Error('connection lost'));
    const store = new RedisStore({ client });
    const open = new RateLimiter({ store, tiers: { t: { requestsPerHour: 100 } }, commandTimeoutMs: 5_000 });
    const a = await Promise.all(Array.from({ length: 3 }, () => open.acquire(req('down'))));
    expect(a.map((r) => [r.allowed, r.degraded])).toEqual([
      [true, true],
      [true, true],
      [true, true],
    ]);
    const closed = new RateLimiter({
      store,
      tiers: { t: { requestsPerHour: 100 } },
      failurePolicy: 'closed',
      commandTimeoutMs: 5_000,
    });
    const b = await Promise.all(Array.from({ length: 3 }, () => closed.acquire(req('down'))));
    expect(b.map((r) => r.reason)).toEqual(['store_unavailable', 'store_unavailable', 'store_unavailable']);
    const direct = await Promise.allSettled([store.acquire(storeOp('down')), store.acquire(storeOp('down'))]);
    expect(direct.map((d) => d.status === 'rejected' && (d.reason as Error).message)).toEqual([
      'connection lost',
      'connection lost',
    ]);
    client.disconnect();
  });

  it('a client that throws instead of rejecting fails that batch only; the other calls of the tick are answered', async () => {
    const { client } = spiedClient();
    const c = client as unknown as Record<string, (...a: unknown[]) => Promise<Buffer>>;
    for (const name of ['evalshaBuffer', 'evalBuffer']) {
      const send = c[name]!;
      c[name] = (script, numKeys, ...rest) => {
        if ((numKeys as number) > 1) throw new Error('thrown, not rejected');
        return send(script, numKeys, ...rest);
      };
    }
    const store = new RedisStore({ client });
    const settled = await Promise.allSettled([
      store.acquire(storeOp('t1')),
      store.acquire({ ...storeOp('t2'), tokens: 2 }),
      store.acquire(storeOp('t3')),
      // Another tier, alone in its script: one EVALSHA with one key, after the failed batch.
      store.acquire({
        ...storeOp('t4'),
        subjects: [{ subject: 't4', limits: [0, 0, 100, 0, 0, 0, 0, 0, 0] }],
      }),
    ]);
    expect(settled.map((x) => (x.status === 'rejected' ? (x.reason as Error).message : 'ok'))).toEqual([
      'thrown, not rejected',
      'thrown, not rejected',
      'thrown, not rejected',
      'ok',
    ]);
    client.disconnect();
  });

  it('a client with enableOfflineQueue: false, not connected: every call of the batch fails at once, none hangs', async () => {
    const client = new Redis(db.server.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
    });
    client.on('error', () => {}); // ioredis also emits each rejection as an 'error' event
    const lim = new RateLimiter({
      store: new RedisStore({ client }),
      tiers: { t: { requestsPerHour: 100 } },
      failurePolicy: 'closed',
      // Far above the bound below: a call that hung until the timeout cannot pass for one that
      // failed at once, however stalled the host (1 s against 5 s could not tell at load 20).
      commandTimeoutMs: 100_000,
    });
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: 5 }, () => lim.acquire(req('offline'))));
    expect(results.map((r) => r.reason)).toEqual(Array.from({ length: 5 }, () => 'store_unavailable'));
    expect(performance.now() - started).toBeLessThan(50_000); // failed, not timed out
    client.disconnect();
  });

  it('a batched reply that does not parse fails every call loudly (never an admission)', async () => {
    const { client } = spiedClient();
    const c = client as unknown as Record<string, unknown>;
    c.evalshaBuffer = () => Promise.resolve(Buffer.from('not a batch reply'));
    const store = new RedisStore({ client });
    const lim = new RateLimiter({
      store,
      tiers: { t: { requestsPerHour: 100 } },
      failurePolicy: 'closed',
      commandTimeoutMs: 5_000,
    });
    const results = await Promise.all(Array.from({ length: 3 }, () => lim.acquire(req('garbled'))));
    expect(results.map((r) => r.reason)).toEqual([
      'store_unavailable',
      'store_unavailable',
      'store_unavailable',
    ]);
    client.disconnect();
  });

  it('the timeout applies per call: late reservations of a slow batch are given back when they arrive', async () => {
    const { client } = spiedClient();
    const replies = heldReplies(client);
    replies.hold();
    const store = new RedisStore({ client });
    const tiers = { t: { requestsPerHour: 100, tokensPerHour: 10_000, concurrent: 20 } };
    const lim = new RateLimiter({ store, tiers, failurePolicy: 'closed', commandTimeoutMs: 30 });
    const results = await Promise.all(Array.from({ length: 8 }, () => lim.acquire(req('slow', 100))));
    expect(results.map((r) => r.reason)).toEqual(Array.from({ length: 8 }, () => 'store_unavailable'));
    // The replies arrive (reservations made), and the limiter gives each back.
    replies.release();
    await replies.settled();
    const status = await new RateLimiter({ store, tiers, commandTimeoutMs: 5_000 }).status('slow', 't');
    expect(status.activeLeases).toBe(0);
    expect(status.busyMs).toEqual({});
    client.disconnect();
  });

  it('a late reservation is given back exactly once: after it, the rest of the limit and no more is admitted', async () => {
    const { client } = spiedClient();
    const replies = heldReplies(client);
    const store = new RedisStore({ client });
    const tiers = { t: { requestsPerHour: 20 } };
    const fast = new RateLimiter({ store, tiers, enforcement: false, commandTimeoutMs: 5_000 });
    const slow = new RateLimiter({
      store,
      tiers,
      enforcement: false,
      failurePolicy: 'closed',
      commandTimeoutMs: 30,
    });
    const first = await Promise.all(Array.from({ length: 10 }, () => fast.acquire(req('once'))));
    expect(first.every((r) => r.allowed)).toBe(true);
    replies.hold();
    const late = await Promise.all(Array.from({ length: 8 }, () => slow.acquire(req('once'))));
    expect(late.map((r) => r.reason)).toEqual(Array.from({ length: 8 }, () => 'store_unavailable'));
    // The eight replies arrive (admitted), each given back.
    replies.release();
    await replies.settled();
    // Ten left: eight kept would leave two, eight given back twice would leave eighteen.
    const rest = await Promise.all(Array.from({ length: 30 }, () => fast.acquire(req('once'))));
    expect(rest.filter((r) => r.allowed)).toHaveLength(10);
    client.disconnect();
  });
});

/**
 * A client whose scripts see TIME answer `clock.ms` (epoch ms): EVALSHA answers NOSCRIPT so
 * every script is re-sent as EVAL (RedisStore's own fallback), with `redis` shadowed by a
 * table whose call answers TIME from the clock and passes everything else through.
 */
function clockedClient(dbIndex: number, clock: { ms: number }): Redis {
  const client = new Redis(db.server.url, { db: dbIndex, maxRetriesPerRequest: 1 });
  const c = client as unknown as Record<string, (...a: unknown[]) => Promise<Buffer>>;
  const evalLua = c.evalBuffer!.bind(client);
  c.evalshaBuffer = () => Promise.reject(new Error('NOSCRIPT No matching script (test: always EVAL)'));
  c.evalBuffer = (lua, ...args) => {
    const us = Math.round(clock.ms * 1000);
    const prelude = `local R = redis
local redis = setmetatable({ call = function(c, ...)
  if c == 'TIME' then return { '${Math.floor(us / 1e6)}', '${us % 1e6}' } end
  return R.call(c, ...)
end }, { __index = R })
`;
    return evalLua(prelude + (lua as string), ...args);
  };
  return client;
}

describe('coalesced and one EVALSHA per call decide the same', () => {
  it('random ticks of acquires, settles and cancels over subjects and tiers: identical decisions and final state', async () => {
    const clock = { ms: 1_760_000_000_000 };
    const tiers: Record<string, TierLimits> = {
      free: { requestsPerMinute: 4, tokensPerMinute: 3_000, costPerHourMicroUsd: 20_000 },
      pro: { requestsPerMinute: 6, requestsPerHour: 30, tokensPerHour: 20_000, concurrent: 3 },
      ip: { requestsPerMinute: 9 },
    };
    const side = (dbIndex: number, coalesce: boolean) => {
      const client = clockedClient(dbIndex, clock);
      const store = new RedisStore({ client });
      coalescerOf(store).enabled = coalesce;
      // Lease ids set by the test before each acquire, so both sides name the same leases.
      const ids = { next: '' };
      const base = createIdGenerator(() => 0);
      const limiter = new RateLimiter({
        store,
        tiers,
        defaultTier: 'free',
        secondaryTier: 'ip',
        failurePolicy: 'closed',
        commandTimeoutMs: 10_000,
        clock: { now: () => clock.ms },
        idGenerator: { eventId: base.eventId, hex: (n) => ids.next.padStart(n, '0').slice(-n) },
      });
      return { client, limiter, ids, leases: new Map<number, Lease>() };
    };
    const a = side(0, true);
    const b = side(1, false);
    await a.client.flushdb();
    await b.client.flushdb();

    type Op =
      | { n: number; kind: 'acquire'; req: AcquireRequest }
      | { n: number; kind: 'settle' | 'cancel'; of: number; tokens: number };
    const rnd = prng(61);
    const subjects = ['u0', 'u1', 'u2'];
    const admitted: number[] = [];
    const results = { a: [] as unknown[], b: [] as unknown[] };
    const groupSizes: number[] = [];
    let n = 0;
    const run = (s: typeof a, op: Op): Promise<unknown> => {
      if (op.kind === 'acquire') {
        s.ids.next = String(op.n);
        return s.limiter.acquire(op.req).then((r: AcquireResult) => {
          if (r.lease) s.leases.set(op.n, r.lease);
          return r;
        });
      }
      const lease = s.leases.get(op.of)!;
      return op.kind === 'settle'
        ? s.limiter.settle(lease, { tokens: op.tokens, costMicroUsd: 3 })
        : s.limiter.cancel(lease);
    };
    // Calls of one script in a tick (how much there was to batch).
    const scriptOf = (s: typeof a, op: Op): string => {
      if (op.kind === 'acquire') return `acquire ${op.req.tier} ${op.req.secondarySubject ? 2 : 1}`;
      const lease = s.leases.get(op.of)!;
      return `settle ${lease.tier} ${lease.secondarySubject ? 2 : 1} ${(lease.limitFactors ?? [1]).join()}`;
    };
    for (let tick = 0; tick < 120; tick++) {
      clock.ms += rnd() < 0.3 ? 0 : Math.floor(rnd() * 15_000) + rnd();
      const ops: Op[] = [];
      const count = 1 + Math.floor(rnd() * 12);
      const settling = new Set<number>();
      for (let i = 0; i < count; i++) {
        const open = admitted.filter((x) => !settling.has(x));
        if (open.length > 0 && rnd() < 0.35) {
          const of = open[Math.floor(rnd() * open.length)]!;
          settling.add(of);
          ops.push({ n: n++, kind: rnd() < 0.7 ? 'settle' : 'cancel', of, tokens: Math.floor(rnd() * 400) });
        } else {
          const tier = rnd() < 0.5 ? 'free' : 'pro';
          const secondary = rnd() < 0.4 ? `ip:${Math.floor(rnd() * 2)}` : undefined;
          const r: AcquireRequest = {
            subject: subjects[Math.floor(rnd() * subjects.length)]!,
            tier,
            estimatedTokens: Math.floor(rnd() * 500),
            estimatedCostMicroUsd: Math.floor(rnd() * 4),
          };
          if (secondary) r.secondarySubject = secondary;
          ops.push({ n: n++, kind: 'acquire', req: r });
        }
      }
      // (a) all at once: coalesced.
      const got = await Promise.all(ops.map((op) => run(a, op)));
      // (b) one call at a time, in call order (what one connection's FIFO gave before coalescing).
      const groups = new Map<string, number>();
      for (const op of ops) groups.set(scriptOf(b, op), (groups.get(scriptOf(b, op)) ?? 0) + 1);
      groupSizes.push(...groups.values());
      const expected = new Map<number, unknown>();
      for (const op of ops) expected.set(op.n, await run(b, op));
      ops.forEach((op, i) => {
        results.a.push(got[i]);
        results.b.push(expected.get(op.n));
        if (op.kind === 'acquire' && (got[i] as AcquireResult).lease) admitted.push(op.n);
        if (op.kind !== 'acquire') admitted.splice(admitted.indexOf(op.of), 1);
      });
      expect(results.a, `decisions up to tick ${tick}`).toEqual(results.b);
    }
    // The run batched, refused, throttled and settled: it tested something.
    expect(groupSizes.some((g) => g > 3)).toBe(true);
    const decided = results.a.filter((r): r is AcquireResult => typeof r === 'object' && r !== null);
    expect(decided.some((r) => r.allowed)).toBe(true);
    expect(new Set(decided.map((r) => r.reason)).size).toBeGreaterThan(3);

    // Final state, both databases read in one script (one instant, no expiry in between); a
    // key present on one side only must be about to expire (written a few ms apart).
    const keys = [...subjects, 'ip:0', 'ip:1'].flatMap((s) => [rlKey(s), leaseKey(s)]);
    const state = (await db.redis.eval(
      `local out = {}
for _, k in ipairs(KEYS) do
  for _, d in ipairs({ 0, 1 }) do
    redis.call('SELECT', d)
    local t = redis.call('TYPE', k)['ok']
    local v = ''
    if t == 'string' then v = redis.call('GET', k)
    elseif t == 'zset' then v = table.concat(redis.call('ZRANGE', k, 0, -1, 'WITHSCORES'), ',') end
    out[#out + 1] = { t, v, redis.call('PTTL', k) }
  end
end
return out`,
      keys.length,
      ...keys,
    )) as [string, string, number][];
    let compared = 0;
    for (let i = 0; i < keys.length; i++) {
      const [x, y] = [state[2 * i]!, state[2 * i + 1]!];
      if (x[0] !== y[0] && Math.max(x[2], y[2]) < 50) continue;
      expect(x[1], `final ${keys[i]}`).toBe(y[1]);
      compared++;
    }
    expect(compared).toBeGreaterThan(4);
    a.client.disconnect();
    b.client.disconnect();
  });
});
