/**
 * The Lua scripts RedisStore runs (module-level constants, loaded once and called by EVALSHA
 * through ioredis defineCommand, which re-sends the body on NOSCRIPT). Each is the GCRA and
 * enforcement algorithm of memory-store.ts / enforcement.ts, line for line, on Redis's own
 * clock (TIME), so every replica agrees on time.
 *
 * Keys of one subject: `llmsec:{<subject>}:rl`, a hash with one field per windowed dimension
 * (its TAT, epoch ms) plus the enforcement fields s (score), t (score time), b (blocked
 * until), x (banned), l (level last reported); and `llmsec:{<subject>}:lease`, a sorted set
 * lease id -> expiry holding at most `concurrent` members. Every write sets a TTL.
 */

// Shared prelude. Enforcement parameters start at ARGV[P].
const PRELUDE = `
local WIN = {60000, 3600000, 86400000, 60000, 3600000, 86400000, 3600000, 86400000}
local UNIT = {0, 0, 0, 1, 1, 1, 2, 2}
local F = {'rpm', 'rph', 'rpd', 'tpm', 'tph', 'tpd', 'ch', 'cd'}
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

local function read(key)
  local v = redis.call('HMGET', key, 'rpm', 'rph', 'rpd', 'tpm', 'tph', 'tpd', 'ch', 'cd', 's', 't', 'b', 'x', 'l')
  local tat = {}
  for i = 1, 8 do tat[i] = tonumber(v[i]) or 0 end
  local e = { s = tonumber(v[9]) or 0, t = tonumber(v[10]) or 0, b = tonumber(v[11]) or 0, x = v[12] == '1', l = tonumber(v[13]) or 0 }
  return tat, e, v
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

local function enf_args(args, e)
  args[#args + 1] = 's'; args[#args + 1] = e.s
  args[#args + 1] = 't'; args[#args + 1] = e.t
  args[#args + 1] = 'b'; args[#args + 1] = e.b
  args[#args + 1] = 'x'; args[#args + 1] = e.x and 1 or 0
end

local function busy_us(out, tat)
  for i = 1, 8 do
    local b = tat[i] - now
    if b > 0 then out[#out + 1] = math.floor(b * 1000) else out[#out + 1] = 0 end
  end
end
`;

function withPrelude(paramsAt: number, body: string): string {
  return `local P = ${paramsAt}\n${PRELUDE}\n${body}`;
}

/**
 * Acquire for one or two subjects. KEYS: rl, lease of each subject. ARGV: nsub, leaseId,
 * leaseTtlMs, tokens, cost, nine enforcement parameters (6..14), then nine limits per subject.
 * Returns {code, refusedSubject, refusedDim, retryAfterMs, nowMs, leaseExpiresAtMs} followed,
 * per subject, by {prevLevel, level, factor ppm, leases, busy us x8}.
 */
export const ACQUIRE_LUA = withPrelude(
  6,
  `
local nsub = tonumber(ARGV[1])
local leaseId = ARGV[2]
local leaseTtl = tonumber(ARGV[3])
local tokens = tonumber(ARGV[4])
local cost = tonumber(ARGV[5])
local subs = {}
local code, refSub, refDim, retry = 0, -1, -1, 0

for s = 1, nsub do
  local tat, e = read(KEYS[2 * s - 1])
  local lvl = level_of(e)
  local factor = 1
  if lvl == 2 then factor = tf end
  local base = 14 + (s - 1) * 9
  local sub = { tat = tat, e = e, factor = factor, base = base, leases = 0, args = {}, enf = false }
  subs[s] = sub
  local climit = tonumber(ARGV[base + 9])
  if climit > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[2 * s], '-inf', now)
    sub.leases = redis.call('ZCARD', KEYS[2 * s])
  end
  if code == 0 then
    if lvl == 4 then
      code = 4; refSub = s
    elseif lvl == 3 then
      code = 3; refSub = s; retry = math.ceil(e.b - now)
    else
      for i = 1, 8 do
        local limit = tonumber(ARGV[base + i])
        if limit > 0 then
          local amount = 1
          if UNIT[i] == 1 then amount = tokens elseif UNIT[i] == 2 then amount = cost end
          if amount > 0 then
            local eff = scaled(limit, factor)
            if amount > eff then code = 2; refSub = s; refDim = i; break end
            local st = tat[i]
            if st < now then st = now end
            local over = st + amount * WIN[i] / eff - now - WIN[i]
            if over > EPS then code = 1; refSub = s; refDim = i; retry = math.ceil(over); break end
          end
        end
      end
      if code == 0 and climit > 0 and sub.leases + 1 > scaled(climit, factor) then
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

local leaseExp = now + leaseTtl
if code == 0 then
  for s = 1, nsub do
    local sub = subs[s]
    for i = 1, 8 do
      local limit = tonumber(ARGV[sub.base + i])
      if limit > 0 then
        local amount = 1
        if UNIT[i] == 1 then amount = tokens elseif UNIT[i] == 2 then amount = cost end
        if amount > 0 then
          local st = sub.tat[i]
          if st < now then st = now end
          sub.tat[i] = st + amount * WIN[i] / scaled(limit, sub.factor)
          sub.args[#sub.args + 1] = F[i]
          sub.args[#sub.args + 1] = sub.tat[i]
        end
      end
    end
    if tonumber(ARGV[sub.base + 9]) > 0 then
      redis.call('ZADD', KEYS[2 * s], leaseExp, leaseId)
      redis.call('PEXPIRE', KEYS[2 * s], math.ceil(leaseTtl))
      sub.leases = sub.leases + 1
    end
  end
elseif code == 1 and weight > 0 then
  add_violation(subs[refSub].e, weight)
  subs[refSub].enf = true
end

local out = { code, refSub - 1, refDim - 1, retry, math.floor(now), math.floor(leaseExp) }
if refSub < 0 then out[2] = -1 end
if refDim < 0 then out[3] = -1 end
for s = 1, nsub do
  local sub = subs[s]
  local e = sub.e
  local lvl = level_of(e)
  local args = sub.args
  if sub.enf then enf_args(args, e) end
  if lvl ~= e.l then args[#args + 1] = 'l'; args[#args + 1] = lvl end
  if #args > 0 then
    redis.call('HSET', KEYS[2 * s - 1], unpack(args))
    redis.call('PEXPIRE', KEYS[2 * s - 1], key_ttl(sub.tat, e, lvl))
  end
  out[#out + 1] = e.l
  out[#out + 1] = lvl
  out[#out + 1] = math.floor(sub.factor * 1000000 + 0.5)
  out[#out + 1] = sub.leases
  busy_us(out, sub.tat)
end
return out
`,
);

