import type { connectRedis } from '@llmsec/ratelimit/redis';
import { leaseKey, rlKey } from '@llmsec/ratelimit/redis';

type Client = Awaited<ReturnType<typeof connectRedis>>;

/**
 * The shortest state the limiter's scripts read: 13 packed little-endian doubles (ratelimit's
 * redis-lua.ts). Shorter, struct.unpack fails inside the script ("data string too short").
 */
const MIN_STATE_BYTES = 8 * 13;

/**
 * What is wrong with a subject's keys, when a script failed on them: a key of another Redis
 * type (WRONGTYPE), or a state string too short to unpack. The scripts' own errors name a
 * script hash and a Lua line, nothing an operator can act on. Undefined when both keys look
 * as the limiter writes them (the failure was something else; the caller says that instead).
 */
export async function describeDamage(client: Client, subject: string): Promise<string | undefined> {
  const rl = rlKey(subject);
  const lease = leaseKey(subject);
  const [rlType, leaseType] = await Promise.all([client.type(rl), client.type(lease)]);
  const problems: string[] = [];
  if (rlType === 'string') {
    const bytes = await client.strlen(rl);
    if (bytes < MIN_STATE_BYTES) {
      problems.push(
        `key ${rl} holds ${bytes} bytes, where the limiter keeps at least ${MIN_STATE_BYTES} (its packed state)`,
      );
    }
  } else if (rlType !== 'none') {
    problems.push(`key ${rl} is a ${rlType}, where the limiter keeps a string (its packed state)`);
  }
  if (leaseType !== 'zset' && leaseType !== 'none') {
    problems.push(`key ${lease} is a ${leaseType}, where the limiter keeps a sorted set (its leases)`);
  }
  if (problems.length === 0) return undefined;
  return `damaged: ${problems.join('; ')}. \`llmsec limits reset ${subject}\` deletes the subject's keys (its counters and enforcement state start over)`;
}
