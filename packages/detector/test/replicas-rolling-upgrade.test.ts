// Two `llmsec detector` replicas of two releases on one Redis: one runs the built-in rules, the
// other a rules file with one rule more (a release that adds a rule). Fed round-robin, they
// print one firing line for an attack on a built-in rule, at the event that crossed its
// threshold across both, as one detector would: the state of a rule is shared by every replica
// that runs the same definition of it, whatever else their rule lists hold. On the previous
// layout the two rule lists shared nothing (the key namespace was a hash of the list): each
// replica counted only its own half of the blocks and fired at its own tenth: two firing lines
// for one attack, both late (checked: fails on that layout).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import type { LogRecordExporter, ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { startDetectorProcess, tempDir, writeConfig, type DetectorProcess } from './process-support.ts';
import { emitThrough } from './sender.ts';

const T0 = Date.parse('2026-12-04T15:00:00.000Z');
const DEFAULT_RULES = fileURLToPath(new URL('../../detect/rules/default-rules.yaml', import.meta.url));

/** Round-robin over exporters (a Collector's plain exporter list). */
class RoundRobinExporter {
  private next = 0;
  private readonly targets: LogRecordExporter[];
  constructor(targets: LogRecordExporter[]) {
    this.targets = targets;
  }
  export(records: ReadableLogRecord[], done: (r: { code: number; error?: Error }) => void): void {
    this.targets[this.next++ % this.targets.length]!.export(records, done);
  }
  async shutdown(): Promise<void> {
    await Promise.all(this.targets.map((t) => t.shutdown()));
  }
  async forceFlush(): Promise<void> {}
}

const lines = (files: string[]): Array<Record<string, unknown>> =>
  files.flatMap((f) => {
    try {
      return readFileSync(f, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    } catch {
      return [];
    }
  });

let redis: RedisHandle;
const procs: DetectorProcess[] = [];
beforeAll(async () => {
  redis = await startRedis();
});
afterEach(() => {
  for (const p of procs.splice(0)) p.kill('SIGKILL');
});
afterAll(async () => {
  await redis?.stop();
});

describe('detector replicas of two releases (one rule added) on one Redis', () => {
  it('print one firing line per incident of a rule both run, at the threshold across both', async () => {
    const dir = tempDir();
    // The newer release's rules: the built-in ones and one more, grouped by user like most.
    const newer = join(dir, 'rules-next.yaml');
    writeFileSync(
      newer,
      `${readFileSync(DEFAULT_RULES, 'utf8')}
  - id: two_blocks_a_minute
    title: Two guardrail blocks in a minute
    severity: warning
    match: { categories: [guardrail_block] }
    group_by: user_id
    window: 1m
    condition: { kind: count, min: 2 }
`,
    );
    const files = [join(dir, 'old.jsonl'), join(dir, 'new.jsonl')];
    const replicas = await Promise.all(
      files.map((alerts, i) =>
        startDetectorProcess(
          writeConfig(dir, `r${i}.json`, {
            otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' },
            state: redis.url,
            // One firing line needs no replica degraded: a loaded host's Redis can take 250 ms (the default).
            state_timeout: '2s',
            allowed_lateness: '20s',
            sinks: { alerts },
            ...(i === 1 ? { rules: newer } : {}),
          }),
        ),
      ),
    );
    procs.push(...replicas);
    const exporter = new RoundRobinExporter(
      replicas.map(
        (r) =>
          new ProtoLogExporter({
            url: `${r.httpUrl}/v1/logs`,
            timeoutMillis: 2000,
          }) as unknown as LogRecordExporter,
      ),
    );
    // 20 blocks a second apart, alternating between the releases: the 10th fires.
    await emitThrough(exporter as unknown as LogRecordExporter, 301, T0, (ev, clock) => {
      for (let i = 0; i < 20; i++) {
        ev.guardrailBlock({ userId: 'mallory', layer: 'input', reason: 'prompt_injection' });
        clock.advance(1000);
      }
    });
    // The older replica leaves (as in a rolling upgrade); then trudy blocks twice through the
    // newer one, which alone steps her group now: the added rule fires there, on the state both
    // releases wrote in one namespace.
    replicas[0]!.kill('SIGTERM');
    expect(await replicas[0]!.exited).toBe(0);
    await emitThrough(
      new ProtoLogExporter({ url: `${replicas[1]!.httpUrl}/v1/logs` }) as unknown as LogRecordExporter,
      302,
      T0 + 30_000,
      (ev, clock) => {
        for (let i = 0; i < 2; i++) {
          ev.guardrailBlock({ userId: 'trudy', layer: 'input', reason: 'prompt_injection' });
          clock.advance(1000);
        }
      },
      true,
    );
    replicas[1]!.kill('SIGTERM');
    expect(await replicas[1]!.exited).toBe(0);
    expect(replicas[0]!.stderr()).toMatch(/"msg":"detector stopped".*"ingested":10,/);
    expect(replicas[1]!.stderr()).toMatch(/"msg":"detector stopped".*"ingested":12,/);
    const builtIn = lines(files).filter((a) => a.rule === 'rapid_guardrail_blocks');
    expect(builtIn.map((a) => [a.status, a.starts_at])).toEqual([
      ['firing', new Date(T0 + 9000).toISOString()],
    ]);
    // The added rule runs on the newer replica only. Whether it fires for mallory depends on
    // which replica stepped her group when the watermark passed her blocks (it judges only the
    // events the newer replica steps, by design during a mix): not asserted. For trudy, whose
    // group only the newer replica steps, it fires once, at her second block.
    expect(lines([files[0]!]).filter((a) => a.rule === 'two_blocks_a_minute')).toEqual([]);
    const added = lines([files[1]!]).filter(
      (a) => a.rule === 'two_blocks_a_minute' && (a.labels as Record<string, string>).user_id === 'trudy',
    );
    expect(added.map((a) => [a.status, a.starts_at])).toEqual([
      ['firing', new Date(T0 + 31_000).toISOString()],
    ]);
  }, 60_000);
});
