/**
 * The fleet's active bans, readable in one call: the sorted set `llmsec:bans`, member = the
 * subject's key tag (keys.ts: the subject itself, or the SHA-256 digest of a long or odd one),
 * score = when the ban ends (Redis's clock, epoch ms). A replica reads it every few seconds
 * (fleet-bans.ts) so that, failing open while Redis is away, it refuses a client banned by
 * another process (the CLI, the detector's fleet enforcement, another replica's refusals) that
 * it never met itself.
 *
 * One key, so one slot: it works the same on a Redis Cluster. It is written by the limiter
 * after the ban's own script (a ban, a violation or refusal that banned), not inside it: on a
 * Cluster no script may touch the subject's slot and this key together. So the two writes are
 * not atomic: a process dying between them, or Redis going away then, leaves a ban out of the
 * index (that subject is then held only by the replicas it met, as before the index). A lift
 * or reset removes the member first and touches the subject after, so a failure there too
 * leaves the ban out rather than a lifted subject in. Replicas of earlier releases neither read
 * nor write it; the subjects' own keys are unchanged.
 *
 * Bounded: every writer drops the members already ended, and past MAX_FLEET_BANS members the
 * ones ending first; the key's TTL is the last ban's end.
 */
import { subjectTag } from './keys.ts';

export const BAN_INDEX_KEY = 'llmsec:bans';

/** Members the index keeps, and a replica holds, at most: the bans ending last. */
export const MAX_FLEET_BANS = 10_000;

const NOW = `local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)`;

/** KEYS: index. ARGV: member, ban length (ms), cap. */
const ADD_LUA = `${NOW}
local k = KEYS[1]
local cap = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', k, '-inf', now)
redis.call('ZADD', k, now + tonumber(ARGV[2]), ARGV[1])
local n = redis.call('ZCARD', k)
if n > cap then redis.call('ZREMRANGEBYRANK', k, 0, n - cap - 1) end
local last = redis.call('ZRANGE', k, -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', k, math.ceil(tonumber(last[2])))
return 1`;

/** KEYS: index. ARGV: cap. Returns {now, {member, end, ...}}: the bans ending last first. */
const READ_LUA = `${NOW}
return { now, redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', '(' .. now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[1])) }`;

type Arg = string | number;
interface IndexClient {
  llmsecBanIndexAdd(numKeys: number, ...args: Arg[]): Promise<number>;
  llmsecBanIndexRead(numKeys: number, ...args: Arg[]): Promise<[number, string[]]>;
  zrem(key: string, member: string): Promise<number>;
  defineCommand(name: string, def: { lua: string; numberOfKeys?: number }): void;
}

/** The fleet's bans as read: end of each ban by subject tag, on Redis's clock, and Redis's now. */
export interface FleetBansRead {
  nowMs: number;
  ends: Map<string, number>;
}

export class BanIndex {
  private readonly client: IndexClient;
  readonly cap: number;

  constructor(client: unknown, cap = MAX_FLEET_BANS) {
    this.client = client as IndexClient;
    this.cap = cap;
    this.client.defineCommand('llmsecBanIndexAdd', { lua: ADD_LUA });
    this.client.defineCommand('llmsecBanIndexRead', { lua: READ_LUA });
  }

  /** `subject` is banned for `ttlMs` from now (Redis's clock). */
  async add(subject: string, ttlMs: number): Promise<void> {
    await this.client.llmsecBanIndexAdd(1, BAN_INDEX_KEY, subjectTag(subject), ttlMs, this.cap);
  }

  async remove(subject: string): Promise<void> {
    await this.client.zrem(BAN_INDEX_KEY, subjectTag(subject));
  }

  async read(): Promise<FleetBansRead> {
    const [nowMs, flat] = await this.client.llmsecBanIndexRead(1, BAN_INDEX_KEY, this.cap);
    const ends = new Map<string, number>();
    // Bounded by the cap sent; a longer reply (a foreign writer) is cut at it.
    const n = Math.min(flat.length, 2 * this.cap);
    for (let i = 0; i + 1 < n; i += 2) {
      const end = Number(flat[i + 1]);
      if (end > nowMs) ends.set(flat[i]!, end);
    }
    return { nowMs: Number(nowMs), ends };
  }
}

const indexes = new WeakMap<object, BanIndex>();

/** The ban index of a RedisStore (set by its constructor); undefined for any other store. */
export function banIndexOf(store: object): BanIndex | undefined {
  return indexes.get(store);
}

export function attachBanIndex(store: object, index: BanIndex): void {
  indexes.set(store, index);
}
