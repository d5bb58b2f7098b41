/**
 * `n` pseudo-random characters from `alphabet` (xorshift32 from `seed`): the same text on every
 * run, with no structure a tokenizer merges (the estimate tests' and bench's dense text).
 */
export function drawn(n: number, seed: number, alphabet: string): string {
  let x = (seed * 2654435761) >>> 0 || 1;
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x ^= x >>> 17;
    x = (x ^ (x << 5)) >>> 0;
    out.push(alphabet[x % alphabet.length]!);
  }
  return out.join('');
}
