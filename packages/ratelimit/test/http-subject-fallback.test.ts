/**
 * A `subject` function that names no subject for a request (an unauthenticated one: it returns
 * undefined or '', as the README's `userSubject(userIdOf(req))` does when `userIdOf` gives
 * undefined, or throws) falls back to the default subject without trusting `x-user-id`,
 * unless `trustUserIdHeader: true`. Found in the acceptance sweep from the packed tarballs:
 * with the README's Express line, an unauthenticated request carrying `x-user-id: alice` was
 * charged to alice's own bucket (and her violation score), so any client could spend a named
 * user's limits and drive her enforcement to a block or ban.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { withRateLimit } from '../src/http/middleware-node.ts';
import type { RequestHandler } from '../src/http/middleware-node.ts';
import { userSubject } from '../src/http/subject.ts';
import type { GuardRequest, RateLimitMiddlewareOptions } from '../src/http/types.ts';
import { close, FakeLimiter, fetchRaw, listen } from './http-support.ts';

let server: Server | undefined;
afterEach(async () => {
  if (server) await close(server);
  server = undefined;
});

const ok: RequestHandler = (_req, res) => res.end('ok');

async function subjectsOf(
  options: Omit<RateLimitMiddlewareOptions, 'limiter'>,
  requests: Array<Record<string, string>>,
): Promise<Array<[string, string | undefined]>> {
  const limiter = new FakeLimiter();
  server = createServer(withRateLimit(limiter, ok, options));
  const port = await listen(server);
  for (const headers of requests) await fetchRaw(port, { headers });
  return limiter.acquired.map((r) => [r.subject, r.secondarySubject]);
}

/** Your authentication: bob's token names bob, anything else nobody. */
const userIdOf = (req: GuardRequest): string | undefined =>
  req.headers.authorization === 'Bearer token-of-bob' ? 'bob' : undefined;

const unauthenticated: Array<Record<string, string>> = [
  { 'x-user-id': 'alice' },
  { 'x-user-id': 'alice', authorization: 'Bearer forged' },
  { authorization: 'Bearer token-of-bob', 'x-user-id': 'alice' },
];

describe('a subject function that names nobody: the fallback does not trust x-user-id', () => {
  it.each([
    ["the README's userSubject(userIdOf(req))", (req: GuardRequest) => userSubject(userIdOf(req))],
    [
      'throws',
      (req: GuardRequest) => {
        const id = userIdOf(req);
        if (id === undefined) throw new Error('not signed in');
        return id;
      },
    ],
    ['returns undefined', (req: GuardRequest) => userIdOf(req)],
    ['returns an empty string', (req: GuardRequest) => userIdOf(req) ?? ''],
  ])('%s', async (_name, subject) => {
    expect(await subjectsOf({ subject }, unauthenticated)).toEqual([
      ['ip:127.0.0.1#anonymous', 'ip:127.0.0.1'],
      [expect.stringMatching(/^key:[0-9a-f]{16}$/), 'ip:127.0.0.1'],
      ['bob', 'ip:127.0.0.1'],
    ]);
  });

  it('trustUserIdHeader: true keeps the header for the fallback (a proxy you control sets it)', async () => {
    const subject = (req: GuardRequest) => userIdOf(req);
    expect(await subjectsOf({ subject, trustUserIdHeader: true }, unauthenticated)).toEqual([
      ['alice', 'ip:127.0.0.1'],
      ['alice', 'ip:127.0.0.1'],
      ['bob', 'ip:127.0.0.1'],
    ]);
  });

  it('without a subject function the default still reads x-user-id (unset trust: warned at construction)', async () => {
    expect(await subjectsOf({}, [{ 'x-user-id': 'alice' }])).toEqual([['alice', 'ip:127.0.0.1']]);
  });
});
