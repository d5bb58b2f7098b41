// Runs every benchmark in turn (`npm run bench`); each prints its own table with ratios
// against a baseline measured in the same run. One at a time: they would skew each other.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const BENCHMARKS = ['events', 'detect', 'replay', 'ratelimit', 'instrumentation'];
let failed = 0;
for (const name of BENCHMARKS) {
  const script = `bench/${name}/run.ts`;
  if (!existsSync(script)) continue;
  console.log(`\n=== ${name} (${script}) ===`);
  const run = spawnSync(
    process.execPath,
    ['--conditions=@llmsec/source', '--expose-gc', script, ...process.argv.slice(2)],
    { stdio: 'inherit' },
  );
  if (run.status !== 0) failed++;
}
process.exitCode = failed === 0 ? 0 : 1;
