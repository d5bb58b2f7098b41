// Loaded with --import into a benchmarked subprocess: prints its peak resident set size and
// its CPU time (all threads, user + system) at exit, for the parent's table.
process.on('exit', () => {
  const cpu = process.cpuUsage();
  process.stderr.write(`maxrss_kb=${process.resourceUsage().maxRSS} cpu_us=${cpu.user + cpu.system}\n`);
});
