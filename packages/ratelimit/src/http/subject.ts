/**
 * Default subject extraction. One subject form across the product for a user: the user id
 * itself, as detection alerts, `alertViolationHook`, `llmsec limits ban <user>` and the SDK's
 * instrumented-client limiter name it, so a ban from detection reaches the middleware too.
 * Subjects that are not users live in reserved namespaces, `ip:<bucket>` and `key:<hash>`; a
 * user id that itself begins with one of them is written `user:<id>` (userSubject), so no user
 * id, chosen or sent by whoever, can name an address's or a key's bucket (or get it banned
 * through an alert). Ids are bounded (MAX_USER_ID_CHARS, as the SDK's); key size and Redis
 * hash-tag braces are the store's concern (keys.ts hashes long subjects, any string is safe).
 */
import { createHash } from 'node:crypto';
import { ANONYMOUS_USER } from '@llmsec/core';
import { cutId, MAX_USER_ID_CHARS, userSubject } from '@llmsec/core/internal';
import { DEFAULT_IPV6_PREFIX, ipBucket } from './ip.ts';
import type { RequestLike } from './types.ts';

export interface SubjectOptions {
  /**
   * IPv6 clients share a bucket per network of this prefix length (IPv4: per address;
   * IPv4-mapped IPv6: as IPv4). 128 buckets per address.
   * @default 64
   */
  ipv6Prefix?: number;
  /**
   * `true`: trust `x-user-id` (a proxy you control sets it after authentication). `false`:
   * ignore it (bearer token, then address). Unset: trust it, and the middleware warns once.
   */
  trustUserIdHeader?: boolean;
}

/** Longest user id kept, as the SDK's security context and its events keep it (longer is cut). */
export { MAX_USER_ID_CHARS };
/** Longest non-address text kept readable in an `ip:` subject (longer is hashed). */
export const MAX_SUBJECT_ID_LENGTH = 128;
const SAFE_ID = /^[A-Za-z0-9_.@:+\-]+$/;

function sha256Prefix(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 16);
}

/** `prefix:id`, or `prefix:sha256:<16 hex>` when the id is too long or not plain. */
export function boundedSubject(prefix: string, id: string): string {
  return id.length <= MAX_SUBJECT_ID_LENGTH && SAFE_ID.test(id)
    ? `${prefix}:${id}`
    : `${prefix}:sha256:${sha256Prefix(id)}`;
}

/**
 * The rate-limit subject of a user id (`@llmsec/core`'s one rule, shared with the SDK's
 * instrumented clients): trimmed; an id in a reserved namespace (`ip:...`, `key:...`) becomes
 * `user:<id>`; cut at MAX_USER_ID_CHARS and trimmed again, so a subject that comes back as an
 * alert's user id names the same bucket. The ids `ip:x` and `user:ip:x` share a bucket (two
 * users' own choices; never a user and an address). Undefined for an empty id.
 */
export { userSubject };

/**
 * A subject from a custom function, as it returned it (your naming: for a user, return
 * `userSubject(id)` so that it matches alerts, the CLI and the SDK): trimmed, cut at
 * MAX_USER_ID_CHARS; empty or not a string means "none".
 */
export function sanitizeSubject(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  let id = value.trim();
  if (id === '') return undefined;
  // Lone surrogates as U+FFFD, as userSubject and the SDK have them.
  if (!id.isWellFormed()) id = id.toWellFormed();
  return id.length > MAX_USER_ID_CHARS ? cutId(id, MAX_USER_ID_CHARS).trimEnd() : id;
}

function header(req: RequestLike, name: string): string | undefined {
  const value = req.headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  const trimmed = first?.trim();
  return trimmed ? trimmed : undefined;
}

/** The client address: the framework's `req.ip` when set, else the socket's peer address. */
export function clientAddress(req: RequestLike): string | undefined {
  const raw = req.ip ?? req.socket?.remoteAddress;
  if (!raw) return undefined;
  // An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d; one client, one bucket.
  return raw.startsWith('::ffff:') && raw.includes('.') ? raw.slice(7) : raw;
}

/** `ip:<bucket>` (see ipBucket: IPv6 by /64), or a bounded `ip:` id when it is not an address. */
export function ipSubject(address: string, ipv6Prefix: number = DEFAULT_IPV6_PREFIX): string {
  const bucket = ipBucket(address, ipv6Prefix);
  // A bucket is at most 43 characters of [0-9a-f.:/]: safe as a key without hashing.
  return bucket !== undefined ? `ip:${bucket}` : boundedSubject('ip', address);
}

/**
 * The anonymous clients of an address (no user id, no token): `ip:<bucket>#anonymous`, limited
 * at the user tier, while every request from the address is also counted in its shared budget,
 * `ip:<bucket>` at `secondaryTier`. Two subjects, each at one price: with one (`ip:<bucket>`
 * as primary at 20 rpm and as secondary at 600 rpm) each anonymous request took 1/20 of a
 * bucket sized for 600, so 20 of them refused every user behind the address. `#` is in no
 * `ipSubject` (an address bucket or a `[A-Za-z0-9_.@:+-]` id), and a user id beginning with
 * `ip:` is `user:ip:...`, so neither an address nor a user names it.
 */
export function anonymousSubject(address: string, ipv6Prefix: number = DEFAULT_IPV6_PREFIX): string {
  return `${ipSubject(address, ipv6Prefix)}#anonymous`;
}

/**
 * The user id from `x-user-id` (`userSubject`: the bare id, as alerts and the SDK name it), else
 * `key:<sha256 prefix of the bearer token>` (the token itself never becomes a key), else
 * `ip:<client address bucket>#anonymous` (anonymousSubject), else the anonymous user.
 *
 * TRUSTS THE CLIENT: `x-user-id` is whatever the client sends, so a client can spread its
 * requests over invented ids (and out of its own ban). Use it only behind a proxy that sets the
 * header after authentication; otherwise pass `trustUserIdHeader: false` or your own subject.
 * Even then it cannot name an address or key bucket: `ip:`/`key:` ids become `user:<id>`.
 */
export function defaultSubject(req: RequestLike, options: SubjectOptions = {}): string {
  if (options.trustUserIdHeader !== false) {
    const userId = header(req, 'x-user-id');
    const subject = userId === undefined ? undefined : userSubject(userId);
    if (subject !== undefined) return subject;
  }
  const auth = header(req, 'authorization');
  const bearer = auth && /^bearer\s+(.+)$/i.exec(auth)?.[1]?.trim();
  if (bearer) return `key:${sha256Prefix(bearer)}`;
  const address = clientAddress(req);
  return address ? anonymousSubject(address, options.ipv6Prefix) : ANONYMOUS_USER;
}

/** `ip:<client address bucket>` (IPv6 by /64), checked together with the primary subject. */
export function defaultSecondarySubject(req: RequestLike, options: SubjectOptions = {}): string | undefined {
  const address = clientAddress(req);
  return address ? ipSubject(address, options.ipv6Prefix) : undefined;
}
