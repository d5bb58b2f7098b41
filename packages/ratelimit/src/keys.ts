import { createHash } from 'node:crypto';

/**
 * Redis keys of one subject: `llmsec:{<subject>}:rl` and `llmsec:{<subject>}:lease`. The
 * braces are a Redis Cluster hash tag, so both keys share a slot and one script touches both.
 * Subjects longer than 128 characters are replaced by a SHA-256 digest, which bounds key size
 * whatever a caller passes as a user id. So is a subject beginning with `}`: its hash tag would
 * be empty (`llmsec:{}x}:rl`), Redis Cluster would hash each whole key, the two keys would fall in
 * different slots and every script on them fail with CROSSSLOT (user ids reach here as sent).
 * So is the empty subject (an operator's `''`: the same empty tag), and a subject beginning with
 * `sha256:`: kept as it is, the user id `sha256:<hex>` would name the bucket of the long or
 * `}` subject with that digest, and its violations would ban that user.
 */
export const KEY_PREFIX = 'llmsec:';
const MAX_SUBJECT = 128;

const DIGEST_PREFIX = 'sha256:';

export function subjectTag(subject: string): string {
  if (
    subject.length <= MAX_SUBJECT &&
    subject !== '' &&
    subject.charCodeAt(0) !== 0x7d &&
    !subject.startsWith(DIGEST_PREFIX)
  )
    return subject;
  return DIGEST_PREFIX + createHash('sha256').update(subject).digest('hex');
}

export function rlKey(subject: string): string {
  return `${KEY_PREFIX}{${subjectTag(subject)}}:rl`;
}

export function leaseKey(subject: string): string {
  return `${KEY_PREFIX}{${subjectTag(subject)}}:lease`;
}
