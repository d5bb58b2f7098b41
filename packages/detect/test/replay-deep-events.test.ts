// A line that is valid JSON nested thousands of levels deep (a hostile log) is an event on one
// thread: JSON.parse does not recurse. Between the threads of a replay it crosses by structured
// clone, which does: past ~6,500 levels the reader thread's serializer throws (the replay died
// with "Maximum call stack size exceeded"), and past ~1,600 the deserializer on a main thread
// (the replay with --state runs its engine there) fails, which Node reports only as a
// 'messageerror' and drops the batch: 1,024 events lost, exit 0. The two-thread replay must
// give the one-thread events and alerts on such a log, before the rules came (whole events) and
// after (projected), with rules that read the deep field too.
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeAlert } from '@llmsec/core';
import { defaultRules, DetectionEngine, parseRules, type RuleDefinition } from '../src/index.ts';
import {
  decodeEventLineFast,
  forEachLine,
  replayFileOnTwoThreads,
  replayProjector,
  startReplayReader,
} from '../src/replay.ts';

const dir = mkdtempSync(join(tmpdir(), 'llmsec-replay-deep-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const MAX_LINE = 1 << 20;

/**
 * `count` guardrail blocks (10 per user: each fires); every `every`-th nests metadata.x `depth`
 * deep, between two junk lines.
 */
function corpus(count: number, every: number, depth: number): string {
  const deep = `${'{"a":'.repeat(depth)}null${'}'.repeat(depth)}`;
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const line = JSON.stringify({
      event_id: `b${i}`,
      timestamp: new Date(T0 + i * 10).toISOString(),
      category: 'guardrail_block',
      severity: 'warning',
      user_id: `u${Math.floor(i / 10)}`,
      metadata: { guardrail_layer: 'injection', block_reason: 'jailbreak' },
    });
    if (i % every !== 5) {
      out.push(line);
      continue;
    }
    // Junk on either side: its reports stay in order around the event sent as its line.
    out.push(`{junk ${i}`, line.replace('"metadata":{', `"metadata":{"x":${deep},`), `junk ${i}]`);
  }
  return `${out.join('\n')}\n`;
}

// A rule that reads the deep field: the projected batches carry it.
const READS_X = parseRules(`
rules:
  - id: with_x
    title: t
    severity: warning
    match: { categories: [guardrail_block], where: [{ field: metadata.x, exists: true }] }
    group_by: user_id
    window: 10m
    condition: { kind: single }
`);

interface Outcome {
  alerts: string[];
  events: number;
  malformed: string[];
}

async function oneThread(file: string, rules: RuleDefinition[]): Promise<Outcome> {
  const out: Outcome = { alerts: [], events: 0, malformed: [] };
  const engine = new DetectionEngine({ rules, onAlert: (a) => out.alerts.push(encodeAlert(a)) });
  const project = replayProjector(rules);
  await forEachLine(createReadStream(file), (text, n) => {
    try {
      const { event, timeMs } = decodeEventLineFast(text);
      out.events++;
      engine.ingest(project(event), timeMs);
    } catch (err) {
      out.malformed.push(`${n}: ${(err as Error).message}`);
    }
  });
  engine.flush();
  return out;
}

/** On this thread (a main thread, as with --state), the reader started `aheadMs` before the rules. */
async function twoThreads(file: string, rules: RuleDefinition[], aheadMs: number): Promise<Outcome> {
  const out: Outcome = { alerts: [], events: 0, malformed: [] };
  const engine = new DetectionEngine({ rules, onAlert: (a) => out.alerts.push(encodeAlert(a)) });
  const reader = aheadMs > 0 ? startReplayReader(file, MAX_LINE) : undefined;
  if (aheadMs > 0) await new Promise((r) => setTimeout(r, aheadMs));
  await replayFileOnTwoThreads(
    { file, maxLineBytes: MAX_LINE, rules },
    {
      onEvent: (event, timeMs) => {
        out.events++;
        engine.ingest(event, timeMs);
      },
      onMalformed: (n, reason) => out.malformed.push(`${n}: ${reason}`),
      onOverlong: (n, bytes) => out.malformed.push(`${n}: ${bytes} bytes`),
    },
    reader,
  );
  engine.flush();
  return out;
}

describe('replay on two threads: events nested deeper than a thread can clone', () => {
  it.each([
    ['past what a main thread deserializes, read ahead (whole events)', 3_000, 600, defaultRules()],
    ['past what the reader serializes, read ahead (whole events)', 20_000, 600, defaultRules()],
    ['past what a main thread deserializes, rules first, a rule reads it', 3_000, 0, READS_X],
    ['past what the reader serializes, rules first, a rule reads it', 20_000, 0, READS_X],
    ['read ahead, a rule reads it', 3_000, 600, READS_X],
  ] as const)('the events and alerts of one thread: %s', async (_name, depth, aheadMs, rules) => {
    const file = join(dir, `deep-${depth}-${aheadMs}-${rules.length}.jsonl`);
    writeFileSync(file, corpus(4_000, 700, depth));
    const one = await oneThread(file, [...rules]);
    expect(one.events).toBe(4_000);
    // The deep value itself is dropped on reading (core's metadata caps, docs/formats.md 'Field
    // caps': nothing nests below a metadata array), so the rule reading it never fires; the
    // default rules fire on the same events either way.
    if (rules === READS_X) expect(one.alerts).toEqual([]);
    else expect(one.alerts.length).toBeGreaterThan(0);
    expect(one.malformed).toHaveLength(2 * Math.ceil((4_000 - 5) / 700));
    const two = await twoThreads(file, [...rules], aheadMs);
    expect(two).toEqual(one);
  });
});
