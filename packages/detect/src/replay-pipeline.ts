import type { SecurityEvent } from '@llmsec/core';
import { statSync } from 'node:fs';
import { getCompileCacheDir } from 'node:module';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { decodeEventLineFast } from './event-reader.ts';
import { ReaderMerge } from './replay-merge.ts';
import { ReplayProjection, replayProjector } from './replay-projection.ts';
import { planSplit, type ReaderRange, type ReaderSplitOptions } from './replay-split.ts';
import type { RuleDefinition } from './types.ts';

/**
 * A replay of a file on two threads: a reader thread (replay-reader-worker.ts) reads, splits and
 * decodes the lines, exactly as the one-thread replay does, and sends of each event only the
 * fields the rules read; this thread reads the batches back and feeds the engine, in input order.
 * The engine sees the same events in the same order with the same times, so lateness, ordering
 * and alerts are those of the one-thread replay; malformed lines are reported with the same
 * numbers and reasons. The reader is at most a few batches ahead (bounded memory).
 *
 * A regular file of 16 MiB or more (not compressed) is read by two reader threads on a machine
 * with three cores or more (replay-split.ts says why not on two), each on alternate 1 MiB blocks (replay-split.ts, replay-blocks.ts), and their batches are taken here
 * in file order (replay-merge.ts): the reader, parsing JSON, set the pace while the engine's
 * thread waited for it ~40% of the run. Same events, order and line numbers as one reader.
 *
 * The reader may be started before the engine's modules and rules are loaded
 * (startReplayReader): it reads and decodes from its start, posting a bounded amount of whole
 * events (this side projects them), and gets the rules by message when the replay begins (issue 13: the reader sets the replay's pace, and
 * the engine's start-up was on its path).
 */

export interface ReaderOptions {
  file: string;
  maxLineBytes: number;
  /** The rules the engine runs (their fields are kept); undefined: every field is kept. */
  rules: RuleDefinition[] | undefined;
  /**
   * How a regular file is split between reader threads (replay-split.ts; default: two readers
   * on 1 MiB blocks from 16 MiB on, with three cores or more). Used when no reader was started ahead (startReplayReader
   * takes its own).
   */
  split?: ReaderSplitOptions;
  /**
   * Ends the replay early (a CLI's Ctrl-C): it rejects at once with ReplayAbortedError (`lines`:
   * the lines of what was fed) and ends the readers, without waiting for them to stop (one
   * blocked reading a pipe nobody writes to would never say so).
   */
  signal?: AbortSignal;
}

/** replayFileOnTwoThreads ended by its options' signal; `lines`: the lines of the events fed. */
export class ReplayAbortedError extends Error {
  override readonly name = 'ReplayAbortedError';
  readonly lines: number;

  constructor(lines: number) {
    super('replay aborted');
    this.lines = lines;
  }
}

/** What the reader thread is started with: the rules come later (ReaderRules), on `port`. */
export interface ReaderStart {
  file: string;
  maxLineBytes: number;
  port: MessagePort;
  /** Set to 1 by the reader thread just before it opens the file (shared memory). */
  opened: Int32Array;
  /** This reader's blocks of the file, beside other readers' (replay-split.ts); else all of it. */
  range?: ReaderRange;
  /** ReaderSplitOptions.rawLines. */
  rawLines: 'auto' | 'always' | 'never';
}

/** The first message to the reader thread: the rules whose fields it keeps. */
export interface ReaderRules {
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
  /**
   * Read before the rules came: `values` are the events, whole, for this side to project; an
   * event nested too deep to be cloned is its line (a string), then or later.
   */
  whole: boolean;
  categories: string[];
  values: unknown[];
  count: number;
  times: number[];
  errors: [index: number, lineNumber: number, reason: string | number][];
  /**
   * Byte ranges only: the batch ends one of the reader's blocks, which had this many lines
   * (complete and skipped); line numbers in `errors` are the block's own (replay-merge.ts).
   */
  blockLines?: number;
  /** The lines read up to this batch's last (on byte ranges, its block's own numbering). */
  lines?: number;
  /**
   * `values` are `count` lines (not blank) for this side to decode, `lineNumbers` theirs; only
   * over-long lines are in `errors` (malformed ones are found here). The reader, which sets the
   * replay's pace, hands lines over when this side is waiting for work (ReaderSplitOptions.rawLines).
   */
  raw?: boolean;
  lineNumbers?: number[];
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
  /** Lines read before the error (a reader of the whole input; its events were all posted). */
  lines?: number;
}

