/**
 * Durations in rule files: a number of milliseconds, or a string such as `500ms`, `30s`,
 * `10m`, `1h`, `2d`, or a sum of those with the largest unit first and each unit once
 * (`1h30m`, as formatDuration writes them). `10m10m` or `30s1m` are refused: the README
 * allows neither, and read as sums they turned a pasted-twice typo into a doubled window.
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;

type Scan = { ms: number } | { problem: string } | { bad: true };

function scan(value: string | number): Scan {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? { ms: value } : { bad: true };
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return { ms: Number(text) };
  if (text.length === 0) return { bad: true };
  PART.lastIndex = 0;
  let total = 0;
  let at = 0;
  let lastSize = Number.POSITIVE_INFINITY;
  let problem: string | undefined;
  let m: RegExpExecArray | null;
  while ((m = PART.exec(text)) !== null) {
    const size = UNIT_MS[m[2]!]!;
    if (problem === undefined && size >= lastSize) {
      problem = size === lastSize ? `unit "${m[2]}" given twice` : `unit "${m[2]}" after a smaller one`;
    }
    lastSize = size;
    total += Number(m[1]) * size;
    at = PART.lastIndex;
  }
  if (at !== text.length) return { bad: true };
  return problem === undefined ? { ms: total } : { problem };
}

/** Milliseconds, or NaN when the text is not a duration. */
export function parseDuration(value: string | number): number {
  const r = scan(value);
  return 'ms' in r ? r.ms : Number.NaN;
}

/**
 * Why a text made of duration parts is still not one (a unit repeated or out of order), for an
 * error message; undefined for a duration, or for text that is no duration at all.
 */
export function durationUnitProblem(value: string | number): string | undefined {
  const r = scan(value);
  return 'problem' in r ? `${r.problem}; units go largest first, each once, as in 1h30m` : undefined;
}

/** `10m`, `1h30m`, `45s`, `250ms`: the inverse of parseDuration for whole units. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ] as const) {
    if (rest >= size) {
      const n = Math.floor(rest / size);
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  if (rest > 0) out += `${rest}ms`;
  return out;
}
