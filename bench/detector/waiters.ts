// whenProcessed() waiter bookkeeping at 200,000 one-record exports (a hostile sender), the
// queue settling after every run of 200 events: the list copied after every settle (before
// this bench's commit) against TargetWaiters' head index, on the same wait/settle sequence,
// then the whole IngestQueue (offer, whenProcessed, drain) with the head index.
//   npx node --conditions=@llmsec/source bench/detector/waiters.ts
// Measured (2 shared cores, load ~4): settle copying 513-910 ms, head index 5-8 ms; the whole
// IngestQueue 1,318 ms with the copying settleProcessed (its code before the change), 283-292 ms now.
import { loadavg } from 'node:os';
import { IngestQueue } from '../../packages/detector/src/service/ingest-queue.ts';
import { TargetWaiters } from '../../packages/detector/src/service/target-waiters.ts';

const N = 200_000;
const PER_RUN = 200;
const ROUNDS = 5;

/** The pre-change IngestQueue.settleProcessed: the rest of the list copied after each settle. */
class CopyingWaiters {
  private list: { target: number; resolve: () => void }[] = [];
  wait(target: number): Promise<void> {
    return new Promise((resolve) => this.list.push({ target, resolve }));
  }
  settle(count: number): void {
    const list = this.list;
    let i = 0;
    while (i < list.length && list[i]!.target <= count) list[i++]!.resolve();
    if (i > 0) this.list = list.slice(i);
  }
}

async function bookkeeping(w: { wait(t: number): Promise<void>; settle(c: number): void }): Promise<number> {
  const all: Promise<void>[] = [];
  for (let t = 1; t <= N; t++) all.push(w.wait(t));
  const start = performance.now();
  for (let c = PER_RUN; c <= N; c += PER_RUN) w.settle(c);
  const ms = performance.now() - start;
  await Promise.all(all);
  return ms;
}

async function wholeQueue(): Promise<number> {
  const queue = new IngestQueue({ capacity: N, chunk: PER_RUN, process: () => {}, onError: () => {} });
  const event = { event_id: 'e' } as never;
  const start = performance.now();
  const all: Promise<void>[] = [];
  for (let i = 0; i < N; i++) {
    queue.offer({ events: [event], times: [0] });
    all.push(queue.whenProcessed());
  }
  await queue.whenIdle();
  await Promise.all(all);
  return performance.now() - start;
}

const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1]!.toFixed(0);
const before: number[] = [];
const after: number[] = [];
const queue: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  before.push(await bookkeeping(new CopyingWaiters()));
  after.push(await bookkeeping(new TargetWaiters()));
  queue.push(await wholeQueue());
}
console.log(
  `${N.toLocaleString('en')} waiters, settled ${PER_RUN} per run, median of ${ROUNDS}: ` +
    `settle copying ${median(before)} ms, head index ${median(after)} ms; ` +
    `whole IngestQueue (offer + whenProcessed + drain) ${median(queue)} ms  (load ${loadavg()[0]!.toFixed(1)})`,
);
