import type { Readable, Writable } from 'node:stream';

/** The streams a command uses, injected so tests can run commands without a subprocess. */
export interface CliIO {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

/** A subcommand: parses its own arguments, returns the exit code, never calls process.exit. */
export interface Command {
  summary: string;
  run(argv: string[], io: CliIO): Promise<number>;
}

/** Thrown for bad command-line usage: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
