// Start-up probe for `llmsec replay` (issue 13): preloaded with `--import`, it runs in the main
// thread and in every worker (a worker inherits the process's execArgv), counts the modules each
// thread loads (a module.registerHooks load hook: deterministic, unlike timings) and, in the
// thread that opens the replay file, the time from exec to the file's first chunk. One line per
// thread on stderr at exit, and one from the reading thread at its first read:
//
//   node --conditions=@llmsec/source --import ./bench/replay/startup-probe.ts \
//     packages/cli/src/bin.ts replay FILE >/dev/null
//
// or `packages/cli/dist/bin.js` for the compiled packages. Pass the source condition yourself
// (not through bin/llmsec.mjs's hook): a worker started without it is given its own execArgv,
// which drops this preload. `LLMSEC_PROBE_LIST=1` also lists the modules of each thread. Times
// are from the process's start (performance.timeOrigin of the main thread, passed to workers
// through the environment).
import fs from 'node:fs';
import module from 'node:module';
import { isMainThread, threadId } from 'node:worker_threads';

if (isMainThread) process.env.LLMSEC_PROBE_ORIGIN = String(performance.timeOrigin);
const origin = Number(process.env.LLMSEC_PROBE_ORIGIN ?? performance.timeOrigin);
const sinceExec = (): number => performance.timeOrigin + performance.now() - origin;

const loaded: string[] = [];
module.registerHooks({
  load(url, context, next) {
    if (!url.startsWith('node:')) loaded.push(url);
    return next(url, context);
  },
});

let firstRead: number | undefined;
const open = fs.createReadStream;
fs.createReadStream = function probedCreateReadStream(...args: Parameters<typeof open>) {
  const stream = open(...args);
  stream.once('data', () => {
    if (firstRead !== undefined) return;
    firstRead = sinceExec();
    // The reader thread may be ended without an 'exit' event: report what it had loaded here.
    report('first_read');
  });
  return stream;
} as typeof open;
module.syncBuiltinESMExports();

function report(when: string): void {
  const group = (part: string): number => loaded.filter((u) => u.includes(part)).length;
  const fields = [
    `thread=${isMainThread ? 'main' : threadId}`,
    `at=${when}`,
    `modules=${loaded.length}`,
    `otel=${group('/@opentelemetry/')}`,
    `zod=${group('/zod/')}`,
    `yaml=${group('/yaml/')}`,
    ...(firstRead !== undefined ? [`first_read_ms=${firstRead.toFixed(1)}`] : []),
  ];
  process.stderr.write(`[probe] ${fields.join(' ')}\n`);
  if (process.env.LLMSEC_PROBE_LIST === '1') for (const u of loaded) process.stderr.write(`[probe]   ${u}\n`);
}
process.on('exit', () => report('exit'));
