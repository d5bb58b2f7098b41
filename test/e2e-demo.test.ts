import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALERT_SEVERITIES, decodeEventLine, type SecurityEvent } from '@llmsec/core';
import { getFreePort } from './support/ports.ts';
import { runToEnd, type Run } from './support/run.ts';

/**
 * `npm run demo` as a user runs it: the demo program in its own Node process (the repo's Node
 * 24, as npm scripts use), a short seeded run, then its summary, its exit code and the two
 * files it writes; and `llmsec replay` over the events it wrote gives the same incidents.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NODE = join(ROOT, 'node_modules', '.bin', 'node');
const DEMO = join(ROOT, 'examples', 'demo', 'main.ts');
/** The `llmsec` bin as npm links it (what `npx llmsec` runs). */
const LLMSEC_BIN = join(ROOT, 'node_modules', '.bin', 'llmsec');
const DURATION_SEC = 12;

function run(command: string, args: string[], timeoutMs: number): Promise<Run> {
  return runToEnd(command, args, ROOT, timeoutMs);
}

let outDir: string;
let demo: Run;

beforeAll(async () => {
  outDir = await mkdtemp(join(tmpdir(), 'llmsec-e2e-demo-'));
  demo = await run(NODE, [DEMO, '--duration', String(DURATION_SEC), '--out', outDir], 90_000);
}, 100_000);

afterAll(async () => {
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

const lines = async (file: string): Promise<string[]> =>
  (await readFile(file, 'utf8')).split('\n').filter((l) => l.trim() !== '');

type AlertLine = Record<string, unknown>;

/** The required fields of docs/formats.md section 2, checked one by one. */
function checkAlertLine(value: AlertLine, where: string): void {
  const isStrings = (v: unknown): boolean => Array.isArray(v) && v.every((x) => typeof x === 'string');
  expect(typeof value.alert_id === 'string' && value.alert_id.length > 0, `${where}: alert_id`).toBe(true);
  expect(typeof value.rule === 'string' && value.rule.length > 0, `${where}: rule`).toBe(true);
  expect(ALERT_SEVERITIES as readonly unknown[], `${where}: severity`).toContain(value.severity);
  expect(['firing', 'resolved'], `${where}: status`).toContain(value.status);
  const labels = value.labels as Record<string, unknown>;
  expect(labels !== null && typeof labels === 'object' && !Array.isArray(labels), `${where}: labels`).toBe(
    true,
  );
  for (const v of Object.values(labels)) expect(typeof v, `${where}: label value`).toBe('string');
  expect(isStrings(value.user_ids) && (value.user_ids as string[]).length > 0, `${where}: user_ids`).toBe(
    true,
  );
  expect(Number.isNaN(Date.parse(value.starts_at as string)), `${where}: starts_at`).toBe(false);
  expect(typeof value.description === 'string' && value.description.length > 0, `${where}: description`).toBe(
    true,
  );
  expect(isStrings(value.evidence) && (value.evidence as string[]).length > 0, `${where}: evidence`).toBe(
    true,
  );
  if (value.status === 'resolved')
    expect(Number.isNaN(Date.parse(value.ends_at as string)), `${where}: ends_at`).toBe(false);
  if (value.trace_ids !== undefined) {
    expect(isStrings(value.trace_ids), `${where}: trace_ids`).toBe(true);
    for (const t of value.trace_ids as string[]) expect(t, `${where}: trace id`).toMatch(/^[0-9a-f]{32}$/);
  }
}

/** One incident key per firing line: the rule and its group labels. */
const firingKeys = (alerts: AlertLine[]): string[] =>
  [
    ...new Set(
      alerts
        .filter((a) => a.status === 'firing')
        .map((a) => `${a.rule as string} ${JSON.stringify(Object.entries(a.labels as object).sort())}`),
    ),
  ].sort();

describe('npm run demo', () => {
  it(`finishes a ${DURATION_SEC} s run with exit code 0`, () => {
    expect(demo.code, `stdout:\n${demo.stdout}\nstderr:\n${demo.stderr}`).toBe(0);
  });

  it('catches every attacker persona and flags no benign user', () => {
    const caught = /attackers caught: (\d+) of (\d+)/.exec(demo.stdout);
    expect(caught, demo.stdout).not.toBeNull();
    expect(Number(caught![2])).toBeGreaterThanOrEqual(10);
    const missed = demo.stdout.split('\n').filter((l) => /\bMISSED\b|\bFLAGGED\b/.test(l));
    expect(missed, `personas missed or flagged:\n${missed.join('\n')}`).toEqual([]);
    expect(caught![1], demo.stdout).toBe(caught![2]);
    expect(demo.stdout).toContain('benign users flagged: none');
  });

  it('writes events.jsonl in the event format: every line decodes', async () => {
    const file = join(outDir, 'events.jsonl');
    expect(existsSync(file)).toBe(true);
    const text = await lines(file);
    expect(text.length).toBeGreaterThan(300);
    const events: SecurityEvent[] = text.map((l, i) => {
      try {
        return decodeEventLine(l).event;
      } catch (err) {
        throw new Error(`events.jsonl line ${i + 1}: ${(err as Error).message}\n${l}`);
      }
    });
    expect(new Set(events.map((e) => e.event_id)).size).toBe(events.length);
    const categories = new Set(events.map((e) => e.category));
    for (const c of [
      'request_completed',
      'guardrail_block',
      'output_filter_block',
      'rate_limit_hit',
      'system_prompt_leakage',
    ]) {
      expect(categories, c).toContain(c);
    }
    // The summary's figure is the file's.
    expect(demo.stdout).toContain(`wrote ${text.length} events to`);
  });

  it('writes alerts.jsonl in the alert format: one firing line per incident, resolves pair with a firing', async () => {
    const file = join(outDir, 'alerts.jsonl');
    expect(existsSync(file)).toBe(true);
    const alerts = (await lines(file)).map((l, i) => {
      const value = JSON.parse(l) as AlertLine;
      checkAlertLine(value, `alerts.jsonl line ${i + 1}`);
      return value;
    });
    expect(alerts.length).toBeGreaterThan(0);
    const firingIds = alerts.filter((a) => a.status === 'firing').map((a) => a.alert_id);
    expect(new Set(firingIds).size, 'one firing line per incident').toBe(firingIds.length);
    for (const a of alerts.filter((x) => x.status === 'resolved')) expect(firingIds).toContain(a.alert_id);
    expect(demo.stdout).toContain(`wrote ${alerts.length} alert lines to`);
  });

  it('llmsec replay of events.jsonl raises the same incidents as the live run', async () => {
    const replay = await run(
      NODE,
      [LLMSEC_BIN, 'replay', join(outDir, 'events.jsonl'), '--format', 'jsonl'],
      60_000,
    );
    expect(replay.code, `llmsec replay: ${replay.stderr}`).toBe(0);
    const replayed = replay.stdout
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l, i) => {
        const value = JSON.parse(l) as AlertLine;
        checkAlertLine(value, `replay line ${i + 1}`);
        return value;
      });
    const live = (await lines(join(outDir, 'alerts.jsonl'))).map((l) => JSON.parse(l) as AlertLine);
    // Detection runs on event time, so replaying the log must find the same incidents, per
    // rule and group. Alert ids are stable per incident (rule, group, start).
    expect(firingKeys(replayed)).toEqual(firingKeys(live));
    const ids = (alerts: AlertLine[]): string[] =>
      alerts
        .filter((a) => a.status === 'firing')
        .map((a) => a.alert_id as string)
        .sort();
    expect(ids(replayed)).toEqual(ids(live));
  });
});

