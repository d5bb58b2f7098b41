/**
 * The batched variant of a straight-line script (redis-lua-single.ts): N calls of the same
 * script in one EVALSHA. KEYS are the N calls' keys and ARGV their arguments, call after call;
 * Redis's clock is read once and the unchanged per-call body runs for each call in order, each
 * inside `pcall` so that a call whose command fails (a wrong-type key, OOM) fails alone, as it
 * would have as a script of its own. The whole script is atomic, so this is exactly N
 * sequential EVALSHAs with no other client in between and one clock reading for all of them
 * (one legal interleaving of N concurrent calls).
 *
 * Reply: per call, in call order, one status byte (0 = the call's reply follows, 1 = its
 * error message follows), the length in two bytes (little-endian), then that many bytes. A
 * call whose script answers a number (settle's `return 1`) has an empty reply.
 */
import { shaScript, type ShaScript } from './redis-script.ts';

/** The clock prelude every straight-line script starts with; read once per batch instead. */
export const CLOCK_PRELUDE = `local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000 + tonumber(tm[2]) / 1000
`;

/**
 * Optional end of a per-batch prelude: statements between CLOCK_PRELUDE and this line depend
 * only on `now` and the script's baked values, so the batched script runs them once per batch
 * (outside the per-call function; the calls read their locals as upvalues) where a script of
 * its own runs them once (here it is only a comment). They may not read KEYS or ARGV.
 */
export const BATCH_PRELUDE_END = '-- end of the per-batch prelude\n';

/** Error messages travel at most this long (the rest is cut) so a frame's length fits two bytes. */
const MAX_ERROR_BYTES = 1_000;

/**
 * The batched script for `lua` called with `keysPerCall` keys and `argsPerCall` arguments per
 * call. `lua` must start with CLOCK_PRELUDE and name its keys and arguments only as
 * `KEYS[i]` / `ARGV[i]` with literal indexes within those counts (what redis-lua-single.ts
 * generates); anything else throws here, at generation, never at run time.
 */
export function batchedLua(lua: string, keysPerCall: number, argsPerCall: number): string {
  if (!lua.startsWith(CLOCK_PRELUDE))
    throw new Error('batchedLua: the script does not start with the clock prelude');
  if (argsPerCall < 1) throw new Error('batchedLua: a batched call needs at least one argument');
  const check = (kind: string, limit: number) => (_: string, i: string) => {
    const n = Number(i);
    if (!(n >= 1 && n <= limit)) throw new Error(`batchedLua: ${kind}[${i}] outside the ${limit} per call`);
    return `${kind === 'KEYS' ? 'K' : 'A'}${n}`;
  };
  const rest = lua.slice(CLOCK_PRELUDE.length);
  const cut = rest.indexOf(BATCH_PRELUDE_END);
  const perBatch = cut < 0 ? '' : rest.slice(0, cut);
  if (/\b(KEYS|ARGV)\b/.test(perBatch))
    throw new Error('batchedLua: the per-batch prelude reads KEYS or ARGV');
  const body = (cut < 0 ? rest : rest.slice(cut + BATCH_PRELUDE_END.length))
    .replace(/\bKEYS\[(\d+)\]/g, check('KEYS', keysPerCall))
    .replace(/\bARGV\[(\d+)\]/g, check('ARGV', argsPerCall));
  if (/\b(KEYS|ARGV)\b/.test(body))
    throw new Error('batchedLua: the script reads KEYS or ARGV other than by a literal index');
  const params = [
    ...Array.from({ length: keysPerCall }, (_, i) => `K${i + 1}`),
    ...Array.from({ length: argsPerCall }, (_, i) => `A${i + 1}`),
  ];
  const callArgs = [
    ...Array.from({ length: keysPerCall }, (_, i) => `KEYS[k + ${i + 1}]`),
    ...Array.from({ length: argsPerCall }, (_, i) => `ARGV[a + ${i + 1}]`),
  ];
  return `${CLOCK_PRELUDE}${perBatch}local function call(${params.join(', ')})
${body}
end
local calls = #ARGV / ${argsPerCall}
if calls ~= math.floor(calls) or #KEYS ~= calls * ${keysPerCall} then
  return redis.error_reply('ERR llmsec batch: ' .. #KEYS .. ' keys and ' .. #ARGV .. ' arguments are not whole calls')
end
local out = {}
for i = 0, calls - 1 do
  local k, a = i * ${keysPerCall}, i * ${argsPerCall}
  local ok, r = pcall(call, ${callArgs.join(', ')})
  local status = 0
  if not ok then
    status = 1
    if type(r) == 'table' and r.err then r = r.err else r = tostring(r) end
  elseif type(r) == 'table' and r.err then
    -- A returned redis.error_reply is that call's error reply, as it would be alone.
    status = 1
    r = tostring(r.err)
  elseif type(r) ~= 'string' then
    r = ''
  end
  if status == 1 then r = string.sub(r, 1, ${MAX_ERROR_BYTES}) end
  local n = #r
  -- Header and reply as two pieces of the one table.concat: no concatenated copy per call.
  out[2 * i + 1] = string.char(status, n % 256, math.floor(n / 256))
  out[2 * i + 2] = r
end
return table.concat(out)
`;
}

const batched = new WeakMap<ShaScript, { keysPerCall: number; argsPerCall: number; script: ShaScript }>();

/**
 * The batched script of `script` for calls of that shape (generated once per script, cached).
 * A script is always called with one shape; should a call of another shape come, its batched
 * script is generated afresh rather than served the cached one, which would cut its keys and
 * arguments into calls wrongly.
 */
export function batchedScript(script: ShaScript, keysPerCall: number, argsPerCall: number): ShaScript {
  const known = batched.get(script);
  if (known !== undefined && known.keysPerCall === keysPerCall && known.argsPerCall === argsPerCall)
    return known.script;
  const b = shaScript(batchedLua(script.lua, keysPerCall, argsPerCall), script.lean);
  if (known === undefined) batched.set(script, { keysPerCall, argsPerCall, script: b });
  return b;
}

/** One call's part of a batched reply: its reply, or the error Redis raised for it. */
export type BatchPart = { ok: true; reply: Buffer } | { ok: false; message: string };

/**
 * Splits a batched reply into its `calls` parts. Throws when the framing does not add up to
 * exactly `calls` parts (a reply that does not parse fails every call, never admits).
 */
export function splitBatchReply(r: Buffer, calls: number): BatchPart[] {
  const parts: BatchPart[] = [];
  let at = 0;
  for (let i = 0; i < calls; i++) {
    if (at + 3 > r.length)
      throw new Error(`llmsec batch reply: ${r.length} bytes end inside part ${i + 1} of ${calls}`);
    const status = r[at]!;
    const n = r[at + 1]! + 256 * r[at + 2]!;
    const end = at + 3 + n;
    if (end > r.length || status > 1) {
      throw new Error(
        `llmsec batch reply: part ${i + 1} of ${calls} malformed (status ${status}, ${n} bytes)`,
      );
    }
    const body = r.subarray(at + 3, end);
    parts.push(status === 0 ? { ok: true, reply: body } : { ok: false, message: body.toString('utf8') });
    at = end;
  }
  if (at !== r.length) throw new Error(`llmsec batch reply: ${r.length - at} bytes after ${calls} parts`);
  return parts;
}
