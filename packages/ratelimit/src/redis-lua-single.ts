/**
 * Straight-line acquire and settle scripts for one subject, or for a primary and a secondary
 * subject on standalone Redis, and one tier combination, generated from its baked parameters.
 * The algorithm, the arithmetic (operand for operand, so every double comes out the same),
 * the commands in their order and the reply are those of redis-lua.ts's templates; what
 * differs is how the Lua is written:
 *
 * - the state's thirteen doubles unpack into locals, not a table (no table per call);
 * - every limit, window and interval is a literal, and the dimensions a tier leaves unset
 *   are not in the script at all (no parameter table per call, no loop, no branch on the
 *   dimension index);
 * - the checks for the throttled level are a second copy with the scaled limits written in;
 * - with a concurrency limit, the state carries two lease horizons after its thirteen doubles
 *   and ZREMRANGEBYSCORE and PEXPIRE are skipped while they would change nothing
 *   (redis-lua-lease.ts): the same leases are counted, with fewer commands;
 * - a state holding no enforcement records its key's expiry and keeps the TTL while it covers
 *   the state's need (redis-lua-expiry.ts): the same state lives at least as long, with a
 *   cheaper SET.
 *
 * Measured in-script (`npm run bench:ratelimit:lua`): the template's table work and loops,
 * not Redis's commands, were most of the acquire's cost. redis-lua-single.test.ts runs both
 * versions on the same states and the same clock and compares replies and every command sent.
 */
import { banRetry, luaNumber, settleBanKeep, throttleRetry } from './redis-lua.ts';
import { keepOrExtend, readNarrowState, setState } from './redis-lua-expiry.ts';
import { BATCH_PRELUDE_END, CLOCK_PRELUDE } from './redis-lua-batch.ts';
import {
  addLease,
  countLeases,
  leaseExpiry,
  readStateWithHorizons,
  STATE_WITH_HORIZONS_BYTES,
} from './redis-lua-lease.ts';
import { STATE_WITH_HORIZONS_AND_EXPIRY } from './redis-lua-expiry.ts';

const WINDOWS = [60_000, 3_600_000, 86_400_000, 60_000, 3_600_000, 86_400_000, 3_600_000, 86_400_000];
/** The amount each windowed dimension counts: one request, the tokens, the cost. */
const AMOUNT = ['1', '1', '1', 'tokens', 'tokens', 'tokens', 'cost', 'cost'];

/** Lua names of one subject's locals and keys: plain for one subject, suffixed `_1`/`_2` for two. */
interface Vars {
  s: number;
  t: string[];
  n: string[];
  sc: string;
  st: string;
  bu: string;
  bn: string;
  pl: string;
  lvl: string;
  factor: string;
  leases: string;
  /** Lease horizons (redis-lua-lease.ts): no lease expires before hz; the lease key expires at ke. */
  hz: string;
  ke: string;
  /** A lower bound of when the state key expires, 0 unknown (redis-lua-expiry.ts). */
  se: string;
  dirty: string;
  prev: string;
  v: string;
  state: string;
  rl: string;
  lease: string;
  /** Statement naming the refusing subject at a refusal ('' for one subject: set once after). */
  setRef: string;
}

function vars(s: number, suffix: string): Vars {
  const x = (name: string): string => name + suffix;
  const t = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => x(`t${i}`));
  return {
    s,
    t,
    n: [1, 2, 3, 4, 5, 6, 7, 8].map((i) => x(`n${i}`)),
    sc: x('sc'),
    st: x('st'),
    bu: x('bu'),
    bn: x('bn'),
    pl: x('pl'),
    lvl: x('lvl'),
    factor: x('factor'),
    leases: x('leases'),
    hz: x('hz'),
    ke: x('ke'),
    se: x('se'),
    dirty: x('dirty'),
    prev: x('prev'),
    v: x('v'),
    state: [...t, x('sc'), x('st'), x('bu'), x('bn'), x('pl')].join(', '),
    rl: `KEYS[${2 * s - 1}]`,
    lease: `KEYS[${2 * s}]`,
    setRef: suffix === '' ? '' : ` refSub = ${s};`,
  };
}

const ONE = vars(1, '');
const STATE = ONE.state;
const TATS = ONE.t;

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