describe('npm run demo with bad arguments', () => {
  it('--duration abc: exit 2 and says what is wrong, before starting anything', async () => {
    const out = join(outDir, 'never-bad-duration');
    const r = await run(NODE, [DEMO, '--duration', 'abc', '--out', out], 30_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--duration/);
    expect(r.stderr).toMatch(/usage:/);
    expect(existsSync(out)).toBe(false);
  });

  it('an unknown option: exit 2 with the usage', async () => {
    const r = await run(NODE, [DEMO, '--durration', '5'], 30_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/usage:/);
  });

  it('--redis to a port where nothing listens: exit 1, "cannot reach Redis", nothing run', async () => {
    const out = join(outDir, 'never-bad-redis');
    const url = `redis://127.0.0.1:${await getFreePort()}`;
    const r = await run(NODE, [DEMO, '--duration', '5', '--out', out, '--redis', url], 30_000);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`cannot reach Redis at ${url.replaceAll('.', '\\.')}`));
    expect(r.stdout).not.toMatch(/attackers caught/);
    expect(existsSync(out)).toBe(false);
  });

  it('--redis redis://127.0.0.1:1 (the issue\'s example): exit 1, "cannot reach Redis"', async () => {
    const r = await run(
      NODE,
      [DEMO, '--duration', '5', '--out', join(outDir, 'never-port-1'), '--redis', 'redis://127.0.0.1:1'],
      30_000,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
  });
});
