import { DIGITS, hasDigit } from './triggers.ts';
import type { Detector } from './types.ts';

/**
 * IP addresses. A dotted quad is an IPv4 address even when it was meant as a version
 * (`1.2.3.4`); three-part versions (`2.10.3`) and five-part ones (`1.2.3.4.5`) are not.
 */

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const V4 = `(?:${OCTET}\\.){3}${OCTET}`;
const H = '[0-9A-Fa-f]{1,4}';

/**
 * Loopback and unspecified addresses identify no one, and code and questions about servers
 * are full of them: a PII guard must not block "listen on 127.0.0.1".
 */
function isLocalV4(address: string): boolean {
  return address.startsWith('127.') || address === '0.0.0.0';
}

/** Octets without leading zeros (`01.02.03.04` is not an address), not inside a longer dotted run. */
const ipv4: Detector = {
  type: 'ipv4',
  trigger: hasDigit,
  needs: DIGITS,
  pattern: new RegExp(`(?<![A-Za-z0-9_.])${V4}(?![A-Za-z0-9_]|\\.\\d)`, 'g'),
  accept: (m) => !isLocalV4(m),
};

/**
 * RFC 4291 text forms: eight groups, `::` compression, embedded IPv4. Alternatives are tried in
 * order and the trailing look-ahead rejects a match that stops early (`2001:db8::` before `1`),
 * so the engine falls through to the longer form.
 */
const IPV6_FORMS = [
  `(?:${H}:){7}${H}`,
  `(?:${H}:){1,4}:${V4}`,
  `::(?:[Ff]{4}(?::0{1,4})?:)?${V4}`,
  `(?:${H}:){1,7}:`,
  `(?:${H}:){1,6}:${H}`,
  `(?:${H}:){1,5}(?::${H}){1,2}`,
  `(?:${H}:){1,4}(?::${H}){1,3}`,
  `(?:${H}:){1,3}(?::${H}){1,4}`,
  `(?:${H}:){1,2}(?::${H}){1,5}`,
  `${H}:(?::${H}){1,6}`,
  `:(?::${H}){1,7}`,
];

const DIGIT = /\d/;
const HEX_DIGIT = /[0-9A-Fa-f]/g;

/**
 * Real compressed addresses carry at least five hex digits (`fe80::1`, `2001:db8::1`) or an
 * embedded IPv4; shorter ones are Python slices (`a[::2]`, `a[1::2]`), loopback `::1` or a
 * bare `::`. A candidate without any digit (`Add::Dec`, C++ scopes of hex letters) is not one.
 */
function plausibleV6(address: string): boolean {
  if (!DIGIT.test(address)) return false;
  if (address.includes('.')) return true;
  return (address.match(HEX_DIGIT)?.length ?? 0) >= 5;
}

/** The forms, sticky, tried only where the cheap candidate pattern below matched. */
const IPV6_STRICT = new RegExp(`(?:${IPV6_FORMS.join('|')})(?![A-Za-z0-9_:]|\\.\\d)`, 'y');

/**
 * Candidates are runs with two colons among their first ten characters (every form has), so
 * a word that starts with a hex letter, or a time such as 10:30, costs a step or two instead
 * of eleven failed alternatives.
 */
const ipv6: Detector = {
  type: 'ipv6',
  trigger: (t) => t.includes(':') && hasDigit(t),
  needs: ':',
  pattern: /(?<![A-Za-z0-9_:.])[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]{0,56}/g,
  accept: (_m, text, index) => {
    IPV6_STRICT.lastIndex = index;
    const found = IPV6_STRICT.exec(text);
    return found !== null && plausibleV6(found[0]) ? found[0].length : 0;
  },
};

/** IPv6 first: an embedded IPv4 (`::ffff:192.0.2.1`) belongs to the IPv6 address. */
export const NETWORK_DETECTORS: readonly Detector[] = [ipv6, ipv4];