type ReaderMessage = ReaderBatch | ReaderDone | ReaderFailed;

/**
 * The reader thread could not start: its module file is missing (a bundled CLI, an install
 * without it) or does not load. Nothing was read or handed to the engine yet, so the caller
 * can read the file on its own thread instead and get the same events. Not thrown when the
 * thread opened a file that cannot be read twice (a FIFO, `<(zcat log.gz)`, a device): what it
 * took from the pipe is gone, and reading the rest as the whole input would replay a log with
 * its start missing; the replay fails instead, saying so.
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

/** What the thread that started a reader says of it: it failed, or it ended. */
type ReaderStatus = { kind: 'error'; message: string } | { kind: 'exit'; code: number };

/**
 * A reader started on one thread and handed to another (ReplayReader.handOver): put it in that
 * thread's workerData with `transfer` in the transferList, and make it a reader there with
 * replayReaderFrom.
 */
export interface ReplayReaderLink {
  file: string;
  maxLineBytes: number;
  /** The reader's messages (ReaderMessage) and the replay's to it (ReaderRules, then 0s). */
  port: MessagePort;
  /** ReaderStart.opened: shared memory, so it is this reader's wherever it is handed to. */
  opened: Int32Array;
  /** The reader thread's failure or exit, from the thread that started it (ReaderStatus). */
  status: MessagePort;
  /** The ports of the other readers of a file read on byte ranges (replay-split.ts), in order. */
  more?: { port: MessagePort; status: MessagePort }[];
}

/**
 * A reader thread started ahead of its replay (startReplayReader). Until the replay listens, the
 * reader's messages and its thread's failure or exit wait in their ports. Pass it to
 * replayFileOnTwoThreads on this thread, or hand it to another (handOver, then replayReaderFrom
 * there), or close it if the replay does not run (a usage error).
 */
export interface ReplayReader {
  readonly file: string;
  readonly maxLineBytes: number;
  /**
   * For the thread the replay will run on: the link and what to transfer with it (undefined if
   * the thread could not be made: the replay there then starts its own). This handle keeps
   * only close().
   */
  handOver(): { link: ReplayReaderLink; transfer: MessagePort[] } | undefined;
  /**
   * Ends the reader (idempotent). The replay's side closes its ports when it ends, which ends
   * the reader thread; the thread that started it may also stop it at once.
   */
  close(): void;
}

/** One reader thread's two ports, seen from the replay's side (and its Worker where started). */
interface ReaderPorts {
  /** Its messages (ReaderMessage) and the replay's to it (ReaderRules, then 0s). */
  port: MessagePort;
  /** Its thread's failure or exit (ReaderStatus). */
  status: MessagePort;
  worker?: Worker;
}

/** ReplayReader, with what the replay's side calls: one reader thread, or several on byte ranges. */
class ReaderThread implements ReplayReader {
  readonly file: string;
  readonly maxLineBytes: number;
  /** Reader 0 first; undefined: the threads could not be made (Worker threw). */
  private readonly readers: ReaderPorts[] | undefined;
  /** The thread could not be made at all (Worker threw). */
  private readonly startError: Error | undefined;
  /** ReaderStart.opened, shared by the readers of one replay. */
  readonly opened: Int32Array;
  private taken = false;

  private constructor(
    file: string,
    maxLineBytes: number,
    readers: ReaderPorts[] | undefined,
    startError: Error | undefined,
    opened: Int32Array,
  ) {
    this.opened = opened;
    this.file = file;
    this.maxLineBytes = maxLineBytes;
    this.readers = readers;
    this.startError = startError;
  }

  /** Reader threads for `file`: several on byte ranges where planSplit allows, else one. */
  static start(file: string, maxLineBytes: number, split: ReaderSplitOptions | undefined): ReaderThread {
    const opened = new Int32Array(new SharedArrayBuffer(4));
    const ranges: (ReaderRange | undefined)[] = planSplit(file, split) ?? [undefined];
    const rawLines = split?.rawLines ?? 'auto';
    if (rawLines !== 'auto' && rawLines !== 'always' && rawLines !== 'never')
      throw new RangeError(`rawLines must be auto, always or never, got ${String(rawLines)}`);
    const readers: ReaderPorts[] = [];
    for (const range of ranges) {
      try {
        readers.push(ReaderThread.spawn(file, maxLineBytes, range, opened, rawLines));
      } catch (err) {
        for (const r of readers) {
          r.port.close();
          r.status.close();
          void r.worker?.terminate();
        }
        return new ReaderThread(file, maxLineBytes, undefined, err as Error, opened);
      }
    }
    return new ReaderThread(file, maxLineBytes, readers, undefined, opened);
  }

