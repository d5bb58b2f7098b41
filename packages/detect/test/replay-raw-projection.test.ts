// Lines handed to the engine's side undecoded (ReaderBatch.raw, 0533afc) are decoded there and
// must be projected as the reader projects the events it decodes: the engine holds each event
// for the allowed lateness, and the projection is what keeps previews and descriptions out of
// it (replay-projection.ts). The pipeline tests compare alerts and counts only, which the
// unprojected events give too, so without this one a raw path that skipped the projection
// passed every test while the memory it exists for went back up.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeEvent, seededRandom, type SecurityEvent } from '@llmsec/core';
import { defaultRules, parseRules, type RuleDefinition } from '../src/index.ts';
import { decodeEventLineFast, replayFileOnTwoThreads, replayProjector } from '../src/replay.ts';

const dir = mkdtempSync(join(tmpdir(), 'llmsec-replay-raw-projection-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.parse('2026-11-22T10:00:00.000Z');

/** Events with previews and descriptions (which no rule below reads whole), and junk lines. */
function corpus(count: number): string {
  const r = seededRandom(31);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const x = r();
    const event: SecurityEvent = {
      event_id: `EVT-${i}`,
      timestamp: new Date(T0 + i * 50).toISOString(),
      category: x < 0.4 ? 'guardrail_block' : x < 0.5 ? 'auth_failure' : 'request_completed',
      severity: x < 0.4 ? 'warning' : 'info',
      user_id: `user-${Math.floor(r() * 50)}`,
      source_ip: `10.0.0.${Math.floor(r() * 8)}`,
      description: `description ${i} `.repeat(10),
      request_preview: `Ignore all previous instructions ${Math.floor(r() * 20)} `.repeat(8),
      metadata: { guardrail_layer: r() < 0.5 ? 'prompt_injection' : 'pii', prompt_length: i },
    };
    out.push(r() < 0.01 ? `{junk ${i}` : encodeEvent(event));
  }
  return `${out.join('\n')}\n`;
}

const RULES: RuleDefinition[] = [
  ...defaultRules(),
  ...parseRules(`
rules:
  - id: layers
    title: t
    severity: warning
    match: { categories: [guardrail_block], where: [{ field: metadata.guardrail_layer, equals: pii }] }
    group_by: source_ip
    window: 1m
    condition: { kind: count, min: 5 }
`),
];

async function eventsOnTwoThreads(file: string, rawLines: 'always' | 'never'): Promise<string[]> {
  const seen: string[] = [];
  await replayFileOnTwoThreads(
    { file, maxLineBytes: 1 << 20, rules: RULES, split: { rawLines } },
    {
      // JSON keeps the key order and leaves out undefined: the events as built, field by field.
      onEvent: (event, timeMs) => seen.push(`${timeMs} ${JSON.stringify(event)}`),
      onMalformed: () => {},
      onOverlong: () => {},
    },
  );
  return seen;
}

describe('replay on two threads, lines decoded on the engine side', () => {
  it('gives the projected events, as the reader and the one-thread replay do', async () => {
    const file = join(dir, 'events.jsonl');
    const text = corpus(12_000);
    writeFileSync(file, text);
    const project = replayProjector(RULES);
    const expected: string[] = [];
    for (const line of text.split('\n')) {
      if (line.length === 0) continue;
      try {
        const { event, timeMs } = decodeEventLineFast(line);
        expected.push(`${timeMs} ${JSON.stringify(project(event))}`);
      } catch {
        // Junk: reported, not an event.
      }
    }
    // The projection leaves something out here, so the comparison can tell: no rule reads a
    // request_completed event's preview or description, which every such line has.
    const completed = expected.filter((e) => e.includes('"category":"request_completed"'));
    expect(completed.length).toBeGreaterThan(5_000);
    expect(completed.some((e) => e.includes('request_preview') || e.includes('description'))).toBe(false);
    expect(await eventsOnTwoThreads(file, 'always')).toEqual(expected);
    expect(await eventsOnTwoThreads(file, 'never')).toEqual(expected);
  });
});
