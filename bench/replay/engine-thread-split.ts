// Where the engine's thread of a two-thread replay spends its CPU (issue 13), in process:
//   npx node --conditions=@llmsec/source bench/replay/engine-thread-split.ts FILE
//       [--lines N] [--no-engine] [--same-user-strings]
// The lines of FILE (e.g. the bench corpus: `bench/replay/ab.ts --dir DIR` keeps one) are decoded
// and written as the reader thread writes them (ReplayProjection, batches of at most 1,024 events
// or 8 Ki values, default rules) and serialised as a post clones them; then, batch after batch as
// the engine's thread takes them, each is deserialised, read back into events and given to the
// engine (`ingestOnce` with the reader's event times, as `llmsec replay` does), each step timed
// on this thread's CPU clock. All of it on a worker with the engine's thread's young generation
// (24 MiB, replay-on-engine-thread.ts), so that its collector works as it does there.
// --no-engine: receiving and reading back only. --same-user-strings: each event's user_id
// replaced (outside the timed steps) by the first string seen with its text, so that the group
// tables find the very string object they hold, as bench/detect's generator hands it to them;
// a replay's events (and the detector's) bring a fresh copy of it every time.
import { createReadStream } from 'node:fs';
import { deserialize, serialize } from 'node:v8';
import { isMainThread, Worker, workerData } from 'node:worker_threads';
import { loadavg } from 'node:os';
import type { SecurityEvent } from '@llmsec/core';
import { forEachLine } from '@llmsec/core/jsonl';
import { defaultRules, DetectionEngine } from '@llmsec/detect/engine';
import { decodeEventLineFast } from '../../packages/detect/src/event-reader.ts';
import { ReplayProjection } from '../../packages/detect/src/replay-projection.ts';

interface Options {
  file: string;
  lines: number;
  engine: boolean;
  sameUserStrings: boolean;
}

if (isMainThread) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--lines');
  const file = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--lines');
  const lines = at === -1 ? Number.POSITIVE_INFINITY : Number(args[at + 1]);
  if (file === undefined || !(lines > 0)) {
    console.error('usage: engine-thread-split.ts FILE [--lines N] [--no-engine] [--same-user-strings]');
    process.exit(2);
  }
  const options: Options = {
    file,
    lines,
    engine: !args.includes('--no-engine'),
    sameUserStrings: args.includes('--same-user-strings'),
  };
  const worker = new Worker(new URL(import.meta.url), {
    workerData: options,
    resourceLimits: { maxYoungGenerationSizeMb: 24 },
  });
  worker.on('error', (err) => {
    console.error(err);
    process.exitCode = 1;
  });
} else {
  const options = workerData as Options;
  const rules = defaultRules();
  const writer = new ReplayProjection(rules);
  const batches: Buffer[] = [];
  let values: unknown[] = [];
  let times: number[] = [];
  const flush = (): void => {
    batches.push(serialize({ categories: writer.takeNewCategories(), values, times }));
    values = [];
    times = [];
  };
  let read = 0;
  await forEachLine(createReadStream(options.file, { highWaterMark: 512 << 10 }), (line) => {
    if (read >= options.lines || line.length === 0) return;
    read++;
    const { event, timeMs } = decodeEventLineFast(line);
    writer.write(event, values);
    times.push(timeMs);
    if (times.length >= 1024 || values.length >= 8192) flush();
  });
  if (times.length > 0) flush();

  const cpuMs = (): number => {
    const c = process.threadCpuUsage();
    return (c.user + c.system) / 1000;
  };
  const reader = new ReplayProjection(rules);
  let alerts = 0;
  const engine = new DetectionEngine({ rules, onAlert: () => alerts++ });
  const firstUserString = new Map<string, string>();
  const events: SecurityEvent[] = [];
  const took = { deserialise: 0, read: 0, engine: 0 };
  let n = 0;
  for (const bytes of batches) {
    const t0 = cpuMs();
    const batch = deserialize(bytes) as { categories: string[]; values: unknown[]; times: number[] };
    const t1 = cpuMs();
    reader.learnCategories(batch.categories);
    events.length = 0;
    for (let i = 0; i < batch.values.length;) i = reader.read(batch.values, i, (e) => events.push(e));
    const t2 = cpuMs();
    if (options.sameUserStrings) {
      for (const e of events) {
        const same = firstUserString.get(e.user_id);
        if (same === undefined) firstUserString.set(e.user_id, e.user_id);
        else e.user_id = same;
      }
    }
    const t3 = cpuMs();
    if (options.engine) for (let k = 0; k < events.length; k++) engine.ingestOnce(events[k]!, batch.times[k]);
    const t4 = cpuMs();
    took.deserialise += t1 - t0;
    took.read += t2 - t1;
    took.engine += t4 - t3;
    n += events.length;
  }
  engine.flush();
  const ns = (ms: number): number => Math.round((ms * 1e6) / n);
  console.log(
    `${n} events, ${batches.length} batches, ${options.engine ? 'engine' : 'no engine'}` +
      `${options.sameUserStrings ? ', same user strings' : ''}; CPU ns an event: deserialise ` +
      `${ns(took.deserialise)}, read back ${ns(took.read)}, engine ${ns(took.engine)}; ` +
      `${alerts} alerts; load ${loadavg()[0]!.toFixed(1)}`,
  );
}
