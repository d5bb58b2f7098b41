// The reader thread of a two-thread replay (replay-pipeline.ts): reads the file, splits and
// decodes its lines exactly as the one-thread replay does (core's LineSplitter and
// decodeEventLineFast: same events, same errors, same line numbers), writes of each event what
// the rules read (ReplayProjection) into one flat array per batch and posts the batches in
// input order. Given a range (replay-split.ts), it reads only its blocks of a regular file,
// beside other readers (replay-blocks.ts): each block's last batch says its line count, and
// its lines are numbered within the block (the engine's side adds the lines before: the
// reader does not know them).
// It starts reading before it knows the rules (the engine's thread sends them once it has
// loaded them: ReaderRules), so that the engine's start-up and the reader's overlap: until then
// it posts whole events (ReaderBatch.whole), which wait serialized in the port, at most
// MAX_WHOLE_CHARS of their lines, and the engine's side projects them. Held in this thread's
// heap instead they were promoted to its old space and left V8 collecting it every ~0.5 s for
// the rest of the run (measured: +0.1 s of the reader's CPU on 144 k lines). At most
// MAX_IN_FLIGHT batches wait for the engine's thread once it reads: memory stays bounded when
// the engine is the slower side (it is).
import { createReadStream } from 'node:fs';
import { workerData } from 'node:worker_threads';
// Core's JSONL-only subpath: its main entry loads @opentelemetry/api (51 modules), all before
// this thread's first read, which sets the replay's pace (issue 13).
import { LineSplitter } from '@llmsec/core/jsonl';
import { decodeEventLineFast } from './event-reader.ts';
import { gunzipIfCompressed } from './gzip-input.ts';
import { BatchArrays, cutBatch } from './replay-batch-array.ts';
import { readBlocks } from './replay-blocks.ts';
import { ReplayProjection } from './replay-projection.ts';
import type { ReaderBatch, ReaderDone, ReaderFailed, ReaderRules, ReaderStart } from './replay-pipeline.ts';

// 1,024 events a batch at most, 8 in flight: the 8 k events of slack the threads had with 4 of
// 2,048. 1 M lines, 1 k users: peak RSS 213-216 MB vs 230-255, same CPU; 512 a batch cost the
// engine's thread ~10% more per-message work.
const BATCH_EVENTS = 1024;
/**
 * The most values a batch's array holds before it is posted. Past 16 Ki elements (128 KiB, V8's
 * largest regular object at 8 bytes an element) its store is a large object, and writes then
 * cost ~1 us an event more (measured when the array grew by push: 15 values an event, 1,024
 * events: 0.97-1.16 us vs 0.11-0.17 us at 512 events). An event writes 7 values plus the rules'
 * fields, so the bench corpus's request_completed (8 metadata keys: 15 values) crossed it at
 * 1,024 events.
 */
const MAX_BATCH_VALUES = 8 << 10;
/**
 * A batch's array is made at MAX_BATCH_VALUES plus room for the event that crosses it, filled
 * by index and cut when posted (replay-batch-array.ts: not grown by push). One event with more
 * values than the room left (rules reading many fields) appends past the end, as every write
 * did before; the array stays under 16 Ki elements unless an event writes ~8 Ki values.
 */
const arrays = new BatchArrays(MAX_BATCH_VALUES + 64);
const MAX_IN_FLIGHT = 8;
/** Lines go to the engine's side undecoded while it has at most this many batches to take. */
const RAW_AT_MOST_IN_FLIGHT = 1;
/**
 * Characters of lines in one raw batch: lines may be up to --max-line-bytes each, so 1,024 of
 * them are not a bound; this is (with MAX_IN_FLIGHT) ~16 MB at most in flight, two bytes a
 * character. A log with previews has ~700-character lines: ~1,500 fit.
 */
const RAW_MAX_CHARS = 1 << 20;
/**
 * A longer line is decoded here even in raw mode (the rest of that read too): with
 * --max-line-bytes raised, 1,024 lines or one batch's characters are no bound on one line, and
 * the projection of a long line is small. In flight raw: at most 8 x (1 Mi + 64 Ki) characters.
 */
const RAW_MAX_LINE_CHARS = 64 << 10;
/**
 * Characters of lines posted whole before the rules come; reading then waits for them. The
 * engine's thread loads its modules and the rules in ~0.15-0.3 s, ~50-100 k lines of a log
 * with previews at the reader's pace: 32 Mi characters are ~45 k such lines. Serialized in
 * the port they take ~27 MB (ASCII previews: 0.80 bytes a character, measured with
 * v8.serialize on 1,024-event batches) up to ~55 MB (CJK previews, two bytes a character
 * serialized: 1.65).
 */
