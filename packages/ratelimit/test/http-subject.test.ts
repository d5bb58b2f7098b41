import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { ipBucket } from '../src/http/ip.ts';
import { createRateLimitMiddleware } from '../src/http/middleware-node.ts';
import {
  defaultSecondarySubject,
  defaultSubject,
  sanitizeSubject,
  userSubject,
} from '../src/http/subject.ts';
import fc from 'fast-check';
import type { GuardRequest, RateLimitMiddlewareOptions } from '../src/http/types.ts';
import { close, FakeLimiter, fetchRaw, listen, warningCapture } from './http-support.ts';

const { warnings, logger } = warningCapture();

let server: Server | undefined;
afterEach(async () => {
  diag.disable();
  warnings.length = 0;
  if (server) await close(server);
  server = undefined;
});

describe('ipBucket', () => {
  it('keeps IPv4 per address and maps IPv4-mapped IPv6 (dotted or hex) to IPv4', () => {
    expect(ipBucket('192.0.2.1')).toBe('192.0.2.1');
    expect(ipBucket('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(ipBucket('::FFFF:c000:0201')).toBe('192.0.2.1');
  });

  it('buckets IPv6 by /64 by default, in RFC 5952 form, zone ids dropped', () => {
    expect(ipBucket('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(ipBucket('2001:0DB8:0001:0002:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(ipBucket('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(ipBucket('2001:db8::1.2.3.4')).toBe('2001:db8::/64');
    expect(ipBucket('fe80::1%eth0')).toBe('fe80::/64');
    expect(ipBucket('::1')).toBe('::/64');
  });

  it('honours the prefix length: /48, /56, /128 and odd lengths', () => {
    expect(ipBucket('2001:db8:1:2ff::9', 48)).toBe('2001:db8:1::/48');
    expect(ipBucket('2001:db8:1:2ff::9', 56)).toBe('2001:db8:1:200::/56');
    expect(ipBucket('2001:db8:1:2ff::9', 60)).toBe('2001:db8:1:2f0::/60');
    expect(ipBucket('2001:0db8:0000:0000:0001:0000:0000:0009', 128)).toBe('2001:db8::1:0:0:9');
    expect(ipBucket('ffff:ffff::', 1)).toBe('8000::/1');
  });

  it('is not an address: undefined (long input is not parsed at all)', () => {
    expect(ipBucket('example.com')).toBeUndefined();
    expect(ipBucket('1:2:3')).toBeUndefined();
    expect(ipBucket(':'.repeat(100_000))).toBeUndefined();
  });
});

describe('default subjects', () => {
  const req = (ip: string, headers: Record<string, string> = {}): GuardRequest =>
    ({ headers, ip, socket: null }) as unknown as GuardRequest;

  it('one IPv6 /64 is one secondary bucket, however many addresses the client rotates through', () => {
    const subjects = new Set<string | undefined>();
    for (let i = 0; i < 1_000; i++)
      subjects.add(defaultSecondarySubject(req(`2001:db8:aa:bb::${i.toString(16)}`)));
    expect([...subjects]).toEqual(['ip:2001:db8:aa:bb::/64']);
    expect(defaultSecondarySubject(req('2001:db8:aa:bc::1'))).toBe('ip:2001:db8:aa:bc::/64');
    expect(defaultSecondarySubject(req('2001:db8:aa:bb::1'), { ipv6Prefix: 128 })).toBe(
      'ip:2001:db8:aa:bb::1',
    );
    expect(defaultSecondarySubject(req('203.0.113.9'))).toBe('ip:203.0.113.9');
    // With no user and no token the primary is the address's anonymous client: its own
    // subject, apart from the address's shared budget (http-anonymous-address.test.ts).
    expect(defaultSubject(req('2001:db8:aa:bb::7'))).toBe('ip:2001:db8:aa:bb::/64#anonymous');
  });

  it('trustUserIdHeader: false ignores x-user-id', () => {
    const r = req('203.0.113.9', { 'x-user-id': 'alice' });
    expect(defaultSubject(r)).toBe('alice');
    expect(defaultSubject(r, { trustUserIdHeader: false })).toBe('ip:203.0.113.9#anonymous');
  });

  it('the middleware buckets the client address it is given (req.ip) by its ipv6Prefix', async () => {
    const limiter = new FakeLimiter();
    const middleware = createRateLimitMiddleware({ limiter, trustUserIdHeader: true, ipv6Prefix: 48 });
    server = createServer((req, res) => {
      (req as GuardRequest).ip = `2001:db8:77:${String(req.headers['x-n'])}::5`;
      void middleware(req as GuardRequest, res).then((admitted) => admitted && res.end('ok'));
    });
    const port = await listen(server);
    await fetchRaw(port, { headers: { 'x-user-id': 'alice', 'x-n': '1' } });
    await fetchRaw(port, { headers: { 'x-user-id': 'alice', 'x-n': 'ff' } });
    expect(limiter.acquired.map((r) => r.secondarySubject)).toEqual([
      'ip:2001:db8:77::/48',
      'ip:2001:db8:77::/48',
    ]);
  });
});

describe('userSubject: one subject per user, never an address or key bucket', () => {
  it('is the bare id; ids in the ip:/key: namespaces are written user:<id>; trimmed and cut at 256', () => {
    expect(userSubject('alice')).toBe('alice');
    expect(userSubject(' alice ')).toBe('alice');
    expect(userSubject('ip:203.0.113.9')).toBe('user:ip:203.0.113.9');
    expect(userSubject('key:0123456789abcdef')).toBe('user:key:0123456789abcdef');
    expect(userSubject('IP:203.0.113.9')).toBe('IP:203.0.113.9'); // a different string, no bucket of an address
    expect(userSubject('u'.repeat(300))).toBe('u'.repeat(256));
    expect(userSubject('  ')).toBeUndefined();
  });

  it('names nobody for no id (undefined, null: an unauthenticated request) and refuses another type by name', () => {
    expect(userSubject(undefined)).toBeUndefined();
    expect(userSubject(null)).toBeUndefined();
    expect(() => userSubject(42 as unknown as string)).toThrow(
      /userSubject: a user id is a string, got number/,
    );
  });

  it("cuts at 256 never inside a surrogate pair, as an event's user_id is cut (the alert names the same bucket)", () => {
    const across = `${'u'.repeat(255)}😈tail`; // the pair at units 255-256
    expect(userSubject(across)).toBe('u'.repeat(255));
    expect(sanitizeSubject(across)).toBe('u'.repeat(255));
    // Escaped first, then cut: 'user:' + 'ip:' + 247 units puts the pair at 255-256 too.
    expect(userSubject(`ip:${'a'.repeat(247)}😈`)).toBe(`user:ip:${'a'.repeat(247)}`);
    expect(userSubject(`${'u'.repeat(254)}😈tail`)).toBe(`${'u'.repeat(254)}😈`);
  });

  it('on random ids: never in a reserved namespace, idempotent, distinct ids stay distinct unless one is the other escaped', () => {
    const id = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc
        .tuple(
          fc.constantFrom('ip:', 'key:', 'user:', 'user:ip:', 'user:key:', ''),
          fc.string({ maxLength: 12 }),
        )
        .map(([p, rest]) => p + rest),
    );
    fc.assert(
      fc.property(id, id, (a, b) => {
        const sa = userSubject(a);
        if (sa === undefined) return a.trim() === '';
        expect(sa.startsWith('ip:') || sa.startsWith('key:')).toBe(false);
        expect(userSubject(sa)).toBe(sa);
        const sb = userSubject(b);
        const ta = a.trim();
        const tb = b.trim();
        if (sb === sa && ta !== tb) {
          // The one collision allowed: `x` and `user:x` for x in a reserved namespace.
          expect([`user:${ta}`, `user:${tb}`]).toContain(sa);
        }
        return true;
      }),
      { numRuns: 2000 },
    );
  });
});

describe('the middleware says loudly that the default subject trusts x-user-id', () => {
  const make = (extra: Partial<RateLimitMiddlewareOptions>): void => {
    createRateLimitMiddleware({ limiter: new FakeLimiter(), ...extra });
  };

  it('warns once at construction with the default subject, not with an explicit choice', () => {
    diag.setLogger(logger, DiagLogLevel.WARN);
    make({});
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/x-user-id.*any client/);
    make({ subject: () => 'user:from-session' });
    make({ trustUserIdHeader: true });
    make({ trustUserIdHeader: false });
    expect(warnings).toHaveLength(1);
  });

  it('rejects an invalid ipv6Prefix or trustUserIdHeader at construction', () => {
    expect(() => make({ ipv6Prefix: 0 })).toThrow(/ipv6Prefix must be an integer from 1 to 128/);
    expect(() => make({ ipv6Prefix: 64.5 })).toThrow(/ipv6Prefix/);
    expect(() => make({ trustUserIdHeader: 'yes' as never })).toThrow(/trustUserIdHeader/);
  });
});
