// `llmsec replay FILE`'s reader thread sets the replay's pace, so every module it (and the main
// thread, which starts it) loads before the first read is wall time (issue 13). Neither needs
// @opentelemetry/api, zod or yaml: the arguments need a duration parser, the reader the line
// splitter and the event codec (core's `@llmsec/core/jsonl` subpath). Through core's main entry
// they loaded 100 and 90 modules, 51 of each @opentelemetry/api. Counted by a module load hook
// preloaded in every thread (bench/replay/startup-probe.ts), not timed: deterministic.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { line } from './replay-io.ts';

const BIN = fileURLToPath(new URL('../src/bin.ts', import.meta.url));
const PROBE = fileURLToPath(new URL('../../../bench/replay/startup-probe.ts', import.meta.url));
const DEFAULT_RULES_YAML = fileURLToPath(new URL('../../detect/rules/default-rules.yaml', import.meta.url));

const dir = mkdtempSync(join(tmpdir(), 'llmsec-startup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface ThreadReport {
  thread: string;
  at: string;
  modules: number;
  otel: number;
  zod: number;
  yaml: number;
}

/** Twelve guardrail blocks of one user a second apart: rapid_guardrail_blocks fires. */
function eventLines(): string[] {
  const t0 = Date.parse('2026-11-22T10:00:00.000Z');
  const lines: string[] = [];
  for (let i = 0; i < 12; i++) {
    lines.push(
      line({
        event_id: `b${i}`,
        timestamp: new Date(t0 + i * 1000).toISOString(),
        category: 'guardrail_block',
        severity: 'warning',
        user_id: 'u1',
        metadata: { guardrail_layer: 'injection', block_reason: 'jailbreak' },
      }),
    );
  }
  return lines;
}

/** The engine's thread: a worker's report at its exit, not the reader's (which reports its first read). */
function engineReport(reports: ThreadReport[]): ThreadReport | undefined {
  const readers = new Set(reports.filter((r) => r.at === 'first_read').map((r) => r.thread));
  return reports.find((r) => r.thread !== 'main' && r.at === 'exit' && !readers.has(r.thread));
}

function probeReports(stderr: string): ThreadReport[] {
  const reports: ThreadReport[] = [];
  for (const text of stderr.split('\n')) {
    if (!text.startsWith('[probe] thread=')) continue;
    const f = Object.fromEntries(
      text
        .slice('[probe] '.length)
        .split(' ')
        .map((kv) => kv.split('=')),
    );
    reports.push({
      thread: f.thread!,
      at: f.at!,
      modules: Number(f.modules),
      otel: Number(f.otel),
      zod: Number(f.zod),
      yaml: Number(f.yaml),
    });
  }
  return reports;
}

describe('llmsec replay start-up', () => {
  it('loads neither @opentelemetry/api, zod nor yaml on the main thread or before the reader first reads', () => {
    const events = join(dir, 'events.jsonl');
    writeFileSync(events, `${eventLines().join('\n')}\n`);
    const run = spawnSync(
      process.execPath,
      ['--conditions=@llmsec/source', '--import', PROBE, BIN, 'replay', events],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('rapid_guardrail_blocks');
    const reports = probeReports(run.stderr);

    const main = reports.find((r) => r.thread === 'main' && r.at === 'exit');
    const reader = reports.find((r) => r.at === 'first_read');
    // The engine's thread: proof that the hook sees the modules this test says are absent (zod
    // and yaml: the next test).
    const engine = engineReport(reports);
    expect(main, run.stderr).toBeDefined();
    expect(reader, run.stderr).toBeDefined();
    expect(engine, run.stderr).toBeDefined();
    expect(engine!.otel).toBeGreaterThan(0);

    for (const r of [main!, reader!]) {
      expect({ thread: r.thread, otel: r.otel, zod: r.zod, yaml: r.yaml }).toEqual({
        thread: r.thread,
        otel: 0,
        zod: 0,
        yaml: 0,
      });
    }
    // 25 and 15 today; a bound with room, so that a small new module is not a failure but
    // core's main entry (~50 more) is.
    expect(main!.modules).toBeLessThanOrEqual(40);
    expect(reader!.modules).toBeLessThanOrEqual(30);
  });

  // The engine's thread loaded the rule file parser (yaml, 72 modules) and zod (95) for the
  // built-in rules too, ~110 ms of CPU and ~55 ms to parse and validate them, on every replay:
  // they are read as data now (@llmsec/detect's default-rules.ts), the parser loaded for --rules.
  it("loads neither zod nor yaml on the engine's thread with the built-in rules; with --rules FILE it does", () => {
    const events = join(dir, 'events-rules.jsonl');
    writeFileSync(events, `${eventLines().join('\n')}\n`);
    const replay = (extra: string[]) => {
      const run = spawnSync(
        process.execPath,
        ['--conditions=@llmsec/source', '--import', PROBE, BIN, 'replay', events, ...extra],
        { encoding: 'utf8', timeout: 60_000 },
      );
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).toContain('rapid_guardrail_blocks');
      const engine = engineReport(probeReports(run.stderr));
      expect(engine, run.stderr).toBeDefined();
      return { stdout: run.stdout, engine: engine! };
    };
    const builtIn = replay([]);
    expect({ zod: builtIn.engine.zod, yaml: builtIn.engine.yaml }).toEqual({ zod: 0, yaml: 0 });
    // 184 today, 370 before; room for a small new module, not for zod or yaml (~170).
    expect(builtIn.engine.modules).toBeLessThanOrEqual(250);

    const fromFile = replay(['--rules', DEFAULT_RULES_YAML]);
    expect(fromFile.engine.zod).toBeGreaterThan(0);
    expect(fromFile.engine.yaml).toBeGreaterThan(0);
    // The same rules either way: the same alerts.
    expect(fromFile.stdout).toBe(builtIn.stdout);
  });
});