const MAX_WHOLE_CHARS = 32 << 20;
/**
 * Levels of objects and arrays below an event (or a projected value) that cross by structured
 * clone. JSON.parse does not recurse, so a hostile line may nest thousands of levels, but the
 * clone does: past ~6,500 levels this thread's serializer throws, past ~1,600 a main thread's
 * deserializer (the engine's, with --state) fails and Node drops the batch ('messageerror').
 * An event nested deeper crosses as its line, in a whole batch, decoded on the engine's side.
 */
const MAX_CLONE_DEPTH = 64;

/** Whether objects nest deeper than `levels` below `value` (walks at most that deep). */
function nestedDeeper(value: object, levels: number): boolean {
  if (levels === 0) return true;
  for (const key in value) {
    const v = (value as Record<string, unknown>)[key];
    if (typeof v === 'object' && v !== null && nestedDeeper(v, levels - 1)) return true;
  }
  return false;
}

/** Whether a value written from `start` to `end` nests too deep to be cloned (see MAX_CLONE_DEPTH). */
function tooDeep(written: unknown[], start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const v = written[i];
    if (typeof v === 'object' && v !== null && nestedDeeper(v, MAX_CLONE_DEPTH)) return true;
  }
  return false;
}

const options = workerData as ReaderStart;
const port = options.port;
/** Reading blocks of the file beside other readers (replay-split.ts), or all of it. */
const range = options.range;
/** The cap on lines posted whole is shared by the readers of one file. */
const maxWholeChars = MAX_WHOLE_CHARS / (range?.readers ?? 1);
// The replay's side closed its port (it ended, or its thread did): nothing more to read for.
port.on('close', () => process.exit());
/** The rules, once the engine's thread sent them (taken in between chunks: useRules). */
let arrived: ReaderRules | undefined;
/** Made from the rules; until then events are posted whole. */
let projection: ReplayProjection | undefined;

let inFlight = 0;
let resume: (() => void) | undefined;
// The first message is the rules, every later one a batch taken (ReaderRules, then 0s).
port.on('message', (message: ReaderRules | 0) => {
  if (message === 0) inFlight--;
  else arrived = message;
  resume?.();
  resume = undefined;
});
const wake = (): Promise<void> => new Promise<void>((r) => (resume = r));

/**
 * The batch being filled holds lines for the engine's side to decode (ReaderBatch.raw): decided
 * after each read, before the next (between), so a read's lines all go one way. This thread
 * sets the replay's pace while the engine's thread waits for its batches ~40% of the run
 * (issue 13): a batch of lines costs this thread the split and the post of each line, the
 * engine's side the decoding and projection this thread would have done, so lines go over
 * only when the engine's side has (nearly) nothing queued, and stop as soon as it has.
 */
let raw = false;
/** In a raw batch, each line's number (values are the lines), and their characters. */
let lineNumbers: number[] = [];
let rawChars = 0;
/** The batch's array, filled up to `end`. */
let values: unknown[] = arrays.fresh();
let end = 0;
let count = 0;
let times: number[] = [];
let errors: ReaderBatch['errors'] = [];
let lines = 0;
/** Lines of the blocks read (ranges: `lines` is the block's). */
let blockLinesTotal = 0;
/** Characters of the lines posted whole (before the rules came). */
let wholeChars = 0;

/** `blockLines`: the batch ends a block (ranges), which had that many lines. */
function post(blockLines?: number): void {
  const batch: ReaderBatch = {
    kind: 'batch',
    whole: projection === undefined,
    categories: projection !== undefined ? projection.takeNewCategories() : [],
    values: cutBatch(values, end),
    count,
    times,
    errors,
  };
  if (blockLines !== undefined) batch.blockLines = blockLines;
  // The lines read so far (a block's own on ranges): a failure's count of lines read.
  batch.lines = blockLines ?? lines;
  if (raw) {
    batch.raw = true;
    batch.lineNumbers = lineNumbers;
    lineNumbers = [];
    rawChars = 0;
  }
  port.postMessage(batch);
  inFlight++;
  values = arrays.fresh();
  end = 0;
  count = 0;
  times = [];
  errors = [];
}

/** One event as its line, in a whole batch (after the rules: an event nested too deep). */
function postLine(line: string, timeMs: number): void {
  const batch: ReaderBatch = {
    kind: 'batch',
    whole: true,
    categories: [],
    values: [line],
    count: 1,
    times: [timeMs],
    errors: [],
  };
  batch.lines = lines;
  port.postMessage(batch);
  inFlight++;
}

/**
 * The rules came: the batch being filled (whole events) posted, later ones written by the
 * projection. Called in between chunks, so that no batch mixes whole events with written ones.
 */
function useRules(rules: ReaderRules): void {
  if (count + errors.length > 0) post();
  projection = new ReplayProjection(rules.rules);
}

