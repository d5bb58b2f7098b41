import { randomBytes } from 'node:crypto';

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
 * Without a random source ids come from crypto.randomBytes, drawn in batches because one
 * syscall per event would dominate the cost of an event.
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

function hexFromCrypto(): (n: number) => string {
  let pool = '';
  let at = 0;
  return (n) => {
    if (pool.length - at < n) {
      pool = randomBytes(Math.max(2048, n)).toString('hex');
      at = 0;
    }
    at += n;
    return pool.slice(at - n, at);
  };
}

export const defaultIdGenerator: IdGenerator = createIdGenerator();
