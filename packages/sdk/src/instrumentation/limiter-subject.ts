/**
 * The rate-limit subject of a user id, the same as `userSubject` of `@llmsec/ratelimit/http`
 * (copied: the SDK does not depend on that package; test/ratelimit-subject-fleet.test.ts holds the two
 * equal). The bare id, as alerts and `llmsec limits ban <user>` name it, so a ban reaches the
 * instrumented client and the HTTP middleware alike; an id in the namespaces of subjects that
 * are not users (`ip:`, `key:`) is written `user:<id>`, so no user id names an address's bucket.
 */
const MAX_USER_ID_CHARS = 256;
const RESERVED = /^(?:ip|key):/;

export function limiterSubject(userId: string): string | undefined {
  let id = userId.trim();
  if (id === '') return undefined;
  if (RESERVED.test(id)) id = `user:${id}`;
  // Cut after the escape and trimmed again: the subject maps to itself when it comes back as
  // an event's user_id (cut at 256, trimmed) in an alert.
  return id.length > MAX_USER_ID_CHARS ? id.slice(0, MAX_USER_ID_CHARS).trimEnd() : id;
}
