import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The packages as a user gets them. Every package is packed with `npm pack` (its `prepack`
 * builds dist/), the tarballs are installed into a new project outside the repository together
 * with openai and @opentelemetry/api, and that project uses them from an ESM script, from
 * CommonJS, from strict TypeScript and through the installed `llmsec` command.
 *
 * The build runs in a staged copy of the packages (sources and configs, the repository's
 * third-party node_modules linked in), so this test never writes dist/ into the working tree,
 * where a stale build could shadow the sources. Programs run on the Node 24 binary of the `node`
 * devDependency, but from the temporary project: they resolve only what npm installed there,
 * without the workspace's "@llmsec/source" condition.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURES = join(ROOT, 'test', 'consumer');
/** In build order; each is packed and installed. */
const PACKAGES = ['core', 'sdk', 'detect', 'ratelimit', 'detector', 'cli'];
/** The Node 24 binary itself (not the `.bin` folder, which would also put workspace tools on the PATH). */
const NODE = realpathSync(join(ROOT, 'node_modules', '.bin', 'node'));
const rootPackage = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  devDependencies: Record<string, string>;
};
const pinned = (name: string): string => `${name}@${rootPackage.devDependencies[name]}`;
/** What the packages' `engines` promise; the checks run on that oldest Node too (from npm's `node` package). */
const ENGINES = (
  JSON.parse(readFileSync(join(ROOT, 'packages', 'core', 'package.json'), 'utf8')) as {
    engines: { node: string };
  }
).engines.node;
const OLDEST_VERSION = (() => {
  const m = /^>=(\d+)\.(\d+)(?:\.(\d+))?$/.exec(ENGINES);
  if (!m) throw new Error(`engines.node ${ENGINES}: expected >=MAJOR.MINOR`);
  return `${m[1]}.${m[2]}.${m[3] ?? 0}`;
})();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** Set when the command was killed: by its bound (`timeoutMs`) or another signal. */
  killed?: string;
}

/**
 * A command's bound: on a hang only. At load 35 on 2 shared cores the packages' `tsc -b` took
 * 337 s of wall time (flake hunt, round 25); on an idle machine it takes well under a minute.
 */
const COMMAND_BOUND_MS = 240_000;

/**
 * The environment of a process outside the workspace: no NODE_OPTIONS (vitest adds the source
 * condition there), no npm_* variables of the `npm test` that started us (npm would read its
 * prefix and workspace from them), and the Node 24 binary first on the PATH.
 */
function outsideEnv(node: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key === 'NODE_OPTIONS' || key === 'NODE_PATH' || key.toLowerCase().startsWith('npm_')) continue;
    env[key] = value;
  }
  const path = (process.env.PATH ?? '').split(delimiter).filter((p) => p !== '' && !p.startsWith(ROOT));
  env.PATH = [dirname(node), ...path].join(delimiter);
  return env;
}

async function run(
  command: string,
  args: string[],
  cwd: string,
  node = NODE,
  timeoutMs = COMMAND_BOUND_MS,
): Promise<Run> {
  return await new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd, env: outsideEnv(node), timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        // A killed command has no exit code and often no output: say so, and by what.
        const killed =
          err?.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER'
            ? 'killed: its output passed maxBuffer'
            : err?.killed
              ? `killed (${err.signal ?? 'signal'}) by its ${timeoutMs} ms bound`
              : err?.signal
                ? `killed by ${err.signal}`
                : undefined;
        resolve({ code, stdout, stderr, ...(killed !== undefined ? { killed } : {}) });
      },
    );
  });
}

