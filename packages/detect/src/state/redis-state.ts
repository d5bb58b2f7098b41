import { hash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { CAS_LUA, CLOCK_LUA, INDEX_LUA, LEASE_LUA, OPEN_INDEX_LUA, RELEASE_LUA } from './redis-scripts.ts';
import { untraced } from '@llmsec/core/internal';
import { memoryRoom } from './probe-memory.ts';
import { isOutOfMemory, ProbeRoom } from './probe-room.ts';
import { ProbeTags } from './probe-tags.ts';
import { ReadyWait } from './ready-wait.ts';

/** maxPendingPerGroup's default; a rule's state id holds another value (rule-identity.ts shapeOf). */
export const DEFAULT_MAX_PENDING_PER_GROUP = 1_000;

export interface RedisDetectionStateOptions {
  /**
   * An ioredis client (standalone `Redis` or `Cluster`), owned by the caller. Recommended:
   * `enableOfflineQueue: false` and `maxRetriesPerRequest: 1`, so commands fail fast while
   * Redis is down (the command timeout bounds them either way).
   */
  redis: Redis | Cluster;
  /** Key prefix. @default 'llmsec:det' */
  prefix?: string;
  /**
   * Namespace of the shared state (the clock, the groups, the resolve indexes) under the
   * prefix. Within it, processes share each rule's state when they run the same definition of
   * that rule (its state id: see the README, "Rule changes and rolling upgrades"), whatever
   * else their rule lists hold. Give each replay its own, or it meets live traffic's clock;
   * give fleets on different traffic different ones (or prefixes). @default 'fleet'
   */
  ruleset?: string;
  /** A Redis call slower than this switches the engine to local (degraded) detection. @default 250 */
  commandTimeoutMs?: number;
  /**
   * While degraded, how often Redis is probed: a write of a short-lived key, `<prefix>:probe`,
   * and one in the slot of each key whose call failed (`<prefix>:{tag}:probe`; a Cluster's other
   * masters). After writes refused for memory (OOM), each such write asks for as much room as
   * those refused (64 KiB to 1 MiB): read from `INFO memory` of the slot's node, or where INFO is
   * refused, by first writing that much, deleted at once (ProbeRoom). @default 1000
   */
  probeIntervalMs?: number;
  /** TTL of the state of groups under a baseline rule (baselines outlive windows). @default 86400000 (24 h) */
  baselineTtlMs?: number;
  /** Events queued for the flusher; a full queue drops the oldest (counted). @default 100000 */
  maxQueuedEvents?: number;
  /** Events per flush round trip. @default 2000 */
  batchSize?: number;
  /** Pending (not yet processed) events kept per group. @default 1000 */
  maxPendingPerGroup?: number;
  /** Groups this process remembers having events pending in, to release them later. @default 100000 */
  maxPendingGroups?: number;
  /**
   * Open incidents per rule (across the fleet, held in the resolve index): at the cap no open
   * incident is evicted; a new one opens in the engine's process-local overflow tier (it fires
   * and resolves; `maxOverflowIncidentsPerRule` on the engine) and is counted. @default 10000
   */
  maxOpenIncidentsPerRule?: number;
  /**
   * Events stamped further than this ahead of this machine's clock are dropped (counted as
   * `llmsec.detect.events.dropped{reason="future"}`): the shared clock only moves forward, so
   * one event from the year 3000 would make every later event late in every process.
   * `Infinity` when event time is not the wall clock's (a replay of a log, as `llmsec replay
   * --state` sets): no event is dropped or held back for being ahead of this machine's or the
   * Redis server's clock (`maxClockSkewMs` does not apply), as in memory.
   * @default 3600000 (1 h)
   */
  maxFutureSkewMs?: number;
  /**
   * How far ahead of the Redis server's clock (TIME, read inside the clock script) a round
   * that is not the end of input may move the shared event-time clock. The clock only moves
   * forward, so without this bound a replica whose own clock runs minutes ahead (a
   * misconfigured or hostile host) let an event stamped ahead move it that far, and every other
   * replica's events were late until real time caught up. Keep it well under the engine's
   * `allowedLatenessMs`: a replica's events are safe from a fast peer while this is less than
   * the lateness. @default 1000
   */
  maxClockSkewMs?: number;
  /**
   * Encoded bytes of group state this process keeps decoded after writing it: a group it holds
   * costs one round trip per batch (no read, no decode) while no other process writes it; one
   * it does not hold costs two. About 1-2 KB per active user with the default rules.
   * @default 16777216 (16 MB)
   */
  cacheBytes?: number;
  /**
   * On shutdown with events still pending in the shared state, how long to let replicas that
   * stop at the same time ship theirs before this one processes what is left. @default 1000
   */
  shutdownGraceMs?: number;
  /** Wall clock for maxFutureSkewMs. @default Date.now */
  now?: () => number;
}

/** A group's stored string `<version>|<body>` (CAS_LUA) as [version, body]. */
export function splitVersion(stored: string): [number, string] {
  const sep = stored.indexOf('|');
  return [Number(stored.slice(0, sep)), stored.slice(sep + 1)];
}

/** The degraded probe's key lives this long (it holds nothing; a TTL so that it never stays). */
const PROBE_TTL_MS = 60_000;

/** Longest group key kept as is in a Redis key; longer (or hostile-looking) ones are hashed. */
const MAX_RAW_GROUP = 64;

type Arg = string | number;
interface ScriptClient {
  llmsecDetCas(key: string, expected: Arg, body: string, ttl: Arg): Promise<[number, string | number]>;
  llmsecDetClock(key: string, t: string, ttl: Arg, ...skew: Arg[]): Promise<[string, string]>;
  llmsecDetIndex(key: string, ...args: Arg[]): Promise<number>;
  llmsecDetOpenIndex(key: string, ...args: Arg[]): Promise<string[]>;
  llmsecDetLease(key: string, token: string, ttl: Arg): Promise<number>;
  llmsecDetRelease(key: string, token: string): Promise<number>;
  zrangebyscore(
    key: string,
    min: Arg,
    max: Arg,
    limit: 'LIMIT',
    offset: number,
    count: number,
  ): Promise<string[]>;
  set(key: string, value: string, px: 'PX', ms: number): Promise<string | null>;
  del(key: string): Promise<number>;
  eval(script: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
}

interface InFlight {
  reject: (err: Error) => void;
  done: boolean;
  /** The call's key: a failure notes its hash tag for the degraded probe (ProbeTags). */
  key: string | undefined;
}

export class StateTimeoutError extends Error {
  constructor(ms: number) {
    super(`detection state: Redis did not answer within ${ms} ms`);
    this.name = 'StateTimeoutError';
  }
}

/**
 * Detection state in Redis (standalone or Cluster), for `new DetectionEngine({ state })`: N
 * processes with the same rules and the same state detect as one process would. This object
 * is the store (keys, scripts, timeouts); the engine does the rest (see the README, "Shared
 * state in Redis").
 */
export class RedisDetectionState {
  readonly prefix: string;
  readonly rulesetOption: string | undefined;
  readonly commandTimeoutMs: number;
  readonly probeIntervalMs: number;
  readonly baselineTtlMs: number;
  readonly maxQueuedEvents: number;
  readonly batchSize: number;
  readonly maxPendingPerGroup: number;
  readonly maxPendingGroups: number;
  readonly maxOpenIncidentsPerRule: number;
  readonly maxFutureSkewMs: number;
  readonly maxClockSkewMs: number;
  readonly cacheBytes: number;
  readonly shutdownGraceMs: number;
  readonly now: () => number;
  private readonly client: ScriptClient;
  private readonly readyWait: ReadyWait;
  private readonly probeTags = new ProbeTags();
  private readonly probeRoom = new ProbeRoom();
  /** A Cluster client: each slot the probe writes may be another master, with its own memory. */
  private readonly cluster: boolean;
  private bound = false;
  private readonly inflight = new Set<InFlight>();
  private lastProgress = 0;
  private lastCheck = 0;
  private watchdog: ReturnType<typeof setInterval> | undefined;

  constructor(options: RedisDetectionStateOptions) {
    const redis = options?.redis;
    if (!redis || typeof redis.defineCommand !== 'function') {
      throw new Error('RedisDetectionState: options.redis must be an ioredis Redis or Cluster client');
    }
    this.cluster = (redis as { isCluster?: unknown }).isCluster === true;
    this.prefix = options.prefix ?? 'llmsec:det';
    if (/[{}]/.test(this.prefix)) throw new Error('RedisDetectionState: prefix must not contain { or }');
    this.rulesetOption = options.ruleset;
    if (this.rulesetOption !== undefined && !/^[A-Za-z0-9_.:-]{1,64}$/.test(this.rulesetOption)) {
      throw new Error('RedisDetectionState: ruleset must be 1-64 characters of [A-Za-z0-9_.:-]');
    }
    this.commandTimeoutMs = options.commandTimeoutMs ?? 250;
    this.probeIntervalMs = options.probeIntervalMs ?? 1_000;
    this.baselineTtlMs = options.baselineTtlMs ?? 86_400_000;
    this.maxQueuedEvents = options.maxQueuedEvents ?? 100_000;
    this.batchSize = options.batchSize ?? 2_000;
    this.maxPendingPerGroup = options.maxPendingPerGroup ?? DEFAULT_MAX_PENDING_PER_GROUP;
    this.maxPendingGroups = options.maxPendingGroups ?? 100_000;
    this.maxOpenIncidentsPerRule = options.maxOpenIncidentsPerRule ?? 10_000;
    this.maxFutureSkewMs = options.maxFutureSkewMs ?? 3_600_000;
    this.maxClockSkewMs = options.maxClockSkewMs ?? 1_000;
    if (!Number.isFinite(this.maxClockSkewMs) || this.maxClockSkewMs < 0) {
      throw new Error(
        `RedisDetectionState: maxClockSkewMs must be a finite number >= 0, got ${this.maxClockSkewMs}`,
      );
    }
    this.cacheBytes = options.cacheBytes ?? 16 * 1024 * 1024;
    this.shutdownGraceMs = options.shutdownGraceMs ?? 1_000;
    if (!Number.isFinite(this.shutdownGraceMs) || this.shutdownGraceMs < 0) {
      throw new Error(
        `RedisDetectionState: shutdownGraceMs must be a finite number >= 0, got ${this.shutdownGraceMs}`,
      );
    }
    this.now = options.now ?? Date.now;
    for (const [name, value] of Object.entries({
      commandTimeoutMs: this.commandTimeoutMs,
      probeIntervalMs: this.probeIntervalMs,
      baselineTtlMs: this.baselineTtlMs,
      maxQueuedEvents: this.maxQueuedEvents,
      batchSize: this.batchSize,
      maxPendingPerGroup: this.maxPendingPerGroup,
      maxPendingGroups: this.maxPendingGroups,
      maxOpenIncidentsPerRule: this.maxOpenIncidentsPerRule,
      cacheBytes: this.cacheBytes,
    })) {
      if (!Number.isFinite(value) || value < 1) {
        throw new Error(`RedisDetectionState: ${name} must be a finite number >= 1, got ${value}`);
      }
    }
    // Infinity: event time is not the wall clock's (a replay; see the option).
    if (
      typeof this.maxFutureSkewMs !== 'number' ||
      Number.isNaN(this.maxFutureSkewMs) ||
      this.maxFutureSkewMs < 1
    ) {
      throw new Error(
        `RedisDetectionState: maxFutureSkewMs must be a number >= 1 (Infinity: not live), got ${this.maxFutureSkewMs}`,
      );
    }
    redis.defineCommand('llmsecDetCas', { lua: CAS_LUA, numberOfKeys: 1 });
    redis.defineCommand('llmsecDetClock', { lua: CLOCK_LUA, numberOfKeys: 1 });
    redis.defineCommand('llmsecDetIndex', { lua: INDEX_LUA, numberOfKeys: 1 });
    redis.defineCommand('llmsecDetOpenIndex', { lua: OPEN_INDEX_LUA, numberOfKeys: 1 });
    redis.defineCommand('llmsecDetLease', { lua: LEASE_LUA, numberOfKeys: 1 });
    redis.defineCommand('llmsecDetRelease', { lua: RELEASE_LUA, numberOfKeys: 1 });
    this.client = redis as unknown as ScriptClient;
    this.readyWait = new ReadyWait(redis);
  }

  /** Called once by the engine that uses this state (one engine per state object). */
  bind(): void {
    if (this.bound) throw new Error('RedisDetectionState: already used by another DetectionEngine');
    this.bound = true;
  }

  /**
   * The key of one group's state: `table` is the group-by field's tag (tableTag), never a
   * position. Hostile or long group values are hashed (bounded key size). A group value may
   * hold `:` and so may a namespace, so the namespace's `:` are written `%3A` (a namespace
   * cannot otherwise hold `%`): the first `:` in the braces ends it, the table tag holds none,
   * and no two (namespace, table, group) share a key. Written raw, namespace `n:user_id`'s
   * `source_ip` group `x` was namespace `n`'s user `source_ip:x`. A namespace without `:`
   * keeps its keys.
   */
  groupKey(ruleset: string, table: string, group: string): string {
    const safe =
      group.length <= MAX_RAW_GROUP && !/[{}#\s]/.test(group)
        ? group
        : `#${hash('sha256', group, 'base64url').slice(0, 22)}`;
    const ns = ruleset.includes(':') ? ruleset.replaceAll(':', '%3A') : ruleset;
    return `${this.prefix}:{${ns}:${table}:${safe}}`;
  }

  clockKey(ruleset: string): string {
    return `${this.prefix}:{${ruleset}}:clock`;
  }

  /** A rule's resolve index; `rule` is its state id (ruleStateId), never a position. */
  indexKey(ruleset: string, rule: string): string {
    return `${this.prefix}:{${ruleset}}:open:${rule}`;
  }

  /** The lease of the process that adopts the fleet's open incidents for its Alertmanager sinks. */
  adoptionLeaseKey(ruleset: string): string {
    return `${this.prefix}:{${ruleset}}:adopt-lease`;
  }

  /** Takes (when free) or renews (when `token` holds it) a lease for `ttlMs`; true when `token` holds it. */
  lease(key: string, token: string, ttlMs: number): Promise<boolean> {
    return this.timed(key, () => this.client.llmsecDetLease(key, token, Math.ceil(ttlMs))).then(
      (n) => Number(n) === 1,
    );
  }

  /** Gives up a lease `token` holds (nothing if another holds it). */
  releaseLease(key: string, token: string): Promise<void> {
    return this.timed(key, () => this.client.llmsecDetRelease(key, token)).then(() => undefined);
  }

  /** Groups with events pending, per group-by table (its field's tag), scored by their oldest pending time. */
  pendingKey(ruleset: string, table: string): string {
    return `${this.prefix}:{${ruleset}}:pending:${table}`;
  }

  /** As updateIndex, capped at maxPendingGroups. */
  updatePendingIndex(key: string, ttlMs: number, ops: Arg[]): Promise<number> {
    return this.timed(key, () =>
      this.client.llmsecDetIndex(key, Math.ceil(ttlMs), this.maxPendingGroups, ...ops),
    );
  }

  cas(key: string, expected: number, body: string, ttlMs: number): Promise<[number, string | number]> {
    return this.timed(key, () => this.client.llmsecDetCas(key, expected, body, Math.ceil(ttlMs))).catch(
      (err: unknown) => {
        // Refused for memory: the probe asks Redis for that much room before calling it back.
        if (isOutOfMemory(err)) this.probeRoom.note(key, body);
        throw err;
      },
    );
  }

  /**
   * Moves the shared clock to `t` if that is newer (CLOCK_LUA). With `skewMs`, `t` is first
   * held to the Redis server's clock plus `skewMs`. Resolves with the clock after the call and
   * the server's time (ms).
   */
  advanceClock(
    key: string,
    t: number,
    ttlMs: number,
    skewMs?: number,
  ): Promise<{ clock: number; server: number }> {
    const skew = skewMs !== undefined ? [Math.floor(skewMs)] : [];
    return this.timed(key, () => this.client.llmsecDetClock(key, String(t), Math.ceil(ttlMs), ...skew)).then(
      ([clock, server]) => ({ clock: Number(clock), server: Number(server) }),
    );
  }

  /**
   * Updates a rule's resolve index after group writes (OPEN_INDEX_LUA: op 1 sets an entry's
   * score, or adds it while the rule has fewer than maxOpenIncidentsPerRule; op 0 removes an
   * entry scored at most the given score). Resolves with the members refused for a full index.
   */
  updateIndex(key: string, ttlMs: number, ops: Arg[]): Promise<string[]> {
    return this.timed(key, () =>
      this.client.llmsecDetOpenIndex(key, Math.ceil(ttlMs), this.maxOpenIncidentsPerRule, ...ops),
    );
  }

  /**
   * Admits the incidents a group write is about to open into their rule's resolve index, before
   * that write (the same script as updateIndex): the group and the index are in different slots
   * on a Cluster, so no one script can write both, and an index written after the group was lost
   * with a process that died in between. Resolves with the members refused: the rule already has
   * maxOpenIncidentsPerRule open, and the incident is not opened (no existing one is evicted).
   */
  admitToIndex(key: string, ttlMs: number, ops: Arg[]): Promise<string[]> {
    return this.timed(key, () =>
      this.client.llmsecDetOpenIndex(key, Math.ceil(ttlMs), this.maxOpenIncidentsPerRule, ...ops),
    );
  }

  dueMembers(key: string, upTo: number, limit: number): Promise<string[]> {
    return this.timed(key, () => this.client.zrangebyscore(key, '-inf', upTo, 'LIMIT', 0, limit));
  }

  /**
   * The degraded mode's probe: a write, not a PING. Redis out of memory under `noeviction`, or
   * a replica after a failover (`READONLY`), answers PING but refuses every write the state
   * makes; probed with PING, the engine went back to shared mode at each probe and degraded
   * again at its next round, an episode and a warning per probe interval. After writes refused
   * for memory, the write must find room for as much as was refused (ProbeRoom, roomFor).
   */
  ping(): Promise<string | null> {
    // Also every slot a call failed in since (ProbeTags): on a Cluster another master than the
    // probe key's may be the one refusing writes.
    const tagged = this.probeTags.keys(this.prefix);
    const room = this.probeRoom.room;
    if (room > 0) return this.pingWithRoom(tagged, room);
    const wrote = tagged.map(({ tag, key }) =>
      this.timed(key, () => this.client.set(key, '1', 'PX', PROBE_TTL_MS)).then(() =>
        this.probeTags.forget(tag),
      ),
    );
    return Promise.all([
      this.timed(undefined, () => this.client.set(this.probeKey(), '1', 'PX', PROBE_TTL_MS)),
      ...wrote,
    ]).then(([reply]) => reply);
  }

  /** The probe's key: one per prefix, short-lived. */
  probeKey(): string {
    return `${this.prefix}:probe`;
  }

  /**
   * The probe after writes refused for memory: each write asks for `room` first (roomFor). One
   * slot after the other: on a standalone Redis, pads written together would add up. There,
   * every key is on the one server, so the probe key's check covers the tags' slots (their
   * short writes as before); on a Cluster each tag's slot may be another master, checked alone.
   */
  private async pingWithRoom(tagged: { tag: string; key: string }[], room: number): Promise<string | null> {
    // A pad in the probe key's slot: `{<prefix>:probe}` hashes as the whole untagged key.
    const reply = await this.roomFor(undefined, this.probeKey(), `{${this.probeKey()}}:room`, room);
    for (const { tag, key } of tagged) {
      if (this.cluster) await this.roomFor(key, key, `${key}:room`, room);
      else await this.timed(key, () => this.client.set(key, '1', 'PX', PROBE_TTL_MS));
      this.probeTags.forget(tag);
    }
    this.probeRoom.passed();
    return reply;
  }

  /**
   * Whether the node owning `key`'s slot has `room` bytes under its memory limit, then the short
   * probe write at `key`. Asked read-only first (memoryRoom, INFO memory): a pad written to
   * learn it pushed a Redis just under its limit over it, refusing the fleet's writes for a round
   * trip. Where INFO is refused, by writing: `room` bytes at `padKey`, then the short write (same
   * slot): Redis refuses a write when its memory is over the limit before it, so the second is
   * taken only if the pad fitted under it. The pad is deleted at once, taken or not (its TTL if
   * the delete fails).
   */
  private async roomFor(
    tagKey: string | undefined,
    key: string,
    padKey: string,
    room: number,
  ): Promise<string | null> {
    const free = await this.timed(tagKey, () => memoryRoom(this.client, key));
    if (free !== undefined) {
      if (free < room) throw new Error(`Redis has ${free} bytes under maxmemory, the probe wants ${room}`);
      return this.timed(tagKey, () => this.client.set(key, '1', 'PX', PROBE_TTL_MS));
    }
    const pad = 'x'.repeat(room);
    try {
      await this.timed(tagKey, () => this.client.set(padKey, pad, 'PX', PROBE_TTL_MS));
      return await this.timed(tagKey, () => this.client.set(key, '1', 'PX', PROBE_TTL_MS));
    } finally {
      await this.timed(tagKey, () => this.client.del(padKey)).catch(() => {});
    }
  }

  /**
   * Runs one Redis call untraced, under the command-timeout watchdog. The timeout is on
   * progress, not per call: a flush pipelines thousands of calls, and the last reply of a deep
   * pipeline legitimately comes long after the first was sent. Redis counts as stuck when calls
   * are in flight and none has answered for `commandTimeoutMs`; then every call in flight fails
   * with StateTimeoutError (their late replies are ignored: no unhandled rejection). A call made
   * while the client is reconnecting waits for it to be ready (ReadyWait) under the same
   * watchdog, and is never sent once it has failed: its round has gone to the fallback.
   */
  private timed<T>(key: string | undefined, call: () => Promise<T>): Promise<T> {
    return untraced(
      () =>
        new Promise<T>((resolve, reject) => {
          const entry: InFlight = { reject, done: false, key };
          if (this.inflight.size === 0) this.lastProgress = Date.now();
          this.inflight.add(entry);
          this.startWatchdog();
          const settle = (): boolean => {
            if (entry.done) return false;
            entry.done = true;
            this.inflight.delete(entry);
            this.lastProgress = Date.now();
            return true;
          };
          let p: Promise<T>;
          try {
            p = this.readyWait.coming()
              ? this.readyWait.ready(entry).then(() => {
                  if (entry.done) throw new StateTimeoutError(this.commandTimeoutMs);
                  // The ready is Redis answering (its ready check): the call gets the whole
                  // timeout for its reply, not what the wait left of it.
                  this.lastProgress = Date.now();
                  return call();
                })
              : call();
          } catch (err) {
            if (key !== undefined) this.probeTags.note(key);
            if (settle()) reject(err instanceof Error ? err : new Error(String(err)));
            return;
          }
          p.then(
            (v) => {
              if (settle()) resolve(v);
            },
            (err: unknown) => {
              if (key !== undefined) this.probeTags.note(key);
              // Any call refused for memory: the probe asks for room (cas also notes its body).
              if (isOutOfMemory(err)) this.probeRoom.refused();
              if (settle()) reject(err instanceof Error ? err : new Error(String(err)));
            },
          );
        }),
    );
  }

  private startWatchdog(): void {
    if (this.watchdog !== undefined) return;
    const every = Math.max(10, Math.floor(this.commandTimeoutMs / 5));
    this.lastCheck = Date.now();
    this.watchdog = setInterval(() => {
      const now = Date.now();
      // A late check means this process's event loop was blocked, not that Redis was slow:
      // replies may be waiting unread, so the blocked time does not count. Only that time is
      // discounted: restarting the clock at every late check meant that on a host whose loop
      // lags at every check (a loaded machine) a stalled Redis never timed out.
      const blocked = now - this.lastCheck - every;
      if (blocked > every + 20) this.lastProgress = Math.min(now, this.lastProgress + blocked);
      this.lastCheck = now;
      if (this.inflight.size === 0) {
        clearInterval(this.watchdog);
        this.watchdog = undefined;
        return;
      }
      if (now - this.lastProgress <= this.commandTimeoutMs) return;
      const err = new StateTimeoutError(this.commandTimeoutMs);
      for (const entry of this.inflight) {
        entry.done = true;
        if (entry.key !== undefined) this.probeTags.note(entry.key);
        entry.reject(err);
      }
      this.inflight.clear();
    }, every);
    this.watchdog.unref();
  }
}
