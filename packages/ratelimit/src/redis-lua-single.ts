/**
 * Straight-line acquire and settle scripts for ONE subject and one tier combination, generated
 * from its baked parameters. The algorithm, the arithmetic (operand for operand, so every
 * double comes out the same), the commands and the reply are those of redis-lua.ts's
 * templates for one subject; what differs is how the Lua is written:
 *
 * - the state's thirteen doubles unpack into locals, not a table (no table per call);
 * - every limit, window and interval is a literal, and the dimensions a tier leaves unset
 *   are not in the script at all (no parameter table per call, no loop, no branch on the
 *   dimension index);
 * - the checks for the throttled level are a second copy with the scaled limits written in.
 *
 * Measured in-script (`npm run bench:ratelimit:lua`): the template's table work and loops,
 * not Redis's commands, were most of the acquire's cost. redis-lua-single.test.ts runs both
 * versions on the same states and the same clock and compares replies, states and TTLs.
 */
import { luaNumber } from './redis-lua.ts';

const WINDOWS = [60_000, 3_600_000, 86_400_000, 60_000, 3_600_000, 86_400_000, 3_600_000, 86_400_000];
/** The amount each windowed dimension counts: one request, the tokens, the cost. */
const AMOUNT = ['1', '1', '1', 'tokens', 'tokens', 'tokens', 'cost', 'cost'];
const STATE = 't1, t2, t3, t4, t5, t6, t7, t8, sc, st, bu, bn, pl';
const TATS = ['t1', 't2', 't3', 't4', 't5', 't6', 't7', 't8'];

/** The enforcement parameters as the templates read them (P[1..9]). */
interface Enf {
  warnAt: string;
  thrAt: string;
  blkAt: string;
  banAt: string;
  half: string;
  blockMs: string;
  tf: number;
  weight: number;
  banTtl: string;
  tenHalves: string;
}

function enf(values: readonly number[]): Enf {
  const n = (i: number): string => luaNumber(values[i]!);
  return {
    warnAt: n(0),
    thrAt: n(1),
    blkAt: n(2),
    banAt: n(3),
    half: n(4),
    blockMs: n(5),
    tf: values[6]!,
    weight: values[7]!,
    banTtl: n(8),
    // `10 * P[5]` of the templates: the product of two doubles, the same in JS and Lua.
    tenHalves: luaNumber(10 * values[4]!),
  };
}

/** `math.floor(limit * factor)`, at least 1: the templates' scaled limit. */
function scaled(limit: number, factor: number): number {
  if (factor === 1) return limit;
  const v = Math.floor(limit * factor);
  return v < 1 ? 1 : v;
}

/** Lua statements setting `lvlVar` to the level of the state locals (the templates' level_of). */
function levelOf(lvlVar: string, e: Enf): string {
  return `if bn == 1 then ${lvlVar} = 4
elseif now < bu then ${lvlVar} = 3
elseif sc == 0 then ${lvlVar} = 0
else
  local s = sc
  local dt = now - st
  if dt > 0 then s = s * math.pow(2, -dt / ${e.half}) end
  if s >= ${e.thrAt} then ${lvlVar} = 2 elseif s >= ${e.warnAt} then ${lvlVar} = 1 else ${lvlVar} = 0 end
end`;
}

/** Lua statements writing the state (locals) with the templates' TTL rule; `lvl` is the level stored. */
function writeState(e: Enf, lvl: string): string {
  const maxTat = TATS.map((t) => `if ${t} - now > ttl then ttl = ${t} - now end`).join('\n');
  return `local ttl = 0
if bn == 1 then ttl = ${e.banTtl}
elseif sc ~= 0 or bu > now or ${lvl} ~= 0 then
  ttl = ${e.tenHalves}
  if bu > now then ttl = ttl + bu - now end
end
${maxTat}
ttl = math.ceil(ttl)
if ttl < 1 then ttl = 1 end
redis.call('SET', KEYS[1], struct.pack('<ddddddddddddd', t1, t2, t3, t4, t5, t6, t7, t8, sc, st, bu, bn, ${lvl}), 'PX', ttl)`;
}

/**
 * The windowed checks of one factor, inside `repeat ... until true` so that the first refusal
 * can `break` like the template's loop. New TATs go to n<i> (committed once all admit).
 */
function windowChecks(limits: readonly number[], factor: number): string {
  const out: string[] = [];
  for (let i = 0; i < 8; i++) {
    if (!(limits[i]! > 0)) continue;
    const limit = scaled(limits[i]!, factor);
    const w = WINDOWS[i]!;
    const amount = AMOUNT[i]!;
    const t = TATS[i]!;
    // `amount * w / limit`: for one request the product is w itself, so the quotient is folded
    // into a literal (the same double); for tokens and cost the expression stays as written.
    const step = amount === '1' ? luaNumber(w / limit) : `${amount} * ${luaNumber(w)} / ${luaNumber(limit)}`;
    const check = `local t = ${t}
  if t < now then t = now end
  t = t + ${step}
  local over = t - now - ${luaNumber(w)}
  if over > 0.001 then code = 1; refDim = ${i + 1}; retry = math.ceil(over); break end
  n${i + 1} = t`;
    if (amount === '1') out.push(`do\n  ${check}\nend`);
    else
      out.push(
        `if ${amount} > 0 then\n  if ${amount} > ${luaNumber(limit)} then code = 2; refDim = ${i + 1}; break end\n  ${check}\nend`,
      );
  }
  return `repeat\n${out.join('\n')}\nuntil true`;
}

