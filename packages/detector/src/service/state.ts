import { hostname } from 'node:os';
import { RedisDetectionState, type DetectionEngineOptions } from '@llmsec/detect';
import { urlWithoutPassword } from '@llmsec/core/internal';
import type { Cluster, Redis } from 'ioredis';
import { ConfigError } from './config.ts';

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
  /** The store answers now: memory always; Redis while its client is connected. */
  reachable(): boolean;
}

export interface StateOptions {
  /** Redis URL is a seed node of a Redis Cluster. */
  cluster?: boolean;
  /** Key namespace of the state (RedisDetectionState's `ruleset`). @default 'fleet' */
  namespace?: string;
  /** A state call slower than this degrades the engine (RedisDetectionState's `commandTimeoutMs`). @default 250 */
  commandTimeoutMs?: number;
  /** Hears the client's connection errors (logRedisOutages: once per outage). */
  watchRedis?: (client: Redis | Cluster) => void;
  /** Longest wait for the first connection at start. @default 5000 */
  connectTimeoutMs?: number;
  /** Called when Redis did not answer in time: the engine starts degraded and recovers by itself. */
  onNotConnected?: () => void;
  /** Called when Redis, up only after the start, lacks the URL's database: the client is closed. */
  onBadDatabase?: (message: string) => void;
  /**
   * The fleet's cap on open incidents per rule (RedisDetectionState's maxOpenIncidentsPerRule),
   * read by each replica from its own config and applied by it at admission. @default 10000
   */
  maxOpenIncidentsPerRule?: number;
}

/**
 * `memory` (default): the engine's own maps; each replica detects on what it sees.
 * `redis://…`: @llmsec/detect's RedisDetectionState, so replicas behind a plain round-robin
 * exporter detect as one engine would (one firing line per incident). The client reconnects
 * forever and fails commands fast while Redis is down; the engine then detects locally
 * (degraded, `llmsec_detect_state_degraded`) and returns to shared mode by itself.
 */
export async function chooseState(url: string, options: StateOptions = {}): Promise<StateChoice> {
  if (url === 'memory')
    return { store: 'memory', engineOptions: {}, close: async () => {}, reachable: () => true };
  const redis = await redisClient(url, options.cluster === true, 'llmsec-detector-state');
  options.watchRedis?.(redis);
  // Commands fail fast while not connected (no offline queue): without this wait the first
  // exports would find the engine degraded and detect them locally only.
  const connected = await firstConnection(
    redis,
    url,
    'state',
    options.connectTimeoutMs ?? 5_000,
    options.onBadDatabase,
  );
  if (!connected) options.onNotConnected?.();
  return {
    store: 'redis',
    engineOptions: {
      state: new RedisDetectionState({
        redis,
        ...(options.namespace !== undefined ? { ruleset: options.namespace } : {}),
        ...(options.commandTimeoutMs !== undefined ? { commandTimeoutMs: options.commandTimeoutMs } : {}),
        maxQueuedEvents: SHARED_QUEUE_HIGH_WATER * 5,
        ...(options.maxOpenIncidentsPerRule !== undefined
          ? { maxOpenIncidentsPerRule: options.maxOpenIncidentsPerRule }
          : {}),
      }),
    },
    close: async () => {
      redis.disconnect();
    },
    reachable: () => redis.status === 'ready',
  };
}

/**
 * Waits for a new client's first connection, at most `timeoutMs`: true when connected. A URL
 * naming a database the server lacks (redis://host/99 on a server of 16) throws a ConfigError
 * naming `field`, the client disconnected: the failed SELECT is only an 'error' event, and
 * ioredis goes on, on database 0 (the fleet's state, or its blocks and bans, would land there).
 * The SELECT is sent before the ready check, so its error comes before 'ready'. Not connected
 * in time (Redis up after the detector), the answer may come later: the client is then closed
 * (its user degrades, as on an outage) and `onLate` told, rather than left on database 0.
 */
export async function firstConnection(
  redis: Redis | Cluster,
  url: string,
  field: string,
  timeoutMs: number,
  onLate?: (message: string) => void,
): Promise<boolean> {
  let badDatabase: Error | undefined;
  const onError = (err: Error): void => {
    if (isBadDatabase(err)) badDatabase = err;
  };
  redis.on('error', onError);
  const connected = await whenReady(redis, timeoutMs);
  redis.off('error', onError);
  if (badDatabase !== undefined) {
    redis.disconnect();
    throw new ConfigError(`${field}: ${urlWithoutPassword(url)}: ${badDatabase.message}`);
  }
  if (!connected) {
    const late = (err: Error): void => {
      if (!isBadDatabase(err)) return;
      redis.off('error', late);
      redis.disconnect();
      onLate?.(
        `${field}: ${urlWithoutPassword(url)}: ${err.message}; the client is closed: fix the URL and restart`,
      );
    };
    redis.on('error', late);
    // Connected to the right database: nothing more to watch.
    redis.once('ready', () => redis.off('error', late));
  }
  return connected;
}

function isBadDatabase(err: Error): boolean {
  return /DB index is out of range/.test(err.message);
}

function whenReady(redis: Redis | Cluster, timeoutMs: number): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      resolve(false);
    }, timeoutMs);
    const onReady = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    redis.once('ready', onReady);
  });
}

/**
 * A long-lived client: reconnects forever, fails commands fast while Redis is down. ioredis is
 * loaded here, on a config's first Redis URL: a start with memory state and no enforcement does
 * not load it (~40 modules; test/startup-modules.test.ts).
 */
export async function redisClient(url: string, cluster: boolean, name: string): Promise<Redis | Cluster> {
  const { Cluster, Redis } = await import('ioredis');
  const common = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectionName: `${name}@${hostname()}`,
  };
  if (!cluster) return new Redis(url, common);
  const u = new URL(url);
  return new Cluster([{ host: u.hostname, port: Number(u.port || 6379) }], {
    enableOfflineQueue: false,
    redisOptions: { ...common, ...(u.password ? { password: decodeURIComponent(u.password) } : {}) },
  });
}
