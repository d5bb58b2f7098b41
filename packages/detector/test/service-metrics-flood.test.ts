// /metrics cannot be used to make the detector do unbounded work: concurrent scrapes share one
// render (counted, not timed), a scrape after an export still shows it, and a connection that
// pipelines more than MAX_PIPELINED_REQUESTS requests without reading the replies is closed.
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningDetector } from '../src/service/detector.ts';
import { MAX_PIPELINED_REQUESTS } from '../src/service/pipeline-cap.ts';
import { startDetectorWith } from './service-support.ts';

let detector: RunningDetector | undefined;
afterEach(async () => {
  await detector?.shutdown();
  detector = undefined;
});

async function start(): Promise<string> {
  ({ detector } = await startDetectorWith('metrics-flood', (dir) => ({
    sinks: { alerts: `${dir}/a.jsonl` },
  })));
  return `http://127.0.0.1:${detector.http.port}`;
}

const refusedLine = (page: string): string | undefined =>
  page
    .split('\n')
    .find(
      (l) =>
        l.startsWith('llmsec_detector_requests_refused_total{') &&
        l.includes('reason="unavailable"') &&
        l.includes('signal="logs"'),
    );

describe('detector /metrics under a flood', () => {
  it('answers K scrapes of one loop turn with one render, and a later turn with a new one', async () => {
    const url = await start();
    const page = detector!.metrics.page;
    const before = page.renders;
    const first = await Promise.all(Array.from({ length: 20 }, () => page.render()));
    // Resolved, still the same turn: shared, not rendered again.
    const sameTurn = await page.render();
    expect(page.renders - before).toBe(1);
    expect(new Set([...first, sameTurn]).size).toBe(1);
    expect(first[0]).toContain('llmsec_detector_records_received_total');

    // Not a time cache: a count changed after that turn shows on the next scrape.
    await new Promise((r) => setImmediate(r));
    detector!.metrics.refuse('logs', 'unavailable');
    const after = await (await fetch(`${url}/metrics`)).text();
    expect(page.renders - before).toBe(2);
    expect(refusedLine(after)).toMatch(/ 1$/);
    expect(refusedLine(first[0]!)).toMatch(/ 0$/);
  });

  it('closes a connection that pipelines more requests than the cap and reads nothing', async () => {
    const url = new URL(await start());
    const n = 50;
    const { responses, closed } = await new Promise<{ responses: number; closed: boolean }>((resolve) => {
      let text = '';
      const s = connect(Number(url.port), url.hostname, () =>
        s.write(`GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n`.repeat(n)),
      );
      s.setEncoding('latin1');
      s.on('data', (d: string) => (text += d));
      const count = (): number => text.split('HTTP/1.1 200').length - 1;
      s.on('close', () => {
        clearTimeout(timer);
        resolve({ responses: count(), closed: true });
      });
      s.on('error', () => undefined);
      // Keep-alive: a server without the cap answers all 50 and leaves the connection open.
      const timer = setTimeout(() => {
        resolve({ responses: count(), closed: false });
        s.destroy();
      }, 5_000);
    });
    expect(closed).toBe(true);
    expect(responses).toBeLessThanOrEqual(MAX_PIPELINED_REQUESTS);
    // The port still serves.
    expect((await fetch(`${url.origin}/-/healthy`)).status).toBe(200);
  });
});
