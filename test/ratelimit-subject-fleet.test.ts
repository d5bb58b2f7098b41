/**
 * One subject per user across the product, and one rate_limit_hit per refusal: the ratelimit
 * HTTP middleware and the SDK's instrumented client on one real RateLimiter (MemoryStore, and
 * RedisStore on a real redis-server), banned through the detection bridge (alertViolationHook)
 * and the operator path (`llmsec limits ban <user>` is limiter.ban(<user>)).
 */
import { createServer, type Server } from 'node:http';
import OpenAI from 'openai';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Alert, SecurityEvent } from '@llmsec/core';
import {
  alertViolationHook,
  MemoryStore,
  RateLimiter,
  RedisStore,
  withRateLimit,
  type LimiterStore,
} from '../packages/ratelimit/src/index.ts';
import { userSubject } from '../packages/ratelimit/src/http/subject.ts';
import { instrumentClient, RateLimitedError } from '../packages/sdk/src/instrumentation/index.ts';
import { normaliseId, withSecurityContext } from '../packages/sdk/src/context.ts';
import { close, fetchRaw, listen } from '../packages/ratelimit/test/http-support.ts';
import { eventually, useInstrHarness } from '../packages/sdk/test/fixtures/instr-harness.ts';
import { useRedis } from './support/redis-per-file.ts';
import { FleetEnforcement } from '../packages/detector/src/service/fleet-enforcement.ts';
import { silentLogger } from '../packages/detector/src/service/log.ts';

const h = useInstrHarness();
const redis = useRedis();

let server: Server | undefined;
afterEach(async () => {
  if (server) await close(server);
  server = undefined;
});

function alertOn(users: string[]): Alert {
  return {
    alert_id: 'A-subject',
    rule: 'system_prompt_extraction',
    severity: 'critical',
    status: 'firing',
    labels: {},
    user_ids: users,
    starts_at: new Date(0).toISOString(),
    description: 'test',
    evidence: [],
  };
}

