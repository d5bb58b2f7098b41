// `llmsec replay` bundled into one file (what a user gets from esbuild, rolldown or webpack):
// the replay's worker threads are started from files next to their modules
// (replay-engine-thread.js, @llmsec/detect's replay-reader-worker.js), which a bundle does not
// have. Before, `llmsec replay FILE` then failed ("Cannot find module ...") and printed no
// alerts; now it replays on one thread, with one warning line on stderr and the same alerts.
// The bundle is built here by rolldown (vite's bundler) from the sources, dependencies outside
// @llmsec left external (resolved through a node_modules link next to the bundle).
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rolldown } from 'rolldown';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { blockFloodFile, cli } from './replay-io.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const RULES = join(ROOT, 'packages/detect/rules/default-rules.yaml');
// What the built-in rules are read from (the YAML above as data: default-rules.ts says why).
const RULES_DATA = join(ROOT, 'packages/detect/rules/default-rules.json');

let root: string;
let dir: string;
let bundle: string;
let events: string;
let redis: RedisHandle;

beforeAll(async () => {
  // The bundle in <root>/bin, so that the built-in rules would be <root>/rules/default-rules.json.
  root = mkdtempSync(join(tmpdir(), 'llmsec-bundle-'));
  dir = join(root, 'bin');
  mkdirSync(dir);
  const build = await rolldown({
    input: join(ROOT, 'packages/cli/src/bin.ts'),
    platform: 'node',
    cwd: ROOT,
    resolve: { conditionNames: ['@llmsec/source', 'import', 'node', 'default'] },
    external: (id) => !id.startsWith('.') && !id.startsWith('/') && !id.startsWith('@llmsec/'),
    logLevel: 'silent',
  });
  bundle = join(dir, 'llmsec.mjs');
  await build.write({ file: bundle, format: 'esm', codeSplitting: false });
  await build.close();
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  events = blockFloodFile(3000, 'llmsec-bundle-events-');
  redis = await startRedis();
}, 60_000);

afterAll(async () => {
  await redis?.stop();
  rmSync(root, { recursive: true, force: true });
});

function runBundle(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bundle, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const WARNING =
  /^llmsec replay: warning: cannot start a worker thread \(.*replay-(engine-thread|reader-worker)\.js.*\); replaying on one thread \(as --threads 1\), same alerts$/m;

describe('llmsec replay bundled into one file (no worker files beside it)', () => {
  it('replays a file on one thread with one warning line: the alerts of --threads 1, exit 0', async () => {
    const want = await cli(['replay', events, '--threads', '1', '--rules', RULES, '--format', 'jsonl']);
    expect(want.code).toBe(0);
    expect(want.stdout.split('\n').length).toBeGreaterThan(100);

    const got = await runBundle(['replay', events, '--threads', '2', '--rules', RULES, '--format', 'jsonl']);
    expect(got.stderr).toMatch(WARNING);
    expect(got.stderr.split('\n').filter((l) => l.includes('warning')).length).toBe(1);
    expect(got.stdout).toBe(want.stdout);
    expect(got.code).toBe(0);

    // The file after `--`: the fallback must not add arguments a user's `--` turns into files.
    const dashed = await runBundle(['replay', '--rules', RULES, '--format', 'jsonl', '--', events]);
    expect(dashed.stderr).toMatch(WARNING);
    expect(dashed.stdout).toBe(want.stdout);
    expect(dashed.code).toBe(0);
  }, 60_000);

  it('the reader thread alone (shared state, where the engine stays on the main thread): same fallback', async () => {
    const want = await cli([
      'replay',
      events,
      '--threads',
      '1',
      '--rules',
      RULES,
      '--format',
      'jsonl',
      '--state',
      redis.url,
    ]);
    expect(want.code).toBe(0);
    const got = await runBundle([
      'replay',
      events,
      '--threads',
      '2',
      '--rules',
      RULES,
      '--format',
      'jsonl',
      '--state',
      redis.url,
    ]);
    expect(got.stderr).toMatch(WARNING);
    expect(got.stderr).toContain('replay-reader-worker.js');
    expect(got.stderr.split('\n').filter((l) => l.includes('warning')).length).toBe(1);
    // Alert ids differ between runs with shared state (a ruleset each); the lines otherwise not.
    const strip = (s: string) => s.replace(/"alert_id":"[^"]*"/g, '');
    expect(strip(got.stdout)).toBe(strip(want.stdout));
    expect(got.code).toBe(0);
  }, 60_000);

  it('a worker file that is there but does not load falls back the same way', async () => {
    writeFileSync(join(dir, 'replay-engine-thread.js'), "throw new Error('broken install');\n");
    const want = await cli(['replay', events, '--threads', '1', '--rules', RULES, '--format', 'jsonl']);
    const got = await runBundle(['replay', events, '--threads', '2', '--rules', RULES, '--format', 'jsonl']);
    expect(got.stderr).toMatch(
      /cannot start a worker thread \(.*broken install.*\); replaying on one thread/,
    );
    expect(got.stdout).toBe(want.stdout);
    expect(got.code).toBe(0);
  }, 60_000);

  it('without --rules: a clear error naming the missing built-in rule file (exit 1); with the file copied there, the built-in rules run', async () => {
    const missing = await runBundle(['replay', events, '--threads', '1']);
    expect(missing.stderr).toContain(
      `the built-in rule file is missing: ${join(root, 'rules', 'default-rules.json')} (bundled or partial install?)`,
    );
    expect(missing.stderr).toContain('--rules FILE');
    expect(missing.code).toBe(1);

    mkdirSync(join(root, 'rules'));
    copyFileSync(RULES_DATA, join(root, 'rules', 'default-rules.json'));
    const want = await cli(['replay', events, '--threads', '1', '--format', 'jsonl']);
    const got = await runBundle(['replay', events, '--threads', '1', '--format', 'jsonl']);
    expect(got.stdout).toBe(want.stdout);
    expect(got.code).toBe(0);
  }, 60_000);
});
