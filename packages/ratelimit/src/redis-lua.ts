/**
 * The Lua scripts RedisStore runs (module-level constants, loaded once and called by EVALSHA
 * through ioredis defineCommand, which re-sends the body on NOSCRIPT). Each is the GCRA and
 * enforcement algorithm of memory-store.ts / enforcement.ts, line for line, on Redis's own
 * clock (TIME), so every replica agrees on time.
 *
 * Keys of one subject: `llmsec:{<subject>}:rl`, a string of 13 packed little-endian doubles
 * (struct.pack): the TAT (epoch ms) of the eight windowed dimensions, then the enforcement
 * state: score, score time, blocked-until, banned (0/1), level last reported. Packed doubles
 * because formatting and parsing floats as text dominated the script's cost; the state is
 * read with one GET and written with one SET ... PX, 104 bytes whatever the traffic. And
 * `llmsec:{<subject>}:lease`, a sorted set lease id -> expiry holding at most `concurrent`
 * members. Every write sets a TTL.
 */

// Shared prelude. Enforcement parameters start at ARGV[P].
const PRELUDE = `
local WIN = {60000, 3600000, 86400000, 60000, 3600000, 86400000, 3600000, 86400000}
local UNIT = {0, 0, 0, 1, 1, 1, 2, 2}
local EPS = 0.001
local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000 + tonumber(tm[2]) / 1000
local warnAt = tonumber(ARGV[P])
local thrAt = tonumber(ARGV[P + 1])
local blkAt = tonumber(ARGV[P + 2])
local banAt = tonumber(ARGV[P + 3])
local half = tonumber(ARGV[P + 4])
local blockMs = tonumber(ARGV[P + 5])
local tf = tonumber(ARGV[P + 6])
local weight = tonumber(ARGV[P + 7])
local banTtl = tonumber(ARGV[P + 8])

local function scaled(limit, factor)
  if factor == 1 then return limit end
  local v = math.floor(limit * factor)
  if v < 1 then v = 1 end
  return v
end

local FMT = '<ddddddddddddd'

local function read(key)
  local v = redis.call('GET', key)
  if not v then
    return { 0, 0, 0, 0, 0, 0, 0, 0 }, { s = 0, t = 0, b = 0, x = false, l = 0 }, false
  end
  local a = { struct.unpack(FMT, v) }
  return { a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8] }, { s = a[9], t = a[10], b = a[11], x = a[12] == 1, l = a[13] }, true
end

local function write(key, tat, e, lvl, ttl)
  redis.call('SET', key, struct.pack(FMT, tat[1], tat[2], tat[3], tat[4], tat[5], tat[6], tat[7], tat[8], e.s, e.t, e.b, e.x and 1 or 0, lvl), 'PX', ttl)
end

local function decayed(e)
  if e.s == 0 then return 0 end
  local dt = now - e.t
  if dt <= 0 then return e.s end
  return e.s * math.pow(2, -dt / half)
end

local function level_of(e)
  if e.x then return 4 end
  if now < e.b then return 3 end
  local sc = decayed(e)
  if sc >= thrAt then return 2 end
  if sc >= warnAt then return 1 end
  return 0
end

local function add_violation(e, w)
  local sc = decayed(e) + w
  e.s = sc
  e.t = now
  if sc >= banAt then e.x = true
  elseif sc >= blkAt and now >= e.b then e.b = now + blockMs end
end

local function enf_ttl(e, lvl)
  if e.x then return banTtl end
  if e.s == 0 and e.b <= now and lvl == 0 then return 0 end
  local rest = e.b - now
  if rest < 0 then rest = 0 end
  return rest + 10 * half
end

local function key_ttl(tat, e, lvl)
  local ttl = enf_ttl(e, lvl)
  for i = 1, 8 do
    if tat[i] - now > ttl then ttl = tat[i] - now end
  end
  ttl = math.ceil(ttl)
  if ttl < 1 then ttl = 1 end
  return ttl
end

local function busy_us(out, tat)
  for i = 1, 8 do
    local b = tat[i] - now
    if b > 0 then out[#out + 1] = math.floor(b * 1000) else out[#out + 1] = 0 end
  end
end
`;