/** Lua statements setting `lvlVar` to the level of a subject's state (the templates' level_of). */
function levelOf(lvlVar: string, e: Enf, v: Vars = ONE): string {
  return `if ${v.bn} == 1 then ${lvlVar} = 4
elseif now < ${v.bu} then ${lvlVar} = 3
elseif ${v.sc} == 0 then ${lvlVar} = 0
else
  local s = ${v.sc}
  local dt = now - ${v.st}
  if dt > 0 then s = s * math.pow(2, -dt / ${e.half}) end
  if s >= ${e.thrAt} then ${lvlVar} = 2 elseif s >= ${e.warnAt} then ${lvlVar} = 1 else ${lvlVar} = 0 end
end`;
}

/**
 * Lua statements writing a subject's state with the templates' TTL rule; `lvl` is the level
 * stored. `wide` (a tier with a concurrency limit): a Lua condition under which the lease
 * horizons follow the thirteen doubles and a state holding no enforcement lives at least as
 * long as the lease key (ke), so that later acquires find them while the lease set exists
 * (one holding a ban, block or score keeps the templates' TTL). Otherwise the thirteen
 * doubles alone, as before (horizons unknown to the next reader). Either form ends with the
 * key's expiry `se`, and a write the key's TTL covers keeps it (redis-lua-expiry.ts).
 * `settle`: a state holding a ban keeps its key's TTL unless a bucket needs longer
 * (settleBanKeep, as the template's settle).
 */
function writeState(e: Enf, lvl: string, v: Vars = ONE, wide?: string, settle = false): string {
  const maxTat = v.t.map((t) => `if ${t} - now > ttl then ttl = ${t} - now end`).join('\n');
  const doubles = `${v.t.join(', ')}, ${v.sc}, ${v.st}, ${v.bu}, ${v.bn}, ${lvl}`;
  const narrow = setState(v.rl, `struct.pack('<dddddddddddddd', ${doubles}, ${v.se})`);
  // A settle leaves a ban's TTL at 0 here (only the buckets' need) and exact (se unknown).
  const enforcementTtl = `local ttl = 0
if ${v.bn} == 1 then ${settle ? '' : `ttl = ${e.banTtl}`}
elseif ${v.sc} ~= 0 or ${v.bu} > now or ${lvl} ~= 0 then
  ttl = ${e.tenHalves}
  if ${v.bu} > now then ttl = ttl + ${v.bu} - now end
end
local exact = ttl ~= 0${settle ? ` or ${v.bn} == 1` : ''}`;
  const banKeep = settle ? `\nif ${v.bn} == 1 then ${settleBanKeep(v.rl)} end` : '';
  if (wide === undefined)
    return `${enforcementTtl}
${maxTat}
ttl = math.ceil(ttl)
if ttl < 1 then ttl = 1 end
${keepOrExtend(v.se)}${banKeep}
${narrow}`;
  // Only a state holding no enforcement (its TTL 0 so far) is kept alive for its horizons: a
  // ban, block or score still lapses when the templates say (banTtlMs may be shorter than the
  // lease key's life); a state that expires first just leaves the horizons unknown.
  const wideSet = setState(
    v.rl,
    `struct.pack('<${'d'.repeat(STATE_WITH_HORIZONS_AND_EXPIRY)}', ${doubles}, ${v.hz}, ${v.ke}, ${v.se})`,
  );
  return `${enforcementTtl}
local wide = ${wide}
if wide and not exact and ${v.ke} - now > 0 then ttl = ${v.ke} - now end
${maxTat}
ttl = math.ceil(ttl)
if ttl < 1 then ttl = 1 end
${keepOrExtend(v.se)}${banKeep}
if wide then ${wideSet}
else ${narrow} end`;
}

/**
 * When an acquire writes the lease horizons: while another live lease than its own is in the
 * set. A subject holding one lease at a time (its set deleted at every settle) keeps the
 * narrow state (112 bytes: the thirteen doubles and se) and pays nothing for them; the second of overlapping acquires reads them
 * (ZRANGE) once and writes them.
 */
const acquireWide = (v: Vars): string => `(${v.leases} > 1 or (code ~= 0 and ${v.leases} > 0))`;

/**
 * The windowed checks of one factor, inside `repeat ... until true` so that the first refusal
 * can `break` like the template's loop. New TATs go to n<i> (committed once all admit).
 */
