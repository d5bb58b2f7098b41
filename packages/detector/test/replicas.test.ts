// Two `llmsec detector` replicas (child processes) on one Redis detection state, fed
// round-robin the way a Collector's plain exporter list would be: one firing line per incident
// across both, printed while both run (not at shutdown); and with one replica SIGKILLed
// mid-stream while the sender retries on the other, still one firing line and nothing missed.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import type { LogRecordExporter, ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { startDetectorProcess, tempDir, writeConfig, type DetectorProcess } from './process-support.ts';
import { emitThrough } from './sender.ts';

const T0 = Date.parse('2026-12-04T11:00:00.000Z');
/** The second test's stream, an hour later: both tests share one Redis, hence one event-time clock. */
const T1 = T0 + 3_600_000;

/** Round-robin over exporters; a failed export is retried on the next one (like a sender's retry). */
class RoundRobinExporter {
  private next = 0;
  failovers = 0;
  private readonly targets: LogRecordExporter[];
  constructor(targets: LogRecordExporter[]) {
    this.targets = targets;
  }
  export(records: ReadableLogRecord[], done: (r: { code: number; error?: Error }) => void): void {
    const start = this.next++ % this.targets.length;
    const attempt = (k: number): void => {
      if (k === this.targets.length) return done({ code: 1, error: new Error('every replica failed') });
      this.targets[(start + k) % this.targets.length]!.export(records, (r) => {
        if (r.code === 0) return done(r);
        this.failovers++;
        attempt(k + 1);
      });
    };
    attempt(0);
  }
  async shutdown(): Promise<void> {
    await Promise.all(this.targets.map((t) => t.shutdown()));
  }
  async forceFlush(): Promise<void> {}
}

function lines(files: string[]): Array<Record<string, unknown>> {
  return files.flatMap((f) =>
    existsSync(f)
      ? readFileSync(f, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>)
      : [],
  );
}

/**
 * Waits for the user's firing line while traffic goes on (another user, later and later in
 * event time, to both replicas): a replica releases the events it left pending in a group on
 * its next batch after the shared watermark passes them.
 */
async function firingLines(
  files: string[],
  user: string,
  exporter: RoundRobinExporter,
  from: number,
): Promise<Array<Record<string, unknown>>> {
  const until = Date.now() + 20_000;
  for (let at = from; ; at += 5_000) {
    await emitThrough(exporter as unknown as LogRecordExporter, at % 9973, at, (ev) => {
      ev.guardrailBlock({ userId: `${user}-other`, layer: 'input', reason: 'prompt_injection' });
      ev.guardrailBlock({ userId: `${user}-other`, layer: 'input', reason: 'prompt_injection' });
    });
    await new Promise((r) => setTimeout(r, 250));
    const l = lines(files).filter(
      (a) => a.rule === 'rapid_guardrail_blocks' && (a.user_ids as string[])[0] === user,
    );
    if (l.length > 0) return l;
    if (Date.now() > until) throw new Error(`no firing line for ${user}`);
  }
}

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

/** The live test's allowed lateness (seconds): also its bound for the firing line. */
const LIVE_LATENESS_S = 20;

/**
 * The sender emits seconds of event time in milliseconds, and the two replicas ship their
 * shares to Redis at their own pace (and retried exports come seconds late): the allowed
 * lateness must cover that skew, or the later share is late and dropped. 20 s does.
 */
