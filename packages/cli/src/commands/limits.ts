import { RateLimiter, RedisStore } from '@llmsec/ratelimit';
import { cutId, MAX_USER_ID_CHARS, urlWithoutPassword } from '@llmsec/core/internal';
import { connectRedis, leaseKey, rlKey } from '@llmsec/ratelimit/redis';
import { UsageError, type CliIO, type Command } from '../io.ts';
import { describeDamage } from './limits-damage.ts';
import { DEFAULT_BANS_LIMIT, listBans, MAX_BANS_LIMIT } from './limits-bans.ts';

const USAGE = `usage: llmsec limits <show|reset|lift|ban> SUBJECT --redis URL [--cluster]
       llmsec limits bans --redis URL [--cluster] [--json] [--limit N]

  show   print the subject's counters, leases and enforcement state as JSON
  reset  delete every counter, lease and enforcement record of the subject
  lift   lift a block or ban and clear the violation score
  ban    ban the subject for 365 days (the limiter's banTtlMs), or until lifted
  bans   list the fleet's active bans (the ban index), ending last first: a subject
         longer than 128 characters shows as its sha256: digest, which lift cannot take

  --redis URL   Redis to use (default: $LLMSEC_REDIS_URL)
  --cluster     URL is a seed node of a Redis Cluster
  --json        bans: print JSON instead of a table
  --limit N     bans: list at most N (default ${DEFAULT_BANS_LIMIT}, at most ${MAX_BANS_LIMIT})

Levels and scores are computed with the default enforcement thresholds.`;

const ACTIONS = new Set(['show', 'reset', 'lift', 'ban']);

/** Operator actions on one rate-limit subject, straight against the shared Redis. */
export const command: Command = {
  summary: "show, reset, lift or ban a rate-limit subject; list the fleet's bans (Redis)",
  async run(argv: string[], io: CliIO): Promise<number> {
    if (argv.includes('--help') || argv.includes('-h')) {
      io.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const { action, subject, url, cluster, json, limit } = parseArgs(argv);
    let client: Awaited<ReturnType<typeof connectRedis>>;
    try {
      client = await connectRedis(url, { cluster });
    } catch (err) {
      io.stderr.write(
        `llmsec limits: cannot connect to Redis at ${urlWithoutPassword(url)}: ${(err as Error).message}\n`,
      );
      return 1;
    }
    try {
      if (action === 'bans') {
        io.stdout.write(await listBans(client, limit, json));
        return 0;
      }
      const limiter = new RateLimiter({
        store: new RedisStore({ client }),
        tiers: { cli: {} },
        commandTimeoutMs: 500,
        failurePolicy: 'closed',
        warmTokenizer: false, // it never estimates a request
      });
      let out: unknown;
      try {
        out = await act(action, subject, limiter, client);
      } catch (err) {
        // reset is a DEL, which a damaged key does not stop; the others run the limiter's
        // scripts, whose failure on a damaged key is a Lua error naming a script hash.
        const damage =
          action === 'reset' ? undefined : await describeDamage(client, subject).catch(() => undefined);
        if (damage === undefined) throw err;
        io.stderr.write(`llmsec limits: ${action} ${subject}: ${damage}\n`);
        return 1;
      }
      io.stdout.write(JSON.stringify(out, null, 2) + '\n');
      return 0;
    } finally {
      client.disconnect();
    }
  },
};

/** One action against the subject's keys: the JSON printed. */
async function act(
  action: string,
  subject: string,
  limiter: RateLimiter,
  client: Awaited<ReturnType<typeof connectRedis>>,
): Promise<unknown> {
  if (action === 'show') {
    const status = await limiter.status(subject);
    const [rlTtl, leaseTtl] = await Promise.all([
      client.pttl(rlKey(subject)),
      client.pttl(leaseKey(subject)),
    ]);
    return {
      subject: status.subject,
      keys: { [rlKey(subject)]: ttlOf(rlTtl), [leaseKey(subject)]: ttlOf(leaseTtl) },
      level: status.level,
      violationScore: status.violationScore,
      ...(status.blockedUntilMs !== undefined
        ? { blockedUntil: new Date(status.blockedUntilMs).toISOString() }
        : {}),
      banned: status.banned,
      activeLeases: status.activeLeases,
      busyMs: status.busyMs,
      at: new Date(status.nowMs).toISOString(),
    };
  }
  if (action === 'reset') {
    await limiter.reset(subject);
    return { subject, reset: true };
  }
  if (action === 'lift') return { subject, lifted: true, previousLevel: await limiter.lift(subject) };
  return { subject, banned: true, previousLevel: await limiter.ban(subject) };
}

interface LimitsArgs {
  action: string;
  subject: string;
  url: string;
  cluster: boolean;
  json: boolean;
  limit: number;
}

function parseArgs(argv: string[]): LimitsArgs {
  const positional: string[] = [];
  let url = process.env.LLMSEC_REDIS_URL;
  let cluster = false;
  let json = false;
  let limitArg: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--redis') {
      url = argv[++i];
      if (url === undefined) throw new UsageError(`--redis needs a URL\n\n${USAGE}`);
    } else if (a.startsWith('--redis=')) url = a.slice('--redis='.length);
    else if (a === '--cluster') cluster = true;
    else if (a === '--json') json = true;
    else if (a === '--limit') {
      limitArg = argv[++i];
      if (limitArg === undefined) throw new UsageError(`--limit needs a number\n\n${USAGE}`);
    } else if (a.startsWith('--limit=')) limitArg = a.slice('--limit='.length);
    else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}\n\n${USAGE}`);
    else positional.push(a);
  }
  const [action, given, ...extra] = positional;
  if (action === 'bans') {
    if (given !== undefined) throw new UsageError(`bans takes no SUBJECT\n\n${USAGE}`);
    return { action, subject: '', url: checkedUrl(url), cluster, json, limit: bansLimit(limitArg) };
  }
  if (!action || !ACTIONS.has(action))
    throw new UsageError(`expected show, reset, lift, ban or bans\n\n${USAGE}`);
  if (json || limitArg !== undefined)
    throw new UsageError(`--json and --limit are options of \`limits bans\` (${action} prints JSON)`);
  if (given === undefined || extra.length > 0)
    throw new UsageError(`expected exactly one SUBJECT\n\n${USAGE}`);
  // One SUBJECT given, but blank: say so (an unset shell variable, `ban "$USER_ID"`), not that
  // the count of arguments is wrong.
  const subject = subjectAsNamed(given);
  if (subject === undefined)
    throw new UsageError(
      `SUBJECT is ${given === '' ? 'empty' : 'blank (only white space)'}: name a user id or ip:ADDRESS`,
    );
  return { action, subject, url: checkedUrl(url), cluster, json, limit: DEFAULT_BANS_LIMIT };
}

