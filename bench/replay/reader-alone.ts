// The replay's reader thread alone, without the engine (issue 13): `startReplayReader` with the
// default rules, each batch taken as it arrives, lines never handed over raw. Prints the reader
// thread's CPU and the process's (the reader, the receiving of its batches on this thread, V8's
// helpers). To A/B two trees in one run, alternate them (base / new / base gives an A/A too):
//   npx node --conditions=@llmsec/source bench/replay/reader-alone.ts TREE FILE
// TREE is a checkout (e.g. `git archive REV | tar -x -C DIR`, node_modules linked).
import { resolve } from 'node:path';
import type { RuleDefinition } from '@llmsec/detect';

/** What this bench uses of the reader thread (replay-pipeline.ts's ReaderThread, internal). */
type Message =
  | { kind: 'batch'; count: number }
  | { kind: 'done'; cpuMs: number | undefined }
  | { kind: 'failed'; message: string };
interface Reader {
  listen(
    rules: RuleDefinition[],
    listener: (message: Message, reader: number) => void,
    onStatus: (status: { kind: string; message?: string }) => void,
  ): void;
  batchTaken(reader: number): void;
  end(): void;
}

const [tree, file] = process.argv.slice(2);
if (tree === undefined || file === undefined) {
  console.error('usage: bench/replay/reader-alone.ts TREE FILE');
  process.exit(2);
}
const src = resolve(tree, 'packages/detect/src');
const pipeline = (await import(`${src}/replay-pipeline.ts`)) as {
  startReplayReader: (file: string, maxLineBytes: number, split: object) => Reader;
};
const { defaultRules } = (await import(`${src}/default-rules.ts`)) as {
  defaultRules: () => RuleDefinition[];
};

const cpu0 = process.cpuUsage();
const wall0 = performance.now();
const reader = pipeline.startReplayReader(file, 1 << 20, { readers: 1, rawLines: 'never' });
let events = 0;
const readerCpuMs = await new Promise<number | undefined>((done, fail) => {
  reader.listen(
    defaultRules(),
    (message, index) => {
      if (message.kind === 'batch') {
        events += message.count;
        reader.batchTaken(index);
      } else if (message.kind === 'done') done(message.cpuMs);
      else fail(new Error(message.message));
    },
    (status) => {
      if (status.kind === 'error') fail(new Error(status.message));
    },
  );
});
const cpu = process.cpuUsage(cpu0);
console.log(
  `events=${events} reader_cpu_ms=${readerCpuMs?.toFixed(0)} ` +
    `process_cpu_ms=${((cpu.user + cpu.system) / 1000).toFixed(0)} wall_ms=${(performance.now() - wall0).toFixed(0)}`,
);
reader.end();
