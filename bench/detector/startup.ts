// `llmsec detector` start-up, A/B against another tree in the same run: modules loaded, process
// CPU and wall time until the detector is ready (its "detector started" line: it listens only
// then), for (a) a minimal config (memory state, built-in rules, no sinks) and (b) one with a
// Redis state, fleet enforcement on Redis and the OTLP alert logs sink (a redis-server started
// here on a free port; the OTLP URL needs no receiver, nothing is sent without an alert).
//
//   npm run bench:detector:startup -- /tmp/based11 [--rounds 7]
//
// Each round starts base, this tree, base again (the second base run against the first is the
// A/A: the noise), each from sources (bin.ts with the source condition), probed by
// startup-probe.ts (the same probe for both trees). One start of each tree first, not counted,
// fills Node's compile cache (bin.ts enables it), as a deployment's second start would find it.
// Medians and quartiles of the per-round figures and of the paired ratios (this / base);
// `uptime`'s load at start and end.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startRedis } from '../../test/support/redis.ts';
import { median, table } from '../report.ts';

const PROBE = fileURLToPath(new URL('./startup-probe.ts', import.meta.url));
const HERE = fileURLToPath(new URL('../..', import.meta.url));

interface Start {
  modules: number;
  ioredis: number;
  ratelimit: number;
  otlpLogs: number;
  cpuMs: number;
  /** Since the process started (the child's own clock). */
  readyMs: number;
  /** From spawn to the probe's line, read by this process. */
  wallMs: number;
}

/** Starts one detector, reads the probe's line, stops it with SIGTERM and waits for its exit. */
function startOnce(tree: string, config: string): Promise<Start> {
  const bin = join(tree, 'packages/cli/src/bin.ts');
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    ['--conditions=@llmsec/source', '--import', PROBE, bin, 'detector', '--config', config],
    { cwd: tree, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return new Promise((done, fail) => {
    let err = '';
    let start: Start | undefined;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      err += d;
      if (start !== undefined) return;
      const line = /^\[probe\] at=ready (.*)$/m.exec(err);
      if (line === null) return;
      const f = Object.fromEntries(line[1]!.split(' ').map((kv) => kv.split('='))) as Record<string, string>;
      start = {
        modules: Number(f.modules),
        ioredis: Number(f.ioredis),
        ratelimit: Number(f.ratelimit),
        otlpLogs: Number(f.otlp_logs),
        cpuMs: Number(f.cpu_ms),
        readyMs: Number(f.ready_ms),
        wallMs: performance.now() - t0,
      };
      child.kill('SIGTERM');
    });
    child.on('exit', (code, signal) => {
      if (start !== undefined) done(start);
      else fail(new Error(`${tree}: detector exited (${code ?? signal}) before it was ready:\n${err}`));
    });
  });
}

function quartiles(xs: number[]): [number, number, number] {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number => {
    const i = (s.length - 1) * q;
    const lo = Math.floor(i);
    return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (i - lo);
  };
  return [at(0.25), median(s), at(0.75)];
}

const mq = (xs: number[], digits = 0): string => {
  const [q1, m, q3] = quartiles(xs);
  return `${m.toFixed(digits)} (${q1.toFixed(digits)}-${q3.toFixed(digits)})`;
};

const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { rounds: { type: 'string', default: '7' } },
  });
  const base = positionals[0];
  if (base === undefined) throw new Error('usage: startup.ts BASE_TREE [--rounds N]');
  const trees = { base: resolve(base), new: HERE };
  const rounds = Number(values.rounds);

  const dir = mkdtempSync(join(tmpdir(), 'llmsec-detector-startup-'));
  const redis = await startRedis();
  try {
    const minimal = join(dir, 'minimal.json');
    writeFileSync(minimal, JSON.stringify({ otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' } }));
    const full = join(dir, 'redis-otlp.json');
    writeFileSync(
      full,
      JSON.stringify({
        otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' },
        state: redis.url,
        sinks: { otlp_alerts: 'http://127.0.0.1:9/v1/logs' },
        enforcement: {
          redis: redis.url,
          actions: [{ severity: 'critical', action: 'block', duration: '15m' }],
        },
      }),
    );
    const configs = { minimal, 'redis+otlp': full };

    const loadBefore = load();
    console.log(`detector start-up: ${trees.base} (base) vs ${trees.new} (new), ${rounds} rounds`);
    console.log(`node ${process.version}, ${cpus().length} CPUs, load ${loadBefore}\n`);
    for (const [name, config] of Object.entries(configs)) {
      await startOnce(trees.base, config); // compile cache
      await startOnce(trees.new, config);
      const runs: { base: Start[]; new: Start[]; base2: Start[] } = { base: [], new: [], base2: [] };
      for (let r = 0; r < rounds; r++) {
        runs.base.push(await startOnce(trees.base, config));
        runs.new.push(await startOnce(trees.new, config));
        runs.base2.push(await startOnce(trees.base, config));
      }
      const col = (arm: Start[], k: keyof Start, digits = 0) =>
        mq(
          arm.map((s) => s[k]),
          digits,
        );
      const ratio = (a: Start[], b: Start[], k: keyof Start) =>
        mq(
          a.map((s, i) => s[k] / b[i]![k]),
          2,
        );
      console.log(`config ${name}: median (q1-q3) of ${rounds} rounds`);
      table(
        ['', 'modules', 'ioredis', 'ratelimit', 'otlp logs', 'CPU ms', 'ready ms', 'wall ms'],
        (['base', 'new', 'base2'] as const).map((arm) => [
          arm === 'base2' ? 'base again' : arm,
          col(runs[arm], 'modules'),
          col(runs[arm], 'ioredis'),
          col(runs[arm], 'ratelimit'),
          col(runs[arm], 'otlpLogs'),
          col(runs[arm], 'cpuMs'),
          col(runs[arm], 'readyMs'),
          col(runs[arm], 'wallMs'),
        ]),
      );
      table(
        ['paired ratio', 'CPU', 'ready', 'wall'],
        [
          [
            'new / base',
            ratio(runs.new, runs.base, 'cpuMs'),
            ratio(runs.new, runs.base, 'readyMs'),
            ratio(runs.new, runs.base, 'wallMs'),
          ],
          [
            'A/A: base again / base',
            ratio(runs.base2, runs.base, 'cpuMs'),
            ratio(runs.base2, runs.base, 'readyMs'),
            ratio(runs.base2, runs.base, 'wallMs'),
          ],
        ],
      );
    }
    console.log(`load ${loadBefore} at start, ${load()} at end`);
  } finally {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
