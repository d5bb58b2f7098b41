/**
 * The layout of a subject's state string `llmsec:{<subject>}:rl`, and the Lua that reads and
 * writes it, shared by every script (redis-lua.ts, redis-lua-single.ts).
 *
 * Fourteen packed little-endian doubles (112 bytes), then the live concurrency leases:
 *
 *   1  +inf, the format marker (see below)       9  violation score
 *   2..8  TAT of dimensions 2..8 (epoch ms)      10 score time
 *                                                11 blocked until
 *                                                12 banned (0/1)
 *                                                13 level last reported
 *                                                14 TAT of dimension 1 (requests per minute)
 *
 * then one 16-byte record per live lease: its expiry and its tag (leaseTag), two doubles,
 * sorted by expiry. The leases live in the state string, read and written by
 * the GET and SET the script does anyway, instead of a sorted set of their own (ZCARD,
 * ZREMRANGEBYSCORE, ZADD and PEXPIRE per acquire, ZREM per settle: 2-3 µs of Redis per
 * acquire, measured in-script). Per call the scripts drop the expired records at the front,
 * count the rest by the string's length and insert their own in expiry order (from the end:
 * a new lease nearly always expires last); settle removes its record by tag. The work is
 * linear in the live leases, which the tier's `concurrent` (at most MAX_CONCURRENT of dimensions.ts) bounds.
 *
 * Format marker: the 104-byte layout before it (13 doubles, the leases in
 * `llmsec:{<subject>}:lease`) had dimension 1's TAT in slot 1. A replica still running that
 * code reads +inf there; whatever it then decides, its write (SET ... PX with the TTL of an
 * infinite TAT) is refused by Redis, so its script fails and it applies its failure policy,
 * and it can never overwrite this layout with its own (which would drop the leases). Slots 2
 * to 13 hold what they held, so it still sees blocks and bans. This code reads the old
 * layout (exactly 104 bytes) as the old code wrote it, with no leases, and writes it back in
 * this one.
 */

/** Bytes of the fourteen doubles before the lease records. */
export const STATE_BYTES = 112;
/** Bytes of the previous layout (13 doubles), read for a rolling upgrade. */
export const LEGACY_STATE_BYTES = 104;
/** Bytes of one lease record: expiry and tag (leaseTag), two doubles. */
export const LEASE_RECORD_BYTES = 16;
/** Bytes of a lease tag. */
export const LEASE_TAG_BYTES = 8;

/** Lua names of the thirteen state values in the old slot order (t1..t8, score, score time, blocked until, banned, level). */
export interface StateNames {
  t: readonly string[];
  sc: string;
  st: string;
  bu: string;
  bn: string;
  pl: string;
}

/**
 * Lua statements setting the (declared) state names from the string in `v` (false when the
 * key is missing): zeros, the legacy layout, or this one.
 */
export function unpackState(v: string, n: StateNames): string {
  const t = n.t;
  const legacy = [...t, n.sc, n.st, n.bu, n.bn, n.pl].join(', ');
  const current = [t[1], t[2], t[3], t[4], t[5], t[6], t[7], n.sc, n.st, n.bu, n.bn, n.pl, t[0]].join(', ');
  return `if not ${v} then ${legacy} = 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
elseif #${v} == ${LEGACY_STATE_BYTES} then ${legacy} = struct.unpack('<ddddddddddddd', ${v})
else
  local _
  _, ${current} = struct.unpack('<dddddddddddddd', ${v})
end`;
}

/** A Lua expression: the fourteen doubles of the state, level `lvl` (the records go after). */
export function packState(n: StateNames, lvl: string): string {
  const t = n.t;
  return `struct.pack('<dddddddddddddd', 1/0, ${[t[1], t[2], t[3], t[4], t[5], t[6], t[7], n.sc, n.st, n.bu, n.bn, lvl, t[0]].join(', ')})`;
}

/**
 * Lua statements setting the (declared) `recs` to the live lease records of `v`: the
 * records after the state with the expired ones (expiry <= now, as ZREMRANGEBYSCORE -inf now
 * removed them) dropped from the front.
 */
export function liveRecords(v: string, recs: string): string {
  return `${recs}, ${tail(recs)} = '', ''
if ${v} and #${v} > ${STATE_BYTES} then
  local p, last = ${STATE_BYTES + 1}, #${v}
  while p < last and struct.unpack('<d', ${v}, p) <= now do p = p + ${LEASE_RECORD_BYTES} end
  if p < last then ${recs} = string.sub(${v}, p) end
end`;
}

