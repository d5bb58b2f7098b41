// One llmsec event stamped years ahead, sent to the detector service (memory state) by any
// sender (a broken clock, a forged record), raised the engine's watermark past every real
// event: a real attack sent after it was dropped as late, with no alert, until that date. The
// service now drops events stamped more than an hour ahead of its clock, as the Redis state did.
import { join } from 'node:path';
import { readFileSync, existsSync } from 'node:fs';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningDetector } from '../src/service/detector.ts';
import { emitThrough } from './sender.ts';
import { startDetectorWith } from './service-support.ts';

let running: RunningDetector | undefined;
afterEach(async () => {
  await running?.shutdown();
  running = undefined;
});

function firing(file: string, rule: string): string[][] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { rule: string; status: string; user_ids: string[] })
    .filter((a) => a.rule === rule && a.status === 'firing')
    .map((a) => a.user_ids);
}

describe('detector service: events stamped far ahead of its clock', () => {
  it('an event stamped 10 years ahead neither blinds the rules nor is counted as processed', async () => {
    let alerts = '';
    ({ detector: running } = await startDetectorWith('future', (dir) => {
      alerts = join(dir, 'alerts.jsonl');
      return { allowed_lateness: '0s', sinks: { alerts } };
    }));
    const url = `http://127.0.0.1:${running.http.port}/v1/logs`;
    const exporter = (): LogRecordExporter => new ProtoLogExporter({ url }) as unknown as LogRecordExporter;
    const now = Date.now();

    await emitThrough(exporter(), 1, now + 10 * 365 * 86_400_000, (events) => {
      events.authFailure({ userId: 'forger', reason: 'clock' });
    });
    await emitThrough(
      exporter(),
      2,
      now,
      (events, clock) => {
        for (let i = 0; i < 12; i++) {
          events.guardrailBlock({ userId: 'mallory', layer: 'input', reason: 'prompt_injection' });
          clock.advance(1_000);
        }
      },
      true,
    );

    const engine = running.engine;
    const until = Date.now() + 10_000;
    while (firing(alerts, 'rapid_guardrail_blocks').length === 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(firing(alerts, 'rapid_guardrail_blocks'), JSON.stringify(engine.stats)).toEqual([['mallory']]);
    expect(engine.stats.droppedFuture).toBe(1);
    expect(engine.stats.droppedLate).toBe(0);
  });
});
