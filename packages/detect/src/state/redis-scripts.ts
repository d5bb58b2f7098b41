/**
 * The Lua scripts of the shared detection state (loaded once, called by EVALSHA through
 * ioredis defineCommand, which re-sends the body on NOSCRIPT).
 *
 * A group's state is one string `<version>|<body>` under `<prefix>:{<ruleset>:<field>:<group>}`:
 * the body is the condition states, pending events and open incidents (group-runner.ts), the
 * version a counter the CAS script bumps on every write. Each script touches one key, so on
 * a Redis Cluster it runs on the slot of its hash tag.
 */

/**
 * Compare-and-set. KEYS[1]: group key. ARGV: expected version (-1: "just tell me"), new body,
 * TTL ms. When the stored version equals the expected one (0 for a missing key), writes
 * `<version+1>|<body>` with the TTL and returns {1, version+1}; otherwise writes nothing and
 * returns {0, <stored string or ''>}, so a loser retries from the current state without a
 * second round trip. A write never shortens the key's remaining TTL: processes running
 * different rule lists (a rolling upgrade) share a group, and one without the other's
 * long-lived rule (a baseline) must not make the group expire under it.
 */
export const CAS_LUA = `
local cur = redis.call('GET', KEYS[1])
local v = 0
if cur then
  local sep = string.find(cur, '|', 1, true)
  v = tonumber(string.sub(cur, 1, sep - 1))
end
if v ~= tonumber(ARGV[1]) then return {0, cur or ''} end
v = v + 1
local ttl = tonumber(ARGV[3])
if cur then
  local left = redis.call('PTTL', KEYS[1])
  if left > ttl then ttl = left end
end
redis.call('SET', KEYS[1], v .. '|' .. ARGV[2], 'PX', ttl)
return {1, v}
`;

/**
 * The shared event-time clock: the newest event time any process has seen. KEYS[1]: clock key.
 * ARGV: event time ms (as text), TTL ms, and optionally a skew ms: then the time is first held
 * to the Redis server's clock (TIME) plus that skew, so a replica whose own clock runs ahead
 * (or a time it was told, stamped ahead) cannot move the fleet's clock past the server's and
 * make every other replica's events late. Keeps max(stored, time) and returns
 * {stored clock as text, server time ms as text} (the stored text when it is ARGV[1], so no
 * float formatting in Lua for a time that was not held). TIME is not deterministic: under
 * script replication (Redis < 5 by default) a write after it is refused, so the script asks
 * for effects replication first where that call exists (Redis >= 3.2; a no-op from 5 on, the
 * only mode from 7 on). On a Cluster TIME is the clock key's node's: one clock per key.
 */
export const CLOCK_LUA = `
if redis.replicate_commands then redis.replicate_commands() end
local tm = redis.call('TIME')
local server = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)
local t = ARGV[1]
if ARGV[3] then
  local bound = server + tonumber(ARGV[3])
  if tonumber(t) > bound then t = string.format('%.0f', bound) end
end
local st = string.format('%.0f', server)
local cur = redis.call('GET', KEYS[1])
if (not cur) or tonumber(t) > tonumber(cur) then
  redis.call('SET', KEYS[1], t, 'PX', ARGV[2])
  return {t, st}
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {cur, st}
`;

/**
 * Open-incident (resolve) index of one rule: a sorted set group key -> resolveAt, so any process
 * can find the incidents due for resolution. KEYS[1]: index. ARGV: TTL ms, cap, then triples
 * (op, member, score):
 * - op 1 sets the member's score if it is in the index, or adds it if fewer than `cap` members
 *   are; otherwise the member is refused (listed in the reply) and nothing in the index moves.
 *   The cap refuses the newcomer and never evicts an entry: an attacker who invents ids (each
 *   opening an incident, which needs the rule to fire) cannot push out an incident that exists.
 * - op 0 removes the member if its score is at most `score` (the resolved incident's resolveAt,
 *   or the watermark a stale entry was found due at): an entry a newer incident of the same group
 *   admitted meanwhile has a later score and stays.
 * Returns the refused members. (INDEX_LUA below is the form replicas of earlier versions use on
 * the same keys: op 1 always adds, the cap evicts the soonest due; they read the same entries.)
 */
export const OPEN_INDEX_LUA = `
local refused = {}
local cap = tonumber(ARGV[2])
local n = redis.call('ZCARD', KEYS[1])
for i = 3, #ARGV, 3 do
  local member = ARGV[i + 1]
  if ARGV[i] == '1' then
    if redis.call('ZSCORE', KEYS[1], member) then
      redis.call('ZADD', KEYS[1], ARGV[i + 2], member)
    elseif n < cap then
      redis.call('ZADD', KEYS[1], ARGV[i + 2], member)
      n = n + 1
    else
      refused[#refused + 1] = member
    end
  else
    local score = redis.call('ZSCORE', KEYS[1], member)
    if score and tonumber(score) <= tonumber(ARGV[i + 2]) then
      redis.call('ZREM', KEYS[1], member)
      n = n - 1
    end
  end
end
if n > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return refused
`;

/**
 * The shared pending index of one group-by table (groups with events pending, scored by their
 * oldest pending time), and the resolve index of replicas of earlier versions. KEYS[1]: index.
 * ARGV: TTL ms, cap, then triples (op, member, score): op 1 = set the score, 0 = remove. Past
 * `cap` members the ones due soonest are dropped and counted in the reply (a pending entry
 * dropped only delays an orphan's release: its sender releases its own groups).
 */
export const INDEX_LUA = `
for i = 3, #ARGV, 3 do
  if ARGV[i] == '1' then redis.call('ZADD', KEYS[1], ARGV[i + 2], ARGV[i + 1])
  else redis.call('ZREM', KEYS[1], ARGV[i + 1]) end
end
local evicted = 0
local n = redis.call('ZCARD', KEYS[1])
local cap = tonumber(ARGV[2])
if n > cap then
  evicted = n - cap
  redis.call('ZPOPMIN', KEYS[1], evicted)
end
if n > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return evicted
`;

/**
 * The fleet's adoption lease (one key, so Cluster-safe): KEYS[1] the lease, ARGV[1] the
 * caller's token, ARGV[2] its time to live (ms). Taken when free, renewed by its holder, so
 * one process keeps the adoption while it lives (its adopted copies are not taken up by every
 * replica in turn). Returns 1 when the caller holds it, 0 otherwise.
 */
export const LEASE_LUA = `
local v = redis.call('GET', KEYS[1])
if v == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`;

/** Gives the adoption lease up (KEYS[1]) if ARGV[1] holds it: a stopping holder's successor need not wait out its time. */
export const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;