function onLine(line: string, lineNumber: number): void {
  lines = lineNumber;
  if (line.length === 0) return;
  const first = line.charCodeAt(0);
  if ((first === 32 || first === 9) && line.trim().length === 0) return;
  if (raw && line.length > RAW_MAX_LINE_CHARS) {
    // A batch is all lines or all decoded events.
    if (count + errors.length > 0) post();
    raw = false;
  }
  if (raw) {
    values[end++] = line;
    lineNumbers.push(lineNumber);
    count++;
    rawChars += line.length;
    if (count + errors.length >= BATCH_EVENTS || rawChars >= RAW_MAX_CHARS) post();
    return;
  }
  let decoded;
  try {
    decoded = decodeEventLineFast(line);
  } catch (err) {
    errors.push([count, lineNumber, (err as Error).message]);
  }
  if (decoded !== undefined) {
    const start = end;
    if (projection !== undefined) end = projection.write(decoded.event, values, end);
    else values[end++] = decoded.event;
    if (tooDeep(values, start, end)) {
      // Its line instead (a string clones flat): in place among whole events; after the
      // rules, in a whole batch of its own between the projected ones.
      end = start;
      if (projection === undefined) values[end++] = line;
      else {
        if (count + errors.length > 0) post();
        postLine(line, decoded.timeMs);
        decoded = undefined;
      }
    }
  }
  if (decoded !== undefined) {
    times.push(decoded.timeMs);
    count++;
  }
  if (projection === undefined) wholeChars += line.length;
  // Junk lines count too: a log of nothing but junk must not pile up its reports here.
  if (count + errors.length >= BATCH_EVENTS || end >= MAX_BATCH_VALUES) post();
}

function onOverlong(lineNumber: number, bytes: number): void {
  lines = lineNumber;
  errors.push([count, lineNumber, bytes]);
  // Before the rules: a report of a skipped line costs a few dozen bytes.
  if (projection === undefined) wholeChars += 64;
  if (count + errors.length >= BATCH_EVENTS) post();
}

/** After each chunk: the rules taken if they came, and the wait for the engine's side. */
async function between(): Promise<void> {
  if (projection === undefined) {
    // Acks come only after the rules: until then the cap is on what was posted.
    while (arrived === undefined && wholeChars >= maxWholeChars) await wake();
    if (arrived !== undefined) useRules(arrived);
  }
  if (projection !== undefined) {
    while (inFlight >= MAX_IN_FLIGHT) await wake();
    const next =
      options.rawLines === 'always' || (options.rawLines === 'auto' && inFlight <= RAW_AT_MOST_IN_FLIGHT);
    // A batch is all lines or all decoded events.
    if (next !== raw && count + errors.length > 0) post();
    raw = next;
  }
}

function onBlockEnd(blockLines: number): void {
  blockLinesTotal += blockLines;
  post(blockLines);
}

async function run(): Promise<void> {
  if (range !== undefined) {
    Atomics.store(options.opened, 0, 1);
    await readBlocks(options.file, range, options.maxLineBytes, { onLine, onOverlong, onBlockEnd, between });
    lines = blockLinesTotal;
  } else await readAll();
  // Node 22 has no per-thread CPU time; the summary then leaves the reader's out.
  const cpu = typeof process.threadCpuUsage === 'function' ? process.threadCpuUsage() : undefined;
  const done: ReaderDone = {
    kind: 'done',
    lines,
    cpuMs: cpu !== undefined ? (cpu.user + cpu.system) / 1000 : undefined,
  };
  port.postMessage(done);
}

/** The whole input from its start (any file, pipe or FIFO; gzip-compressed or not). */
async function readAll(): Promise<void> {
  const splitter = new LineSplitter(onLine, { maxLineBytes: options.maxLineBytes, onOverlong });
  // Said before the open: from here on this thread may take bytes from a pipe that no one else
  // can read again, so the replay must not fall back to reading the file itself (replay-pipeline).
  Atomics.store(options.opened, 0, 1);
  const input = createReadStream(options.file, { highWaterMark: 512 << 10 });
  for await (const chunk of gunzipIfCompressed(input as AsyncIterable<Buffer>)) {
    splitter.push(chunk as Buffer);
    await between();
  }
  splitter.end();
  post();
}

run().catch((err: unknown) => {
  // Nothing lost: the events decoded before the error (a truncated .gz inflates up to its cut)
  // go out first, the replay runs them through the rules (the line cut by the error stays in
  // the splitter, as no complete line). A range reader's batch waits for its block's end,
  // which will not come: there the error alone.
  if (range === undefined && count + errors.length > 0) post();
  const failed: ReaderFailed = {
    kind: 'failed',
    message: (err as Error).message,
    ...(range === undefined ? { lines } : {}),
  };
  port.postMessage(failed);
});
