import { getCompileCacheDir } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { ReplayReader } from '@llmsec/detect/replay';
import type { CliIO } from '../io.ts';
import type { EngineThreadData, EngineThreadMessage } from './replay-engine-thread.ts';
import { EngineThreadUnavailableError } from './replay-thread-fallback.ts';

/**
 * The engine's thread's young generation, MiB (V8 splits it into two semi-spaces and a large
 * object space: 24 = 8 MiB semi-spaces, as `node --max-semi-space-size=8`). V8 would grow it to
 * 64 MiB semi-spaces as user state survives scavenges: 1,000 B of RSS per active user at
 * 60,000 users (bench/replay/memory.ts); with this cap the old space holds that state instead.
 */
const ENGINE_YOUNG_GENERATION_MB = 24;

// Read defensively, as in @llmsec/detect's replay-pipeline.ts: bundled, import.meta.url is the
// bundle's (the thread's file is then missing) or, as CommonJS, not a string at all.
const here: unknown = import.meta.url;
const fromSource = typeof here === 'string' && here.endsWith('.ts');

/**
 * Runs the command on the engine's thread, writing its output to `io` in order. Rejects with
 * EngineThreadUnavailableError when the thread does not start (its file is missing or does not
 * load): nothing was read or written then, so the caller can run the command itself.
 * `reader`: the file's reader thread, started ahead (startReplayReader), handed to the engine's
 * thread; the caller closes it. `interrupted`: the flag the caller sets on SIGINT / SIGTERM
 * (replay-interrupt.ts catchingInterrupts).
 */
export function runOnEngineThread(
  argv: string[],
  io: CliIO,
  reader?: ReplayReader,
  interrupted?: Int32Array,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const cacheDir = getCompileCacheDir();
    // Characters forwarded and not yet written out: the engine's thread waits above a cap
    // (replay-engine-thread.ts), as a write to a slow pipe would block it in place.
    const pendingBuffer = new SharedArrayBuffer(4);
    const pending = new Int32Array(pendingBuffer);
    const written = (chars: number) => (): void => {
      Atomics.sub(pending, 0, chars);
      Atomics.notify(pending, 0);
    };
    let worker: Worker;
    try {
      const handed = reader?.handOver();
      worker = new Worker(
        new URL(fromSource ? './replay-engine-thread.ts' : './replay-engine-thread.js', here as string),
        {
          workerData: {
            argv,
            pending: pendingBuffer,
            ...(interrupted !== undefined ? { interrupted } : {}),
            ...(handed !== undefined ? { reader: handed.link } : {}),
          } satisfies EngineThreadData,
          ...(handed !== undefined ? { transferList: handed.transfer } : {}),
          resourceLimits: { maxYoungGenerationSizeMb: ENGINE_YOUNG_GENERATION_MB },
          // As for the reader thread (replay-pipeline.ts): the process's compile cache, and the
          // source condition where it comes from a test runner rather than the process's flags.
          ...(cacheDir !== undefined ? { env: { ...process.env, NODE_COMPILE_CACHE: cacheDir } } : {}),
          ...(fromSource && !process.execArgv.some((a) => a.includes('@llmsec/source'))
            ? { execArgv: ['--conditions=@llmsec/source'] }
            : {}),
        },
      );
    } catch (err) {
      reject(new EngineThreadUnavailableError((err as Error).message));
      return;
    }
    let started = false;
    let settled = false;
    worker.on('message', (message: EngineThreadMessage) => {
      if ('ready' in message) {
        started = true;
      } else if ('fd' in message) {
        (message.fd === 1 ? io.stdout : io.stderr).write(message.text, written(message.text.length));
      } else {
        settled = true;
        resolve(message.code);
      }
    });
    worker.on('error', (err) => {
      if (settled) return;
      settled = true;
      reject(started ? err : new EngineThreadUnavailableError(err.message));
    });
    worker.on('exit', (code) => {
      if (settled) return;
      settled = true;
      const reason = `replay engine thread exited with code ${code}`;
      reject(started ? new Error(reason) : new EngineThreadUnavailableError(reason));
    });
  });
}
