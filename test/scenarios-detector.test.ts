// Acceptance scenarios through `llmsec detector` (the CLI's child processes): the generator's
// traffic (test/support/scenarios) as OTLP log exports in many small requests of varied size
// (OTLP/JSON written by hand; http/protobuf and gRPC from the OTel JS exporters), to one
// detector, to three replicas round-robin on one Redis, and to three on a 3-master Cluster; the alerts files held to what the docs say each scenario gives,
// the same expectations replay is held to (scenarios-replay.test.ts).
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  startDetectorProcess,
  tempDir,
  writeConfig,
  type DetectorProcess,
} from '../packages/detector/test/process-support.ts';
import {
  checkAlerts,
  checkAlertsAtLeastOnce,
  expectedCount,
  failures,
  parseAlerts,
  type AlertLine,
} from './support/scenarios/check.ts';
import {
  LATENESS,
  LATENESS_MS,
  scenarioRun,
  type GenEvent,
  type ScenarioRun,
} from './support/scenarios/index.ts';
import { logsRequest } from './support/scenarios/otlp-json.ts';
import { logRecords } from './support/scenarios/otlp-records.ts';
import { useAlertmanager, type AlertmanagerHandle } from './support/alertmanager.ts';
import { startRedis, startRedisCluster, type RedisClusterHandle, type RedisHandle } from './support/redis.ts';

/** Event time per wall time when feeding replicas (see send). */
const SPEEDUP = 1800;

const procs: DetectorProcess[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const p of procs.splice(0)) p.kill('SIGKILL');
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/**
 * Sends the stream in arrival order, in requests of 1 to 12 records, round-robin over the
 * replicas, one request at a time (a Collector's exporter with a small batch). Returns the
 * records the detectors rejected (partial_success).
 *
 * `speedup`: event time runs at most this many times faster than the wall clock. Replicas
 * share one event-time clock in Redis (the newest time any of them shipped); they answer an
 * export once its events are shipped, so a sender awaiting each answer is ordered fleet-wide
 * at any speed (the "unpaced" cases). Answered once queued (c4ccdf8), a replica shipping its
 * share a moment after the others had its events judged against a clock moved on by that
 * moment times the speed-up: unpaced (~10,000x) 15 min to 3 h of event time, and events sent
 * in order were dropped as late. The paced cases (1,800x) are the earlier runs, kept.
 * `concurrency`: exports in flight at once (a Collector exporter's sending-queue consumers).
 * `window`: with several in flight, the event time they span together at most (see below).
 */