/** Concurrency check of one factor (after the windowed checks admitted). */
function concurrencyCheck(climit: number, factor: number): string {
  if (!(climit > 0)) return '';
  return `if code == 0 and leases + 1 > ${luaNumber(scaled(climit, factor))} then
  code = 1; refDim = 9
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if first[2] then
    retry = math.ceil(tonumber(first[2]) - now)
    if retry < 0 then retry = 0 end
  end
end`;
}

/**
 * Acquire for one subject: `values` as the template's P (nine enforcement parameters, lease
 * TTL, nine limits). KEYS: rl, lease. ARGV: leaseId, tokens, cost. Same reply as the template.
 */
export function singleAcquireLua(values: readonly number[], leaseTtlMs: number): string {
  const e = enf(values);
  const leaseTtl = values[9]!;
  const limits = values.slice(10, 18);
  const climit = values[18]!;
  const throttled = e.tf === 1 ? '' : `if lvl == 2 then
${windowChecks(limits, e.tf)}
${concurrencyCheck(climit, e.tf)}
else
`;
  const commit = TATS.map((t, i) => `if n${i + 1} ~= 0 then ${t} = n${i + 1} end`).join('\n');
  const violation =
    e.weight > 0
      ? `elseif code == 1 then
  -- The refusing subject earns a violation: decay, add, maybe block or ban.
  local s = sc
  local dt = now - st
  if s ~= 0 and dt > 0 then s = s * math.pow(2, -dt / ${e.half}) end
  s = s + ${luaNumber(e.weight)}
  sc = s
  st = now
  if s >= ${e.banAt} then bn = 1
  elseif s >= ${e.blkAt} and now >= bu then bu = now + ${e.blockMs} end
  dirty = true`
      : '';
  const lease =
    climit > 0
      ? `redis.call('ZADD', KEYS[2], leaseExp, ARGV[1])
  redis.call('PEXPIRE', KEYS[2], '${String(Math.ceil(leaseTtlMs))}')
  leases = leases + 1`
      : '';
  return `local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000 + tonumber(tm[2]) / 1000
local tokens = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local v = redis.call('GET', KEYS[1])
local ${STATE}
if v then ${STATE} = struct.unpack('<ddddddddddddd', v)
else ${STATE} = 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 end
local lvl = 0
if bn == 1 or sc ~= 0 or bu ~= 0 then
${levelOf('lvl', e)}
end
local factor = 1
if lvl == 2 then factor = ${luaNumber(e.tf)} end
local leases = 0
${
  climit > 0
    ? `leases = redis.call('ZCARD', KEYS[2])
if leases > 0 then leases = leases - redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end`
    : ''
}
local code, refDim, retry = 0, 0, 0
local n1, n2, n3, n4, n5, n6, n7, n8 = 0, 0, 0, 0, 0, 0, 0, 0
if lvl == 4 then
  code = 4
elseif lvl == 3 then
  code = 3; retry = math.ceil(bu - now)
else
${throttled}${windowChecks(limits, 1)}
${concurrencyCheck(climit, 1)}
${e.tf === 1 ? '' : 'end'}
end
local refSub = 0
if code ~= 0 then refSub = 1 end
local leaseExp = math.floor(now + ${luaNumber(leaseTtl)})
local dirty = false
if code == 0 then
${commit}
  dirty = true
  ${lease}
${violation}
end
local prev = pl
if dirty then
${levelOf('lvl', e)}
end
if dirty or lvl ~= prev then
${writeState(e, 'lvl')}
end
return struct.pack('<dddddddddddddddddd', code, refSub - 1, refDim - 1, retry, now, leaseExp, prev, lvl,
  factor, leases, t1 - now, t2 - now, t3 - now, t4 - now, t5 - now, t6 - now, t7 - now, t8 - now)
`;
}

/**
 * Settle for one subject: `values` as the template's P (nine enforcement parameters, the limit
 * factor, nine limits). KEYS: rl, lease. ARGV: leaseId, requests, tokens, cost (differences).
 */
export function singleSettleLua(values: readonly number[]): string {
  const e = enf(values);
  const factor = values[9]!;
  const limits = values.slice(10, 18);
  const climit = values[18]!;
  const delta = ['rq', 'rq', 'rq', 'tk', 'tk', 'tk', 'co', 'co'];
  const dims: string[] = [];
  for (let i = 0; i < 8; i++) {
    if (!(limits[i]! > 0)) continue;
    const d = delta[i]!;
    const t = TATS[i]!;
    dims.push(`if ${d} ~= 0 and (v or ${d} > 0) then
  local t = ${t}
  if ${d} > 0 and t < now then t = now end
  t = t + ${d} * ${luaNumber(WINDOWS[i]!)} / ${luaNumber(scaled(limits[i]!, factor))}
  if t <= now then t = 0 end
  ${t} = t
  changed = true
end`);
  }
  return `local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000 + tonumber(tm[2]) / 1000
local rq, tk, co = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local v = redis.call('GET', KEYS[1])
local ${STATE}
if v then ${STATE} = struct.unpack('<ddddddddddddd', v)
else ${STATE} = 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 end
local changed = false
${dims.join('\n')}
if changed then
${writeState(e, 'pl')}
end
${climit > 0 ? `redis.call('ZREM', KEYS[2], ARGV[1])` : ''}
return 1
`;
}
