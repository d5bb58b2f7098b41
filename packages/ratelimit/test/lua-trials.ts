// Random starting points for the Lua scripts' differential tests (redis-lua-single.test.ts,
// redis-lua-batch.test.ts): enforcement parameters, limits, a clock, a packed state and leases.

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const WINDOWS = [60_000, 3_600_000, 86_400_000, 60_000, 3_600_000, 86_400_000, 3_600_000, 86_400_000];

export function packed(values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 8);
  values.forEach((v, i) => b.writeDoubleLE(v, i * 8));
  return b;
}

export interface Trial {
  enf: number[];
  limits: number[];
  nowMs: number;
  state: Buffer | undefined;
  leases: [number, string][];
}

export function randomTrial(rnd: () => number): Trial {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const enf = [
    pick([2, 5]),
    pick([4, 10]),
    pick([6, 20]),
    pick([8, 50]),
    pick([1_000, 600_000]),
    pick([5_000, 300_000]),
    pick([1, 0.5, 0.3]),
    pick([0, 1, 3]),
    pick([86_400_000, 31_536_000_000]),
  ];
  const limits = WINDOWS.map((_, i) =>
    rnd() < 0.35 ? 0 : i < 3 ? 1 + Math.floor(rnd() * 6) : Math.floor(100 + rnd() * 5_000),
  );
  limits.push(pick([0, 0, 1, 2, 3]));
  const nowMs = 1_760_000_000_000 + Math.floor(rnd() * 1e9) + Math.floor(rnd() * 1000) / 1000;
  let state: Buffer | undefined;
  if (rnd() < 0.8) {
    const tats = WINDOWS.map((w) => (rnd() < 0.3 ? 0 : nowMs + (rnd() * 2 - 0.8) * w));
    const score = rnd() < 0.4 ? 0 : rnd() * 60;
    const scoreAt = nowMs - rnd() * 1_200_000;
    const blocked = pick([0, nowMs - 1_000, nowMs + 2_000 + rnd() * 100_000]);
    const banned = rnd() < 0.1 ? 1 : 0;
    state = packed([...tats, score, scoreAt, blocked, banned, Math.floor(rnd() * 5)]);
  }
  const leases: [number, string][] = [];
  const n = Math.floor(rnd() * 4);
  for (let i = 0; i < n; i++) leases.push([Math.floor(nowMs + (rnd() * 2 - 1) * 60_000), `old-${i}`]);
  return { enf, limits, nowMs, state, leases };
}

/** ARGV for a fixed TIME: seconds and microseconds of `nowMs`. */
export function clockArgs(nowMs: number): string[] {
  const us = Math.round(nowMs * 1000);
  return [String(Math.floor(us / 1e6)), String(us % 1e6)];
}
