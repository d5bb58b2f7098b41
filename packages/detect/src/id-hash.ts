/**
 * An event id as a seeded 53-bit number (never 0), for the per-group repeated-id rings
 * (group-ids.ts). Numbers, not strings: a ring of 32 ids per group row costs 256 bytes in a
 * Float64Array, where the strings would keep every id alive. Two 32-bit Murmur-style lanes over
 * the id's UTF-16 units in one pass, linear in its length (the decoders cut ids to 256 units);
 * the seed is the engine's own (crypto-random), so a log cannot be written to collide ids. A
 * collision drops one event of a group as a repeat: with 32 ids held per group, about 2^-48 per
 * event, below the shared state's 48-bit short ids (2^-43 per pair).
 */
export function idHash(value: unknown, seed: number): number {
  const id = typeof value === 'string' ? value : String(value);
  let a = seed ^ id.length;
  let b = Math.imul(seed, 0x9e3779b1) ^ id.length;
  for (let k = 0; k < id.length; k++) {
    const c = id.charCodeAt(k);
    a = Math.imul(a ^ c, 0x5bd1e995);
    a ^= a >>> 15;
    b = Math.imul(b ^ c, 0x85ebca6b);
    b ^= b >>> 13;
  }
  a = Math.imul(a ^ (a >>> 13), 0xc2b2ae35);
  a ^= a >>> 16;
  b = Math.imul(b ^ (b >>> 16), 0x27d4eb2f);
  b ^= b >>> 15;
  const h = (a >>> 11) * 4_294_967_296 + (b >>> 0);
  return h === 0 ? 1 : h;
}
