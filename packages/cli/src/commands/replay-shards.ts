// Type only: ioredis is loaded when --state asks for it, not on every replay's start-up.
import type { connectRedis } from '@llmsec/ratelimit/redis';
import { decimalInteger } from '../decimal.ts';
import { UsageError } from '../io.ts';
import { NEVER_INTERRUPTED, type ReplayInterrupt } from './replay-interrupt.ts';

/** How long a shard waits at a barrier for the others by default: 10 min. */
export const DEFAULT_BARRIER_TIMEOUT_MS = 600_000;

/** The environment variable that overrides it (tests make a barrier time out in a second). */
export const BARRIER_TIMEOUT_ENV = 'LLMSEC_REPLAY_BARRIER_TIMEOUT_MS';

/** Longest accepted override: a day (a barrier is polled every 50 ms while it waits). */
const MAX_BARRIER_TIMEOUT_MS = 86_400_000;

/** The barrier deadline from the environment, or the default; a bad value is a usage error. */
export function barrierTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[BARRIER_TIMEOUT_ENV];
  if (raw === undefined || raw === '') return DEFAULT_BARRIER_TIMEOUT_MS;
  const ms = decimalInteger(raw);
  if (ms === undefined || ms < 1 || ms > MAX_BARRIER_TIMEOUT_MS) {
    throw new UsageError(
      `${BARRIER_TIMEOUT_ENV} must be an integer from 1 to ${MAX_BARRIER_TIMEOUT_MS} (milliseconds, decimal digits), got "${raw}"`,
    );
  }
  return ms;
}

/** A barrier deadline as the messages say it: "10 min", "1 s", "250 ms". */
export function formatBarrierTimeout(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms % 1_000 === 0) return `${ms / 1_000} s`;
  return `${ms} ms`;
}

/**
 * A barrier in Redis: counts this shard as arrived at `key` (done reading, or done flushing) and
 * waits until all `shards` have, up to `timeoutMs`. Resolves false on the deadline (a shard
 * died or is that late). The counter outlives the run (an hour), so a later run on the same
 * --ruleset counts on from it: this shard waits for the end of its own round of `shards`
 * arrivals, not for `shards` in all (which the earlier run's count already met, letting the
 * first shard of the next run through at once). Resolves false at once once `interrupt` came.
 */
export async function shardBarrier(
  redis: Awaited<ReturnType<typeof connectRedis>>,
  key: string,
  shards: number,
  timeoutMs: number,
  interrupt: ReplayInterrupt = NEVER_INTERRUPTED,
): Promise<boolean> {
  const arrived = await redis.incr(key);
  const round = Math.ceil(arrived / shards) * shards;
  // Outlives the wait, so a late shard still finds the others' counts.
  await redis.pexpire(key, Math.max(3_600_000, 2 * timeoutMs));
  const deadline = Date.now() + timeoutMs;
  // Interrupted (SIGINT / SIGTERM): arrived, so the others count this shard, but not waiting.
  while (Date.now() < deadline && interrupt.signal === undefined) {
    if (Number(await redis.get(key)) >= round) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
