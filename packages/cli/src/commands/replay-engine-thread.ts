// The thread `llmsec replay FILE` on two threads runs the rules on (replay.ts starts it): the command itself,
// with stdout and stderr forwarded to the starting thread in order. Why a thread of its own:
// the engine's state per user survives scavenges, and V8 then grows a thread's young generation
// towards 64 MiB of semi-spaces, ~1 KB of resident memory per active user on top of the state
// (issue 13). The cap is set when a thread's heap is made (a worker's resourceLimits; a V8 flag
// set at run time does not apply: bench/replay/young-gen-levers.ts), and the CLI cannot choose
// the flags of the process it was started in.
import { Readable, Writable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { replayReaderFrom, type ReplayReaderLink } from '@llmsec/detect/replay';
import { interruptFromShared } from './replay-interrupt.ts';

/** What the engine's thread sends: that it started, its output in write order, the exit code. */
export type EngineThreadMessage = { ready: true } | { fd: 1 | 2; text: string } | { code: number };

/** What the engine's thread is started with. */
export interface EngineThreadData {
  argv: string[];
  /** Int32 [0]: characters sent and not yet written out by the starting thread. */
  pending: SharedArrayBuffer;
  /** The file's reader thread, started by the starting thread (it reads while this one loads). */
  reader?: ReplayReaderLink;
  /** Int32 [0]: the signal that interrupted the replay (replay-interrupt.ts interruptFromShared). */
  interrupted?: Int32Array;
}

/**
 * Output the starting thread may hold that it has not written out yet, in characters. In place,
 * a write to a pipe nobody reads blocks the engine; here the engine's thread waits instead,
 * rather than piling the whole output up in the starting thread's memory.
 */
export const MAX_PENDING_CHARS = 1 << 20;

const port = parentPort!;
const { argv, pending: pendingBuffer, reader: link, interrupted } = workerData as EngineThreadData;
// The reader thread, already reading while the engine's modules load here (replay.ts); without
// one the replay starts its own.
const reader = link !== undefined ? replayReaderFrom(link) : undefined;
let run: typeof import('./replay-run.ts');
try {
  run = await import('./replay-run.ts');
} catch (err) {
  reader?.close();
  throw err;
}
// Loaded (imports included): a failure from here on is the replay's, not the thread's start.
port.postMessage({ ready: true } satisfies EngineThreadMessage);
const pending = new Int32Array(pendingBuffer);
const forward = (fd: 1 | 2): Writable =>
  new Writable({
    write(chunk: Buffer | string, _encoding, callback): void {
      const text = chunk.toString();
      for (let held = Atomics.load(pending, 0); held > MAX_PENDING_CHARS; held = Atomics.load(pending, 0)) {
        Atomics.wait(pending, 0, held);
      }
      Atomics.add(pending, 0, text.length);
      port.postMessage({ fd, text } satisfies EngineThreadMessage);
      callback();
    },
  });

const interrupt = interrupted !== undefined ? interruptFromShared(interrupted) : undefined;
let code: number;
try {
  code = await run.runReplayHere(
    argv,
    { stdin: Readable.from([]), stdout: forward(1), stderr: forward(2) },
    false,
    reader,
    interrupt,
  );
} finally {
  reader?.close();
  interrupt?.done();
}
port.postMessage({ code } satisfies EngineThreadMessage);
