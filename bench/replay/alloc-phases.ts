// Bytes allocated per line in each phase of the replay path (issue 13), in process: JSON.parse
// alone, the reader's decoding (decodeEventLineFast), the projection's write, the engine side's
// deserialisation of a batch and its read back into events. V8's sampling heap profiler with
// the objects collected by the young and old generation's collectors included (what was
// allocated, not what stayed), each phase run once to warm up and once measured:
//   npx node --conditions=@llmsec/source bench/replay/alloc-phases.ts TREE FILE [--lines N]
// TREE is a checkout (its packages/detect/src is measured); FILE a corpus (bench/replay/ab.ts
// --dir keeps one). The largest allocating functions of each phase follow its total.
import { openSync, readSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { resolve } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import type { SecurityEvent } from '@llmsec/core';
import type { RuleDefinition } from '@llmsec/detect';

interface Projection {
  write(event: SecurityEvent, values: unknown[], at: number): number;
  read(values: readonly unknown[], at: number, onEvent: (event: SecurityEvent) => void): number;
  takeNewCategories(): string[];
  learnCategories(names: readonly string[]): void;
}
interface ProfileNode {
  callFrame: { functionName: string };
  selfSize: number;
  children: ProfileNode[];
}

const args = process.argv.slice(2);
const linesAt = args.indexOf('--lines');
const N = linesAt === -1 ? 200_000 : Number(args[linesAt + 1]);
const [tree, file] = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--lines');
if (tree === undefined || file === undefined || !(N > 0)) {
  console.error('usage: bench/replay/alloc-phases.ts TREE FILE [--lines N]');
  process.exit(2);
}
const src = resolve(tree, 'packages/detect/src');
const { decodeEventLineFast } = (await import(`${src}/event-reader.ts`)) as {
  decodeEventLineFast: (line: string) => { event: SecurityEvent };
};
const { ReplayProjection } = (await import(`${src}/replay-projection.ts`)) as {
  ReplayProjection: new (rules: RuleDefinition[]) => Projection;
};
const { defaultRules } = (await import(`${src}/default-rules.ts`)) as {
  defaultRules: () => RuleDefinition[];
};

// The first N lines (a corpus line is well under 2 KiB).
const buf = Buffer.alloc(N * 2048);
const got = readSync(openSync(file, 'r'), buf, 0, buf.length, 0);
const lines = buf
  .subarray(0, got)
  .toString('utf8')
  .split('\n')
  .slice(0, N)
  .filter((l) => l !== '');

const session = new Session();
session.connect();

async function measure(name: string, phase: () => void): Promise<void> {
  phase();
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 256,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  phase();
  const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as {
    profile: { head: ProfileNode };
  };
  const byFunction = new Map<string, number>();
  let total = 0;
  const walk = (node: ProfileNode): void => {
    total += node.selfSize;
    const name = node.callFrame.functionName || '(anonymous)';
    byFunction.set(name, (byFunction.get(name) ?? 0) + node.selfSize);
    for (const child of node.children) walk(child);
  };
  walk(profile.head);
  const top = [...byFunction]
    .filter(([, bytes]) => bytes / lines.length >= 1)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([fn, bytes]) => `${fn} ${(bytes / lines.length).toFixed(0)}`);
  console.log(`${name}: ${(total / lines.length).toFixed(0)} B a line (${top.join(', ')})`);
}

const events = lines.map((line) => decodeEventLineFast(line).event);
const writer = new ReplayProjection(defaultRules());
const values: unknown[] = new Array(lines.length * 40).fill(undefined);
let end = 0;
await measure('JSON.parse', () => {
  for (const line of lines) JSON.parse(line);
});
await measure('decode', () => {
  for (const line of lines) decodeEventLineFast(line);
});
await measure('write', () => {
  let at = 0;
  for (const event of events) at = writer.write(event, values, at);
  end = at;
});
const written = values.slice(0, end);
const bytes = serialize(written);
await measure('deserialize', () => {
  deserialize(bytes);
});
const reader = new ReplayProjection(defaultRules());
reader.learnCategories(writer.takeNewCategories());
let last: SecurityEvent | undefined;
await measure('read', () => {
  let at = 0;
  for (let i = 0; i < events.length; i++) at = reader.read(written, at, (event) => (last = event));
});
void last;
session.disconnect();
