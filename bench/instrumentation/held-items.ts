/**
 * The stream observer's queue of held items on a long stream that always holds something
 * (issue 13): N one-character items, the observer holding the last 16 characters at every
 * delta (what the leakage guard's canary tail does). Per variant, in random order per round:
 * CPU time per item, and the heap the stream keeps near its end (after a full GC, the items
 * themselves excluded: they are made up front and shared by every variant).
 *
 *   node --expose-gc --conditions=@llmsec/source bench/instrumentation/held-items.ts \
 *     --base <dir> [--items 200000] [--rounds 7]
 *
 * `--base <dir>`: an unpacked older tree (`git archive <commit> packages/sdk/src | tar -x -C
 * <dir>`) whose observeStream is timed beside the current one in the same rounds.
 */
import { pathToFileURL } from 'node:url';
import type { StreamObserver } from '../../packages/sdk/src/instrumentation/stream.ts';
import { observeStream } from '../../packages/sdk/src/instrumentation/stream.ts';
import { median } from '../report.ts';

type Observe = typeof observeStream;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
  return v;
}

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');
const N = arg('items', 200_000);
const ROUNDS = arg('rounds', 7);
const HOLD = 16;
const ITEMS = Array.from({ length: N }, (_, i) => ({ n: i, text: 'x' }));

const variants: Array<[string, Observe]> = [['current', observeStream]];
const b = process.argv.indexOf('--base');
if (b >= 0) {
  const dir = process.argv[b + 1] as string;
  const url = pathToFileURL(`${dir}/packages/sdk/src/instrumentation/stream.ts`).href;
  variants.push(['[base]', ((await import(url)) as { observeStream: Observe }).observeStream]);
}

/** One stream: CPU µs per item, and heap bytes kept when 16 items are left (after a full GC). */
async function once(observe: Observe): Promise<{ cpu: number; heap: number }> {
  let i = 0;
  const inner: AsyncIterator<unknown> = {
    next: () =>
      Promise.resolve(i < N ? { value: ITEMS[i++], done: false } : { value: undefined, done: true }),
  };
  const observer: StreamObserver = {
    accumulator: {
      observe: (item) => (item as { text: string }).text,
      summary: () => ({ finishReasons: [], text: '', toolCalls: [] }),
      complete: true,
    },
    onDelta: () => HOLD,
    onEnd: () => undefined,
    onError: () => undefined,
    onAbandon: () => undefined,
  };
  const stream = { iterator: (): AsyncIterator<unknown> => inner };
  observe(stream, observer);
  gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const it = stream.iterator();
  let heap = 0;
  let cpu = 0;
  let t = process.cpuUsage();
  for (let got = 0; ; got++) {
    if (got === N - 2 * HOLD) {
      cpu += process.cpuUsage(t).user;
      gc?.();
      heap = process.memoryUsage().heapUsed - heap0;
      t = process.cpuUsage();
    }
    if ((await it.next()).done === true) break;
  }
  cpu += process.cpuUsage(t).user;
  return { cpu: cpu / N, heap };
}

const cpu = new Map<string, number[]>(variants.map(([name]) => [name, []]));
const heap = new Map<string, number[]>(variants.map(([name]) => [name, []]));
const ratio: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const order = [...variants].sort(() => Math.random() - 0.5);
  const byName = new Map<string, number>();
  for (const [name, observe] of order) {
    const r = await once(observe);
    cpu.get(name)?.push(r.cpu);
    heap.get(name)?.push(r.heap);
    byName.set(name, r.cpu);
  }
  if (byName.has('[base]')) ratio.push((byName.get('current') as number) / (byName.get('[base]') as number));
}
console.log(`${N} one-character items, ${HOLD} held at every delta, ${ROUNDS} rounds (medians)`);
for (const [name] of variants) {
  const kb = (median(heap.get(name) as number[]) / 1024).toFixed(0);
  console.log(
    `${name.padEnd(8)} CPU ${(median(cpu.get(name) as number[]) * 1000).toFixed(0)} ns/item, heap kept ${kb} KiB`,
  );
}
if (ratio.length > 0)
  console.log(
    `current / [base] CPU per round: ×${median(ratio).toFixed(2)} (min ×${Math.min(...ratio).toFixed(2)}, max ×${Math.max(...ratio).toFixed(2)})`,
  );