/**
 * Lua statements setting `retry` for a banned subject: the ms until its state key expires,
 * which is when the ban ends (banTtlMs after the ban, or later while a bucket still drains;
 * MemoryStore keeps the same end in its record). No field of the state holds the end, and
 * none is added: the replicas of earlier releases read and write the same 104-byte state. A
 * key without a TTL (an operator's PERSIST) stays banned until lifted: `banTtl`, the
 * configured length, is answered then. PTTL runs only on this refusal, inside the script.
 */
export function banRetry(key: string, banTtl: string): string {
  return `retry = redis.call('PTTL', ${key})
      if retry < 0 then retry = ${banTtl} end`;
}

/**
 * Lua statements a settle runs on a banned subject's state, after `ttl` (whole ms) is set to
 * what its buckets need: set `keep` (write with KEEPTTL) unless the key expires before they
 * drain. A settle is usage, not a violation: a lease taken before a ban and settled after it
 * must not restart the ban's TTL (banTtlMs after the ban, or after a later violation), which
 * MemoryStore never did (its settle keeps the record's expiry but for its buckets). A key
 * without a TTL (PTTL -1, an operator's PERSIST) keeps none. The value's format is unchanged;
 * PTTL runs only on a banned subject's settle, inside the script.
 */
export function settleBanKeep(key: string): string {
  return `local rest = redis.call('PTTL', ${key})
  keep = rest == -1 or rest >= ttl`;
}

/**
 * Lua statements setting `retry` when a throttled subject's estimate exceeds a scaled
 * limit (code 2 with a limit factor below 1; the limiter refuses an estimate above the full limit
 * before any store call, and that one never fits). It fits once the throttle ends: when the
 * score `sc` (set at `st`) has decayed below `thrAt`, `half * log2(sc / thrAt)` after st.
 * Later violations can only push that further: a lower bound, like every retryAfterMs. At
 * least 1 ms: the throttle is in force now, and 0 would read as "no wait cures it"
 * (retryCannotHelp) at its last millisecond (throttle-end-retry.test.ts).
 * MemoryStore computes the same expression (memory-store.ts).
 */
export function throttleRetry(sc: string, st: string, half: string, thrAt: string): string {
  return `retry = math.ceil(${st} + ${half} * math.log(${sc} / ${thrAt}) / math.log(2) - now)
        if retry < 1 then retry = 1 end`;
}

function withPrelude(paramsAt: number, body: string): string {
  return `local P = ${paramsAt}\n${PRELUDE}\n${body}`;
}

/**
 * Acquire for one or two subjects. KEYS: rl, lease of each subject. ARGV: leaseId, tokens,
 * cost, and P: packed little-endian doubles (nine enforcement parameters, the lease TTL, then
 * nine limits per subject), precomputed once per tier by RedisStore, then the lease TTL again as a decimal string (for
 * PEXPIRE). Returns packed doubles:
 * {code, refusedSubject, refusedDim, retryAfterMs, nowMs, leaseExpiresAtMs} followed, per
 * subject, by {prevLevel, level, factor, leases, busy ms x8}.
 *
 * This is the hot path, so it is written out by hand: parameters and reply packed (parsing
 * two dozen arguments and building a two-dozen-element reply cost more than the algorithm),
 * no helper closures but one, the enforcement arithmetic only for subjects with enforcement
 * state, per subject a state table and a tentative-TAT table plus one flat table for all
 * subjects (no per-subject records), windows and amounts by branch rather than lookup tables,
 * and for one subject the reply in a single struct.pack. The logic is that of the prelude's helpers and of MemoryStore.
 */