/** The limiter (events into the harness's SecurityEvents), the middleware on a port, an SDK client. */
async function fleet(store: LimiterStore) {
  const limiter = new RateLimiter({
    store,
    tiers: { t: { requestsPerMinute: 1000 } },
    // Not the default 100 ms: a Redis call past it at load fails open, and the ban is not seen.
    commandTimeoutMs: 5_000,
    // One critical alert (5 points) bans.
    enforcement: { warningAt: 1, throttledAt: 2, blockedAt: 3, bannedAt: 5 },
    events: h.events,
  });
  server = createServer(
    withRateLimit(limiter, (_req, res) => res.end('ok'), {
      trustUserIdHeader: true,
      estimateTokens: () => 1,
      secondarySubject: () => undefined,
    }),
  );
  const port = await listen(server);
  const client = instrumentClient(
    new OpenAI({ apiKey: 'test', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }),
    { ...h.options(), limiter },
  );
  const viaHttp = async (user?: string): Promise<number> =>
    (await fetchRaw(port, user === undefined ? {} : { headers: { 'x-user-id': user } })).status;
  const viaSdk = (user: string): Promise<unknown> =>
    withSecurityContext({ userId: user, sessionId: 's-1' }, () =>
      client.chat.completions.create({
        model: 'gpt-4o-mini',
        max_tokens: 5,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    ).catch((e: unknown) => e);
  return { limiter, viaHttp, viaSdk };
}

const hits = (): SecurityEvent[] => h.recorded.filter((e) => e.category === 'rate_limit_hit');
const tick = () => new Promise((r) => setTimeout(r, 20));

describe.each([
  ['MemoryStore', () => new MemoryStore()],
  ['RedisStore (redis-server)', () => new RedisStore({ client: redis.redis })],
])('one subject for a user, one event per refusal: %s', (_name, makeStore) => {
  beforeAll(async () => {
    await redis.redis.flushall();
  });

  it("an alert's ban of alice refuses her through the middleware and the SDK; each refusal is one event, with the same user_id", async () => {
    const { limiter, viaHttp, viaSdk } = await fleet(makeStore());
    expect(await viaHttp('alice')).toBe(200);
    expect(await viaSdk('alice')).not.toBeInstanceOf(Error);

    alertViolationHook(limiter)(alertOn(['alice']));
    await expect.poll(async () => (await limiter.status('alice')).level).toBe('banned');
    h.reset();

    expect(await viaHttp('alice')).toBe(429);
    await eventually(() => hits().length === 1);
    await tick();
    expect(hits()).toHaveLength(1);
    const httpHit = hits()[0]!;

    const err = await viaSdk('alice');
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).reason).toBe('banned');
    await eventually(() => h.recorded.some((e) => e.category === 'request_completed'));
    await tick();
    expect(hits()).toHaveLength(2);
    const sdkHit = hits()[1]!;
    // The limiter's own event, which the SDK did not record a second time.
    expect((err as RateLimitedError).event).toBe(sdkHit);
    expect(sdkHit.metadata).toMatchObject({
      limit_type: 'banned',
      reason: 'banned',
      subject_role: 'primary',
    });
    // On the call's span: the SDK's span, not a stray one.
    const callSpan = h.spans().find((s) => s.spanContext().spanId === sdkHit.span_id);
    expect(callSpan?.attributes['gen_ai.request.model']).toBe('gpt-4o-mini');
    expect([httpHit.user_id, sdkHit.user_id]).toEqual(['alice', 'alice']);
    // The caller's security context reaches the limiter's event as it reached the SDK's.
    expect(sdkHit.session_id).toBe('s-1');

    // Others are untouched.
    expect(await viaHttp('bob')).toBe(200);
    expect(await viaSdk('bob')).not.toBeInstanceOf(Error);
  });

  it('the operator ban (llmsec limits ban carol = limiter.ban) reaches both entry points', async () => {
    const { limiter, viaHttp, viaSdk } = await fleet(makeStore());
    await limiter.ban('carol');
    expect(await viaHttp('carol')).toBe(429);
    expect(await viaSdk('carol')).toBeInstanceOf(RateLimitedError);
    await limiter.lift('carol');
    expect(await viaHttp('carol')).toBe(200);
  });

  it('a user id in the address namespace cannot get the address banned, nor spend its bucket', async () => {
    const { limiter, viaHttp, viaSdk } = await fleet(makeStore());
    // This host's address is subject ip:127.0.0.1 (its anonymous clients ip:127.0.0.1#anonymous);
    // a user calls herself that.
    alertViolationHook(limiter)(alertOn(['ip:127.0.0.1']));
    await expect.poll(async () => (await limiter.status('user:ip:127.0.0.1')).level).toBe('banned');
    expect((await limiter.status('ip:127.0.0.1')).level).toBe('normal');
    expect(await viaHttp()).toBe(200);
    // The user herself is banned under her one subject, through both entry points.
    expect(await viaHttp('ip:127.0.0.1')).toBe(429);
    expect(await viaSdk('ip:127.0.0.1')).toBeInstanceOf(RateLimitedError);
  });

  it('a long id whose 256-character cut ends in a space: one subject, banned by an alert on its events', async () => {
    const { limiter, viaHttp, viaSdk } = await fleet(makeStore());
    const id = 'a'.repeat(255) + ' b';
    expect(await viaHttp(id)).toBe(200);
    // The user id the SDK's events (and so the detector's alerts) carry: normaliseId's cut.
    alertViolationHook(limiter)(alertOn([normaliseId(id)!]));
    await tick();
    expect(await viaHttp(id)).toBe(429);
    expect(await viaSdk(id)).toBeInstanceOf(RateLimitedError);
  });
});

