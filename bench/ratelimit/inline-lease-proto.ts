// Issue 13, sixth round: a bench-only prototype of leases kept INSIDE the subject's state
// string, not the product. This tree's one-subject acquire and settle for the eight windowed
// dimensions with a lease table spliced in: a 16-byte record per live lease after the state
// (expiry, then a numeric lease tag); acquire counts the live records, drops expired ones,
// checks the concurrency limit and appends its record to the one SET the windows already pay;
// settle cuts its record out by tag and SETs the state even when usage equals the estimate.
// Two layouts: `inline` (records after the 13 doubles, scanned at every call) and `header`
// (two bounds after the 13 doubles, lmin and lmax, so the records are copied, not parsed,
// while none can have expired; settle finds its record with string.find on the tag's bytes).
// What a product would add (a cap with the sorted set above it, the rolling upgrade, the
// pair, template, batch and enforcement scripts writing the records through) only adds cost.
// `checkPrototypes` runs both against a real redis-server before a bench times them.
import type { Redis } from 'ioredis';
import { singleAcquireLua, singleSettleLua } from '../../packages/ratelimit/src/redis-lua-single.ts';

const HUGE = 1e12;
export const CONCURRENT = 1_000_000;
// warningAt, throttledAt, blockedAt, bannedAt, halfLifeMs, blockMs, throttleFactor, refusalWeight, banTtlMs
const ENF = [5, 10, 20, 50, 600_000, 60_000, 0.5, 1, 86_400_000];
const WINDOWED = [HUGE, HUGE, HUGE, HUGE, HUGE, HUGE, HUGE, HUGE];
export const TTL = 120_000;

/** Replaces `from` in `lua` exactly `count` times (a failed splice throws, never measures the wrong script). */
function splice(lua: string, from: string, to: string, count = 1): string {
  const parts = lua.split(from);
  if (parts.length !== count + 1)
    throw new Error(`splice: ${JSON.stringify(from)} found ${parts.length - 1}x`);
  return parts.join(to);
}

const WRITE_8 = `struct.pack('<ddddddddddddd', t1, t2, t3, t4, t5, t6, t7, t8, sc, st, bu, bn, `;

/**
 * Lua counting the live records of `v` from byte `from` (expiry > now), with their earliest
 * and latest expiry, into leases, lmin, lmax; recs = the live records (rebuilt only if one expired).
 */
function scanRecords(from: number): string {
  return `  local dead = false
  for p = ${from}, #v - 15, 16 do
    local e = struct.unpack('<d', v, p)
    if e > now then
      leases = leases + 1
      if lmin == 0 or e < lmin then lmin = e end
      if e > lmax then lmax = e end
    else dead = true end
  end
  if dead then
    local parts = {}
    for p = ${from}, #v - 15, 16 do
      if struct.unpack('<d', v, p) > now then parts[#parts + 1] = string.sub(v, p, p + 15) end
    end
    recs = table.concat(parts)
  else recs = string.sub(v, ${from}) end`;
}

const PACK_15 = WRITE_8.replace("'<ddddddddddddd'", "'<ddddddddddddddd'");

/**
 * The inline-lease acquire: KEYS rl; ARGV tag, tokens, cost. `bounds`: the state carries a
 * header (15 doubles: the 13, then lmin, no live record expires before it, and lmax, none
 * after it; records from byte 121), so while lmin > now the live count is the string's length
 * and the records are copied, not parsed; only when one may have expired are they scanned
 * (and the bounds made exact again). Without: records from byte 105, scanned at every call.
 */
