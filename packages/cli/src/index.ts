export { runCli } from './cli.ts';
export { UsageError } from './io.ts';
export type { CliIO, Command } from './io.ts';
