/**
 * Default subject extraction. Subjects are namespaced (`user:`, `key:`, `ip:`) so that a user
 * whose id happens to be an IP address never shares a bucket with that address, and bounded:
 * an id that is long or has characters outside a safe set is replaced by a hash, so a client
 * cannot inflate key sizes or inject Redis hash-tag braces.
 */
import { createHash } from 'node:crypto';
import { ANONYMOUS_USER } from '@llmsec/core';
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
 * A subject from a custom function: empty or not a string means "none"; a long or unusual one
 * is replaced by `sha256:<16 hex>`, so keys stay bounded and free of Redis hash-tag braces.
 */
export function sanitizeSubject(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  return value.length <= MAX_SUBJECT_ID_LENGTH && SAFE_ID.test(value)
    ? value
    : `sha256:${sha256Prefix(value)}`;
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
 * `user:<x-user-id>`, else `key:<sha256 prefix of the bearer token>` (the token itself never
 * becomes a key), else `ip:<client address bucket>`, else the anonymous user.
 *
 * TRUSTS THE CLIENT: `x-user-id` is whatever the client sends, so a client can spread its
 * requests over invented ids (and out of its own ban). Use it only behind a proxy that sets the
 * header after authentication; otherwise pass `trustUserIdHeader: false` or your own subject.
 */
export function defaultSubject(req: RequestLike, options: SubjectOptions = {}): string {
  if (options.trustUserIdHeader !== false) {
    const userId = header(req, 'x-user-id');
    if (userId) return boundedSubject('user', userId);
  }
  const auth = header(req, 'authorization');
  const bearer = auth && /^bearer\s+(.+)$/i.exec(auth)?.[1]?.trim();
  if (bearer) return `key:${sha256Prefix(bearer)}`;
  const address = clientAddress(req);
  return address ? ipSubject(address, options.ipv6Prefix) : ANONYMOUS_USER;
}

/** `ip:<client address bucket>` (IPv6 by /64), checked together with the primary subject. */
export function defaultSecondarySubject(req: RequestLike, options: SubjectOptions = {}): string | undefined {
  const address = clientAddress(req);
  return address ? ipSubject(address, options.ipv6Prefix) : undefined;
}
