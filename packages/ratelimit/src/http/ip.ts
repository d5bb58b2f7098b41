/**
 * Which bucket a client address counts in. One IPv6 host usually holds a whole /64 (SLAAC,
 * privacy addresses, RFC 4941), so per-address buckets would give one client 2^64 of them:
 * IPv6 is bucketed by network prefix, /64 by default. IPv4 stays per address, and an
 * IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, RFC 4291 §2.5.5.2) is the IPv4 client it maps.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** @default prefix length for IPv6 buckets */
export const DEFAULT_IPV6_PREFIX = 64;

/** Longest text parsed as an address (45 characters of IPv6 plus a zone id): input past it is not an IP. */
const MAX_ADDRESS_LENGTH = 64;

/** Throws a RangeError naming `what` unless `prefix` is an integer from 1 to 128. */
export function checkIpv6Prefix(prefix: unknown, what: string): number {
  if (!Number.isInteger(prefix) || (prefix as number) < 1 || (prefix as number) > 128) {
    throw new RangeError(`${what} must be an integer from 1 to 128 (got ${String(prefix)})`);
  }
  return prefix as number;
}

/**
 * The bucket of `address`: an IPv4 address as is; an IPv4-mapped IPv6 address as its IPv4
 * address; any other IPv6 address as its network in RFC 5952 form with the prefix length
 * (`2001:db8:1:2::/64`; at 128, the address itself, without a zone id). Undefined when
 * `address` is not an IP address. Linear in the (capped) input.
 */
export function ipBucket(address: string, ipv6Prefix: number = DEFAULT_IPV6_PREFIX): string | undefined {
  if (address.length > MAX_ADDRESS_LENGTH) return undefined;
  if (isIPv4(address)) return address;
  const zone = address.indexOf('%');
  const bare = zone === -1 ? address : address.slice(0, zone);
  if (!isIPv6(bare)) return undefined;
  const g = parseIPv6(bare);
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`;
  }
  for (let i = 0; i < 8; i++) {
    const keep = Math.min(16, Math.max(0, ipv6Prefix - 16 * i));
    g[i] = keep === 0 ? 0 : g[i]! & ((0xffff << (16 - keep)) & 0xffff);
  }
  const text = formatIPv6(g);
  return ipv6Prefix < 128 ? `${text}/${ipv6Prefix}` : text;
}

/** Eight 16-bit groups of an address node:net already validated (`::` and a dotted IPv4 tail allowed). */
function parseIPv6(text: string): number[] {
  const parts = (s: string): number[] => {
    if (s === '') return [];
    const out: number[] = [];
    for (const p of s.split(':')) {
      if (p.includes('.')) {
        const [a, b, c, d] = p.split('.').map(Number) as [number, number, number, number];
        out.push((a << 8) | b, (c << 8) | d);
      } else {
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const gap = text.indexOf('::');
  if (gap === -1) return parts(text);
  const head = parts(text.slice(0, gap));
  const tail = parts(text.slice(gap + 2));
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

/** RFC 5952 §4: lower-case hex, no leading zeros, the longest run (first on a tie) of two or more zero groups as `::`. */
function formatIPv6(g: number[]): string {
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]): string => a.map((x) => x.toString(16)).join(':');
  if (bestAt === -1) return hex(g);
  return `${hex(g.slice(0, bestAt))}::${hex(g.slice(bestAt + bestLen))}`;
}
