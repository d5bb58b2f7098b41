// Start-up probe for `llmsec detector`: preloaded with `--import`, it counts the modules the
// process loads (a module.registerHooks load hook: deterministic, unlike timings) and, when the
// detector logs "detector started" (it listens only once ready), writes one line on stderr:
//
//   [probe] at=ready modules=686 ioredis=0 ratelimit=0 otlp_logs=0 yaml=72 cpu_ms=830 ready_ms=2140
//
// cpu_ms is the process's CPU (user + system) and ready_ms the time since the process started,
// both at that line. Run it as
//
//   node --conditions=@llmsec/source --import ./bench/detector/startup-probe.ts \
//     packages/cli/src/bin.ts detector --otlp-http 127.0.0.1:0 --otlp-grpc 127.0.0.1:0
//
// (or packages/cli/dist/bin.js for the compiled packages). `LLMSEC_PROBE_LIST=1` also lists the
// modules, one a line. Used by bench/detector/startup.ts and packages/detector's
// startup-modules test.
import module from 'node:module';

const loaded: string[] = [];
module.registerHooks({
  load(url, context, next) {
    if (!url.startsWith('node:')) loaded.push(url);
    return next(url, context);
  },
});

/** Module groups a start may skip when its config does not use them (any install layout). */
const GROUPS: Record<string, RegExp> = {
  ioredis: /\/node_modules\/ioredis\//,
  ratelimit: /\/(packages\/ratelimit|@llmsec\/ratelimit)\//,
  otlp_logs: /\/@opentelemetry\/(sdk-logs|exporter-logs-otlp-http|otlp-exporter-base|otlp-transformer)\//,
  yaml: /\/node_modules\/yaml\//,
};

const write = process.stderr.write.bind(process.stderr) as (chunk: string | Uint8Array) => boolean;
let reported = false;
process.stderr.write = function probedWrite(chunk: string | Uint8Array, ...rest: unknown[]): boolean {
  const ok = (write as (...a: unknown[]) => boolean)(chunk, ...rest);
  if (!reported && String(chunk).includes('"msg":"detector started"')) {
    reported = true;
    const cpu = process.cpuUsage();
    const fields = [
      'at=ready',
      `modules=${loaded.length}`,
      ...Object.entries(GROUPS).map(([name, re]) => `${name}=${loaded.filter((u) => re.test(u)).length}`),
      `cpu_ms=${((cpu.user + cpu.system) / 1000).toFixed(1)}`,
      `ready_ms=${performance.now().toFixed(1)}`,
    ];
    write(`[probe] ${fields.join(' ')}\n`);
    if (process.env.LLMSEC_PROBE_LIST === '1') for (const u of loaded) write(`[probe]   ${u}\n`);
  }
  return ok;
} as typeof process.stderr.write;
