// Overload through the whole service: a bounded ingest queue smaller than what arrives at once
// refuses whole requests with 429 + Retry-After; the senders retry them, and in the end every
// event reaches the engine exactly once.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunningDetector } from '../src/service/detector.ts';
import { startDetectorWith } from './service-support.ts';

const run = promisify(execFile);
const SENDER = fileURLToPath(new URL('./fixtures/burst-sender.ts', import.meta.url));

let detector: RunningDetector | undefined;
afterAll(async () => {
  await detector?.shutdown();
});

describe('detector service under overload', () => {
  it('answers 429 when the queue is full, and after the senders retry, every event arrives once', async () => {
    // Room for one request of 100 at a time; twelve arrive together.
    ({ detector } = await startDetectorWith('overload', () => ({
      queue_capacity: 150,
      allowed_lateness: '1h',
    })));
    // A slow engine (1 ms per event, and the first event 1 s): while the first request drains,
    // the other eleven arrive and wait in their sockets, so the next turn of the event loop
    // reads several whole requests before the queue drains again, more than it holds. Without
    // the long first stall, requests that happened to arrive one per drain (a starved sender
    // on a busy CI machine) were each taken at once and no 429 came. 3 s, not 1: in one
    // fresh-clone CI run (two cores, the suite's other files running) the sender's eleven other
    // requests had not all reached their sockets within 1 s, and no 429 came again.
    const engine = detector.engine;
    const ingestOnce = engine.ingestOnce.bind(engine);
    let first = true;
    engine.ingestOnce = (event, timeMs) => {
      const until = performance.now() + (first ? 3_000 : 1);
      first = false;
      while (performance.now() < until);
      return ingestOnce(event, timeMs);
    };
    const url = `http://127.0.0.1:${detector.http.port}/v1/logs`;
    const { stdout } = await run(process.execPath, [SENDER, url, '12', '100'], {
      env: process.env,
      timeout: 60_000,
    });
    const { results, statuses } = JSON.parse(stdout) as { results: number[]; statuses: number[] };
    expect(results).toEqual(Array(12).fill(200)); // every request taken in the end
    expect(statuses).toContain(429); // ... after refusals
    const metrics = await (await fetch(`http://127.0.0.1:${detector.http.port}/metrics`)).text();
    const refused =
      /llmsec_detector_requests_refused_total\{signal="logs",reason="overloaded"[^}]*\} (\d+)/.exec(metrics);
    expect(Number(refused?.[1])).toBeGreaterThan(0); // ... after at least one 429
    expect(metrics).toMatch(/llmsec_detector_records_accepted_total\{signal="logs"[^}]*\} 1200/);
    expect(metrics).toMatch(
      /llmsec_detector_export_requests_total\{transport="http",signal="logs",outcome="overloaded"[^}]*\} [1-9]/,
    );
    await detector.shutdown();
    // Each event reached the engine once: no loss, no duplicate from the retries.
    expect(detector.engine.stats.ingested).toBe(1200);
    expect(detector.engine.stats.processed).toBe(1200);
    detector = undefined;
  });
});
