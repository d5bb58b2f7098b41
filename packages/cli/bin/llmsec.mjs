#!/usr/bin/env node
// Entry point of the `llmsec` command. The CLI is TypeScript run from source, which needs a
// Node that strips types (22.18+ / 23.6+). Invoked directly with an older system Node (say
// `./node_modules/.bin/llmsec` outside npm), this shim re-runs it on the Node 24 binary of the
// repository's `node` devDependency instead of failing on the `.ts` extension.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const entry = join(here, '..', 'src', 'bin.ts');

if (process.features.typescript) {
  await import(entry);
} else {
  let nodeBinary;
  try {
    nodeBinary = join(dirname(createRequire(import.meta.url).resolve('node/package.json')), 'bin', 'node');
  } catch {
    console.error(`llmsec: needs Node >= 22.18 (this is ${process.version}); run it with npx from the repository, or install Node 24`);
    process.exit(1);
  }
  const run = spawnSync(nodeBinary, [entry, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(run.status ?? 1);
}