const ACQUIRE_TEMPLATE = `
local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000 + tonumber(tm[2]) / 1000
local nsub = #KEYS / 2
__PARAMS__
local tokens = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local FMT = '<ddddddddddddd'

-- Level from a state array a (a[9] score, a[10] score time, a[11] blocked until, a[12] banned).
local function level_of(a)
  if a[12] == 1 then return 4 end
  if now < a[11] then return 3 end
  local sc = a[9]
  if sc == 0 then return 0 end
  local dt = now - a[10]
  if dt > 0 then sc = sc * math.pow(2, -dt / P[5]) end
  if sc >= P[2] then return 2 end
  if sc >= P[1] then return 1 end
  return 0
end

-- Per subject s, X[6s-5 .. 6s]: state array, level, limit factor, leases, dirty, new TATs.
local X = {}
local code, refSub, refDim, retry = 0, 0, 0, 0
for s = 1, nsub do
  local v = redis.call('GET', KEYS[2 * s - 1])
  local a
  if v then a = { struct.unpack(FMT, v) } else a = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 } end
  local lvl = 0
  if a[12] == 1 or a[9] ~= 0 or a[11] ~= 0 then lvl = level_of(a) end
  local factor = 1
  if lvl == 2 then factor = P[7] end
  local base = 10 + (s - 1) * 9
  local climit = P[base + 9]
  local leases = 0
  if climit > 0 then
    -- Live leases: the members after pruning the expired ones. An empty (or missing) set,
    -- the usual case when leases are settled, needs no prune.
    leases = redis.call('ZCARD', KEYS[2 * s])
    if leases > 0 then leases = leases - redis.call('ZREMRANGEBYSCORE', KEYS[2 * s], '-inf', now) end
  end
  local o = 6 * s - 6
  X[o + 1] = a; X[o + 2] = lvl; X[o + 3] = factor; X[o + 4] = leases; X[o + 5] = false
  if code == 0 then
    if lvl == 4 then
      code = 4; refSub = s
      ${banRetry('KEYS[2 * s - 1]', 'P[9]')}
    elseif lvl == 3 then
      code = 3; refSub = s; retry = math.ceil(a[11] - now)
    else
      -- New TATs go to nt (0: unchanged) and are committed once every subject admits.
      local nt = { 0, 0, 0, 0, 0, 0, 0, 0 }
      X[o + 6] = nt
      for i = 1, 8 do
        local limit = P[base + i]
        local amount, w
        if i <= 3 then amount = 1 elseif i <= 6 then amount = tokens else amount = cost end
        if limit > 0 and amount > 0 then
          if i == 1 or i == 4 then w = 60000 elseif i == 3 or i == 6 or i == 8 then w = 86400000 else w = 3600000 end
          if factor ~= 1 then
            limit = math.floor(limit * factor)
            if limit < 1 then limit = 1 end
          end
          if amount > limit then code = 2; refSub = s; refDim = i; break end
          local t = a[i]
          if t < now then t = now end
          t = t + amount * w / limit
          local over = t - now - w
          if over > 0.001 then code = 1; refSub = s; refDim = i; retry = math.ceil(over); break end
          nt[i] = t
        end
      end
      if code == 2 and factor ~= 1 then
        ${throttleRetry('a[9]', 'a[10]', 'P[5]', 'P[2]')}
      end
      if code == 0 and climit > 0 then
        local eff = climit
        if factor ~= 1 then
          eff = math.floor(climit * factor)
          if eff < 1 then eff = 1 end
        end
        if leases + 1 > eff then
          code = 1; refSub = s; refDim = 9
          local first = redis.call('ZRANGE', KEYS[2 * s], 0, 0, 'WITHSCORES')
          if first[2] then
            retry = math.ceil(tonumber(first[2]) - now)
            if retry < 0 then retry = 0 end
          end
        end
      end
    end
  end
end

-- Whole milliseconds, and the TTL as the string it came in (ARGV[5]): Redis 7.0 formats a Lua
-- number argument with snprintf("%.17g"), which cost about 1 us per call for a fractional
-- score; an integer formats faster and a string not at all (measured in-script).
local leaseExp = math.floor(now + P[10])
if code == 0 then
  for s = 1, nsub do
    local o = 6 * s - 6
    local a, nt = X[o + 1], X[o + 6]
    for i = 1, 8 do
      if nt[i] ~= 0 then a[i] = nt[i] end
    end
    X[o + 5] = true
    if P[10 + 9 * s] > 0 then
      redis.call('ZADD', KEYS[2 * s], leaseExp, ARGV[1])
      redis.call('PEXPIRE', KEYS[2 * s], __LEASE_TTL__)
      X[o + 4] = X[o + 4] + 1
    end
  end
elseif code == 1 and P[8] > 0 then
  -- The refusing subject earns a violation: decay, add, maybe block or ban.
  local a = X[6 * refSub - 5]
  local sc = a[9]
  local dt = now - a[10]
  if sc ~= 0 and dt > 0 then sc = sc * math.pow(2, -dt / P[5]) end
  sc = sc + P[8]
  a[9] = sc
  a[10] = now
  if sc >= P[4] then a[12] = 1
  elseif sc >= P[3] and now >= a[11] then a[11] = now + P[6] end
  X[6 * refSub - 1] = true
end

local reply
for s = 1, nsub do
  local o = 6 * s - 6
  local a, lvl, dirty = X[o + 1], X[o + 2], X[o + 5]
  if dirty then lvl = level_of(a) end
  local prev = a[13]
  if dirty or lvl ~= prev then
    -- TTL: until every bucket drains and the enforcement state lapses.
    local ttl = 0
    if a[12] == 1 then ttl = P[9]
    elseif a[9] ~= 0 or a[11] > now or lvl ~= 0 then
      ttl = 10 * P[5]
      if a[11] > now then ttl = ttl + a[11] - now end
    end
    for i = 1, 8 do
      if a[i] - now > ttl then ttl = a[i] - now end
    end
    ttl = math.ceil(ttl)
    if ttl < 1 then ttl = 1 end
    redis.call('SET', KEYS[2 * s - 1], struct.pack(FMT, a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], lvl), 'PX', ttl)
  end
  -- Busy time per dimension: the reply carries TAT - now; negative means empty. One subject
  -- (the common case): header and subject in one pack, no concatenation.
  if s == 1 then
    reply = struct.pack('<dddddddddddddddddd', code, refSub - 1, refDim - 1, retry, now, leaseExp, prev, lvl,
      X[3], X[4], a[1] - now, a[2] - now, a[3] - now, a[4] - now, a[5] - now, a[6] - now, a[7] - now, a[8] - now)
  else
    reply = reply .. struct.pack('<dddddddddddd', prev, lvl, X[o + 3], X[o + 4],
      a[1] - now, a[2] - now, a[3] - now, a[4] - now, a[5] - now, a[6] - now, a[7] - now, a[8] - now)
  end
end
return reply
`;

