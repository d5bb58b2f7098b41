#!/usr/bin/env node
// The `llmsec` command line: a dispatcher over one module per subcommand, loaded lazily so
// that `llmsec replay` does not pay for the demo's dependencies.
import { runCli } from './cli.ts';

process.exitCode = await runCli(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
});
