import { listFleetBans, type connectRedis, type FleetBan } from '@llmsec/ratelimit/redis';

type Client = Awaited<ReturnType<typeof connectRedis>>;

/** Bans listed when --limit is not given: a screenful, the count of the rest said after. */
export const DEFAULT_BANS_LIMIT = 100;
/** The most the fleet's ban index keeps (ratelimit's MAX_FLEET_BANS). */
export const MAX_BANS_LIMIT = 10_000;

/**
 * `llmsec limits bans`: the fleet's active bans from the ban index, ending last first (a ban
 * lasts 365 days from when it was set, so the most recently set first), at most `limit`, and
 * how many more there are. A table, or with --json one object.
 */
export async function listBans(client: Client, limit: number, json: boolean): Promise<string> {
  const list = await listFleetBans(client, limit);
  const more = Math.max(0, list.total - list.bans.length);
  if (json) {
    const bans = list.bans.map((b) => ({
      ...(b.subject !== undefined ? { subject: b.subject } : { digest: b.digest }),
      until: new Date(b.untilMs).toISOString(),
      remainingMs: Math.max(0, b.untilMs - list.nowMs),
    }));
    const out = { at: new Date(list.nowMs).toISOString(), total: list.total, shown: bans.length, more, bans };
    return JSON.stringify(out, null, 2) + '\n';
  }
  if (list.total === 0) return 'no active bans\n';
  const rows = list.bans.map(
    (b) =>
      `${new Date(b.untilMs).toISOString()}  ${remaining(b.untilMs - list.nowMs).padEnd(13)}  ${named(b)}`,
  );
  const tail =
    more > 0
      ? `${list.bans.length} of ${list.total} active bans shown; ${more} more (--limit N, up to ${MAX_BANS_LIMIT})`
      : `${list.total} active ban${list.total === 1 ? '' : 's'}`;
  return `${'UNTIL'.padEnd(24)}  ${'REMAINING'.padEnd(13)}  SUBJECT\n${rows.join('\n')}\n${tail}\n`;
}

/**
 * The subject as a table shows it: control, format (bidirectional) and line-separator
 * characters escaped as \u{X}, as they would reorder or break the line unseen (a subject is
 * a user id as sent, at most 128 characters here); a digest marked as one.
 */
function named(b: FleetBan): string {
  if (b.digest !== undefined) return `${b.digest} (digest)`;
  return b.subject!.replace(
    /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\\]/gu,
    (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`,
  );
}

/** `364d 23h 59m`, `3h 2m`, `42s`: the time left, to the minute past a minute. */
function remaining(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3_600);
  const m = Math.floor((s % 3_600) / 60);
  return d > 0 ? `${d}d ${h}h ${m}m` : h > 0 ? `${h}h ${m}m` : `${m}m`;
}
