// Loaded with --import into a benchmarked subprocess: prints its peak resident set size and
// its CPU time (all threads, user + system) at exit, for the parent's table, and where the
// main thread's heap stood at its largest (sampled every 25 ms): resident (physical) size,
// the young generation's share of it, and the peak used size, to tell the engine's state from
// the garbage collector's room (semi-spaces grow with what survives, old space grows to a
// multiple of what is live before a full collection).
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

let peak = { total: 0, used: 0, newSpace: 0 };
function sample(): void {
  const h = getHeapStatistics();
  if (h.used_heap_size > peak.used) peak.used = h.used_heap_size;
  if (h.total_physical_size > peak.total) {
    const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    peak = { total: h.total_physical_size, used: peak.used, newSpace: young?.physical_space_size ?? 0 };
  }
}
setInterval(sample, 25).unref();

process.on('exit', () => {
  sample();
  const cpu = process.cpuUsage();
  const kb = (bytes: number): number => Math.round(bytes / 1024);
  process.stderr.write(
    `maxrss_kb=${process.resourceUsage().maxRSS} cpu_us=${cpu.user + cpu.system} ` +
      `heap_total_kb=${kb(peak.total)} heap_used_kb=${kb(peak.used)} new_space_kb=${kb(peak.newSpace)}\n`,
  );
});
