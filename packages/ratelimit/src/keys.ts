import { createHash } from 'node:crypto';

/**
 * Redis keys of one subject: `llmsec:{<subject>}:rl`, its state with the live leases inside
 * (redis-lua-state.ts), and `llmsec:{<subject>}:lease`, the sorted set of leases of the
 * layout before, which only `reset` still touches (deleting what an old replica left). The
 * braces are a Redis Cluster hash tag, so both keys share a slot.
 * Subjects longer than 128 characters are replaced by a SHA-256 digest, which bounds key size
 * whatever a caller passes as a user id.
 */
export const KEY_PREFIX = 'llmsec:';
const MAX_SUBJECT = 128;

export function subjectTag(subject: string): string {
  if (subject.length <= MAX_SUBJECT) return subject;
  return 'sha256:' + createHash('sha256').update(subject).digest('hex');
}

export function rlKey(subject: string): string {
  return `${KEY_PREFIX}{${subjectTag(subject)}}:rl`;
}

export function leaseKey(subject: string): string {
  return `${KEY_PREFIX}{${subjectTag(subject)}}:lease`;
}
