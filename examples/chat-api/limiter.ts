import { Redis } from 'ioredis';
import type { SecurityEventEmitter } from '@llmsec/core';
import { MemoryStore, RateLimiter, RedisStore, alertViolationHook } from '@llmsec/ratelimit';
import type { Alert } from '@llmsec/core';
import { DEFAULT_TIERS, type ChatApiOptions } from './options.ts';

export interface Limiting {
  limiter: RateLimiter;
  /** Detection → enforcement: alerts add violations to the users they implicate. */
  onAlert: (alert: Alert) => void;
  close(): Promise<void>;
}

/** The limiter on Redis when a URL is given (shared by replicas), else in memory. */
export function setupLimiter(options: ChatApiOptions, events: SecurityEventEmitter): Limiting {
  const redis =
    options.redisUrl !== undefined
      ? new Redis(options.redisUrl, {
          enableOfflineQueue: false,
          maxRetriesPerRequest: 1,
          lazyConnect: false,
        })
      : undefined;
  // ioredis reports connection errors as 'error' events: without a listener they would be
  // unhandled. The limiter's failure policy handles the requests; this only keeps it quiet.
  redis?.on('error', () => {});
  const limiter = new RateLimiter({
    store: redis !== undefined ? new RedisStore({ client: redis }) : new MemoryStore(),
    tiers: options.tiers ?? DEFAULT_TIERS,
    defaultTier: 'free',
    secondaryTier: 'ip',
    events,
  });
  return {
    limiter,
    onAlert: alertViolationHook(limiter),
    close: async () => {
      if (redis) redis.disconnect();
    },
  };
}
