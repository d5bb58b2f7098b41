// Where the engine allocates, garbage included: V8's sampling heap profiler with the objects
// minor and major GCs collected, over a fresh engine's first 1 M events of the replay mix and
// then a second 1 M of the same users (the held phase). Bytes per event by allocating frame and
// its caller (inlined frames as V8 reports them). The bench loop's own line (~16 B an event:
// the event time read from its Timed object and boxed for the call) is the caller's, not the
// engine's. Issue 13, twelfth round: fresh 104 B, held 57.5 B per event at 100,000 users.
//   npx node --conditions=@llmsec/source bench/detect/alloc-profile.ts [--users=100000]
import { Session } from 'node:inspector/promises';
import { DetectionEngine } from '@llmsec/detect';
import { TrafficGenerator } from './gen.ts';

const users = Number(process.argv.find((a) => a.startsWith('--users='))?.slice(8) ?? 100_000);
const total = 1_000_000;
const gen = new TrafficGenerator({ seed: 9, users, stepMs: 50, attackerEvery: 20 });
const first = gen.chunk(total);
const second = gen.chunk(total);
const session = new Session();
session.connect();

interface Node {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: Node[];
}

async function phase(name: string, run: () => void): Promise<void> {
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 256,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  run();
  const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: { head: Node } };
  const by = new Map<string, number>();
  let all = 0;
  const walk = (n: Node, path: string[]) => {
    const f = n.callFrame;
    const here = `${f.functionName || '(anon)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
    const p = [...path, here];
    if (n.selfSize > 0) {
      // Attribute to the innermost frame outside the bench loop, plus its caller.
      const key = p.slice(-2).join(' <- ');
      by.set(key, (by.get(key) ?? 0) + n.selfSize);
      all += n.selfSize;
    }
    for (const c of n.children) walk(c, p);
  };
  walk(profile.head, []);
  console.log(`${name}: ${(all / total).toFixed(1)} B per event`);
  for (const [k, v] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 25))
    console.log(`  ${(v / total).toFixed(1).padStart(6)} B  ${k}`);
}

const engine = new DetectionEngine({ onAlert: () => {} });
await phase('fresh engine, first 1 M', () => {
  for (let i = 0; i < first.length; i++) engine.ingest(first[i]!.event, first[i]!.t);
});
await phase('held phase, next 1 M', () => {
  for (let i = 0; i < second.length; i++) engine.ingest(second[i]!.event, second[i]!.t);
  engine.flush();
});
