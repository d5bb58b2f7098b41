// Which ways of capping the young generation take effect (issue 13: the engine's thread grows
// its semi-spaces as user state survives scavenges, ~1 KB of RSS per active user in replay).
// Each lever runs in a fresh process that allocates 3 M small surviving objects and prints the
// new space's size (the cap V8 grew towards) and its resident size:
//   npx node --conditions=@llmsec/source bench/replay/young-gen-levers.ts
import { spawnSync } from 'node:child_process';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { isMainThread, Worker } from 'node:worker_threads';

function allocateAndReport(): string {
  const keep: unknown[] = [];
  for (let i = 0; i < 3e6; i++) keep.push({ a: i, b: [i] });
  const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!;
  return `new space ${young.space_size >> 20} MiB, resident ${young.physical_space_size >> 20} MiB (${keep.length} kept)`;
}

const lever = process.argv[2];
if (lever === 'child') {
  console.log(allocateAndReport());
} else if (lever === 'child-setflags') {
  // V8 sizes the heap when the isolate is made: a flag set afterwards should not apply.
  setFlagsFromString('--max-semi-space-size=8');
  console.log(allocateAndReport());
} else if (lever === 'child-worker') {
  const w = new Worker(new URL(import.meta.url), {
    argv: ['in-worker'],
    resourceLimits: { maxYoungGenerationSizeMb: 24 },
  });
  w.on('message', (m: string) => console.log(m));
} else if (lever === 'in-worker' && !isMainThread) {
  const { parentPort } = await import('node:worker_threads');
  parentPort!.postMessage(allocateAndReport());
} else {
  const self = new URL(import.meta.url).pathname;
  for (const [label, nodeArgs, arg] of [
    ['default', [], 'child'],
    ['v8.setFlagsFromString at run time', [], 'child-setflags'],
    ['node --max-semi-space-size=8', ['--max-semi-space-size=8'], 'child'],
    ['Worker resourceLimits.maxYoungGenerationSizeMb 24', [], 'child-worker'],
  ] as const) {
    const r = spawnSync(process.execPath, [...nodeArgs, self, arg], { encoding: 'utf8' });
    console.log(
      `${label.padEnd(50)} ${r.stdout.trim()}${r.status === 0 ? '' : ` exit ${r.status} ${r.stderr}`}`,
    );
  }
}