async function twoReplicas(tag: string, latenessSeconds = 20) {
  const dir = tempDir();
  const files = [join(dir, 'a.jsonl'), join(dir, 'b.jsonl')];
  const replicas = await Promise.all(
    files.map((alerts, i) =>
      startDetectorProcess(
        writeConfig(dir, `r${i}.json`, {
          otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' },
          state: redis.url,
          // Exactly once needs no replica degraded: a loaded host's Redis can take 250 ms (the default).
          state_timeout: '2s',
          allowed_lateness: `${latenessSeconds}s`,
          sinks: { alerts },
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
  return { replicas, files, exporter, user: `rr-${tag}` };
}

describe('detector replicas sharing Redis detection state', () => {
  it('fed round-robin, two replicas print one firing line per incident, live', async () => {
    const { replicas, files, exporter, user } = await twoReplicas('plain', LIVE_LATENESS_S);
    // 20 blocks a second apart (event time; sent within milliseconds): the 10th fires, ten more follow.
    await emitThrough(exporter as unknown as LogRecordExporter, 101, T0, (ev, clock) => {
      for (let i = 0; i < 20; i++) {
        ev.guardrailBlock({ userId: user, layer: 'input', reason: 'prompt_injection' });
        clock.advance(1000);
      }
    });
    const sent = Date.now();
    expect(exporter.failovers).toBe(0);
    const mine = () =>
      lines(files).filter((a) => a.rule === 'rapid_guardrail_blocks' && (a.user_ids as string[])[0] === user);
    // While both run, with no more traffic: ticks move event time on from the last block
    // (T0 + 19 s) at the pace of the wall clock, the 10th block (T0 + 9 s) is released once the
    // watermark (newest time - lateness) passes it, 10 s later, and the alert follows within a
    // tick and a flush. A replica that released only once the watermark passed the newest
    // pending block needed the whole lateness (20 s) plus a tick: it fails this bound.
    const bound = LIVE_LATENESS_S * 1000;
    while (mine().length === 0 && Date.now() - sent < bound) await new Promise((r) => setTimeout(r, 100));
    const waited = Date.now() - sent;
    expect(
      mine().map((a) => [a.status, a.starts_at]),
      `no firing line within ${bound} ms`,
    ).toEqual([['firing', new Date(T0 + 9000).toISOString()]]);
    expect(waited).toBeLessThan(bound);
    // Stop both: each drains and ships what it holds; the rest of the group's pending events is
    // processed once, whichever replica gets there first (compare-and-set per group): still one line.
    for (const r of replicas) r.kill('SIGTERM');
    expect(await Promise.all(replicas.map((r) => r.exited))).toEqual([0, 0]);
    expect(mine().map((a) => [a.status, a.starts_at])).toEqual([
      ['firing', new Date(T0 + 9000).toISOString()],
    ]);
    // Each replica took its share (10 of 20): neither saw the ten blocks the alert needs until the 20th.
    for (const r of replicas) expect(r.stderr()).toMatch(/"msg":"detector stopped".*"ingested":10,/);
  }, 60_000);

  it('a replica SIGKILLed mid-stream, the sender retrying on the other: still one correct firing line', async () => {
    const { replicas, files, exporter, user } = await twoReplicas('kill');
    await emitThrough(exporter as unknown as LogRecordExporter, 202, T1, (ev, clock) => {
      for (let i = 0; i < 6; i++) {
        ev.guardrailBlock({ userId: user, layer: 'input', reason: 'prompt_injection' });
        clock.advance(1000);
      }
    });
    // Both replicas ship their share to Redis (an event acknowledged but not yet shipped when a
    // replica is SIGKILLed is lost: the flusher ships within milliseconds, but this machine is loaded).
    await new Promise((r) => setTimeout(r, 1500));
    replicas[0]!.kill('SIGKILL');
    await replicas[0]!.exited;
    await emitThrough(exporter as unknown as LogRecordExporter, 203, T1 + 6_000, (ev, clock) => {
      for (let i = 0; i < 8; i++) {
        ev.guardrailBlock({ userId: user, layer: 'input', reason: 'prompt_injection' });
        clock.advance(1000);
      }
    });
    expect(exporter.failovers).toBeGreaterThan(0);
    const fired = await firingLines(files, user, exporter, T1 + 60_000);
    await new Promise((r) => setTimeout(r, 1500));
    expect(
      lines(files).filter((a) => a.rule === 'rapid_guardrail_blocks' && (a.user_ids as string[])[0] === user),
    ).toHaveLength(1);
    // The 10th block overall (6 before the kill + 4 after) fired it: nothing was lost.
    expect(fired[0]).toMatchObject({ status: 'firing', starts_at: new Date(T1 + 9000).toISOString() });
  });
});
