import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { DetectorIngest } from '../src/service/detector-ingest.ts';
import { DEFAULT_SESSION_ATTRIBUTES, DEFAULT_USER_ATTRIBUTES } from '../src/service/genai-attributes.ts';
import { IngestQueue } from '../src/service/ingest-queue.ts';
import { DetectorMetrics, type Signal } from '../src/service/metrics.ts';
import { UnshippedAnswerLog } from '../src/service/unshipped-answer-log.ts';
import type { Logger } from '../src/service/log.ts';
import { decodedSpan, logRecord, secEvent, T0 } from './support.ts';

/**
 * An export answered at the bound (ANSWER_WAIT_MS) before its events reached Redis has no fleet
 * order: it is counted (llmsec_detector_answers_unshipped_total{signal}) and reported to
 * `onUnshipped`, which the service turns into a rate-limited warning.
 */

const GENAI = { userAttributes: DEFAULT_USER_ATTRIBUTES, sessionAttributes: DEFAULT_SESSION_ATTRIBUTES };

async function scrape(metrics: DetectorMetrics): Promise<string> {
  const server = createServer((req, res) => metrics.handle(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  try {
    return await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  } finally {
    server.close();
  }
}

function setup(shipped: () => Promise<void>) {
  const metrics = new DetectorMetrics({
    queueDepth: () => queue.depth,
    stateHealthy: () => ({ store: 'redis', healthy: true }),
  });
  const queue: IngestQueue = new IngestQueue({ capacity: 1000, process: () => {}, onError: () => {} });
  const unshipped: Signal[] = [];
  const ingest = new DetectorIngest({
    queue,
    metrics,
    genAi: GENAI,
    onError: (err) => {
      throw err;
    },
    shipped,
    maxAnswerWaitMs: 50,
    onUnshipped: (signal) => unshipped.push(signal),
  });
  return { ingest, metrics, unshipped };
}

const count = (page: string, signal: Signal): number => {
  const m = new RegExp(
    `^llmsec_detector_answers_unshipped_total\\{signal="${signal}"[^}]*\\} (\\d+)`,
    'm',
  ).exec(page);
  if (m === null) throw new Error(`no llmsec_detector_answers_unshipped_total for ${signal}:\n${page}`);
  return Number(m[1]);
};

describe('answers at the bound, before the events are shipped', () => {
  it('are counted by signal and reported; answers after shipping are not', async () => {
    let ship = false;
    const s = setup(() => (ship ? Promise.resolve() : new Promise<void>(() => {})));
    const event = (id: string) => secEvent({ event_id: id, timestamp: new Date(T0).toISOString() });
    const r1 = s.ingest.logs([logRecord(event('a'))]);
    const r2 = s.ingest.traces([decodedSpan({ events: [] })]); // no events: nothing to wait for
    const r3 = s.ingest.logs([logRecord(event('b'))]);
    if (r1.kind !== 'accepted' || r3.kind !== 'accepted' || r2.kind !== 'accepted')
      throw new Error('refused');
    await Promise.all([r1.settled, r3.settled]);
    expect(s.unshipped).toEqual(['logs', 'logs']);
    ship = true;
    const r4 = s.ingest.logs([logRecord(event('c'))]);
    if (r4.kind !== 'accepted') throw new Error(r4.kind);
    await r4.settled;
    expect(s.unshipped).toEqual(['logs', 'logs']);
    const page = await scrape(s.metrics);
    expect(count(page, 'logs')).toBe(2);
    expect(count(page, 'traces')).toBe(0);
    await s.metrics.shutdown();
  });
});

describe('UnshippedAnswerLog', () => {
  it('warns on the first, then at most once a minute with the count since the last line', () => {
    let now = 0;
    const lines: { msg: string; fields?: Record<string, unknown> }[] = [];
    const warn = (msg: string, fields?: Record<string, unknown>) =>
      lines.push({ msg, ...(fields && { fields }) });
    const log = { warn } as unknown as Logger;
    const u = new UnshippedAnswerLog(log, { now: () => now, intervalMs: 60_000 });
    u.answered('logs');
    u.answered('logs');
    u.answered('traces');
    expect(lines.length).toBe(1);
    expect(lines[0]!.fields).toMatchObject({ exports: 1 });
    now = 59_999;
    u.answered('logs');
    expect(lines.length).toBe(1);
    now = 60_000;
    u.answered('traces');
    expect(lines.length).toBe(2);
    // The three held back since the first line, and this one.
    expect(lines[1]!.fields).toMatchObject({ exports: 4 });
    expect(lines[1]!.msg).toBe(lines[0]!.msg);
  });
});