function ok(r: Run, what: string): Run {
  expect(r.code, `${what} ${r.killed ?? 'failed'}:\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r;
}

/** Copies what the build reads (configs, package folders without outputs) and links the third-party modules. */
async function stage(dir: string): Promise<void> {
  for (const file of ['tsconfig.json', 'tsconfig.build.json']) await cp(join(ROOT, file), join(dir, file));
  for (const name of PACKAGES) {
    await cp(join(ROOT, 'packages', name), join(dir, 'packages', name), {
      recursive: true,
      filter: (src) => {
        const rel = relative(join(ROOT, 'packages', name), src).split(/[\\/]/);
        return !rel.includes('node_modules') && rel[0] !== 'dist' && !src.endsWith('.tsbuildinfo');
      },
    });
  }
  const modules = join(dir, 'node_modules');
  await mkdir(join(modules, '@llmsec'), { recursive: true });
  for (const entry of await readdir(join(ROOT, 'node_modules'))) {
    if (entry === '@llmsec' || entry === 'llmsec') continue;
    await symlink(join(ROOT, 'node_modules', entry), join(modules, entry));
  }
  for (const name of PACKAGES) {
    const target = join(dir, 'packages', name);
    await symlink(target, name === 'cli' ? join(modules, 'llmsec') : join(modules, '@llmsec', name));
  }
}

/** The READMEs whose TypeScript examples a user copies: the root's, each package's and those under its src/. */
function readmeFiles(): string[] {
  const found = ['README.md'];
  for (const name of PACKAGES) {
    const dir = join('packages', name);
    for (const f of readdirSync(join(ROOT, dir), { recursive: true }) as string[])
      if (f.endsWith('README.md') && !f.split(/[\\/]/).includes('node_modules')) found.push(join(dir, f));
  }
  return found;
}

/**
 * The installed packages' entry points a consumer can import: every export but package.json,
 * the ESM hook (an --import side effect, no names) and subpaths of optional peers not installed.
 */
function entryPoints(): string[] {
  const specs: string[] = [];
  for (const name of PACKAGES) {
    const dir = join(app, 'node_modules', name === 'cli' ? 'llmsec' : `@llmsec/${name}`);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      name: string;
      exports: Record<string, unknown>;
      peerDependenciesMeta?: Record<string, { optional?: boolean }>;
    };
    for (const subpath of Object.keys(pkg.exports)) {
      if (subpath === './package.json' || subpath === './hook') continue;
      if (pkg.peerDependenciesMeta?.[subpath.slice(2)]?.optional) continue;
      specs.push(`${pkg.name}${subpath.slice(1)}`);
    }
  }
  return specs;
}

/** Each runtime name an entry point exports, with the first entry point exporting it. */
async function llmsecExports(): Promise<Map<string, string>> {
  const script =
    'const out = {}; for (const s of JSON.parse(process.argv[1])) out[s] = Object.keys(await import(s)); console.log(JSON.stringify(out));';
  const r = ok(
    await run(NODE, ['--input-type=module', '-e', script, JSON.stringify(entryPoints())], app),
    'import every entry point',
  );
  const exported = new Map<string, string>();
  for (const [spec, names] of Object.entries(JSON.parse(r.stdout) as Record<string, string[]>))
    for (const n of names) if (!exported.has(n)) exported.set(n, spec);
  expect(exported.has('ErrorFunnel') && exported.has('setupLlmsec'), 'entry points imported').toBe(true);
  return exported;
}

/**
 * Each check runs programs (tsc, npx) on a machine other jobs share: generous, not open-ended.
 * Above two commands' bounds, so a slow command is reported by its kill, not by the test's timeout.
 */
const TEST_TIMEOUT_MS = 2 * COMMAND_BOUND_MS + 60_000;
/**
 * The setup's bound (a hang only): the build (`npm pack` of the cli runs `tsc -b` of every
 * package) may take BUILD_BOUND_MS, then three installs and five packs of built packages.
 */
const SETUP_TIMEOUT_MS = 900_000;
const BUILD_BOUND_MS = 600_000;
/** Set as the setup starts: each of its commands is bounded by the time left, so the hook never times out first. */
let setupDeadline = 0;
const setupBound = (bound = COMMAND_BOUND_MS): number =>
  Math.max(1_000, Math.min(bound, setupDeadline - Date.now() - 10_000));

let tmp: string;
let app: string;
/** A second project with only @llmsec/core and @llmsec/sdk: no gRPC exporters, no @grpc/grpc-js. */
let sdkOnly: string;
let oldestNode: string;

beforeAll(async () => {
  setupDeadline = Date.now() + SETUP_TIMEOUT_MS;
  tmp = await mkdtemp(join(tmpdir(), 'llmsec-consumer-'));
  expect(relative(ROOT, tmp).startsWith('..'), 'the consumer project must be outside the repository').toBe(
    true,
  );
  const repo = join(tmp, 'repo');
  const tarballs = join(tmp, 'tarballs');
  app = join(tmp, 'app');
  await mkdir(tarballs, { recursive: true });
  await mkdir(app, { recursive: true });
  await stage(repo);

  // npm pack runs each package's prepack (tsc -b): packed dependents first, so a package whose
  // build does not reference what it imports fails here instead of borrowing a sibling's build.
  for (const name of [...PACKAGES].reverse()) {
    ok(
      await run(
        'npm',
        ['pack', '--silent', '--pack-destination', tarballs],
        join(repo, 'packages', name),
        NODE,
        setupBound(BUILD_BOUND_MS),
      ),
      `npm pack ${name}`,
    );
  }

  await writeFile(
    join(app, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );
  for (const file of ['esm.mjs', 'cjs.cjs', 'app.ts', 'app-cjs.cts'])
    await cp(join(FIXTURES, file), join(app, file));
  await cp(join(FIXTURES, 'tsconfig.consumer.json'), join(app, 'tsconfig.json'));
  const packed = readdirSync(tarballs).map((f) => join(tarballs, f));
  expect(packed).toHaveLength(PACKAGES.length);
  ok(
    await run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        ...packed,
        pinned('openai'),
        pinned('@opentelemetry/api'),
        pinned('typescript'),
        pinned('@types/node'),
      ],
      app,
      NODE,
      setupBound(),
    ),
    'npm install',
  );

  sdkOnly = join(tmp, 'sdk-only');
  await mkdir(sdkOnly);
  await writeFile(
    join(sdkOnly, 'package.json'),
    JSON.stringify({ name: 'sdk-only', private: true, type: 'module' }),
  );
  await cp(join(FIXTURES, 'otlp-protocols.mjs'), join(sdkOnly, 'otlp-protocols.mjs'));
  ok(
    await run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        ...packed.filter((f) => /llmsec-(core|sdk)-/.test(f)),
        pinned('@opentelemetry/api'),
      ],
      sdkOnly,
      NODE,
      setupBound(),
    ),
    'npm install (sdk only)',
  );

  const nodeDir = join(tmp, 'oldest-node');
  await mkdir(nodeDir);
  await writeFile(join(nodeDir, 'package.json'), JSON.stringify({ name: 'oldest-node', private: true }));
  ok(
    await run(
      'npm',
      ['install', '--no-audit', '--no-fund', '--prefer-offline', `node@${OLDEST_VERSION}`],
      nodeDir,
      NODE,
      setupBound(),
    ),
    `npm install node@${OLDEST_VERSION}`,
  );
  oldestNode = realpathSync(join(nodeDir, 'node_modules', '.bin', 'node'));
  expect(
    ok(await run(oldestNode, ['--version'], app, oldestNode, setupBound()), 'node --version').stdout.trim(),
  ).toBe(`v${OLDEST_VERSION}`);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('the packages installed from their tarballs, outside the repository', () => {
  it(
    'installs compiled JavaScript and declarations, no TypeScript sources, and every export target exists',
    { timeout: TEST_TIMEOUT_MS },
    () => {
      for (const name of PACKAGES) {
        const dir = join(app, 'node_modules', name === 'cli' ? 'llmsec' : `@llmsec/${name}`);
        expect(realpathSync(dir).startsWith(realpathSync(app)), `${name} is a copy, not a link`).toBe(true);
        expect(existsSync(join(dir, 'src')), `${name} ships src/`).toBe(false);
        const sources = (readdirSync(dir, { recursive: true }) as string[]).filter(
          (f) => (f.endsWith('.ts') && !f.endsWith('.d.ts')) || f.endsWith('.tsbuildinfo'),
        );
        expect(sources, `${name} ships TypeScript sources or build records`).toEqual([]);
        // npm renders the README on its own: a relative link would point nowhere.
        const readme = readFileSync(join(dir, 'README.md'), 'utf8');
        const relativeLinks = [...readme.matchAll(/\]\((?!https?:\/\/|#)([^)]*)\)/g)].map((m) => m[1]);
        expect(relativeLinks, `${name} README links`).toEqual([]);
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
          exports: Record<string, string | Record<string, string>>;
          typesVersions?: Record<string, Record<string, string[]>>;
          engines: { node: string };
        };
        expect(pkg.engines.node).toBe(ENGINES);
        for (const [subpath, target] of Object.entries(pkg.exports)) {
          const targets = typeof target === 'string' ? { default: target } : target;
          for (const [condition, file] of Object.entries(targets)) {
            if (condition === '@llmsec/source') continue; // the workspace's, not shipped
            expect(existsSync(join(dir, file)), `${name} ${subpath} ${condition} -> ${file}`).toBe(true);
          }
        }
        // TypeScript's node10 resolution reads no exports but typesVersions: it must map each
        // subpath to the declarations its exports name, the fastify one too (whose optional
        // peer the node10 check below leaves out), and nothing else.
        const subpaths = Object.entries(pkg.exports).filter(([k]) => k !== '.' && k !== './package.json');
        expect(pkg.typesVersions?.['*'] ?? {}, `${name} typesVersions against its exports' types`).toEqual(
          Object.fromEntries(subpaths.map(([k, t]) => [k.slice(2), [typeof t === 'string' ? t : t.types]])),
        );
      }
    },
  );

  it(
    'runs the README\'s "Use it in your app" example as a user would type it',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
      const section = readme.split('\n## Use it in your app\n')[1]?.split('\n## ')[0] ?? '';
      expect(section, 'README section "Use it in your app"').toContain('npm install @llmsec/sdk');
      const example = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
      expect(example, 'the TypeScript example of that section').toBeDefined();
      // The example has no type annotations, so it is also the JavaScript a user would save as app.mjs.
      await writeFile(join(app, 'readme-example.mjs'), example!);
      ok(await run(NODE, ['readme-example.mjs'], app), 'README example');
      const lines = readFileSync(join(app, 'security.jsonl'), 'utf8').trim().split('\n');
      expect(lines.map((l) => JSON.parse(l) as { category: string; user_id: string })).toEqual([
        expect.objectContaining({ category: 'guardrail_block', user_id: 'u-42' }),
      ]);
    },
  );

  it(
    'type-checks a strict TypeScript consumer against the published declarations',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      ok(
        await run(NODE, [join(app, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], app),
        'tsc',
      );
    },
  );

  it(
    "type-checks every README's TypeScript example against the published declarations, importing only what its install line installs",
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const snippets = join(app, 'readme-snippets');
      await mkdir(snippets, { recursive: true });
      const files: string[] = [];
      const imports: string[] = [];
      for (const md of readmeFiles()) {
        const text = readFileSync(join(ROOT, md), 'utf8');
        const pkgDir = /^packages\/([^/]+)\//.exec(md)?.[1];
        // What a reader of this README has installed: the package, its dependencies and peers,
        // and whatever its `npm install` lines name.
        const installable = new Set<string>();
        if (pkgDir !== undefined) {
          const pkg = JSON.parse(readFileSync(join(ROOT, 'packages', pkgDir, 'package.json'), 'utf8')) as {
            name: string;
            dependencies?: Record<string, string>;
            peerDependencies?: Record<string, string>;
          };
          for (const name of [pkg.name, ...Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies })])
            installable.add(name);
          for (const line of text.matchAll(/^npm install ([^\n#]*)/gm))
            for (const word of line[1]!.trim().split(/\s+/))
              if (!word.startsWith('-')) installable.add(word.replace(/(?<=.)@[^/]*$/, ''));
        }
        for (const m of text.matchAll(/^```ts\n([\s\S]*?)^```/gm)) {
          const code = m[1]!;
          // API listings (signatures without an import) are not programs.
          if (!/^import /m.test(code) || !/from '(@llmsec\/[^']+|llmsec)'/.test(code)) continue;
          const line = text.slice(0, m.index).split('\n').length;
          const file = `${md.replace(/[/.]/g, '_')}-${line}.mts`;
          await writeFile(join(snippets, file), code);
          files.push(file);
          if (pkgDir === undefined) continue;
          for (const [, spec] of code.matchAll(/from '([^'.][^']*)'/g)) {
            if (spec!.startsWith('node:')) continue;
            const name = spec!.startsWith('@')
              ? spec!.split('/').slice(0, 2).join('/')
              : spec!.split('/')[0]!;
            if (!installable.has(name))
              imports.push(`${md}:${line} imports ${name}, which its install line does not install`);
          }
        }
      }
      expect(files.length, 'README examples found').toBeGreaterThanOrEqual(8);
      expect(imports).toEqual([]);
      await writeFile(
        join(snippets, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2023',
            lib: ['ES2023'],
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            types: ['node'],
            strict: true,
            noEmit: true,
          },
          files,
        }),
      );
      const r = await run(
        NODE,
        [join(app, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(snippets, 'tsconfig.json')],
        app,
      );
      // An example names the reader's own values (`rules`, `userId`, `callModel`) and may `return`
      // from the handler it stands for; anything else (a name a package does not export, a wrong
      // argument, a module that does not resolve) is the README out of date.
      const placeholders = new Set(['TS2304', 'TS2552', 'TS18004', 'TS1108']);
      expect(r.stderr, 'tsc ran').toBe('');
      expect(r.stdout.split('\n').filter((l) => /^\S/.test(l) && !/error TS\d+/.test(l))).toEqual([]);
      const errors = r.stdout
        .split('\n')
        .filter((l) => /error TS\d+/.test(l))
        .filter((l) => !placeholders.has(/error (TS\d+)/.exec(l)![1]!));
      expect(errors).toEqual([]);
      // A placeholder must be the reader's own name. One an llmsec entry point exports is an
      // example that uses a class or function without importing it (dropped from its import
      // line, or renamed there), which a reader copying it gets as an error too.
      const named = [
        ...r.stdout.matchAll(/error TS(?:2304|2552): Cannot find name '([^']+)'/g),
        ...r.stdout.matchAll(/error TS18004: No value exists in scope for the shorthand property '([^']+)'/g),
      ].map((m) => m[1]!);
      const exported = await llmsecExports();
      const unimported = [...new Set(named)]
        .filter((n) => exported.has(n))
        .map((n) => `${n} (${exported.get(n)})`);
      expect(unimported, 'names an llmsec package exports, used without an import').toEqual([]);
    },
  );

  it(
    'resolves every subpath export under the legacy node10 resolution too (TypeScript 5 with module commonjs)',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      // `tsc --init` of TypeScript 5 writes `module: commonjs`, whose resolution (node10) reads no
      // `exports`: without `typesVersions` a subpath (`@llmsec/ratelimit/http`) did not resolve, nor
      // did the `@llmsec/core/internal` that the sdk's and detect's own declarations import, so even
      // `import { setupLlmsec } from '@llmsec/sdk'` failed the type check.
      const lines: string[] = [];
      for (const name of PACKAGES) {
        const dir = join(app, 'node_modules', name === 'cli' ? 'llmsec' : `@llmsec/${name}`);
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
          name: string;
          exports: Record<string, unknown>;
          peerDependenciesMeta?: Record<string, { optional?: boolean }>;
        };
        for (const subpath of Object.keys(pkg.exports)) {
          if (subpath === './package.json') continue;
          // A subpath for an optional peer the consumer did not install (fastify) cannot type-check.
          if (pkg.peerDependenciesMeta?.[subpath.slice(2)]?.optional) continue;
          lines.push(`export * as m${lines.length} from '${pkg.name}${subpath.slice(1)}';`);
        }
      }
      expect(lines.length).toBeGreaterThan(PACKAGES.length);
      const file = join(app, 'legacy-resolution.ts');
      await writeFile(file, `${lines.join('\n')}\n`);
      const r = await run(
        NODE,
        [
          join(app, 'node_modules', 'typescript', 'bin', 'tsc'),
          '--ignoreConfig',
          '--noEmit',
          '--strict',
          '--module',
          'commonjs',
          '--moduleResolution',
          'node10',
          '--ignoreDeprecations',
          '6.0',
          '--types',
          'node',
          file,
        ],
        app,
      );
      expect(r.stdout + r.stderr).toBe('');
      expect(r.code).toBe(0);
    },
  );

  it(
    'fails the TypeScript consumer on a type error (the check is not vacuous)',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const broken = join(app, 'broken.ts');
      await writeFile(
        broken,
        "import { RateLimiter } from '@llmsec/ratelimit';\nnew RateLimiter({ tiers: 42 });\n",
      );
      const r = await run(
        NODE,
        [
          join(app, 'node_modules', 'typescript', 'bin', 'tsc'),
          '--ignoreConfig',
          '--noEmit',
          '--strict',
          '--module',
          'nodenext',
          '--types',
          'node',
          broken,
        ],
        app,
      );
      expect(r.code).not.toBe(0);
      expect(r.stdout).toContain('broken.ts');
    },
  );
});