function inlineAcquire(bounds: boolean): string {
  let lua = singleAcquireLua([...ENF, TTL, ...WINDOWED, 0], TTL);
  lua = splice(lua, 'tonumber(ARGV[1])', 'tonumber(ARGV[2])');
  lua = splice(lua, 'tonumber(ARGV[2])\nlocal v', 'tonumber(ARGV[3])\nlocal v');
  const read = bounds
    ? `if v and #v > 120 then
  lmin, lmax = struct.unpack('<dd', v, 105)
  if lmin > now then
    leases = (#v - 120) / 16
    recs = string.sub(v, 121)
  else
    lmin, lmax = 0, 0
${scanRecords(121)}
  end
end`
    : `if v and #v > 104 then
${scanRecords(105)}
end`;
  lua = splice(lua, 'local leases = 0\n', `local leases, lmin, lmax, recs = 0, 0, 0, ''\n${read}\n`);
  const check = (limit: number): string => `until true
if code == 0 and leases + 1 > ${limit} then
  code = 1; refDim = 9
  retry = math.ceil(lmin - now)
  if retry < 0 then retry = 0 end
end
`;
  // Two copies of the window checks: the throttled level's (limits halved) first, then normal.
  const pieces = lua.split('until true\n');
  if (pieces.length !== 3) throw new Error('splice: expected two copies of the window checks');
  lua = pieces[0]! + check(CONCURRENT / 2) + pieces[1]! + check(CONCURRENT) + pieces[2]!;
  lua = splice(
    lua,
    '  dirty = true\n  \n',
    `  dirty = true
  recs = recs .. struct.pack('<dd', leaseExp, tonumber(ARGV[1]))
  leases = leases + 1
  if leaseExp > lmax then lmax = leaseExp end
  if lmin == 0 or leaseExp < lmin then lmin = leaseExp end
`,
  );
  lua = splice(
    lua,
    'ttl = math.ceil(ttl)',
    'if lmax - now > ttl then ttl = lmax - now end\nttl = math.ceil(ttl)',
  );
  const write = bounds
    ? `if recs == '' then redis.call('SET', KEYS[1], ${WRITE_8}lvl), 'PX', ttl)
else redis.call('SET', KEYS[1], ${PACK_15}lvl, lmin, lmax) .. recs, 'PX', ttl) end`
    : `redis.call('SET', KEYS[1], ${WRITE_8}lvl) .. recs, 'PX', ttl)`;
  lua = splice(lua, `redis.call('SET', KEYS[1], ${WRITE_8}lvl), 'PX', ttl)`, write);
  return lua;
}

/** The inline-lease settle (records from byte 105, scanned): KEYS rl; ARGV tag, requests, tokens, cost (differences). */
function inlineSettle(): string {
  let lua = singleSettleLua([...ENF, 1, ...WINDOWED, 0]);
  lua = splice(
    lua,
    'tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])',
    'tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])',
  );
  lua = splice(
    lua,
    'local changed = false\n',
    `local changed = false
local recs, lmax = '', 0
if v and #v > 104 then
  local tag, at = tonumber(ARGV[1]), 0
  for p = 105, #v - 15, 16 do
    local e, g = struct.unpack('<dd', v, p)
    if g == tag and at == 0 then at = p elseif e > lmax then lmax = e end
  end
  if at ~= 0 then recs = string.sub(v, 105, at - 1) .. string.sub(v, at + 16); changed = true
  else recs = string.sub(v, 105) end
end
`,
  );
  lua = splice(
    lua,
    'ttl = math.ceil(ttl)',
    'if lmax - now > ttl then ttl = lmax - now end\nttl = math.ceil(ttl)',
  );
  lua = splice(lua, `${WRITE_8}pl)`, `${WRITE_8}pl) .. recs`);
  return lua;
}

/**
 * The settle of the layout with bounds: the record found with string.find on its tag's bytes
 * (at a tag's offset in a record), cut out; the bounds stay bounds (lmin may now be early, lmax late).
 */
function headerSettle(): string {
  let lua = singleSettleLua([...ENF, 1, ...WINDOWED, 0]);
  lua = splice(
    lua,
    'tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])',
    'tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])',
  );
  lua = splice(
    lua,
    'local changed = false\n',
    `local changed = false
local recs, lmin, lmax = '', 0, 0
if v and #v > 120 then
  lmin, lmax = struct.unpack('<dd', v, 105)
  local pat = struct.pack('<d', tonumber(ARGV[1]))
  local at = string.find(v, pat, 121, true)
  while at and (at - 121) % 16 ~= 8 do at = string.find(v, pat, at + 1, true) end
  if at then recs = string.sub(v, 121, at - 9) .. string.sub(v, at + 8); changed = true
  else recs = string.sub(v, 121) end
end
`,
  );
  lua = splice(
    lua,
    'ttl = math.ceil(ttl)',
    'if lmax - now > ttl then ttl = lmax - now end\nttl = math.ceil(ttl)',
  );
  lua = splice(
    lua,
    `redis.call('SET', KEYS[1], ${WRITE_8}pl), 'PX', ttl)`,
    `if recs == '' then redis.call('SET', KEYS[1], ${WRITE_8}pl), 'PX', ttl)
else redis.call('SET', KEYS[1], ${PACK_15}pl, lmin, lmax) .. recs, 'PX', ttl) end`,
  );
  return lua;
}

