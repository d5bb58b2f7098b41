// Printing shared by the benchmarks: rounded counts with thousands separators, aligned tables
// (first column left, the rest right) and the median of per-round figures.

export function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function table(headers: string[], rows: (string | number)[][]): void {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  for (const r of cells)
    console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
  console.log('');
}

/** The median: per-round ratios on a shared machine, where the load moves between rounds. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