describe('@llmsec/sdk installed without its optional gRPC peers', () => {
  it(
    'exports http/protobuf and http/json by the standard variables; grpc gives one console warning naming the packages, no throw',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      for (const name of ['@grpc/grpc-js', '@opentelemetry/exporter-trace-otlp-grpc'])
        expect(existsSync(join(sdkOnly, 'node_modules', name)), `${name} installed`).toBe(false);
      const r = ok(await run(NODE, ['otlp-protocols.mjs'], sdkOnly), 'otlp-protocols.mjs');
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown> & {
        grpc: { hits: string[]; warnings: string[] };
      };
      const paths = (type: string) => ['/v1/logs', '/v1/metrics', '/v1/traces'].map((p) => `${p} ${type}`);
      expect(out['http/protobuf']).toEqual(paths('application/x-protobuf'));
      expect(out['http/json']).toEqual(paths('application/json'));
      expect(out.grpc.hits).toEqual([]);
      expect(out.grpc.warnings).toHaveLength(1);
      const warning = out.grpc.warnings[0]!;
      for (const signal of ['traces', 'logs', 'metrics'])
        expect(warning).toContain(`${signal} (OTEL_EXPORTER_OTLP_PROTOCOL=grpc)`);
      expect(warning).toContain(
        'npm install @opentelemetry/exporter-trace-otlp-grpc@0.301 @opentelemetry/exporter-logs-otlp-grpc@0.301 @opentelemetry/exporter-metrics-otlp-grpc@0.301',
      );
    },
  );
});