async function send(
  run: ScenarioRun,
  targets: Target[],
  speedup = Infinity,
  retries = true,
  concurrency = 1,
  window = Infinity,
): Promise<number> {
  let rejected = 0;
  let next = 0;
  let sizes = 7;
  let i = 0;
  const wall0 = Date.now();
  const t0 = run.stream[0]!.arrive;
  const pending = new InFlight();
  // Each worker takes the next batch in stream order when its previous export was answered.
  const worker = async (): Promise<void> => {
    while (i < run.stream.length) {
      sizes = (sizes * 1103515245 + 12345) % 2147483648;
      const n = 1 + (sizes % 12);
      const at = i;
      const batch = run.stream.slice(at, at + n);
      i += n;
      const target = next++;
      const unit = pending.take(batch);
      try {
        const due = wall0 + (batch.at(-1)!.arrive - t0) / speedup;
        if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
        await pending.within(unit, window);
        rejected += await exportTo(targets[target % targets.length]!, batch, at);
        // Every third request is sent again to the next replica, as a sender retrying an export
        // whose answer it lost: each event counts once (the detector README: ingestOnce by event
        // id). Not one holding the event delivered past the lateness: a copy of it is late again.
        if (retries && n % 3 === 0 && batch.every((e) => e.arrive - e.t < LATENESS_MS)) {
          rejected += await exportTo(targets[(target + 1) % targets.length]!, batch, at);
        }
      } finally {
        pending.done(unit);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return rejected;
}

/**
 * The batches taken and not yet answered (their retried copies included), in stream order. The
 * detector README ("Replicas and event time"): exports in flight at once are as unordered
 * across replicas as into one detector, so the event time they span together must stay within
 * allowed_lateness. Three workers round-robin do not keep to that by themselves: while one
 * replica is slow to answer batch k (a busy host: the process or its Redis descheduled), the
 * workers freed by the other two send k+4 and k+5, and the retried copy of k goes out after
 * them; in ten places of the run six consecutive batches span more than 15 minutes, and the
 * Cluster case dropped 9 and 3 events as late under load (want 1). So a batch waits, before it
 * goes, until its newest event is within `window` of the oldest of every batch taken before
 * it and still unanswered (the first such batch always goes).
 */
class InFlight {
  private readonly units: { oldest: number; newest: number }[] = [];
  private wake = (): void => {};
  /** Settles when the next batch is answered (then replaced by the one after). */
  private settled = new Promise<void>((r) => (this.wake = r));

  take(batch: GenEvent[]): { oldest: number; newest: number } {
    const unit = { oldest: Infinity, newest: -Infinity };
    for (const e of batch) {
      if (e.t < unit.oldest) unit.oldest = e.t;
      if (e.t > unit.newest) unit.newest = e.t;
    }
    this.units.push(unit);
    return unit;
  }

  async within(unit: { oldest: number; newest: number }, window: number): Promise<void> {
    for (;;) {
      let oldest = Infinity;
      for (const u of this.units) {
        if (u.oldest < oldest) oldest = u.oldest;
        if (u === unit) break;
      }
      if (this.units[0] === unit || unit.newest - oldest <= window) return;
      await this.settled;
    }
  }

  done(unit: { oldest: number; newest: number }): void {
    this.units.splice(this.units.indexOf(unit), 1);
    this.wake();
    this.settled = new Promise((r) => (this.wake = r));
  }
}

async function exportTo(target: Target, batch: GenEvent[], offset: number): Promise<number> {
  if (target.exporter !== undefined) {
    const exporter = target.exporter;
    const result = await new Promise<ExportResult>((done) => exporter.export(logRecords(batch), done));
    if (result.code !== ExportResultCode.SUCCESS) throw new Error(`export: ${result.error?.message}`);
    return 0;
  }
  const res = await fetch(`${target.url}/v1/logs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: logsRequest(batch, offset),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`POST ${target.url}: ${res.status} ${text}`);
  const partial = (JSON.parse(text || '{}') as { partialSuccess?: { rejectedLogRecords?: string | number } })
    .partialSuccess;
  return Number(partial?.rejectedLogRecords ?? 0);
}

/** Where one replica's share goes: OTLP/JSON written by hand, or an OTel JS exporter. */
interface Target {
  url: string;
  exporter?: LogRecordExporter;
}

/** Replica 0 gets OTLP/JSON, 1 http/protobuf, 2 gRPC (the SDK's exporters), and so on. */
function targetsOf(replicas: DetectorProcess[]): Target[] {
  return replicas.map((r, i) => {
    if (i % 3 === 1)
      return {
        url: r.httpUrl,
        exporter: new ProtoLogExporter({ url: `${r.httpUrl}/v1/logs` }) as unknown as LogRecordExporter,
      };
    if (i % 3 === 2)
      return {
        url: r.grpcUrl,
        exporter: new GrpcLogExporter({ url: r.grpcUrl }) as unknown as LogRecordExporter,
      };
    return { url: r.httpUrl };
  });
}

/** A plain receiver for the detectors' webhook sink: every POSTed alert, parsed. */
async function startWebhook(): Promise<{ url: string; received: AlertLine[]; close(): Promise<void> }> {
  const received: AlertLine[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      received.push(JSON.parse(body) as AlertLine);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/alerts`,
    received,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

interface Detected {
  alerts: AlertLine[];
  /** What the replicas' webhook sinks posted (one alert object per POST). */
  webhook: AlertLine[];
  rejected: number;
  stderr: string;
  /** How many detectors ran. */
  replicas: number;
  /** Resolved lines written before the detectors were told to stop. */
  liveResolved: number;
  /** The most llmsec alerts Alertmanager held active at once, and how many it still held at the end. */
  amMax: number;
  amLeft: number;
}

function readAlerts(files: string[]): AlertLine[] {
  return files.flatMap((f) => (existsSync(f) ? parseAlerts(readFileSync(f, 'utf8')) : []));
}

/**
 * Starts `n` detectors on `state`, feeds them the run, waits (while they run: ticks move event
 * time, no shutdown flush) for every expected incident's resolved line, then stops them.
 */
async function detect(
  n: number,
  state: Record<string, unknown>,
  run: ScenarioRun,
  am?: AlertmanagerHandle,
  sending: { speedup?: number; concurrency?: number; window?: number } = {},
): Promise<Detected> {
  const dir = tempDir();
  dirs.push(dir);
  const files = Array.from({ length: n }, (_, i) => join(dir, `alerts-${i}.jsonl`));
  const hook = await startWebhook();
  const replicas = await Promise.all(
    files.map((alerts, i) =>
      startDetectorProcess(
        writeConfig(dir, `d${i}.json`, {
          otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' },
          allowed_lateness: LATENESS,
          sinks: { alerts, webhook: [hook.url], ...(am ? { alertmanager: [am.url] } : {}) },
          ...state,
        }),
      ),
    ),
  );
  procs.push(...replicas);
  // Alertmanager's view while the traffic runs: how many llmsec alerts it holds active.
  let amMax = 0;
  const amActive = async (): Promise<number> => {
    const res = await fetch(`${am!.url}/api/v2/alerts?active=true`);
    return ((await res.json()) as { labels: Record<string, string> }[]).filter(
      (a) => a.labels.rule !== undefined,
    ).length;
  };
  const poll = am
    ? setInterval(
        () =>
          void amActive().then(
            (k) => (amMax = Math.max(amMax, k)),
            () => {},
          ),
        150,
      )
    : undefined;
  const targets = targetsOf(replicas);
  const rejected = await send(
    run,
    targets,
    sending.speedup ?? (n === 1 ? Infinity : SPEEDUP),
    true,
    sending.concurrency,
    sending.window,
  );
  for (const t of targets) await t.exporter?.shutdown();
  const want = expectedCount(run);
  const until = Date.now() + 20_000;
  while (readAlerts(files).filter((a) => a.status === 'resolved').length < want && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 200));
  }
  // Resolved while running (ticks and later events move event time), not by the shutdown flush.
  const liveResolved = readAlerts(files).filter((a) => a.status === 'resolved').length;
  clearInterval(poll);
  // Every incident resolved: Alertmanager must have been told so (none left active).
  let amLeft = 0;
  if (am) {
    const amUntil = Date.now() + 15_000;
    while ((amLeft = await amActive()) > 0 && Date.now() < amUntil)
      await new Promise((r) => setTimeout(r, 200));
  }
  for (const r of replicas) r.kill('SIGTERM');
  const codes = await Promise.all(replicas.map((r) => r.exited));
  const stderr = replicas.map((r) => r.stderr()).join('\n');
  expect(codes, stderr).toEqual(replicas.map(() => 0));
  await hook.close();
  return {
    alerts: readAlerts(files),
    webhook: hook.received,
    rejected,
    stderr,
    replicas: n,
    liveResolved,
    amMax,
    amLeft,
  };
}

/**
 * A replica whose Redis state calls take longer than its state_timeout detects on its own for a
 * while (degraded mode), where the docs promise only "at least once": its alerts of that time may
 * be duplicated across replicas (the Cluster case with three exports in flight failed so once
 * under load, two replicas degraded with the 250 ms default). The fleet cases raise the limit
 * (FLEET) so a loaded host does not degrade; should one degrade all the same, the run is held
 * to that weaker promise and says so, instead of failing on a duplicate the docs allow.
 * "Nothing missed" holds for a short episode only: degraded for most of the run (state_timeout
 * 10ms, tried: 8-10 episodes), each replica judges its third of a user's events alone and 24
 * expected incidents never fire, as the detect README says of degraded mode; that fails here,
 * with the episode count in the message.
 */
function expectScenarios(run: ScenarioRun, got: Detected): void {
  const stats = (key: string) =>
    [...got.stderr.matchAll(new RegExp(`"msg":"detector stopped".*?"${key}":(\\d+)`, 'g'))].reduce(
      (a, m) => a + Number(m[1]),
      0,
    );
  const shared = got.stderr.includes('"mode":"shared"') || got.stderr.includes('"mode":"degraded"');
  // Each shared replica's final stats carry the counter (else 0 would pass for "not degraded").
  if (shared)
    expect(
      [...got.stderr.matchAll(/"msg":"detector stopped".*?"degradedEpisodes":\d+/g)].length,
      got.stderr,
    ).toBe(got.replicas);
  const degraded = stats('degradedEpisodes');
  const want = expectedCount(run);
  expect(got.rejected).toBe(0);
  // The retried requests (see send) were taken once: by the in-memory engine's ingestOnce, or
  // by the shared groups' recent ids when the copy went to another replica.
  if (shared) expect(stats('duplicates')).toBeGreaterThan(0);
  else expect(stats('ingested')).toBe(run.stream.length);
  if (degraded > 0) {
    console.warn(`scenarios-detector: ${degraded} degraded episode(s): held to "at least once"`);
    const why = `${degraded} degraded episode(s)\n${got.stderr}`;
    expect(failures(checkAlertsAtLeastOnce(run, got.alerts)), why).toEqual([]);
    expect(failures(checkAlertsAtLeastOnce(run, got.webhook)), why).toEqual([]);
    // One event (the hopper's tenth block) arrives an hour and 45 min after its time: dropped,
    // at least once (a degraded replica judges the events it takes late against its own clock).
    expect(stats('droppedLate'), why).toBeGreaterThanOrEqual(1);
    expect(got.liveResolved, why).toBeGreaterThanOrEqual(want);
    return;
  }
  expect(failures(checkAlerts(run, got.alerts)), got.stderr).toEqual([]);
  // The webhook sink tells the same: each incident's firing and resolved once, fleet-wide.
  expect(failures(checkAlerts(run, got.webhook))).toEqual([]);
  expect(got.webhook).toHaveLength(2 * want);
  // The hopper's tenth block, an hour and 45 min late: dropped once.
  expect(stats('droppedLate'), got.stderr).toBe(1);
  expect(got.liveResolved).toBe(want);
  expect(got.alerts).toHaveLength(2 * want);
}

/**
 * A case's time: up to three detectors started at once (each loads the CLI from its sources,
 * ~1.7 s of CPU: 7 s at load 9 and 15 s at load 13 on 2 cores), the run sent, up to 20 s for
 * every resolved line and 15 s for Alertmanager's view, then a drain (shutdown_timeout, 10 s).
 * Its own waits alone came to more than the 60 s it had. At load 15-20 on 2 cores the paced
 * Cluster case took 111 s, the paced Redis case with Alertmanager 74 s; at load 29-35 (a run of
 * test/, 2 workers) three fleet cases timed out at the former 180 s. A bound on a hang only.
 */
const CASE_MS = 360_000;

/** Fleet cases: a Redis state call may take 2 s before a replica degrades (state_timeout; 250 ms by default). */
const FLEET = { state_timeout: '2s' };

describe('acceptance scenarios through llmsec detector', () => {
  const run = scenarioRun(3);

  it(
    'one detector, in-memory state',
    async () => {
      expectScenarios(run, await detect(1, {}, run));
    },
    CASE_MS,
  );

  describe('three replicas round-robin on one Redis', () => {
    let redis: RedisHandle;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(async () => {
      await redis?.stop();
    });
    const am = useAlertmanager();
    it(
      'same incidents, each fired once by one replica and resolved once; Alertmanager told both',
      async () => {
        const got = await detect(3, { ...FLEET, state: redis.url }, run, am);
        expectScenarios(run, got);
        expect(got.amMax).toBeGreaterThan(0);
        expect(got.amLeft, am.output()).toBe(0);
      },
      CASE_MS,
    );
  });

  describe('three replicas round-robin on a 3-master Redis Cluster', () => {
    let cluster: RedisClusterHandle;
    beforeAll(async () => {
      cluster = await startRedisCluster(3);
    });
    afterAll(async () => {
      await cluster?.stop();
    });
    it(
      'same incidents, each fired once by one replica and resolved once',
      async () => {
        const seed = cluster.nodes[0]!;
        expectScenarios(
          run,
          await detect(3, { ...FLEET, state: `redis://${seed.host}:${seed.port}`, state_cluster: true }, run),
        );
      },
      CASE_MS,
    );
  });

  // Unpaced: 5 h of events in about 1.5 s (~10,000x), 15 min lateness. A replica answers an
  // export once its events are in Redis (the detector README, "Replicas and event time"), so a
  // sender awaiting each answer is ordered fleet-wide: no replica ships event time ahead of
  // events another still holds, and the fleet gives one detector's answer. Answered once
  // queued (c4ccdf8), the replicas shipped up to hours of event time apart and dropped events
  // sent in order as late. Each case on a fresh state (the clock of a finished run would make
  // the next run's events late).
  describe('unpaced (~10,000x), 15 min lateness', () => {
    const unpaced = { speedup: Infinity };
    // Three in flight: they span together no more than the lateness (InFlight).
    const inFlight3 = { ...unpaced, concurrency: 3, window: 15 * 60_000 };
    const late15 = { allowed_lateness: '15m' };
    const fleet15 = { ...FLEET, ...late15 };
    let redis: RedisHandle;
    let cluster: RedisClusterHandle;
    beforeAll(async () => {
      [redis, cluster] = await Promise.all([startRedis(), startRedisCluster(3)]);
    });
    afterAll(async () => {
      await Promise.all([redis?.stop(), cluster?.stop()]);
    });
    it(
      'one detector: the expected incidents',
      async () => {
        expectScenarios(run, await detect(1, late15, run, undefined, unpaced));
      },
      CASE_MS,
    );
    it(
      'three replicas on Redis, one export at a time: the same',
      async () => {
        expectScenarios(
          run,
          await detect(3, { ...fleet15, state: `${redis.url}/1` }, run, undefined, unpaced),
        );
      },
      CASE_MS,
    );
    it(
      'three replicas on Redis, three exports in flight: the same',
      async () => {
        const got = await detect(3, { ...fleet15, state: `${redis.url}/2` }, run, undefined, inFlight3);
        expectScenarios(run, got);
      },
      CASE_MS,
    );
    it(
      'three replicas on a 3-master Cluster, three exports in flight: the same',
      async () => {
        const seed = cluster.nodes[0]!;
        const state = { ...fleet15, state: `redis://${seed.host}:${seed.port}`, state_cluster: true };
        expectScenarios(run, await detect(3, state, run, undefined, inFlight3));
      },
      CASE_MS,
    );
  });
});