function windowChecks(limits: readonly number[], factor: number, v: Vars = ONE): string {
  const out: string[] = [];
  for (let i = 0; i < 8; i++) {
    if (!(limits[i]! > 0)) continue;
    const limit = scaled(limits[i]!, factor);
    const w = WINDOWS[i]!;
    const amount = AMOUNT[i]!;
    const t = v.t[i]!;
    // `amount * w / limit`: for one request the product is w itself, so the quotient is folded
    // into a literal (the same double); for tokens and cost the expression stays as written.
    const step = amount === '1' ? luaNumber(w / limit) : `${amount} * ${luaNumber(w)} / ${luaNumber(limit)}`;
    const check = `local t = ${t}
  if t < now then t = now end
  t = t + ${step}
  local over = t - now - ${luaNumber(w)}
  if over > 0.001 then code = 1;${v.setRef} refDim = ${i + 1}; retry = math.ceil(over); break end
  ${v.n[i]} = t`;
    if (amount === '1') out.push(`do\n  ${check}\nend`);
    else
      out.push(
        `if ${amount} > 0 then\n  if ${amount} > ${luaNumber(limit)} then code = 2;${v.setRef} refDim = ${i + 1}; break end\n  ${check}\nend`,
      );
  }
  return `repeat\n${out.join('\n')}\nuntil true`;
}

/** Concurrency check of one factor (after the windowed checks admitted). */
function concurrencyCheck(climit: number, factor: number, v: Vars = ONE): string {
  if (!(climit > 0)) return '';
  return `if code == 0 and ${v.leases} + 1 > ${luaNumber(scaled(climit, factor))} then
  code = 1;${v.setRef} refDim = 9
  local first = redis.call('ZRANGE', ${v.lease}, 0, 0, 'WITHSCORES')
  if first[2] then
    retry = math.ceil(tonumber(first[2]) - now)
    if retry < 0 then retry = 0 end
  end
end`;
}

/**
 * Whether a one-subject script of these baked values (acquire's or settle's: nine limits at
 * 10..18) is called without the lease key and lease id: a tier without a concurrency limit
 * never touches them, and every argument costs Redis parsing and Node encoding per call.
 */
export function leanArgs(values: readonly number[]): boolean {
  return values.length === 19 && !(values[18]! > 0);
}

/**
 * Acquire for one subject: `values` as the template's P (nine enforcement parameters, lease
 * TTL, nine limits). KEYS: rl, lease. ARGV: leaseId, tokens, cost; without a concurrency
 * limit (leanArgs) KEYS: rl and ARGV: tokens, cost. Same reply as the template, except that
 * an admission at level normal (before and after) answers in the compact form of
 * redis-reply.ts (the template's values that are constants there left out).
 */
