/**
 * CPU time of this thread (the engine's), for the summary line. `process.threadCpuUsage` is Node 23.9+;
 * on Node 22 (which the package supports) this falls back to the whole process's CPU time
 * (the reader thread's included), and the summary says so.
 */
export const PER_THREAD_CPU = typeof process.threadCpuUsage === 'function';
export function cpuUsage(previous?: NodeJS.CpuUsage): NodeJS.CpuUsage {
  return PER_THREAD_CPU ? process.threadCpuUsage(previous) : process.cpuUsage(previous);
}
