/**
 * The Lua scripts of the shared detection state (loaded once, called by EVALSHA through
 * ioredis defineCommand, which re-sends the body on NOSCRIPT).
 *
 * A group's state is one string `<version>|<body>` under `<prefix>:{<ruleset>:<table>:<group>}`:
 * the body is the condition states, pending events and open incidents (group-runner.ts), the
 * version a counter the CAS script bumps on every write. Each script touches one key, so on
 * a Redis Cluster it runs on the slot of its hash tag.
 */

/**
 * Compare-and-set. KEYS[1]: group key. ARGV: expected version (-1: "just tell me"), new body,
 * TTL ms. When the stored version equals the expected one (0 for a missing key), writes
 * `<version+1>|<body>` with the TTL and returns {1, version+1}; otherwise writes nothing and
 * returns {0, <stored string or ''>}, so a loser retries from the current state without a
 * second round trip.
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
redis.call('SET', KEYS[1], v .. '|' .. ARGV[2], 'PX', ARGV[3])
return {1, v}
`;

/**
 * The shared event-time clock: the newest event time any process has seen. KEYS[1]: clock key.
 * ARGV: event time ms (as text), TTL ms. Keeps max(stored, ARGV[1]) and returns it as text
 * (the stored text, so no float formatting in Lua).
 */
export const CLOCK_LUA = `
local cur = redis.call('GET', KEYS[1])
if (not cur) or tonumber(ARGV[1]) > tonumber(cur) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return cur
`;

/**
 * Open-incident index of one rule: a sorted set group key -> resolveAt, so any process can
 * find the incidents due for resolution. KEYS[1]: index. ARGV: TTL ms, cap, then pairs of
 * (op, member, score): op 1 = set the score, 0 = remove. Past `cap` members the ones due
 * soonest are dropped (an attacker who invents ids cannot grow it) and counted in the reply.
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
