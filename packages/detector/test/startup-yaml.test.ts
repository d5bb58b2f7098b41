// The detector parses YAML only for a config or rule file: the yaml library (72 modules) is
// loaded at that file's parse, not with the service's modules. Before, `llmsec detector` with
// flags only loaded it at start (config.ts and @llmsec/detect's rule loaders imported it).
// Counted by the module load hook bench/replay/startup-probe.ts preloads (deterministic, not a
// start-up time), in the detector's one thread, reported at its exit.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../cli/src/bin.ts', import.meta.url));
const PROBE = fileURLToPath(new URL('../../../bench/replay/startup-probe.ts', import.meta.url));

const dir = mkdtempSync(join(tmpdir(), 'llmsec-detector-yaml-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts `llmsec detector ...args`, stops it with SIGTERM once started; the main thread's counts at exit. */
async function startedAndStopped(args: string[]): Promise<{ modules: number; yaml: number }> {
  const child = spawn(
    process.execPath,
    ['--conditions=@llmsec/source', '--import', PROBE, BIN, 'detector', ...args],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  let stopping = false;
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    // Once: a second SIGTERM ends the drain at once (no exit event, no probe report).
    if (!stopping && err.includes('"detector started"')) {
      stopping = true;
      child.kill('SIGTERM');
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  expect(err, err).toContain('"detector started"');
  expect(code, err).toBe(0);
  const report = err.split('\n').find((l) => l.startsWith('[probe] thread=main at=exit'));
  expect(report, err).toBeDefined();
  const field = (name: string) => Number(new RegExp(`\\b${name}=(\\d+)`).exec(report!)?.[1]);
  return { modules: field('modules'), yaml: field('yaml') };
}

const listen = ['--otlp-grpc', '127.0.0.1:0', '--otlp-http', '127.0.0.1:0'];

it('a detector started with flags and the built-in rules never loads the yaml library', async () => {
  const run = await startedAndStopped(listen);
  expect(run.modules).toBeGreaterThan(0);
  expect(run.yaml).toBe(0);
}, 120_000);

it('a YAML config file loads it, to parse that file (the hook sees the library)', async () => {
  const config = join(dir, 'detector.yaml');
  writeFileSync(config, 'shutdown_timeout: 30s\n');
  const run = await startedAndStopped(['--config', config, ...listen]);
  expect(run.yaml).toBeGreaterThan(0);
}, 120_000);
