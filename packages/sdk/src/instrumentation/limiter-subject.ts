/**
 * The rate-limit subject of a user id, the same as `userSubject` of `@llmsec/ratelimit/http`
 * (copied: the SDK does not depend on that package; test/ratelimit-subject.test.ts holds the two
 * equal). The bare id, as alerts and `llmsec limits ban <user>` name it, so a ban reaches the
 * instrumented client and the HTTP middleware alike; an id in the namespaces of subjects that
 * are not users (`ip:`, `key:`) is written `user:<id>`, so no user id names an address's bucket.
 */
const MAX_USER_ID_CHARS = 256;
const RESERVED = /^(?:ip|key):/;

export function limiterSubject(userId: string): string | undefined {
  let id = userId.trim();
  if (id.length > MAX_USER_ID_CHARS) id = id.slice(0, MAX_USER_ID_CHARS);
  if (id === '') return undefined;
  return RESERVED.test(id) ? `user:${id}` : id;
}
