import { isMainThread } from 'node:worker_threads';
import { startReplayReader, type ReplayReader } from '@llmsec/detect/replay';
import type { CliIO, Command } from '../io.ts';
import { parse } from './replay-args.ts';
import { readerSplit } from './replay-readers.ts';
import { runOnEngineThread } from './replay-on-engine-thread.ts';
import { catchingInterrupts, type ReplayInterrupt } from './replay-interrupt.ts';
import { EngineThreadUnavailableError, warnOneThread } from './replay-thread-fallback.ts';

// The command `llmsec replay`: its options (replay-args.ts), the run on this thread
// (replay-run.ts) or on the engine's thread of its own (replay-on-engine-thread.ts).

/**
 * The reader thread of a replay that will read a file on two threads, started before the engine
 * is loaded: it reads and decodes while this thread loads the engine's modules and the rules
 * (~0.15-0.3 s it waited for before), a bounded amount read ahead until the rules come. The
 * arguments were checked already (a usage error is reported by the run, the reader closed).
 */
export function readAhead(argv: string[], oneThread: boolean): ReplayReader | undefined {
  if (oneThread) return undefined;
  let args;
  let split;
  try {
    args = parse(argv);
    split = readerSplit();
  } catch {
    return undefined;
  }
  return args !== 'help' && args.file !== undefined && args.threads === 2
    ? startReplayReader(args.file, args.maxLineBytes, split)
    : undefined;
}

/**
 * The run on this thread, loaded when it runs here: a file replay hands the run to the engine's
 * thread, which loads the engine itself, so the engine's modules (~0.13 s from the sources)
 * are not loaded first on this thread on the way there. The reader thread, if any, is started
 * before they load (readAhead).
 */
export async function runReplayHere(
  argv: string[],
  io: CliIO,
  oneThread = false,
  reader = readAhead(argv, oneThread),
  interrupt?: ReplayInterrupt,
): Promise<number> {
  try {
    const run = await import('./replay-run.ts');
    return await run.runReplayHere(argv, io, oneThread, reader, interrupt);
  } finally {
    reader?.close();
  }
}

export const command: Command = {
  summary: 'backtest detection rules on security-event JSONL; prints alerts',
  async run(argv: string[], io: CliIO): Promise<number> {
    // Usage errors and help from this thread, as before; a file replay on two threads with the
    // state in memory then runs on a thread of its own with a capped young generation
    // (replay-engine-thread.ts says why). Not one thread: there the engine's thread also parses
    // whole lines (previews included), and with the capped young generation that garbage was
    // promoted in some runs and the old space grew to 350 MB (CPU +30%); V8's default is kept.
    const args = parse(argv);
    const split = readerSplit();
    if (
      args !== 'help' &&
      args.file !== undefined &&
      args.threads === 2 &&
      args.state === undefined &&
      isMainThread
    ) {
      // The reader thread first, from here: it reads while the engine's thread starts and
      // loads the engine's modules and the rules, which then takes it over.
      const reader = startReplayReader(args.file, args.maxLineBytes, split);
      // SIGINT / SIGTERM: the engine's thread is told through the flag, and the reader threads,
      // started here, end here (replay-interrupt.ts).
      const interrupted = new Int32Array(new SharedArrayBuffer(4));
      try {
        return await catchingInterrupts(async (interrupt) => {
          interrupt.onInterrupt(() => reader.close());
          try {
            return await runOnEngineThread(argv, io, reader, interrupted);
          } catch (err) {
            if (!(err instanceof EngineThreadUnavailableError)) throw err;
            // Its reader thread's file would be missing too (a bundle): one thread, one warning.
            warnOneThread(io, err.message);
            return runReplayHere(argv, io, true, undefined, interrupt);
          }
        }, interrupted);
      } finally {
        reader.close();
      }
    }
    return catchingInterrupts((interrupt) => runReplayHere(argv, io, false, undefined, interrupt));
  },
};
