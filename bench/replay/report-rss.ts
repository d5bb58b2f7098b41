// Loaded with --import into a benchmarked subprocess: prints its peak resident set size and
// its CPU time (all threads, user + system) at exit, for the parent's table, and where the
// main thread's heap stood at its largest (sampled every 25 ms): resident (physical) size,
// the young generation's share of it, and the peak used size, to tell the engine's state from
// the garbage collector's room (semi-spaces grow with what survives, old space grows to a
// multiple of what is live before a full collection).
// Every thread samples its own heap (--import is inherited by workers): `llmsec replay` runs
// its engine on a worker thread, so a worker that exits on its own prints its heap figures on a
// line of its own ("thread=worker"), and the process's line comes last from the main thread;
// parseRssReport sums the heaps. (A terminated worker, as the reader is, prints nothing.)
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import { isMainThread } from 'node:worker_threads';

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
  const kb = (bytes: number): number => Math.round(bytes / 1024);
  const heap = `heap_total_kb=${kb(peak.total)} heap_used_kb=${kb(peak.used)} new_space_kb=${kb(peak.newSpace)}`;
  if (!isMainThread) {
    process.stderr.write(`thread=worker ${heap}\n`);
    return;
  }
  const cpu = process.cpuUsage();
  process.stderr.write(
    `maxrss_kb=${process.resourceUsage().maxRSS} cpu_us=${cpu.user + cpu.system} ${heap}\n`,
  );
});
