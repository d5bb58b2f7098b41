import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { RateLimiter } from '../src/limiter.ts';
import { RedisStore } from '../src/redis-store.ts';
import { TEST_TIERS } from './fixtures/tiers.ts';

const NODE = fileURLToPath(new URL('../../../node_modules/.bin/node', import.meta.url));
const CHILD = fileURLToPath(new URL('./fixtures/limiter-process.ts', import.meta.url));

let redis: RedisHandle;
let client: Redis;
const children: ChildProcess[] = [];

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  client?.disconnect();
  await redis?.stop();
});

/** Starts a child limiter process; resolves with it and an async iterator over its stdout lines. */
function child(args: string[]): { proc: ChildProcess; next: () => Promise<string> } {
  const proc = spawn(NODE, [CHILD, redis.url, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(proc);
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  return {
    proc,
    next: async () => {
      const { value, done } = await lines.next();
      if (done) throw new Error(`child exited early:\n${err}`);
      return value as string;
    },
  };
}

function limiter(tier: string, leaseTtlMs = 120_000): RateLimiter {
  return new RateLimiter({
    store: new RedisStore({ client }),
    tiers: TEST_TIERS,
    defaultTier: tier,
    leaseTtlMs,
    failurePolicy: 'closed',
    commandTimeoutMs: 10_000,
    enforcement: false,
  });
}

describe('limiter processes sharing one Redis', () => {
  it('two processes enforce one global limit', async () => {
    const subject = `global-${Date.now()}`;
    const other = child(['burst', subject, '250', '120000', 'shared']);
    expect(await other.next()).toBe('ready');
    const lim = limiter('shared');
    other.proc.stdin!.write('go\n');
    const [mine, theirs] = await Promise.all([
      Promise.all(Array.from({ length: 250 }, () => lim.acquire({ subject, estimatedTokens: 10 }))),
      other.next().then((l) => JSON.parse(l) as { admitted: number; degraded: number }),
    ]);
    const admittedHere = mine.filter((r) => r.allowed).length;
    expect(theirs.degraded).toBe(0);
    expect(mine.some((r) => r.degraded)).toBe(false);
    expect(admittedHere + theirs.admitted).toBe(50);
    const st = await lim.status(subject);
    expect(st.dimensions.find((d) => d.dimension === 'rph')!.current).toBe(50);
  });

  it("a crashed holder's concurrency slots come back after the lease TTL", async () => {
    const subject = `crash-${Date.now()}`;
    const holder = child(['hold', subject, '3', '1500', 'holder']);
    expect(JSON.parse(await holder.next())).toEqual({ held: 3 });
    const gone = new Promise((r) => holder.proc.once('exit', r));
    holder.proc.kill('SIGKILL');
    await gone;
    const lim = limiter('holder', 1_500);
    const refused = await lim.acquire({ subject, estimatedTokens: 0 });
    expect(refused).toMatchObject({
      allowed: false,
      reason: 'concurrent',
      refusedBy: { current: 3, limit: 3 },
    });
    expect(refused.retryAfterMs).toBeLessThanOrEqual(1_500);
    await new Promise((r) => setTimeout(r, refused.retryAfterMs + 1_600));
    const back = await Promise.all([0, 1, 2, 3].map(() => lim.acquire({ subject, estimatedTokens: 0 })));
    expect(back.filter((r) => r.allowed)).toHaveLength(3);
  });
});