// The same checks on Node 24 and on the oldest Node `engines` allows.
describe.each([
  ['Node 24 (the devDependency)', 'node24', () => NODE],
  [`Node ${OLDEST_VERSION} (the engines minimum)`, 'oldest', () => oldestNode],
])('the installed packages on %s', (_label, tag, nodeOf) => {
  it(
    'works from ESM: instrumented OpenAI client against a local server, limiter, detection engine',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const events = join(app, `events-${tag}.jsonl`);
      // Started as the ESM instrumentation docs say, so the hook subpath is exercised too.
      const r = ok(
        await run(nodeOf(), ['--import', '@llmsec/sdk/hook', 'esm.mjs', events], app, nodeOf()),
        'esm.mjs',
      );
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
        reply: string;
        decisions: string[];
        categories: string[];
        alerts: string[];
        detector: unknown[];
      };
      expect(out.reply).toBe('hello from the local server');
      expect(out.decisions).toEqual(['allowed', 'allowed', 'rpm']);
      expect(out.categories[0]).toBe('request_completed:u-42');
      expect(out.categories.filter((c) => c === 'guardrail_block:u-13')).toHaveLength(12);
      // The chat of a client instrumented without `events`: in the setup's JSONL, the address once.
      expect(out.categories.filter((c) => c.endsWith(':u-7'))).toEqual([
        'pii_detected:u-7',
        'request_completed:u-7',
        'request_completed:u-7',
        'request_completed:u-7',
      ]);
      expect(out.alerts).toContain('firing:rapid_guardrail_blocks');
      expect(out.detector).toEqual(['function', '127.0.0.1:4318']);
    },
  );

  it('works from CommonJS (require of the ESM build)', { timeout: TEST_TIMEOUT_MS }, async () => {
    const r = ok(await run(nodeOf(), ['cjs.cjs'], app, nodeOf()), 'cjs.cjs');
    expect(JSON.parse(r.stdout.trim())).toEqual({
      roundTrip: 'evt-1',
      redacted: 'mail me at [REDACTED:email]',
      window: 300_000,
      rules: expect.any(Number),
      engine: 'function',
      limiter: [true, false],
      functions: ['function', 'function', 'function', 'function'],
      events: 'function',
    });
  });

  it(
    'runs the installed llmsec command (npx) and replays the events the ESM script wrote',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      // `npx` and the bin's `#!/usr/bin/env node` find this runtime first on the PATH.
      const help = ok(
        await run('npx', ['--no-install', 'llmsec', '--help'], app, nodeOf()),
        'npx llmsec --help',
      );
      expect(help.stdout).toContain('usage: llmsec <command>');
      const replay = ok(
        await run('npx', ['--no-install', 'llmsec', 'replay', `events-${tag}.jsonl`], app, nodeOf()),
        'llmsec replay',
      );
      const alerts = replay.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { rule: string; status: string });
      expect(alerts.some((a) => a.rule === 'rapid_guardrail_blocks' && a.status === 'firing')).toBe(true);
    },
  );
});