/**
 * Lua statements setting the (declared) `recs` to the records of `v` as they are, for a
 * script of a tier without a concurrency limit: it carries other tiers' leases on the
 * subject through its write unread.
 */
export function carriedRecords(v: string, recs: string): string {
  return `${recs}, ${tail(recs)} = '', ''
if ${v} and #${v} > ${STATE_BYTES} then ${recs} = string.sub(${v}, ${STATE_BYTES + 1}) end`;
}

/**
 * The second piece of a records string: the records are `recs .. tail`, written by one
 * concatenation with the state (each copy of the records costs Redis about 1 ns per byte,
 * Lua string creation and garbage collection, measured; one concatenation fewer per call).
 */
export function tail(recs: string): string {
  return `${recs}_tail`;
}

/**
 * Lua statements inserting a record of expiry `exp` and the tag whose number is in `tagArg`
 * into the records (`recs`, empty tail), in expiry order: nearly always last, as the tail;
 * else rebuilt in place.
 */
export function insertRecord(recs: string, exp: string, tagArg: string): string {
  return `do
  local q = #${recs}
  while q > 0 and struct.unpack('<d', ${recs}, q - ${LEASE_RECORD_BYTES - 1}) > ${exp} do q = q - ${LEASE_RECORD_BYTES} end
  local rec = struct.pack('<dd', ${exp}, tonumber(${tagArg}))
  if q == #${recs} then ${tail(recs)} = rec
  else ${recs} = string.sub(${recs}, 1, q) .. rec .. string.sub(${recs}, q + 1) end
end`;
}

/**
 * Lua statements setting the records (`recs` and its tail) to those of `v` without the one
 * whose tag number is in `tagArg` (the first at a record boundary; none if absent: a lease settled twice frees
 * one slot), and `removed` to true if there was one. Expired records are left to the next
 * acquire: settle copies the records once.
 */
export function releaseRecord(v: string, tagArg: string, recs: string, removed: string): string {
  const tagAt = STATE_BYTES + 9; // 1-based offset of the first record's tag in v
  return `${recs}, ${tail(recs)} = '', ''
if ${v} and #${v} > ${STATE_BYTES} then
  local tag = struct.pack('<d', tonumber(${tagArg}))
  local i = string.find(${v}, tag, ${tagAt}, true)
  while i and (i - ${tagAt}) % ${LEASE_RECORD_BYTES} ~= 0 do i = string.find(${v}, tag, i + 1, true) end
  if i then
    ${recs}, ${tail(recs)} = string.sub(${v}, ${STATE_BYTES + 1}, i - 9), string.sub(${v}, i + ${LEASE_TAG_BYTES})
    ${removed} = true
  else
    ${recs} = string.sub(${v}, ${STATE_BYTES + 1})
  end
end`;
}

/** Lua expression: the expiry of the first (earliest) record of a non-empty `recs`. */
export function firstExpiry(recs: string): string {
  return `struct.unpack('<d', ${recs}, 1)`;
}

/** Lua statements raising `ttl` to the last lease's remaining time: the key outlives its leases. */
export function ttlOfRecords(recs: string): string {
  const t = tail(recs);
  return `do
  local last = 0
  if #${t} > 0 then last = struct.unpack('<d', ${t}, #${t} - ${LEASE_RECORD_BYTES - 1}) - now
  elseif #${recs} > 0 then last = struct.unpack('<d', ${recs}, #${recs} - ${LEASE_RECORD_BYTES - 1}) - now end
  if last > ttl then ttl = last end
end`;
}

/** A Lua expression: the state string, the fourteen doubles and the records. */
export function stateString(n: StateNames, lvl: string, recs: string): string {
  return `${packState(n, lvl)} .. ${recs} .. ${tail(recs)}`;
}

/**
 * The tag of a lease id in the state string: a 53-bit hash of the whole id (two 32-bit
 * FNV-1a style hashes, mixed), sent as a number and stored as a double (8 bytes). Not a
 * prefix of the id: ids from a custom `idGenerator` may share long prefixes or suffixes
 * (zero-padded counters). About 0.1 µs of Node per call; a 16-hex-character string of the
 * same hashes cost 0.4-0.7 µs (measured). Two live leases of one subject share a tag with a
 * probability of about n²/2^54 for n of them (6e-11 at the cap); if they did, each settle
 * would still remove one record, so the count stays exact.
 */
export function leaseTag(leaseId: string): number {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < leaseId.length; i++) {
    const c = leaseId.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  a ^= a >>> 13;
  a = Math.imul(a, 0xc2b2ae35);
  a ^= a >>> 16;
  return (a >>> 0) * 2_097_152 + (b >>> 11);
}
