// Reads report-rss.ts's lines from a subprocess's stderr: the process's peak RSS and CPU from
// the main thread's line, and the heap figures summed over every thread that printed them (the
// main thread and, with `llmsec replay` on its engine thread, that worker).
export interface RssReport {
  maxRssKb: number;
  cpuUs: number;
  heapTotalKb: number;
  heapUsedKb: number;
  newSpaceKb: number;
}

export function parseRssReport(stderr: string): RssReport | undefined {
  const main = /maxrss_kb=(\d+) cpu_us=(\d+) /.exec(stderr);
  if (main === null) return undefined;
  const report = {
    maxRssKb: Number(main[1]),
    cpuUs: Number(main[2]),
    heapTotalKb: 0,
    heapUsedKb: 0,
    newSpaceKb: 0,
  };
  for (const m of stderr.matchAll(/heap_total_kb=(\d+) heap_used_kb=(\d+) new_space_kb=(\d+)/g)) {
    report.heapTotalKb += Number(m[1]);
    report.heapUsedKb += Number(m[2]);
    report.newSpaceKb += Number(m[3]);
  }
  return report;
}