/**
 * Settle (charge or refund differences) and release the lease. KEYS: rl, lease of each
 * subject. ARGV: nsub, leaseId, requests, tokens, cost, then per subject: factor and the eight
 * windowed limits. Refunds never create a key; charges may, always with a TTL.
 */
export const SETTLE_LUA = `
local WIN = {60000, 3600000, 86400000, 60000, 3600000, 86400000, 3600000, 86400000}
local UNIT = {0, 0, 0, 1, 1, 1, 2, 2}
local F = {'rpm', 'rph', 'rpd', 'tpm', 'tph', 'tpd', 'ch', 'cd'}
local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000 + tonumber(tm[2]) / 1000
local nsub = tonumber(ARGV[1])
local leaseId = ARGV[2]
local delta = { tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]) }
for s = 1, nsub do
  local key = KEYS[2 * s - 1]
  local base = 5 + (s - 1) * 9
  local factor = tonumber(ARGV[base + 1])
  local v = redis.call('HMGET', key, 'rpm', 'rph', 'rpd', 'tpm', 'tph', 'tpd', 'ch', 'cd')
  local set, del, maxTat = {}, {}, now
  for i = 1, 8 do
    local limit = tonumber(ARGV[base + 1 + i])
    local d = delta[UNIT[i] + 1]
    if limit > 0 and d ~= 0 then
      local eff = limit
      if factor ~= 1 then
        eff = math.floor(limit * factor)
        if eff < 1 then eff = 1 end
      end
      local stored = tonumber(v[i]) or 0
      if d > 0 and stored < now then stored = now end
      local nxt = stored + d * WIN[i] / eff
      if nxt <= now then
        if v[i] then del[#del + 1] = F[i] end
      else
        set[#set + 1] = F[i]
        set[#set + 1] = nxt
        if nxt > maxTat then maxTat = nxt end
      end
    end
  end
  if #del > 0 then redis.call('HDEL', key, unpack(del)) end
  if #set > 0 then
    redis.call('HSET', key, unpack(set))
    local need = math.ceil(maxTat - now)
    if need < 1 then need = 1 end
    if redis.call('PTTL', key) < need then redis.call('PEXPIRE', key, need) end
  end
  redis.call('ZREM', KEYS[2 * s], leaseId)
end
return 1
`;

/** Records a violation. KEYS: rl. ARGV: weight, nine enforcement parameters. Returns {prev, level, score x1000}. */
export const VIOLATION_LUA = withPrelude(
  2,
  `
local tat, e = read(KEYS[1])
local prev = e.l
add_violation(e, tonumber(ARGV[1]))
local lvl = level_of(e)
local args = {}
enf_args(args, e)
args[#args + 1] = 'l'; args[#args + 1] = lvl
redis.call('HSET', KEYS[1], unpack(args))
redis.call('PEXPIRE', KEYS[1], key_ttl(tat, e, lvl))
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
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local tat, e = read(KEYS[1])
local before = level_of(e)
redis.call('HDEL', KEYS[1], 's', 't', 'b', 'x')
redis.call('HSET', KEYS[1], 'l', 0)
e = { s = 0, t = 0, b = 0, x = false, l = 0 }
redis.call('PEXPIRE', KEYS[1], key_ttl(tat, e, 0))
return before
`,
);

/** Bans until lifted (or banTtlMs). KEYS: rl. ARGV: unused, nine enforcement parameters. Returns the level before. */
export const BAN_LUA = withPrelude(
  2,
  `
local tat, e = read(KEYS[1])
local before = level_of(e)
redis.call('HSET', KEYS[1], 'x', 1, 'l', 4)
e.x = true
redis.call('PEXPIRE', KEYS[1], key_ttl(tat, e, 4))
return before
`,
);
