// What the reader thread posts when it hands lines over undecoded (ReaderBatch.raw, 0533afc,
// 76e5ff7), read off its port as the replay's side gets it: a raw batch holds at most 1 Mi
// characters plus one line, a line over 64 Ki characters is decoded by the reader instead, and
// with the engine's side behind, at most eight batches wait. The pipeline tests compare the
// events only, which lines of any length sent raw give too: they passed with the 64 Ki cap
// removed, so nothing held the bound the README states (8 x (1 Mi + 64 Ki) characters in
// flight whatever --max-line-bytes allows).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeEvent, type SecurityEvent } from '@llmsec/core';
import { defaultRules } from '../src/index.ts';
import { startReplayReader } from '../src/replay.ts';
import type { ReaderBatch, ReaderDone, ReaderFailed } from '../src/replay-pipeline.ts';

const dir = mkdtempSync(join(tmpdir(), 'llmsec-replay-raw-bounds-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
// replay-reader-worker.ts's constants (private to that thread), as the README states them.
const RAW_MAX_CHARS = 1 << 20;
const RAW_MAX_LINE_CHARS = 64 << 10;
const MAX_IN_FLIGHT = 8;

/** ~2 KB events; with `long`, every 200th has a 100,000-character description (over 64 Ki). */
function corpus(count: number, withLong: boolean): { text: string; long: number } {
  const out: string[] = [];
  let long = 0;
  for (let i = 0; i < count; i++) {
    const event: SecurityEvent = {
      event_id: `EVT-${i}`,
      timestamp: new Date(T0 + i * 50).toISOString(),
      category: 'request_completed',
      severity: 'info',
      user_id: `user-${i % 50}`,
      request_preview: `preview ${i} `.repeat(150),
    };
    if (withLong && i % 200 === 150) {
      event.description = 'd'.repeat(100_000);
      long++;
    }
    out.push(encodeEvent(event));
  }
  return { text: `${out.join('\n')}\n`, long };
}

type Message = ReaderBatch | ReaderDone | ReaderFailed;

function chars(batch: ReaderBatch): number {
  return batch.values.reduce<number>((n, v) => n + (v as string).length, 0);
}

interface Read {
  batches: ReaderBatch[];
  /** Most characters of raw lines waiting at once while the replay's side was behind. */
  maxWaitingRawChars: number;
}

/**
 * Reads `file` as the replay's side would (rules sent, each batch taken), except that after the
 * whole events of the start it falls behind: it takes nothing until the reader has gone quiet
 * (waiting for it), then everything.
 */
async function readRaw(file: string, lines: number): Promise<Read> {
  const reader = startReplayReader(file, 1 << 20, { readers: 1, rawLines: 'always' });
  const link = reader.handOver()!.link;
  const batches: ReaderBatch[] = [];
  let waiting: ReaderBatch[] = [];
  let holding = true;
  let maxWaitingRawChars = 0;
  const done = new Promise<ReaderDone>((resolve, reject) => {
    let quiet: ReturnType<typeof setTimeout> | undefined;
    const takeAll = (): void => {
      holding = false;
      for (let k = 0; k < waiting.length; k++) link.port.postMessage(0);
      waiting = [];
    };
    link.port.on('message', (message: Message) => {
      if (message.kind === 'failed') return reject(new Error(message.message));
      if (message.kind === 'done') return resolve(message);
      batches.push(message);
      if (message.whole || !holding) return link.port.postMessage(0);
      waiting.push(message);
      const rawChars = waiting.filter((b) => b.raw === true).reduce((n, b) => n + chars(b), 0);
      maxWaitingRawChars = Math.max(maxWaitingRawChars, rawChars);
      clearTimeout(quiet);
      quiet = setTimeout(takeAll, 1_500);
    });
    link.port.postMessage({ rules: defaultRules() });
  });
  try {
    expect((await done).lines).toBe(lines);
  } finally {
    link.port.close();
    link.status.close();
    reader.close();
  }
  expect(batches.reduce((n, b) => n + b.count, 0)).toBe(lines);
  return { batches, maxWaitingRawChars };
}

describe('raw batches of the reader thread', () => {
  it('hold no line over 64 Ki characters (the reader decodes it), at most 1 Mi + 64 Ki', async () => {
    const file = join(dir, 'long.jsonl');
    const { text, long } = corpus(8_000, true);
    expect(long).toBe(40);
    writeFileSync(file, text);
    const { batches } = await readRaw(file, 8_000);
    const raw = batches.filter((b) => b.raw === true);
    expect(raw.reduce((n, b) => n + b.count, 0)).toBeGreaterThan(1_000);
    for (const b of raw) {
      expect(b.values.every((v) => typeof v === 'string' && v.length <= RAW_MAX_LINE_CHARS)).toBe(true);
      expect(chars(b)).toBeLessThanOrEqual(RAW_MAX_CHARS + RAW_MAX_LINE_CHARS);
    }
    // With rawLines always, only a long line makes the reader decode after the rules came.
    const decoded = batches.filter((b) => b.raw !== true && !b.whole);
    expect(decoded.reduce((n, b) => n + b.count, 0)).toBeGreaterThan(0);
  });

  it('wait at most eight at 1 Mi + 64 Ki characters each while the engine side is behind', async () => {
    const file = join(dir, 'plain.jsonl');
    writeFileSync(file, corpus(10_000, false).text);
    const { batches, maxWaitingRawChars } = await readRaw(file, 10_000);
    for (const b of batches.filter((x) => x.raw === true))
      expect(chars(b)).toBeLessThanOrEqual(RAW_MAX_CHARS + RAW_MAX_LINE_CHARS);
    // It did fall behind with several full raw batches out, and no more than the bound.
    expect(maxWaitingRawChars).toBeGreaterThan(4 * RAW_MAX_CHARS);
    expect(maxWaitingRawChars).toBeLessThanOrEqual(MAX_IN_FLIGHT * (RAW_MAX_CHARS + RAW_MAX_LINE_CHARS));
  });
});
