import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from './support/redis.ts';
import { runToEnd, type Run } from './support/run.ts';

/**
 * `npm run demo -- --replicas 3 --redis URL`: three chat-API processes share detection and
 * limits through Redis, the simulator spreads each persona round-robin over them, and the run
 * still catches every attacker, flags no benign user and writes one firing line per incident.
 * Without --redis it warns, before starting, that detection is per process.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NODE = join(ROOT, 'node_modules', '.bin', 'node');
const DEMO = join(ROOT, 'examples', 'demo', 'main.ts');

function run(args: string[], timeoutMs: number): Promise<Run> {
  return runToEnd(NODE, ['--conditions=@llmsec/source', DEMO, ...args], ROOT, timeoutMs);
}

let redis: RedisHandle;
let outDir: string;

beforeAll(async () => {
  redis = await startRedis();
  outDir = await mkdtemp(join(tmpdir(), 'llmsec-e2e-replicas-'));
});

afterAll(async () => {
  await redis?.stop();
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

describe('npm run demo -- --replicas 3', () => {
  it('with Redis: every attacker caught, no benign user flagged, one firing line per incident', async () => {
    const demo = await run(
      ['--replicas', '3', '--redis', redis.url, '--duration', '10', '--out', outDir],
      // Bounds on a hang: the demo's own replica start bound is 120 s (examples/demo/replicas.ts).
      240_000,
    );
    const all = `stdout:\n${demo.stdout}\nstderr:\n${demo.stderr}`;
    expect(demo.code, all).toBe(0);
    expect(demo.stdout).toContain('chat API   3 replicas');
    expect(demo.stdout).toMatch(/replicas=3 requests=/);
    expect(demo.stdout).toContain('replicas: 3 chat-API processes');
    const caught = /attackers caught: (\d+) of (\d+)/.exec(demo.stdout);
    expect(caught, all).not.toBeNull();
    expect(Number(caught![2])).toBeGreaterThanOrEqual(10);
    expect(caught![1], all).toBe(caught![2]);
    expect(demo.stdout).toContain('benign users flagged: none');
    expect(demo.stderr).not.toContain('WARNING');

    const lines = (await readFile(join(outDir, 'alerts.jsonl'), 'utf8')).split('\n').filter(Boolean);
    const firing = new Map<string, number>();
    for (const l of lines) {
      const a = JSON.parse(l) as { alert_id: string; status: string };
      if (a.status === 'firing') firing.set(a.alert_id, (firing.get(a.alert_id) ?? 0) + 1);
    }
    expect(firing.size).toBeGreaterThanOrEqual(10);
    expect(
      [...firing.values()].every((n) => n === 1),
      lines.join('\n'),
    ).toBe(true);

    // The merged event log is in event-time order, so `llmsec replay` of it drops nothing as
    // late (the replicas' files one after the other put later files' events behind the first's).
    const events = (await readFile(join(outDir, 'events.jsonl'), 'utf8')).split('\n').filter(Boolean);
    const times = events.map((l) => Date.parse((JSON.parse(l) as { timestamp: string }).timestamp));
    expect(events.length).toBeGreaterThan(100);
    expect(times.every((t, i) => i === 0 || t >= times[i - 1]!)).toBe(true);
  }, 270_000);

  it('without Redis: warns before starting that detection and limits are per process', async () => {
    const demo = await run(
      ['--replicas', '3', '--duration', '1', '--out', join(outDir, 'no-redis')],
      240_000,
    );
    expect(demo.code, demo.stderr).toBe(0);
    expect(demo.stderr).toContain(
      'WARNING: --replicas 3 without --redis: detection and rate limits are per process',
    );
    expect(demo.stdout).toContain('detection  per process (no --redis)');
  }, 270_000);
});
