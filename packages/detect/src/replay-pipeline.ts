import type { SecurityEvent } from '@llmsec/core';
import { getCompileCacheDir } from 'node:module';
import { Worker } from 'node:worker_threads';
import { ReplayProjection } from './replay-projection.ts';
import type { RuleDefinition } from './types.ts';

/**
 * A replay of a file on two threads: a reader thread (replay-reader-worker.ts) reads, splits and
 * decodes the lines, exactly as the one-thread replay does, and sends of each event only the
 * fields the rules read; this thread reads the batches back and feeds the engine, in input order.
 * The engine sees the same events in the same order with the same times, so lateness, ordering
 * and alerts are those of the one-thread replay; malformed lines are reported with the same
 * numbers and reasons. The reader is at most a few batches ahead (bounded memory).
 */

export interface ReaderOptions {
  file: string;
  maxLineBytes: number;
  /** The rules the engine runs (their fields are kept); undefined: every field is kept. */
  rules: RuleDefinition[] | undefined;
}

/**
 * `count` events, written by ReplayProjection into `values` (after learning `categories`, the
 * category names the batch numbers first); times[i] is event i's event time. errors[k] came
 * before event errors[k][0]: a malformed line (the reason) or an over-long one (its length in
 * bytes).
 */
export interface ReaderBatch {
  kind: 'batch';
  categories: string[];
  values: unknown[];
  count: number;
  times: number[];
  errors: [index: number, lineNumber: number, reason: string | number][];
}

export interface ReaderDone {
  kind: 'done';
  lines: number;
  /** CPU time of the reader thread (undefined where Node cannot tell one thread's). */
  cpuMs: number | undefined;
}

export interface ReaderFailed {
  kind: 'failed';
  message: string;
}

/** The reader thread's first message: its modules loaded, it is reading. */
export interface ReaderReady {
  kind: 'ready';
}

type ReaderMessage = ReaderReady | ReaderBatch | ReaderDone | ReaderFailed;

/**
 * The reader thread could not start: its module file is missing (a bundled CLI, an install
 * without it) or does not load. Nothing was read or handed to the engine yet, so the caller
 * can read the file on its own thread instead and get the same events.
 */
export class ReplayThreadUnavailableError extends Error {
  override readonly name = 'ReplayThreadUnavailableError';
}

export interface PipelineHandlers {
  /** One event, in input order. */
  onEvent(event: SecurityEvent, timeMs: number): void;
  /** A malformed line and the decoder's reason, in input order. */
  onMalformed(lineNumber: number, reason: string): void;
  /** A line over maxLineBytes (skipped, never held whole), in input order. */
  onOverlong(lineNumber: number, bytes: number): void;
}

/**
 * Where this module runs from source (.ts), the worker does too, with the same export condition.
 * Read defensively: in a bundle `import.meta.url` may be the bundle's (the worker file is then
 * missing, found at start) or, bundled to CommonJS, not a string at all (must not throw on import).
 */
const here: unknown = import.meta.url;
const fromSource = typeof here === 'string' && here.endsWith('.ts');

function workerUrl(): URL {
  return new URL(fromSource ? './replay-reader-worker.ts' : './replay-reader-worker.js', here as string);
}

const READER_YOUNG_GENERATION_MB = 8;

/**
 * Replays `options.file` on two threads. Resolves with the line count and the reader's CPU
 * time; rejects (Error with the reason) when the file cannot be read, and with a
 * ReplayThreadUnavailableError when the reader thread cannot start (nothing was fed then).
 */
export function replayFileOnTwoThreads(
  options: ReaderOptions,
  handlers: PipelineHandlers,
): Promise<{ lines: number; readerCpuMs: number | undefined }> {
  return new Promise((resolve, reject) => {
    const cacheDir = getCompileCacheDir();
    let worker: Worker;
    try {
      worker = new Worker(workerUrl(), {
        workerData: options,
        // The reader's garbage is short-lived (lines, parsed objects, the batch being written):
        // a small young generation keeps it from growing to V8's 64 MiB of semi-spaces, ~40 MB
        // less resident memory for the same reader CPU time (measured, 1 M lines).
        resourceLimits: { maxYoungGenerationSizeMb: READER_YOUNG_GENERATION_MB },
        // The compile cache the process uses (the CLI enables one), for the reader's modules too:
        // a worker does not inherit it. Half the reader's start-up CPU from the second run on.
        ...(cacheDir !== undefined ? { env: { ...process.env, NODE_COMPILE_CACHE: cacheDir } } : {}),
        // The worker inherits the process's flags, but under a test runner or a bench the source
        // condition may come from elsewhere (vitest's resolver): name it.
        ...(fromSource && !process.execArgv.some((a) => a.includes('@llmsec/source'))
          ? { execArgv: ['--conditions=@llmsec/source'] }
          : {}),
      });
    } catch (err) {
      reject(new ReplayThreadUnavailableError(`replay reader thread: ${(err as Error).message}`));
      return;
    }
    const feeder = new BatchFeeder(options.rules, handlers);
    let settled = false;
    // Until the reader says it is ready, a failure is one to start it (its file, its imports).
    let ready = false;
    const finish = (
      err: Error | undefined,
      value?: { lines: number; readerCpuMs: number | undefined },
    ): void => {
      if (settled) return;
      settled = true;
      void worker.terminate();
      if (err !== undefined) reject(err);
      else resolve(value!);
    };
    worker.on('message', (message: ReaderMessage) => {
      if (settled) return;
      try {
        if (message.kind === 'ready') {
          ready = true;
        } else if (message.kind === 'batch') {
          feeder.feed(message);
          worker.postMessage(0);
        } else if (message.kind === 'done') {
          finish(undefined, { lines: message.lines, readerCpuMs: message.cpuMs });
        } else {
          finish(new Error(message.message));
        }
      } catch (err) {
        finish(err as Error);
      }
    });
    worker.on('error', (err) =>
      finish(ready ? err : new ReplayThreadUnavailableError(`replay reader thread: ${err.message}`)),
    );
    worker.on('exit', (code) => {
      const reason = `replay reader thread exited with code ${code}`;
      finish(ready ? new Error(reason) : new ReplayThreadUnavailableError(reason));
    });
  });
}

/** Reads one batch back into events, handing them and the batch's errors over in input order. */
class BatchFeeder {
  private readonly projection: ReplayProjection;
  private readonly handlers: PipelineHandlers;
  private times: number[] = [];
  private index = 0;
  /** Bound once: read() calls it per event. */
  private readonly deliver = (event: SecurityEvent): void => {
    this.handlers.onEvent(event, this.times[this.index++]!);
  };

  constructor(rules: RuleDefinition[] | undefined, handlers: PipelineHandlers) {
    this.projection = new ReplayProjection(rules);
    this.handlers = handlers;
  }

  feed(batch: ReaderBatch): void {
    const { values, count, errors } = batch;
    const handlers = this.handlers;
    this.projection.learnCategories(batch.categories);
    this.times = batch.times;
    this.index = 0;
    let at = 0;
    let e = 0;
    for (let i = 0; i < count; i++) {
      for (; e < errors.length && errors[e]![0] === i; e++) report(errors[e]!, handlers);
      at = this.projection.read(values, at, this.deliver);
    }
    for (; e < errors.length; e++) report(errors[e]!, handlers);
    this.times = [];
  }
}

function report([, lineNumber, reason]: ReaderBatch['errors'][number], handlers: PipelineHandlers): void {
  if (typeof reason === 'number') handlers.onOverlong(lineNumber, reason);
  else handlers.onMalformed(lineNumber, reason);
}
