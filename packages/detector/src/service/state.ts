import { hostname } from 'node:os';
import { RedisDetectionState, type DetectionEngineOptions } from '@llmsec/detect';
import { Cluster, Redis } from 'ioredis';

/** Events the engine's shared-state flusher may hold before the service stops feeding it. */
export const SHARED_QUEUE_HIGH_WATER = 20_000;

/** What the engine keeps its windows, baselines and incidents in. */
export interface StateChoice {
  /** `memory` or `redis`, for logs and metrics. */
  readonly store: 'memory' | 'redis';
  /** Engine options to add (none for memory). */
  readonly engineOptions: Partial<DetectionEngineOptions>;
  /** Closes what the state owns (the Redis client), after the engine shut down. */
  close(): Promise<void>;
}

export interface StateOptions {
  /** Redis URL is a seed node of a Redis Cluster. */
  cluster?: boolean;
  onRedisError?: (err: Error) => void;
}

/**
 * `memory` (default): the engine's own maps; each replica detects on what it sees.
 * `redis://…`: @llmsec/detect's RedisDetectionState, so replicas behind a plain round-robin
 * exporter detect as one engine would (one firing line per incident). The client reconnects
 * forever and fails commands fast while Redis is down; the engine then detects locally
 * (degraded, `llmsec_detect_state_degraded`) and returns to shared mode by itself.
 */
export function chooseState(url: string, options: StateOptions = {}): StateChoice {
  if (url === 'memory') return { store: 'memory', engineOptions: {}, close: async () => {} };
  const redis = redisClient(url, options.cluster === true, 'llmsec-detector-state');
  if (options.onRedisError) redis.on('error', options.onRedisError);
  return {
    store: 'redis',
    engineOptions: { state: new RedisDetectionState({ redis, maxQueuedEvents: SHARED_QUEUE_HIGH_WATER * 5 }) },
    close: async () => {
      redis.disconnect();
    },
  };
}

/** A long-lived client: reconnects forever, fails commands fast while Redis is down. */
export function redisClient(url: string, cluster: boolean, name: string): Redis | Cluster {
  const common = { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectionName: `${name}@${hostname()}` };
  if (!cluster) return new Redis(url, common);
  const u = new URL(url);
  return new Cluster([{ host: u.hostname, port: Number(u.port || 6379) }], {
    enableOfflineQueue: false,
    redisOptions: { ...common, ...(u.password ? { password: decodeURIComponent(u.password) } : {}) },
  });
}
