// The thread `llmsec replay FILE` on two threads runs the rules on (replay.ts starts it): the command itself,
// with stdout and stderr forwarded to the starting thread in order. Why a thread of its own:
// the engine's state per user survives scavenges, and V8 then grows a thread's young generation
// towards 64 MiB of semi-spaces, ~1 KB of resident memory per active user on top of the state
// (issue 13). The cap is set when a thread's heap is made (a worker's resourceLimits; a V8 flag
// set at run time does not apply: bench/replay/young-gen-levers.ts), and the CLI cannot choose
// the flags of the process it was started in.
import { Readable, Writable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { runReplayHere } from './replay.ts';

/** What the engine's thread sends: output in write order, then the exit code. */
export type EngineThreadMessage = { fd: 1 | 2; text: string } | { code: number };

const port = parentPort!;
const forward = (fd: 1 | 2): Writable =>
  new Writable({
    write(chunk: Buffer | string, _encoding, callback): void {
      port.postMessage({ fd, text: chunk.toString() } satisfies EngineThreadMessage);
      callback();
    },
  });

const code = await runReplayHere(workerData as string[], {
  stdin: Readable.from([]),
  stdout: forward(1),
  stderr: forward(2),
});
port.postMessage({ code } satisfies EngineThreadMessage);
