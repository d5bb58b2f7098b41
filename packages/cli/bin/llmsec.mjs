#!/usr/bin/env node
// Entry point of the `llmsec` command.
// - Installed from npm (no src/ in the package): runs the compiled dist/bin.js, plain
//   JavaScript, on any Node the package's `engines` allows.
// - In the llmsec repository (src/ present): runs the TypeScript sources, resolving every
//   @llmsec/* import to its sources through the "@llmsec/source" export condition (a resolve
//   hook adds it, so a stale dist/ is never picked up). That needs a Node that strips types
//   (22.18+); an older Node on the PATH re-runs this on the repository's Node 24 (the `node`
//   devDependency) instead of failing on the `.ts` extension.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import module from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// Cached compiled code from the second run on (see src/bin.ts); before any of the CLI's modules.
module.enableCompileCache?.();

const MIN_NODE = [22, 15];
const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, '..', 'src', 'bin.ts');

if (!existsSync(source)) {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < MIN_NODE[0] || (major === MIN_NODE[0] && minor < MIN_NODE[1])) {
    console.error(`llmsec: needs Node >= ${MIN_NODE.join('.')} (this is ${process.version})`);
    process.exit(1);
  }
  await import('../dist/bin.js');
} else if (process.features.typescript && typeof module.registerHooks === 'function') {
  module.registerHooks({
    resolve(specifier, context, next) {
      const conditions = context.conditions.includes('@llmsec/source')
        ? context.conditions
        : [...context.conditions, '@llmsec/source'];
      return next(specifier, { ...context, conditions });
    },
  });
  await import(pathToFileURL(source).href);
} else {
  let nodeBinary;
  try {
    nodeBinary = join(
      dirname(module.createRequire(import.meta.url).resolve('node/package.json')),
      'bin',
      'node',
    );
  } catch {
    console.error(
      `llmsec: running from source needs Node >= 22.18 (this is ${process.version}); run it with npx from the repository, or install Node 24`,
    );
    process.exit(1);
  }
  const run = spawnSync(nodeBinary, ['--conditions=@llmsec/source', source, ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(run.status ?? 1);
}