  private static spawn(
    file: string,
    maxLineBytes: number,
    range: ReaderRange | undefined,
    opened: Int32Array,
    rawLines: ReaderStart['rawLines'],
  ): ReaderPorts {
    const data = new MessageChannel();
    const status = new MessageChannel();
    const cacheDir = getCompileCacheDir();
    let worker: Worker;
    try {
      worker = new Worker(workerUrl(), {
        workerData: {
          file,
          maxLineBytes,
          port: data.port2,
          opened,
          ...(range !== undefined ? { range } : {}),
          rawLines,
        } satisfies ReaderStart,
        transferList: [data.port2],
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
      data.port1.close();
      status.port1.close();
      status.port2.close();
      throw err;
    }
    // Said through a port, so that the thread the replay runs on hears it wherever that is.
    worker.on('error', (err) =>
      status.port1.postMessage({ kind: 'error', message: err.message } satisfies ReaderStatus),
    );
    worker.on('exit', (code) => {
      status.port1.postMessage({ kind: 'exit', code } satisfies ReaderStatus);
      status.port1.close();
    });
    return { port: data.port1, status: status.port2, worker };
  }

  static from(link: ReplayReaderLink): ReaderThread {
    const readers = [{ port: link.port, status: link.status }, ...(link.more ?? [])];
    return new ReaderThread(link.file, link.maxLineBytes, readers, undefined, link.opened);
  }

  /** How many reader threads read the file (1, or the number of byte-range readers). */
  get count(): number {
    return this.readers?.length ?? 1;
  }

  handOver(): { link: ReplayReaderLink; transfer: MessagePort[] } | undefined {
    if (this.readers === undefined || this.taken) return undefined;
    this.taken = true;
    const [first, ...more] = this.readers;
    return {
      link: {
        file: this.file,
        maxLineBytes: this.maxLineBytes,
        port: first!.port,
        status: first!.status,
        opened: this.opened,
        ...(more.length > 0 ? { more: more.map((r) => ({ port: r.port, status: r.status })) } : {}),
      },
      transfer: this.readers.flatMap((r) => [r.port, r.status]),
    };
  }

  close(): void {
    for (const r of this.readers ?? []) {
      if (!this.taken) {
        r.port.close();
        r.status.close();
      }
      void r.worker?.terminate();
    }
  }

  /**
   * The replay's side: the rules sent to every reader; each reader's messages (with its number)
   * and its thread's status to `listener` and `onStatus` from now on (what came before waited
   * in the ports).
   */
  listen(
    rules: RuleDefinition[] | undefined,
    listener: (message: ReaderMessage, reader: number) => void,
    onStatus: (status: ReaderStatus) => void,
  ): void {
    if (this.taken) throw new Error('this replay reader is already in use');
    this.taken = true;
    if (this.readers === undefined) {
      onStatus({ kind: 'error', message: this.startError?.message ?? 'not started' });
      return;
    }
    this.readers.forEach(({ port, status }, index) => {
      port.postMessage({ rules } satisfies ReaderRules);
      port.on('message', (message: ReaderMessage) => listener(message, index));
      // A batch this thread could not deserialize is dropped by Node with only this event: the
      // replay must fail (or, nothing fed yet, read on one thread), not go on without it.
      port.on('messageerror', (err: Error) =>
        onStatus({ kind: 'error', message: `a batch could not be read: ${err.message}` }),
      );
      status.on('message', onStatus);
    });
  }

  /** Each batch taken: one more may come from that reader. */
  batchTaken(reader: number): void {
    this.readers![reader]!.port.postMessage(0);
  }

  /** The replay ended: its ports closed, which ends the reader threads. */
  end(): void {
    for (const r of this.readers ?? []) {
      r.port.close();
      r.status.close();
      void r.worker?.terminate();
    }
  }
}

/**
 * Starts the reader thread of a replay of `file` now, before the rules are known: it reads and
 * decodes while the caller loads the engine and the rules, posting the events whole (at most ~32
 * Mi characters of their lines) until replayFileOnTwoThreads gives it the rules. Throws only a
 * RangeError for a `split` out of its range (readers, blockBytes, rawLines: the caller's mistake,
 * which the CLI checks first); a thread that cannot start is reported by replayFileOnTwoThreads
 * (ReplayThreadUnavailableError).
 */
export function startReplayReader(
  file: string,
  maxLineBytes: number,
  split?: ReaderSplitOptions,
): ReplayReader {
  return ReaderThread.start(file, maxLineBytes, split);
}

/** The reader another thread started and handed over (ReplayReader.handOver). */
export function replayReaderFrom(link: ReplayReaderLink): ReplayReader {
  return ReaderThread.from(link);
}

/**
 * Replays `options.file` on two threads, or more: a regular file large enough is read by
 * several reader threads on byte ranges (replay-split.ts), fed to the engine in file order.
 * Resolves with the line count, the readers' CPU time (summed) and their number; rejects (Error with the reason) when the file cannot be read (every event read before the error
 * fed first, and the error's `lines` the lines read: by one reader of the whole input, or, on
 * byte ranges, the file's lines before the failing reader's position), and with a
 * ReplayThreadUnavailableError when the reader thread cannot start (nothing was fed then).
 * `reader`: one started ahead for the same file and line cap (startReplayReader); closed at
 * the end, as one started here.
 */
export function replayFileOnTwoThreads(
  options: ReaderOptions,
  handlers: PipelineHandlers,
  reader?: ReplayReader,
): Promise<{ lines: number; readerCpuMs: number | undefined; readers: number }> {
  if (reader !== undefined && !(reader instanceof ReaderThread)) {
    return Promise.reject(new TypeError('not a reader from startReplayReader or replayReaderFrom'));
  }
  if (
    reader !== undefined &&
    (reader.file !== options.file || reader.maxLineBytes !== options.maxLineBytes)
  ) {
    return Promise.reject(new TypeError('the replay reader was started for another file or line cap'));
  }
  const thread = reader ?? ReaderThread.start(options.file, options.maxLineBytes, options.split);
  return new Promise((resolve, reject) => {
    // A feeder per reader: each numbers the categories of its batches on its own.
    const feeders = Array.from({ length: thread.count }, () => new BatchFeeder(options.rules, handlers));
    const merge = new ReaderMerge<ReaderBatch>(thread.count);
    const take = (batch: ReaderBatch, index: number, linesBefore: number): void => {
      fed = true;
      feeders[index]!.feed(batch, linesBefore);
      thread.batchTaken(index);
    };
    let settled = false;
    // Until a batch was fed, a failure of the reader's thread (its file, its imports) leaves
    // the caller free to read the file itself.
    let fed = false;
    const finish = (
      err: Error | undefined,
      value?: { lines: number; readerCpuMs: number | undefined; readers: number },
    ): void => {
      if (settled) return;
      settled = true;
      thread.end();
      if (err !== undefined) reject(err);
      else resolve(value!);
    };
    // The status comes through another port than the messages and may overtake the last of
    // them: what was fed, not what the reader said, decides.
    const onStatus = (status: ReaderStatus): void => {
      const reason =
        status.kind === 'error'
          ? `replay reader thread: ${status.message}`
          : `replay reader thread exited with code ${status.code}`;
      // The lines of what was fed, for the summary printed before the error.
      if (fed) finish(Object.assign(new Error(reason), { lines: merge.linesTaken }));
      else if (readAgain(thread)) finish(new ReplayThreadUnavailableError(reason));
      else
        finish(
          new Error(
            `${reason}, after it began reading ${options.file}, which is not a regular file (a pipe or ` +
              'device): what it read cannot be read again, so the replay stops rather than miss the start of the input',
          ),
        );
    };
    thread.listen(
      options.rules,
      (message, index) => {
        if (settled) return;
        try {
          if (message.kind === 'failed' && thread.count === 1)
            finish(
              Object.assign(
                new Error(message.message),
                message.lines !== undefined ? { lines: message.lines } : {},
              ),
            );
          else {
            // Readers on byte ranges: a failure waits for its turn in file order, so that the
            // blocks before it that other readers read are still fed, and says their lines.
            const all = merge.push(index, message, take);
            if (all !== undefined && 'failed' in all)
              finish(Object.assign(new Error(all.failed), { lines: all.lines }));
            else if (all !== undefined)
              finish(undefined, { lines: all.lines, readerCpuMs: all.cpuMs, readers: thread.count });
          }
        } catch (err) {
          finish(err as Error);
        }
      },
      onStatus,
    );
    // Between two batches (this thread's event loop): `linesTaken` is that of the events fed.
    if (options.signal?.aborted === true) finish(new ReplayAbortedError(merge.linesTaken));
    else
      options.signal?.addEventListener('abort', () => finish(new ReplayAbortedError(merge.linesTaken)), {
        once: true,
      });
  });
}

/**
 * Whether the caller may read the file itself after the reader thread failed having fed
 * nothing: the thread never opened it, or it is a regular file (read again from its start).
 * A pipe or device the thread opened may have lost data to it (read, never fed).
 */
function readAgain(thread: ReaderThread): boolean {
  if (Atomics.load(thread.opened, 0) === 0) return true;
  try {
    return statSync(thread.file).isFile();
  } catch {
    return false;
  }
}

/** Reads one batch back into events, handing them and the batch's errors over in input order. */
class BatchFeeder {
  private readonly projection: ReplayProjection;
  /** For whole events: a projection of its own (it numbers categories apart from `read`). */
  private readonly project: (event: SecurityEvent) => SecurityEvent;
  private readonly handlers: PipelineHandlers;
  private times: number[] = [];
  private index = 0;
  /** Bound once: read() calls it per event. */
  private readonly deliver = (event: SecurityEvent): void => {
    this.handlers.onEvent(event, this.times[this.index++]!);
  };

  constructor(rules: RuleDefinition[] | undefined, handlers: PipelineHandlers) {
    this.projection = new ReplayProjection(rules);
    this.project = rules !== undefined ? replayProjector(rules) : (event) => event;
    this.handlers = handlers;
  }

  /** `linesBefore`: the file's lines before the batch's block (byte ranges), else 0. */
  feed(batch: ReaderBatch, linesBefore: number): void {
    const { values, count, errors } = batch;
    const handlers = this.handlers;
    if (batch.raw === true) {
      // Decoded as the one-thread replay's onLine decodes (replay-run.ts): same events, same
      // reasons, the reader's line numbers.
      const lineNumbers = batch.lineNumbers!;
      let e = 0;
      for (let i = 0; i < count; i++) {
        for (; e < errors.length && errors[e]![0] === i; e++) report(errors[e]!, linesBefore, handlers);
        let decoded;
        try {
          decoded = decodeEventLineFast(values[i] as string);
        } catch (err) {
          handlers.onMalformed(linesBefore + lineNumbers[i]!, (err as Error).message);
          continue;
        }
        handlers.onEvent(this.project(decoded.event), decoded.timeMs);
      }
      for (; e < errors.length; e++) report(errors[e]!, linesBefore, handlers);
      return;
    }
    if (batch.whole) {
      let e = 0;
      for (let i = 0; i < count; i++) {
        for (; e < errors.length && errors[e]![0] === i; e++) report(errors[e]!, linesBefore, handlers);
        // A line: an event nested too deep to be cloned (replay-reader-worker.ts), decoded
        // here as the reader did.
        const value = values[i];
        const event = typeof value === 'string' ? decodeEventLineFast(value).event : (value as SecurityEvent);
        handlers.onEvent(this.project(event), batch.times[i]!);
      }
      for (; e < errors.length; e++) report(errors[e]!, linesBefore, handlers);
      return;
    }
    this.projection.learnCategories(batch.categories);
    this.times = batch.times;
    this.index = 0;
    let at = 0;
    let e = 0;
    for (let i = 0; i < count; i++) {
      for (; e < errors.length && errors[e]![0] === i; e++) report(errors[e]!, linesBefore, handlers);
      at = this.projection.read(values, at, this.deliver);
    }
    for (; e < errors.length; e++) report(errors[e]!, linesBefore, handlers);
    this.times = [];
  }
}

function report(
  [, lineNumber, reason]: ReaderBatch['errors'][number],
  linesBefore: number,
  handlers: PipelineHandlers,
): void {
  if (typeof reason === 'number') handlers.onOverlong(linesBefore + lineNumber, reason);
  else handlers.onMalformed(linesBefore + lineNumber, reason);
}