/**
 * Settle (charge or refund differences) and release the lease. KEYS: rl, lease of each
 * subject. ARGV: leaseId, requests, tokens, cost (differences), and P: packed doubles (nine
 * enforcement parameters, then per subject the limit factor and nine limits). Refunds never
 * create a key; charges may. Written out by hand like ACQUIRE_LUA (it runs once per request).
 */
const SETTLE_TEMPLATE = `
local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000 + tonumber(tm[2]) / 1000
local nsub = #KEYS / 2
__PARAMS__
local rq, tk, co = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local DELTA = { rq, rq, rq, tk, tk, tk, co, co }
local WIN = {60000, 3600000, 86400000, 60000, 3600000, 86400000, 3600000, 86400000}
local FMT = '<ddddddddddddd'
for s = 1, nsub do
  local key = KEYS[2 * s - 1]
  local base = 9 + (s - 1) * 10
  local factor = P[base + 1]
  local v = redis.call('GET', key)
  local a
  if v then a = { struct.unpack(FMT, v) } else a = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 } end
  local changed = false
  for i = 1, 8 do
    local limit = P[base + 1 + i]
    local d = DELTA[i]
    if limit > 0 and d ~= 0 and (v or d > 0) then
      if factor ~= 1 then
        limit = math.floor(limit * factor)
        if limit < 1 then limit = 1 end
      end
      local t = a[i]
      if d > 0 and t < now then t = now end
      t = t + d * WIN[i] / limit
      if t <= now then t = 0 end
      a[i] = t
      changed = true
    end
  end
  if changed then
    -- A ban's end is not the settle's to move: banned, only the buckets' need counts.
    local ttl = 0
    if a[12] == 1 then
    elseif a[9] ~= 0 or a[11] > now or a[13] ~= 0 then
      ttl = 10 * P[5]
      if a[11] > now then ttl = ttl + a[11] - now end
    end
    for i = 1, 8 do
      if a[i] - now > ttl then ttl = a[i] - now end
    end
    ttl = math.ceil(ttl)
    if ttl < 1 then ttl = 1 end
    local keep = false
    if a[12] == 1 then __BAN_KEEP__ end
    local packed = struct.pack(FMT, a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13])
    if keep then redis.call('SET', key, packed, 'KEEPTTL')
    else redis.call('SET', key, packed, 'PX', ttl) end
  end
  if P[base + 10] > 0 then redis.call('ZREM', KEYS[2 * s], ARGV[1]) end
end
return 1
`;

