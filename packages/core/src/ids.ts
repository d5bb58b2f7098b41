import { randomBytes, randomFillSync } from 'node:crypto';

/** Randomness is injected so that tests and the seeded simulator repeat exactly. */
export type RandomSource = () => number; // uniform in [0, 1)

/** Mulberry32: tiny, fast, good enough for seeded test traffic (not for secrets). */
export function seededRandom(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface IdGenerator {
  /** `EVT-` and 12 lowercase hex characters. */
  eventId(): string;
  /** `n` lowercase hex characters. */
  hex(n: number): string;
}

const HEX = '0123456789abcdef';

/**
 * Without a random source ids come from Node's CSPRNG (crypto.randomFillSync, the generator
 * crypto.randomBytes uses), drawn in batches because one call per event would dominate the
 * cost of an event.
 */
export function createIdGenerator(random?: RandomSource): IdGenerator {
  const hex = random ? hexFromRandom(random) : hexFromCrypto();
  return { eventId: () => `EVT-${hex(12)}`, hex };
}

function hexFromRandom(random: RandomSource): (n: number) => string {
  return (n) => {
    let out = '';
    for (let i = 0; i < n; i++) out += HEX[Math.floor(random() * 16)];
    return out;
  };
}

/**
 * Random bytes per refill of the hex pool: 16 KiB is 2,730 event ids. A refill has a fixed cost
 * of ~1 µs (the call into OpenSSL and, with randomBytes, a new Buffer and its backing store)
 * beside ~0.5 ns per byte (filling and hex); at the former 2,048 bytes (341 ids) the fixed part was
 * most of it.
 */
const POOL_BYTES = 16_384;

function hexFromCrypto(): (n: number) => string {
  // One buffer, refilled in place (its own memory, not Node's shared Buffer pool), made at the
  // first draw: a generator that is never used holds nothing. In use, a generator holds it and the
  // 32 KiB hex pool. Its bytes are also in `pool` as hex until drawn, so keeping them adds no exposure.
  let bytes: Buffer | undefined;
  let pool = '';
  let at = 0;
  return (n) => {
    if (pool.length - at < n) {
      // A draw longer than a whole pool (rare: no caller asks for more than 32 characters) gets its own bytes.
      pool =
        n <= 2 * POOL_BYTES
          ? randomFillSync((bytes ??= Buffer.allocUnsafeSlow(POOL_BYTES))).toString('hex')
          : randomBytes(n).toString('hex');
      at = 0;
    }
    at += n;
    return n < SLICE_MIN_CHARS ? pool.slice(at - n, at) : copyOf(pool, at - n, at);
  };
}

/**
 * V8 copies a slice shorter than 13 characters (an event id's 12) but keeps a longer one as a view
 * of the string it was cut from: a kept hex(16) (a rate-limit lease id, held for its call, in the
 * memory store until settled) would keep its whole 32 KiB hex pool alive, one pool per such id.
 */
const SLICE_MIN_CHARS = 13;

/** pool[from, to) as 12-character copies joined: nothing in it refers to the pool (~8 ns more for 16). */
function copyOf(pool: string, from: number, to: number): string {
  let out = '';
  for (let i = from; i < to; i += SLICE_MIN_CHARS - 1)
    out += pool.slice(i, Math.min(i + SLICE_MIN_CHARS - 1, to));
  return out;
}

export const defaultIdGenerator: IdGenerator = createIdGenerator();
