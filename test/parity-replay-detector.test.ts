// One event, one answer: the same event stream through `llmsec replay FILE` (JSONL) and through
// a real `llmsec detector` process (OTLP/HTTP, JSON and protobuf) gives the same alerts, line for
// line: ids, status, labels, user_ids, times, evidence, trace ids. The stream is the acceptance
// scenarios' (test/support/scenarios: every built-in rule, late deliveries, unicode ids, every
// timestamp form) with hostile events mixed in (support/parity-events.ts): fields past the
// detector's 64 KiB string cap and past core's field caps, emoji and lone surrogates at the cuts,
// ids given as numbers, metadata nested 40 levels, null and mixed values, 300 keys; the built-in
// rules plus custom ones that group by what those vary.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDetectorProcess, tempDir, writeConfig } from '../packages/detector/test/process-support.ts';
import { parityEvents, PARITY_INVALID, PARITY_REPEATED, PARITY_RULES } from './support/parity-events.ts';
import { jsonRequest, jsonTracesRequest, protobufRequest } from './support/parity-otlp.ts';
import { parseAlerts, type AlertLine } from './support/scenarios/check.ts';
import { LATENESS, scenarioRun, toJsonl, type GenEvent } from './support/scenarios/index.ts';
import { startRedis, type RedisHandle } from './support/redis.ts';
import { runToEnd } from './support/run.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'packages', 'cli', 'src', 'bin.ts');
const DEFAULT_RULES = join(ROOT, 'packages', 'detect', 'rules', 'default-rules.yaml');

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rulesFile = join(dir, 'rules.yaml');
writeFileSync(rulesFile, `${readFileSync(DEFAULT_RULES, 'utf8').trimEnd()}\n${PARITY_RULES}`);

/** The scenarios' stream with the hostile events merged in by arrival time. */
function stream(loneSurrogates: boolean): GenEvent[] {
  const run = scenarioRun(5);
  const t0 = run.stream[0]!.t + 20 * 60_000;
  const all = [...run.stream, ...parityEvents(t0, loneSurrogates)];
  // Stable: equal arrival keys keep the scenario's order, then the hostile events' own.
  return all
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.arrive - b.e.arrive || a.i - b.i)
    .map((x) => x.e);
}

/** Alerts in a canonical order (the two paths may emit simultaneous alerts in either order). */
function canonical(alerts: AlertLine[]): AlertLine[] {
  return [...alerts].sort((a, b) =>
    `${a.alert_id}\u0000${a.status}`.localeCompare(`${b.alert_id}\u0000${b.status}`),
  );
}

async function replay(events: GenEvent[], name: string): Promise<AlertLine[]> {
  const file = join(dir, `${name}.jsonl`);
  writeFileSync(file, toJsonl(events));
  const r = await runToEnd(
    process.execPath,
    [BIN, 'replay', file, '--rules', rulesFile, '--allowed-lateness', LATENESS],
    ROOT,
    60_000,
  );
  expect(r.code, r.stderr).toBe(0);
  // Lines with a string field of another kind are refused here as records are there.
  expect(r.stderr).toMatch(
    new RegExp(`${events.length - PARITY_INVALID} events, ${PARITY_INVALID} malformed`),
  );
  expect(r.stderr).toContain(`, ${PARITY_REPEATED} repeated event ids (dropped), `);
  return parseAlerts(r.stdout);
}

/** Feeds a detector in arrival order, 1-12 records a request, each answered before the next. */
type Wire = 'json' | 'protobuf' | 'json spans';

async function detect(
  events: GenEvent[],
  format: Wire,
  name: string,
  state: Record<string, unknown> = {},
): Promise<AlertLine[]> {
  const alerts = join(dir, `${name}-alerts.jsonl`);
  const proc = await startDetectorProcess(
    writeConfig(dir, `${name}.json`, {
      otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0', max_body_bytes: 16 * 1024 * 1024 },
      allowed_lateness: LATENESS,
      rules: rulesFile,
      sinks: { alerts },
      ...state,
    }),
  );
  let size = 7;
  let rejected = 0;
  for (let i = 0; i < events.length;) {
    size = (size * 1103515245 + 12345) % 2147483648;
    const batch = events.slice(i, i + 1 + (size % 12));
    i += batch.length;
    const res = await fetch(`${proc.httpUrl}/v1/${format === 'json spans' ? 'traces' : 'logs'}`, {
      method: 'POST',
      headers: { 'content-type': format === 'protobuf' ? 'application/x-protobuf' : 'application/json' },
      body:
        format === 'json'
          ? jsonRequest(batch)
          : format === 'json spans'
            ? jsonTracesRequest(batch)
            : Buffer.from(protobufRequest(batch)),
    });
    const body = Buffer.from(await res.arrayBuffer());
    expect(res.status, body.toString()).toBe(200);
    if (format !== 'protobuf') {
      const partial = (
        JSON.parse(body.toString() || '{}') as {
          partialSuccess?: { rejectedLogRecords?: number; rejectedSpans?: number };
        }
      ).partialSuccess;
      rejected += Number(partial?.rejectedLogRecords ?? partial?.rejectedSpans ?? 0);
    }
  }
  if (format !== 'protobuf') expect(rejected, proc.stderr()).toBe(PARITY_INVALID);
  // The shutdown flush ends what is still open, as replay's end of input does.
  proc.kill('SIGTERM');
  expect(await proc.exited, proc.stderr()).toBe(0);
  const stopped = proc
    .stderr()
    .split('\n')
    .find((l) => l.includes('"detector stopped"'));
  expect(stopped, proc.stderr()).toMatch(
    new RegExp(`"ingested":${events.length - PARITY_INVALID - PARITY_REPEATED}\\b`),
  );
  return parseAlerts(readFileSync(alerts, 'utf8'));
}

describe('llmsec replay and llmsec detector: the same alerts for the same events', () => {
  for (const format of ['json', 'protobuf', 'json spans'] as const) {
    it(`OTLP/HTTP ${format}`, async () => {
      // Protobuf strings are UTF-8: a lone surrogate cannot cross (docs/formats.md 'Field caps').
      const events = stream(format !== 'protobuf');
      const replayed = canonical(await replay(events, `replay-${format.replace(' ', '-')}`));
      const detected = canonical(await detect(events, format, `detector-${format.replace(' ', '-')}`));
      // The hostile groups fired (so a field read differently would show).
      const rules = new Set(replayed.map((a) => a.rule));
      for (const rule of [
        'rapid_guardrail_blocks',
        'coordinated_campaign',
        'parity_x_exists',
        'parity_tenant',
      ])
        expect(rules).toContain(rule);
      expect(replayed.some((a) => a.user_ids.includes('429'))).toBe(true);
      expect(replayed.some((a) => a.user_ids.includes(`huge-${'\u00e9'.repeat(251)}`))).toBe(true);
      expect(replayed.some((a) => a.user_ids.includes(`\uFEFF${'w'.repeat(255)}`))).toBe(true);
      expect(detected).toEqual(replayed);
    }, 300_000);
  }

  describe('the detector on Redis state', () => {
    let redis: RedisHandle;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(async () => {
      await redis?.stop();
    });
    it('OTLP/HTTP protobuf: the alerts of replay in memory', async () => {
      const events = stream(false);
      const replayed = canonical(await replay(events, 'replay-redis'));
      // A degraded detector (a Redis call over state_timeout) need not give replay's answer: 2 s.
      const detected = canonical(
        await detect(events, 'protobuf', 'detector-redis', { state: redis.url, state_timeout: '2s' }),
      );
      expect(detected).toEqual(replayed);
    }, 300_000);
  });
});