function checkedUrl(url: string | undefined): string {
  if (!url) throw new UsageError(`--redis URL is required (or set LLMSEC_REDIS_URL)\n\n${USAGE}`);
  // ioredis reads another scheme's URL (http://host:6379, a slip) as a socket path: exit 1 with
  // 'connect ENOENT //host:6379'. A bare HOST or HOST:PORT is its shorthand, still taken.
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== 'redis' && scheme !== 'rediss')
    throw new UsageError(`--redis: want a redis:// or rediss:// URL (or HOST:PORT), not ${scheme}://`);
  return url;
}

function bansLimit(given: string | undefined): number {
  if (given === undefined) return DEFAULT_BANS_LIMIT;
  const n = /^\d{1,6}$/.test(given) ? Number(given) : NaN;
  if (!(n >= 1 && n <= MAX_BANS_LIMIT))
    throw new UsageError(
      `--limit: want a whole number from 1 to ${MAX_BANS_LIMIT}, not ${JSON.stringify(given)}`,
    );
  return n;
}

/**
 * SUBJECT as every entry point names a bucket (the middleware's sanitizeSubject, userSubject,
 * the SDK, alerts): trimmed, lone surrogates as U+FFFD, cut at 256 characters and trimmed
 * again. Taken as typed, a pasted `alice ` or an id longer than 256 named a key no limiter
 * reads, and `ban` said `banned: true`. No `user:` prefix is added: `ip:...` names the address.
 */
function subjectAsNamed(given: string): string | undefined {
  let id = given.trim();
  if (!id.isWellFormed()) id = id.toWellFormed();
  if (id.length > MAX_USER_ID_CHARS) id = cutId(id, MAX_USER_ID_CHARS).trimEnd();
  return id === '' ? undefined : id;
}

function ttlOf(pttl: number): { exists: boolean; ttlMs?: number } {
  return pttl === -2 ? { exists: false } : { exists: true, ttlMs: pttl };
}
