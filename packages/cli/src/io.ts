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

/**
 * What an error on process.stdout does (bin.ts routes them here). By default a reader that went
 * away (EPIPE, as in `llmsec replay FILE | head -1`) ends the process quietly with 1: that output
 * was the command's product and not all of it was delivered; any other error is thrown. A
 * long-running command for which stdout is one sink among others (`llmsec detector --alerts -`)
 * replaces it with setStdoutErrorHandler.
 */
let stdoutErrorHandler = (err: NodeJS.ErrnoException): void => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(1);
};

export function handleStdoutError(err: NodeJS.ErrnoException): void {
  stdoutErrorHandler(err);
}

export function setStdoutErrorHandler(handler: (err: NodeJS.ErrnoException) => void): void {
  stdoutErrorHandler = handler;
}

/**
 * The same for process.stderr: by default EPIPE ends the process quietly with 1. The detector,
 * whose stderr is its log, replaces it: a log reader that went away must not end the service
 * before its SIGTERM drain (which logs) has flushed the alerts it holds.
 */
let stderrErrorHandler = (err: NodeJS.ErrnoException): void => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(1);
};

export function handleStderrError(err: NodeJS.ErrnoException): void {
  stderrErrorHandler(err);
}

export function setStderrErrorHandler(handler: (err: NodeJS.ErrnoException) => void): void {
  stderrErrorHandler = handler;
}

/**
 * A command that gave up on work still pending (the detector after its drain timed out: "then
 * whatever is left is dropped") asks bin.ts to end the process with its exit code as soon as it
 * returns, rather than wait for that work (a sink's request to an endpoint that never answers)
 * to time out by itself. `afterOutput`: only once what it wrote to stdout and stderr is written
 * out (an interrupted replay, whose alerts are its product): on a pipe Node writes
 * asynchronously, and process.exit() drops what the pipe has not taken yet.
 */
let endWhenDone: 'no' | 'at once' | 'after output' = 'no';

export function endProcessWhenDone(options: { afterOutput?: boolean } = {}): void {
  endWhenDone = options.afterOutput === true ? 'after output' : 'at once';
}

export function processShouldEnd(): 'no' | 'at once' | 'after output' {
  return endWhenDone;
}

/**
 * Resolves when every write made to `stream` so far is written out (or failed: a reader gone,
 * which the stream's error handler answers). Writes complete in order, so an empty write's
 * callback comes after them all.
 */
export function writtenOut(stream: Writable): Promise<void> {
  if (stream.destroyed || stream.writableEnded) return Promise.resolve();
  return new Promise((resolve) => stream.write('', () => resolve()));
}
