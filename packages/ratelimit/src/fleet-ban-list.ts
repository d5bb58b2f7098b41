/**
 * The fleet's active bans as an operator lists them (`llmsec limits bans`): the ban index
 * (redis-ban-index.ts, `llmsec:bans`) read in one script, the bans ending last first, at most
 * `limit` of them, with how many are active in all. Ending last first: a ban lasts banTtlMs
 * (365 days by default) from when it was set, so this is also the most recently set first, and
 * it is the order in which the index keeps bans past its cap.
 *
 * A member is the subject's key tag (keys.ts): the subject itself, or `sha256:<hex>`, the
 * digest of a subject longer than 128 characters (or empty, or beginning with `}` or
 * `sha256:`), which cannot be turned back into the subject. A subject is never stored as a
 * member beginning with `sha256:` itself, so that prefix tells a digest.
 */
import { BAN_INDEX_KEY, MAX_FLEET_BANS } from './redis-ban-index.ts';

/** One active ban: `subject` as the limiter named it, or the `digest` of a long or odd one. */
export interface FleetBan {
  subject?: string;
  digest?: string;
  /** When the ban ends, epoch ms on Redis's clock. */
  untilMs: number;
}

/** The active bans listed: `bans` (at most the limit asked), `total` active, Redis's now. */
export interface FleetBanList {
  nowMs: number;
  total: number;
  bans: FleetBan[];
}

/** KEYS: index. ARGV: limit. Returns {now, active count, {member, end, ...}}: ending last first. */
const LIST_LUA = `local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)
local k = KEYS[1]
return { now, redis.call('ZCOUNT', k, '(' .. now, '+inf'),
  redis.call('ZREVRANGEBYSCORE', k, '+inf', '(' .. now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[1])) }`;

interface ListClient {
  llmsecBanIndexList(numKeys: number, key: string, limit: number): Promise<[number, number, string[]]>;
  defineCommand(name: string, def: { lua: string; numberOfKeys?: number }): void;
}

const DIGEST_PREFIX = 'sha256:';

/**
 * The fleet's active bans in the ban index of the Redis (or Cluster) `client` (an ioredis
 * client), ending last first, at most `limit` (1 to 10,000, the most the index keeps). Rejects
 * as the client does (Redis away, the key of another type: WRONGTYPE).
 */
export async function listFleetBans(client: unknown, limit: number): Promise<FleetBanList> {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_FLEET_BANS)
    throw new RangeError(`limit must be an integer from 1 to ${MAX_FLEET_BANS}, not ${limit}`);
  const c = client as ListClient;
  c.defineCommand('llmsecBanIndexList', { lua: LIST_LUA });
  const [now, total, flat] = await c.llmsecBanIndexList(1, BAN_INDEX_KEY, limit);
  const bans: FleetBan[] = [];
  // Bounded by the limit sent; a longer reply (a foreign writer) is cut at it.
  const n = Math.min(flat.length, 2 * limit);
  for (let i = 0; i + 1 < n; i += 2) {
    const member = flat[i]!;
    const untilMs = Number(flat[i + 1]);
    bans.push(member.startsWith(DIGEST_PREFIX) ? { digest: member, untilMs } : { subject: member, untilMs });
  }
  return { nowMs: Number(now), total: Number(total), bans };
}
