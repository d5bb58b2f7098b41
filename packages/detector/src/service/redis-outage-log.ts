import type { Cluster, Redis } from 'ioredis';
import type { Logger } from './log.ts';

/**
 * Logs a long-lived Redis client's errors once per outage: the client reconnects forever and
 * emits an error on every attempt (several a second, then one every ~2 s), which would fill the
 * log for as long as Redis is down. The first error of an outage is a warning; the next ones
 * are only counted, and the reconnection says how many there were.
 */
export function logRedisOutages(client: Redis | Cluster, log: Logger, what: string): void {
  let suppressed = 0;
  let down = false;
  client.on('error', (err: Error) => {
    if (down) {
      suppressed++;
      return;
    }
    down = true;
    log.warn(`${what} error`, { error: err });
  });
  client.on('ready', () => {
    if (!down) return;
    log.info(`${what} reachable again`, { errors_not_logged: suppressed });
    down = false;
    suppressed = 0;
  });
}
