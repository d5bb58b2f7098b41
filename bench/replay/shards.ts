// `llmsec replay --shards N` A/B (`node --conditions=@llmsec/source bench/replay/shards.ts
// BEFORE_DIR AFTER_DIR [--rounds N] [--shards N] [--lateness 0,5s]`): each directory a whole
// tree (`git archive REV | tar -x -C DIR`, node_modules linked). One redis-server; per round
// and lateness, both trees in a random order: N shard processes of the 42 s, 36,000-line log
// of packages/cli/test/replay-shards-pace.test.ts (lines in time order give or take 200 ms,
// dealt round-robin), each on a fresh --ruleset. Wall time of the slowest shard, events late
// (dropped) over the shards, and one replay of the whole log's late count for reference.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startRedis } from '../../test/support/redis.ts';
import { median } from '../report.ts';

const flag = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
};
const [beforeDir, afterDir] = process.argv
  .slice(2)
  .filter((a, i, all) => !a.startsWith('--') && !(all[i - 1] ?? '').startsWith('--'));
if (beforeDir === undefined || afterDir === undefined) {
  console.error('usage: bench/replay/shards.ts BEFORE_DIR AFTER_DIR [--rounds N] [--shards N] [--lateness 0,5s]');
  process.exit(2);
}
const ROUNDS = Number(flag('--rounds') ?? 3);
const SHARDS = Number(flag('--shards') ?? 2);
const LATENESS = (flag('--lateness') ?? '0,5s').split(',');
const LINES = 36_000;
const USERS = 3_000;
const T0 = Date.parse('2026-11-22T10:00:00.000Z');

function log(): string[] {
  const out: string[] = [];
  for (let i = 0; i < LINES; i++) {
    const jitter = ((i * 7_919) % 401) - 200;
    out.push(
      JSON.stringify({
        event_id: `EVT-${i}`,
        timestamp: new Date(T0 + Math.floor((i * 42_000) / LINES) + jitter).toISOString(),
        category: 'guardrail_block',
        severity: 'warning',
        user_id: `u${(i + Math.floor(i / USERS)) % USERS}`,
        metadata: { guardrail_layer: 'injection', block_reason: 'jailbreak' },
      }),
    );
  }
  return out;
}

function replay(tree: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  const bin = join(resolve(tree), 'packages/cli/src/bin.ts');
  const node = join(resolve(tree), 'node_modules/.bin/node');
  return new Promise((done, fail) => {
    const child = spawn(node, ['--conditions=@llmsec/source', bin, 'replay', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stderr }));
  });
}

const late = (stderr: string): number => Number(/, (\d+) late \(dropped\)/.exec(stderr)?.[1] ?? NaN);

const dir = mkdtempSync(join(tmpdir(), 'llmsec-bench-shards-'));
const server = await startRedis();
try {
  const all = log();
  writeFileSync(join(dir, 'whole.jsonl'), `${all.join('\n')}\n`);
  for (let k = 0; k < SHARDS; k++) {
    writeFileSync(join(dir, `s${k}.jsonl`), `${all.filter((_, i) => i % SHARDS === k).join('\n')}\n`);
  }
  const trees = { before: beforeDir, after: afterDir };
  const walls: Record<string, number[]> = {};
  const lates: Record<string, number[]> = {};
  for (const lateness of LATENESS) {
    const whole = await replay(afterDir, [join(dir, 'whole.jsonl'), '--format', 'jsonl', '--allowed-lateness', lateness]);
    console.log(`lateness ${lateness}: one replay of the whole log: ${late(whole.stderr)} late`);
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const lateness of LATENESS) {
      const order = Math.random() < 0.5 ? (['before', 'after'] as const) : (['after', 'before'] as const);
      for (const name of order) {
        const ruleset = `bench-${name}-${round}-${lateness}-${process.pid}`;
        const start = performance.now();
        const runs = await Promise.all(
          Array.from({ length: SHARDS }, (_, k) =>
            replay(trees[name], [
              join(dir, `s${k}.jsonl`), '--format', 'jsonl', '--state', server.url, '--ruleset', ruleset,
              '--shards', String(SHARDS), '--allowed-lateness', lateness,
            ]),
          ),
        );
        const wall = (performance.now() - start) / 1000;
        const key = `${name} ${lateness}`;
        (walls[key] ??= []).push(wall);
        const l = runs.reduce((s, r) => s + late(r.stderr), 0);
        (lates[key] ??= []).push(l);
        const bad = runs.filter((r) => r.code !== 0).length;
        console.log(`round ${round} ${key}: ${wall.toFixed(2)} s, ${l} late${bad > 0 ? `, ${bad} shard(s) exit != 0` : ''}, load ${loadavg()[0]!.toFixed(1)}`);
      }
    }
  }
  for (const lateness of LATENESS) {
    const b = walls[`before ${lateness}`]!;
    const a = walls[`after ${lateness}`]!;
    const span = (x: number[]) => `${Math.min(...x).toFixed(2)}-${Math.max(...x).toFixed(2)}`;
    console.log(
      `lateness ${lateness}: before median ${median(b).toFixed(2)} s (${span(b)}), after ${median(a).toFixed(2)} s (${span(a)}), after/before ${(median(a) / median(b)).toFixed(2)}; late before ${lates[`before ${lateness}`]!.join('/')}, after ${lates[`after ${lateness}`]!.join('/')}`,
    );
  }
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