const SETTLE_BODY = SETTLE_TEMPLATE.replace('__BAN_KEEP__', settleBanKeep('key'));

/** The acquire script reading its parameters from ARGV[4] (packed) and the lease TTL from ARGV[5]. */
export const ACQUIRE_LUA = ACQUIRE_TEMPLATE.replace(
  '__PARAMS__',
  `local P
if nsub == 1 then P = { struct.unpack('<ddddddddddddddddddd', ARGV[4]) }
else P = { struct.unpack('<dddddddddddddddddddddddddddd', ARGV[4]) } end`,
).replace('__LEASE_TTL__', 'ARGV[5]');

/** The settle script reading its parameters from ARGV[5] (packed). */
export const SETTLE_LUA = SETTLE_BODY.replace(
  '__PARAMS__',
  `local P
if nsub == 1 then P = { struct.unpack('<ddddddddddddddddddd', ARGV[5]) }
else P = { struct.unpack('<ddddddddddddddddddddddddddddd', ARGV[5]) } end`,
);

/**
 * The acquire script with one tier combination's parameters written into it as constants
 * (`values` as ACQUIRE_LUA unpacks them from ARGV[4]; ARGV is then leaseId, tokens, cost).
 * RedisStore defines one per combination it meets, up to a bound: the client then sends only
 * short strings, where a Buffer argument switched ioredis to its buffer path (2-4 µs of Node
 * CPU more per call at c=64), and the script skips the unpack.
 */
export function bakedAcquireLua(values: readonly number[], leaseTtlMs: number): string {
  return ACQUIRE_TEMPLATE.replace('__PARAMS__', `local P = { ${values.map(luaNumber).join(', ')} }`).replace(
    '__LEASE_TTL__',
    `'${String(Math.ceil(leaseTtlMs))}'`,
  );
}

/** The settle script with one combination's parameters as constants (ARGV: leaseId, requests, tokens, cost). */
export function bakedSettleLua(values: readonly number[]): string {
  return SETTLE_BODY.replace('__PARAMS__', `local P = { ${values.map(luaNumber).join(', ')} }`);
}

/** A Lua literal for a double, exact: JS prints the shortest decimal that reads back as the same double. */
export function luaNumber(v: number): string {
  if (Number.isFinite(v)) return String(v);
  if (Number.isNaN(v)) return '(0/0)';
  return v > 0 ? '(1/0)' : '(-1/0)';
}

/** Records a violation. KEYS: rl. ARGV: weight, nine enforcement parameters. Returns {prev, level, score x1000}. */
export const VIOLATION_LUA = withPrelude(
  2,
  `
local tat, e = read(KEYS[1])
local prev = e.l
add_violation(e, tonumber(ARGV[1]))
local lvl = level_of(e)
write(KEYS[1], tat, e, lvl, key_ttl(tat, e, lvl))
return { prev, lvl, math.floor(e.s * 1000) }
`,
);

/** Reads a subject. KEYS: rl, lease. ARGV: unused, nine enforcement parameters. */
export const SNAPSHOT_LUA = withPrelude(
  2,
  `
local tat, e = read(KEYS[1])
local out = { math.floor(now) }
busy_us(out, tat)
out[#out + 1] = redis.call('ZCOUNT', KEYS[2], '(' .. now, '+inf')
out[#out + 1] = math.floor(decayed(e) * 1000)
local b = 0
if e.b > now then b = math.floor(e.b) end
out[#out + 1] = b
out[#out + 1] = e.x and 1 or 0
out[#out + 1] = level_of(e)
return out
`,
);

/** Lifts block, ban and score. KEYS: rl. ARGV: unused, nine enforcement parameters. Returns the level before. */
export const LIFT_LUA = withPrelude(
  2,
  `
local tat, e, exists = read(KEYS[1])
if not exists then return 0 end
local before = level_of(e)
e = { s = 0, t = 0, b = 0, x = false, l = 0 }
write(KEYS[1], tat, e, 0, key_ttl(tat, e, 0))
return before
`,
);

/** Bans until lifted (or banTtlMs). KEYS: rl. ARGV: unused, nine enforcement parameters. Returns the level before. */
export const BAN_LUA = withPrelude(
  2,
  `
local tat, e = read(KEYS[1])
local before = level_of(e)
e.x = true
write(KEYS[1], tat, e, 4, key_ttl(tat, e, 4))
return before
`,
);
