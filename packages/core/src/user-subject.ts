/**
 * The rate-limit subject of a user id, one rule for every llmsec package that names a user to
 * the limiter: `userSubject` of `@llmsec/ratelimit/http` (the HTTP middleware, the alert hook,
 * the detector's fleet enforcement) and the SDK's instrumented clients. So a ban from an alert
 * or `llmsec limits ban <user>` reaches every entry point.
 *
 * The id trimmed; an id in the namespaces of subjects that are not users (`ip:`, `key:`) is
 * written `user:<id>`, so no user id names an address's or key's bucket; then cut at
 * MAX_USER_ID_CHARS and trimmed again. Cutting after the escape keeps it idempotent: an event's
 * user_id is cut at 256 too, so a subject that comes back as an alert's user id names the same
 * bucket. The price: the ids `ip:x` and `user:ip:x` share a bucket (two users' own choices,
 * never a user and an address). Undefined for an empty id, and for none (undefined or null: an
 * unauthenticated request, as `userSubject(userIdOf(req))` in a middleware's subject function
 * meets it, names nobody rather than throwing a TypeError counted as a telemetry error on each
 * such request); an id of another type is a TypeError saying so.
 */
import { cutId } from './cut-id.ts';

export const MAX_USER_ID_CHARS = 256;
const RESERVED = /^(?:ip|key):/;

export function userSubject(userId: string | null | undefined): string | undefined {
  if (userId === undefined || userId === null) return undefined;
  if (typeof userId !== 'string')
    throw new TypeError(`userSubject: a user id is a string, got ${typeof userId}`);
  let id = userId.trim();
  if (id === '') return undefined;
  // Lone surrogates as U+FFFD, as the SDK writes the id (and as Redis already stored the key:
  // its UTF-8), so an alert's user names the request's bucket in every store.
  if (!id.isWellFormed()) id = id.toWellFormed();
  if (RESERVED.test(id)) id = `user:${id}`;
  return id.length > MAX_USER_ID_CHARS ? cutId(id, MAX_USER_ID_CHARS).trimEnd() : id;
}