export function singleAcquireLua(values: readonly number[], leaseTtlMs: number): string {
  const e = enf(values);
  const leaseTtl = values[9]!;
  const limits = values.slice(10, 18);
  const climit = values[18]!;
  const throttled =
    e.tf === 1
      ? ''
      : `if lvl == 2 then
${windowChecks(limits, e.tf)}
if code == 2 then ${throttleRetry('sc', 'st', e.half, e.thrAt)} end
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
  const lease = climit > 0 ? addLease(ONE, 'ARGV[1]', leaseTtlMs) : '';
  // Without a concurrency limit the lease key and id are not sent (leanArgs): ARGV is tokens, cost.
  const a = climit > 0 ? 1 : 0;
  return `${CLOCK_PRELUDE}${leaseExpiry(luaNumber(leaseTtl), climit > 0)}${BATCH_PRELUDE_END}local tokens = tonumber(ARGV[${a + 1}])
local cost = tonumber(ARGV[${a + 2}])
local v = redis.call('GET', KEYS[1])
${climit > 0 ? readStateWithHorizons('v', STATE, ONE) : readNarrowState('v', STATE, ONE.se)}
local lvl = 0
if bn == 1 or sc ~= 0 or bu ~= 0 then
${levelOf('lvl', e)}
end
local factor = 1
if lvl == 2 then factor = ${luaNumber(e.tf)} end
local leases = 0
${climit > 0 ? countLeases(ONE) : ''}
local code, refDim, retry = 0, 0, 0
local n1, n2, n3, n4, n5, n6, n7, n8 = 0, 0, 0, 0, 0, 0, 0, 0
if lvl == 4 then
  code = 4
  ${banRetry('KEYS[1]', e.banTtl)}
elseif lvl == 3 then
  code = 3; retry = math.ceil(bu - now)
else
${throttled}${windowChecks(limits, 1)}
${concurrencyCheck(climit, 1)}
${e.tf === 1 ? '' : 'end'}
end
local refSub = 0
if code ~= 0 then refSub = 1 end
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
${writeState(e, 'lvl', ONE, climit > 0 ? acquireWide(ONE) : undefined)}
end
if code == 0 and prev == 0 and lvl == 0 and factor == 1 then
  return struct.pack('<ddddddddddd', now, leaseExp, leases,
    t1 - now, t2 - now, t3 - now, t4 - now, t5 - now, t6 - now, t7 - now, t8 - now)
end
return struct.pack('<dddddddddddddddddd', code, refSub - 1, refDim - 1, retry, now, leaseExp, prev, lvl,
  factor, leases, t1 - now, t2 - now, t3 - now, t4 - now, t5 - now, t6 - now, t7 - now, t8 - now)
`;
}

/**
 * Settle for one subject: `values` as the template's P (nine enforcement parameters, the limit
 * factor, nine limits). KEYS: rl, lease. ARGV: leaseId, requests, tokens, cost (differences);
 * without a concurrency limit (leanArgs) KEYS: rl and ARGV: requests, tokens, cost.
 */
export function singleSettleLua(values: readonly number[]): string {
  const e = enf(values);
  // Without a concurrency limit the lease key and id are not sent (leanArgs): ARGV is the differences.
  const a = values[18]! > 0 ? 1 : 0;
  return `local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000 + tonumber(tm[2]) / 1000
local rq, tk, co = tonumber(ARGV[${a + 1}]), tonumber(ARGV[${a + 2}]), tonumber(ARGV[${a + 3}])
${settleSubject(e, ONE, values[9]!, values.slice(10, 18), values[18]!)}
return 1
`;
}

/** Statements settling one subject (the template's loop body): GET, differences, SET, ZREM. */
function settleSubject(e: Enf, v: Vars, factor: number, limits: readonly number[], climit: number): string {
  const delta = ['rq', 'rq', 'rq', 'tk', 'tk', 'tk', 'co', 'co'];
  const dims: string[] = [];
  for (let i = 0; i < 8; i++) {
    if (!(limits[i]! > 0)) continue;
    const d = delta[i]!;
    const t = v.t[i]!;
    dims.push(`if ${d} ~= 0 and (v or ${d} > 0) then
  local t = ${t}
  if ${d} > 0 and t < now then t = now end
  t = t + ${d} * ${luaNumber(WINDOWS[i]!)} / ${luaNumber(scaled(limits[i]!, factor))}
  if t <= now then t = 0 end
  ${t} = t
  changed = true
end`);
  }
  // A tier with a concurrency limit carries the lease horizons through unchanged, in the form
  // it read them (a removed lease leaves hz a lower bound; the key's expiry is not touched).
  const read = climit > 0 ? readStateWithHorizons('v', v.state, v) : readNarrowState('v', v.state, v.se);
  return `local v = redis.call('GET', ${v.rl})
${read}
local changed = false
${dims.join('\n')}
if changed then
${writeState(e, v.pl, v, climit > 0 ? `(v and #v >= ${STATE_WITH_HORIZONS_BYTES})` : undefined, true)}
end
${climit > 0 ? `redis.call('ZREM', ${v.lease}, ARGV[1])` : ''}`;
}

/** Statements reading subject `v` (GET, level, factor, live leases), as the template's loop does. */
function readSubject(e: Enf, v: Vars, climit: number): string {
  const read = climit > 0 ? readStateWithHorizons(v.v, v.state, v) : readNarrowState(v.v, v.state, v.se);
  return `local ${v.v} = redis.call('GET', ${v.rl})
${read}
local ${v.lvl} = 0
if ${v.bn} == 1 or ${v.sc} ~= 0 or ${v.bu} ~= 0 then
${levelOf(v.lvl, e, v)}
end
local ${v.factor} = 1
if ${v.lvl} == 2 then ${v.factor} = ${luaNumber(e.tf)} end
local ${v.leases} = 0
${climit > 0 ? countLeases(v) : ''}
local ${v.n.join(', ')} = 0, 0, 0, 0, 0, 0, 0, 0`;
}

/** Statements checking subject `v` when no subject refused yet. */
function checkSubject(e: Enf, v: Vars, limits: readonly number[], climit: number): string {
  const normal = `${windowChecks(limits, 1, v)}\n${concurrencyCheck(climit, 1, v)}`;
  const checks =
    e.tf === 1
      ? normal
      : `if ${v.lvl} == 2 then\n${windowChecks(limits, e.tf, v)}\nif code == 2 then ${throttleRetry(v.sc, v.st, e.half, e.thrAt)} end\n${concurrencyCheck(climit, e.tf, v)}\nelse\n${normal}\nend`;
  return `if code == 0 then
  if ${v.lvl} == 4 then
    code = 4;${v.setRef}
    ${banRetry(v.rl, e.banTtl)}
  elseif ${v.lvl} == 3 then
    code = 3;${v.setRef} retry = math.ceil(${v.bu} - now)
  else
${checks}
  end
end`;
}

/** The violation the refusing subject earns (the template's code == 1 branch). */
function violation(e: Enf, v: Vars): string {
  return `local s = ${v.sc}
  local dt = now - ${v.st}
  if s ~= 0 and dt > 0 then s = s * math.pow(2, -dt / ${e.half}) end
  s = s + ${luaNumber(e.weight)}
  ${v.sc} = s
  ${v.st} = now
  if s >= ${e.banAt} then ${v.bn} = 1
  elseif s >= ${e.blkAt} and now >= ${v.bu} then ${v.bu} = now + ${e.blockMs} end
  ${v.dirty} = true`;
}

/**
 * Acquire for two subjects (primary, secondary) on standalone Redis: `values` as the
 * template's P (nine enforcement parameters, lease TTL, nine limits per subject). KEYS: rl,
 * lease of each subject. ARGV: leaseId, tokens, cost. Same commands, order and reply as the template.
 */
export function pairAcquireLua(values: readonly number[], leaseTtlMs: number): string {
  const e = enf(values);
  const leaseTtl = values[9]!;
  const subs = [vars(1, '_1'), vars(2, '_2')];
  const limitsOf = (i: number): number[] => values.slice(10 + 9 * i, 18 + 9 * i);
  const climitOf = (i: number): number => values[18 + 9 * i]!;
  const commit = subs
    .map((v, i) => {
      const lease = climitOf(i) > 0 ? addLease(v, 'ARGV[1]', leaseTtlMs) : '';
      const tats = v.t.map((t, k) => `if ${v.n[k]} ~= 0 then ${t} = ${v.n[k]} end`).join('\n');
      return `${tats}\n  ${v.dirty} = true\n  ${lease}`;
    })
    .join('\n');
  const violations =
    e.weight > 0
      ? `elseif code == 1 then
  -- The refusing subject earns a violation: decay, add, maybe block or ban.
  if refSub == 1 then
  ${violation(e, subs[0]!)}
  else
  ${violation(e, subs[1]!)}
  end`
      : '';
  const finish = (v: Vars, i: number): string => `local ${v.prev} = ${v.pl}
if ${v.dirty} then
${levelOf(v.lvl, e, v)}
end
if ${v.dirty} or ${v.lvl} ~= ${v.prev} then
${writeState(e, v.lvl, v, climitOf(i) > 0 ? acquireWide(v) : undefined)}
end`;
  const busy = (v: Vars): string => v.t.map((t) => `${t} - now`).join(', ');
  const [a, b] = subs as [Vars, Vars];
  return `${CLOCK_PRELUDE}${leaseExpiry(luaNumber(leaseTtl), climitOf(0) > 0 || climitOf(1) > 0)}${BATCH_PRELUDE_END}local tokens = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local code, refSub, refDim, retry = 0, 0, 0, 0
${readSubject(e, a, climitOf(0))}
${checkSubject(e, a, limitsOf(0), climitOf(0))}
${readSubject(e, b, climitOf(1))}
${checkSubject(e, b, limitsOf(1), climitOf(1))}
local ${a.dirty}, ${b.dirty} = false, false
if code == 0 then
${commit}
${violations}
end
${finish(a, 0)}
local reply = struct.pack('<dddddddddddddddddd', code, refSub - 1, refDim - 1, retry, now, leaseExp, ${a.prev}, ${a.lvl},
  ${a.factor}, ${a.leases}, ${busy(a)})
${finish(b, 1)}
return reply .. struct.pack('<dddddddddddd', ${b.prev}, ${b.lvl}, ${b.factor}, ${b.leases}, ${busy(b)})
`;
}

/**
 * Settle for two subjects: `values` as the template's P (nine enforcement parameters, then per
 * subject the limit factor and nine limits). KEYS: rl, lease of each subject. ARGV: leaseId,
 * requests, tokens, cost (differences).
 */
export function pairSettleLua(values: readonly number[]): string {
  const e = enf(values);
  const blocks = [0, 1].map((i) => {
    const v = vars(i + 1, '');
    const base = 9 + 10 * i;
    return `do\n${settleSubject(e, v, values[base]!, values.slice(base + 1, base + 9), values[base + 9]!)}\nend`;
  });
  return `local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000 + tonumber(tm[2]) / 1000
local rq, tk, co = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
${blocks.join('\n')}
return 1
`;
}
