// The reader thread of a two-thread replay (replay-pipeline.ts): reads the file, splits and
// decodes its lines exactly as the one-thread replay does (core's LineSplitter and
// decodeEventLineFast: same events, same errors, same line numbers), writes of each event what
// the rules read (ReplayProjection) into one flat array per batch and posts the batches in
// input order.
// At most MAX_IN_FLIGHT batches wait for the engine's thread: memory stays bounded when the
// engine is the slower side (it is).
import { createReadStream } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { LineSplitter } from '@llmsec/core';
import { decodeEventLineFast } from './event-reader.ts';
import { gunzipIfCompressed } from './gzip-input.ts';
import { ReplayProjection } from './replay-projection.ts';
import type { ReaderBatch, ReaderDone, ReaderFailed, ReaderOptions, ReaderReady } from './replay-pipeline.ts';

// 1,024 events a batch: its array (~10 values an event) stays under V8's large-object size,
// so a batch is young garbage, not a large object each; 8 in flight keep the 8 k events of
// slack the threads had with 4 of 2,048. 1 M lines, 1 k users: peak RSS 213-216 MB vs
// 230-255, same CPU; 512 a batch cost the engine's thread ~10% more per-message work.
const BATCH_EVENTS = 1024;
const MAX_IN_FLIGHT = 8;

const port = parentPort!;
// Loaded (imports included): from here on a failure is the replay's, not the thread's start.
port.postMessage({ kind: 'ready' } satisfies ReaderReady);
const options = workerData as ReaderOptions;
const projection = new ReplayProjection(options.rules);

let inFlight = 0;
let resume: (() => void) | undefined;
port.on('message', () => {
  inFlight--;
  resume?.();
  resume = undefined;
});

let values: unknown[] = [];
let count = 0;
let times: number[] = [];
let errors: ReaderBatch['errors'] = [];
let lines = 0;

function post(): void {
  const batch: ReaderBatch = {
    kind: 'batch',
    categories: projection.takeNewCategories(),
    values,
    count,
    times,
    errors,
  };
  port.postMessage(batch);
  inFlight++;
  values = [];
  count = 0;
  times = [];
  errors = [];
}

function onLine(line: string, lineNumber: number): void {
  lines = lineNumber;
  if (line.length === 0) return;
  const first = line.charCodeAt(0);
  if ((first === 32 || first === 9) && line.trim().length === 0) return;
  let decoded;
  try {
    decoded = decodeEventLineFast(line);
  } catch (err) {
    errors.push([count, lineNumber, (err as Error).message]);
  }
  if (decoded !== undefined) {
    projection.write(decoded.event, values);
    times.push(decoded.timeMs);
    count++;
  }
  // Junk lines count too: a log of nothing but junk must not pile up its reports here.
  if (count + errors.length >= BATCH_EVENTS) post();
}

function onOverlong(lineNumber: number, bytes: number): void {
  lines = lineNumber;
  errors.push([count, lineNumber, bytes]);
  if (count + errors.length >= BATCH_EVENTS) post();
}

async function run(): Promise<void> {
  const splitter = new LineSplitter(onLine, { maxLineBytes: options.maxLineBytes, onOverlong });
  const input = createReadStream(options.file, { highWaterMark: 512 << 10 });
  for await (const chunk of gunzipIfCompressed(input as AsyncIterable<Buffer>)) {
    splitter.push(chunk as Buffer);
    while (inFlight >= MAX_IN_FLIGHT) await new Promise<void>((r) => (resume = r));
  }
  splitter.end();
  post();
  // Node 22 has no per-thread CPU time; the summary then leaves the reader's out.
  const cpu = typeof process.threadCpuUsage === 'function' ? process.threadCpuUsage() : undefined;
  const done: ReaderDone = {
    kind: 'done',
    lines,
    cpuMs: cpu !== undefined ? (cpu.user + cpu.system) / 1000 : undefined,
  };
  port.postMessage(done);
}

run().catch((err: unknown) => {
  const failed: ReaderFailed = { kind: 'failed', message: (err as Error).message };
  port.postMessage(failed);
});