/**
 * The numeric tag of lease number `id` as a product would send it: a 53-bit hash of the lease
 * id, in [2^52, 2^53) so every byte of the double varies (a small integer's zero bytes would make
 * settle's string.find stop at every record); injective for id < 3.3e6.
 */
const TAG = `string.format('%.0f', 4503599627370496 + (id * 2654435761) % 4503599627370496)`;

export type Layout = 'set' | 'inline' | 'header' | 'none';
export const scripts = {
  set: {
    acquire: singleAcquireLua([...ENF, TTL, ...WINDOWED, CONCURRENT], TTL),
    settle: singleSettleLua([...ENF, 1, ...WINDOWED, CONCURRENT]),
  },
  inline: { acquire: inlineAcquire(false), settle: inlineSettle() },
  header: { acquire: inlineAcquire(true), settle: headerSettle() },
  none: {
    acquire: singleAcquireLua([...ENF, TTL, ...WINDOWED, 0], TTL),
    settle: singleSettleLua([...ENF, 1, ...WINDOWED, 0]),
  },
};

/** KEYS and ARGV of one call of `layout` for subject key `s` and lease number `id`. */
export function callArgs(layout: Layout): { keys: string; acquire: string; settle: string } {
  if (layout === 'set')
    return {
      keys: `{ s .. ':rl', s .. ':lease' }`,
      acquire: `{ string.format('%032x', id), '700', '2100' }`,
      settle: `{ string.format('%032x', id), '0', '-50', '-150' }`,
    };
  if (layout === 'inline' || layout === 'header')
    return {
      keys: `{ s .. ':rl' }`,
      acquire: `{ ${TAG}, '700', '2100' }`,
      settle: `{ ${TAG}, '0', '-50', '-150' }`,
    };
  return { keys: `{ s .. ':rl' }`, acquire: `{ '700', '2100' }`, settle: `{ '0', '-50', '-150' }` };
}

/** Throws unless both prototypes count, refuse, release and expire as the lease set does. */
export async function checkPrototypes(client: Redis): Promise<void> {
  // Both prototypes must count, refuse, release and expire as the lease set does before they
  // are timed: a limit of 2, a double settle that frees nothing else, a lease TTL of 50 ms.
  for (const layout of ['inline', 'header'] as const) {
    await client.flushall();
    const acquireLua = scripts[layout].acquire
      .replace(`leases + 1 > ${CONCURRENT}`, 'leases + 1 > 2')
      .replace(`math.floor(now + ${TTL})`, 'math.floor(now + 50)');
    const acq = async (tag: number): Promise<number> => {
      const b = (await client.callBuffer(
        'EVAL',
        acquireLua,
        '1',
        'llmsec:{chk}:rl',
        String(tag),
        '700',
        '2100',
      )) as Buffer;
      return b.length === 88 ? 0 : b.readDoubleLE(0); // the compact reply (11 doubles) is an admission
    };
    const settle = (tag: number): Promise<unknown> =>
      client.eval(scripts[layout].settle, 1, 'llmsec:{chk}:rl', String(tag), '0', '-50', '-150');
    const codes = [await acq(1), await acq(2), await acq(3)];
    await settle(1);
    await settle(1);
    codes.push(await acq(4), await acq(5));
    await new Promise((r) => setTimeout(r, 80));
    codes.push(await acq(6), await acq(7), await acq(8));
    if (codes.join() !== '0,0,1,0,1,0,0,1') throw new Error(`${layout} prototype miscounts: ${codes.join()}`);
  }
  await client.flushall();
}