describe('one rate_limit_hit per SDK refusal when the limiter records none', () => {
  it("a limiter whose emitter throws: the SDK records the refusal itself, once, on the call's span", async () => {
    h.reset();
    const limiter = new RateLimiter({
      tiers: { t: { requestsPerMinute: 1 } },
      events: {
        emit: () => {
          throw new Error('exporter down');
        },
      },
    });
    const client = instrumentClient(
      new OpenAI({ apiKey: 'test', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }),
      { ...h.options(), limiter },
    );
    const call = () =>
      withSecurityContext({ userId: 'frank' }, () =>
        client.chat.completions.create({
          model: 'gpt-4o-mini',
          max_tokens: 5,
          messages: [{ role: 'user', content: 'hi' }],
        }),
      ).catch((e: unknown) => e);
    expect(await call()).not.toBeInstanceOf(Error);
    const err = await call();
    expect(err).toBeInstanceOf(RateLimitedError);
    await eventually(() => h.recorded.filter((e) => e.category === 'request_completed').length === 2);
    await tick();
    expect(hits()).toHaveLength(1);
    expect((err as RateLimitedError).event).toBe(hits()[0]);
    expect(hits()[0]).toMatchObject({ user_id: 'frank', metadata: { limit_type: 'rpm' } });
    expect(h.spans().some((s) => s.spanContext().spanId === hits()[0]!.span_id)).toBe(true);
  });
});

describe('the SDK names users as the ratelimit package does', () => {
  /** Ids at the 256-character cut: whitespace and reserved prefixes around it, unicode spaces. */
  function cutIds(): string[] {
    const ids: string[] = [];
    const fills = ['a', ' ', '\u00a0', '\u3000', 'é', '\t'];
    for (const prefix of ['', 'ip:', 'key:', 'user:', 'user:ip:', ' ip:', '\u2003key:'])
      for (let at = 245; at <= 262; at++)
        for (const fill of fills) {
          const id = prefix + 'x'.repeat(Math.max(0, at - prefix.length)) + fill + 'tail';
          ids.push(id, ` ${id} `, id + ' '.repeat(300));
        }
    ids.push('ip:' + ' '.repeat(10_000) + 'x', ' '.repeat(10_000), 'k'.repeat(10_000));
    return ids;
  }

  // The SDK and the middleware share @llmsec/core's one rule; what differs is the SDK's input: the
  // id as its security context keeps it (trimmed, cut at 256) before the rule sees it.
  it('the SDK, given the id as its context keeps it (trimmed, cut at 256), names the subject userSubject names', () => {
    for (const id of cutIds()) expect(userSubject(normaliseId(id) ?? '') ?? undefined).toBe(userSubject(id));
  });

  it('userSubject is idempotent, also through an event: the subject as an event records it maps to itself', () => {
    for (const id of cutIds()) {
      const subject = userSubject(id);
      if (subject === undefined) continue;
      expect(subject.length).toBeLessThanOrEqual(256);
      expect(userSubject(subject)).toBe(subject);
      // The limiter's rate_limit_hit carries user_id normaliseId(subject); an alert names that.
      expect(userSubject(normaliseId(subject)!)).toBe(subject);
    }
  });
});

describe("the detector's fleet enforcement maps alert users as the apps do", () => {
  const ban = [{ severity: 'critical' as const, action: 'ban' as const }];
  const reader = () =>
    new RateLimiter({
      store: new RedisStore({ client: redis.redis }),
      tiers: { t: {} },
      commandTimeoutMs: 5_000,
    });

  it('never acts on the anonymous subject, whatever spacing the alert gives the id', async () => {
    await redis.redis.flushall();
    const enf = new FleetEnforcement({ client: redis.redis, actions: ban, logger: silentLogger });
    enf.send(alertOn(['anonymous ', ' anonymous', '\u00a0anonymous', 'dave ']));
    await enf.forceFlush();
    expect((await reader().status('anonymous')).level).toBe('normal');
    expect((await reader().status('dave')).level).toBe('banned');
    await enf.shutdown();
  });

  it("names the subject in the enforcement event's lift command: lift ip:x would lift the address", async () => {
    await redis.redis.flushall();
    const recorded: SecurityEvent[] = [];
    const enf = new FleetEnforcement({
      client: redis.redis,
      actions: ban,
      logger: silentLogger,
      onAction: (e) => recorded.push(e),
    });
    enf.send(alertOn(['ip:198.51.100.7']));
    await enf.forceFlush();
    expect(recorded.map((e) => e.user_id)).toEqual(['ip:198.51.100.7']);
    expect(recorded[0]!.description).toContain('`llmsec limits lift user:ip:198.51.100.7`');
    expect((await reader().status('user:ip:198.51.100.7')).level).toBe('banned');
    await enf.shutdown();
  });
});
