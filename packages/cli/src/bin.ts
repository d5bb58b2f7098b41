#!/usr/bin/env node
// The `llmsec` command line: a dispatcher over one module per subcommand, loaded lazily so
// that `llmsec replay` does not pay for the demo's dependencies.
import module from 'node:module';

// Node's on-disk compile cache (Node 22.1+; NODE_DISABLE_COMPILE_CACHE=1 turns it off): from
// the second run on, the CLI's ~300 modules load from cached code instead of being parsed (and,
// from sources, type-stripped) again: ~0.15-0.25 s less start-up CPU for `llmsec replay`. Enabled
// before the dispatcher is imported, so that it covers every module after this one.
module.enableCompileCache?.();

// A reader that went away (`llmsec replay big.jsonl | head -1`): Node ignores SIGPIPE, so the
// next write fails with EPIPE, unhandled, and prints a stack trace. End quietly with 1 (not all
// output was delivered); any other stream error stays unhandled, as before. For stdout a
// command may decide otherwise (io.ts: the detector, whose stdout is only its `--alerts -` sink
// and whose stderr is only its log).
const { handleStderrError, handleStdoutError, processShouldEnd, writtenOut } = await import('./io.ts');
process.stdout.on('error', handleStdoutError);
process.stderr.on('error', handleStderrError);
const { runCli } = await import('./cli.ts');

process.exitCode = await runCli(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
});
const end = processShouldEnd();
if (end === 'after output') await Promise.all([writtenOut(process.stdout), writtenOut(process.stderr)]);
if (end !== 'no') process.exit();
