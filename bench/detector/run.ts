// Detector receive benchmark (`npm run bench:detector [-- --quick]`): OTLP/HTTP protobuf
// ingest of llmsec log records (batches of 512 from 1,000 users, encoded by the real OTel
// protobuf encoder) end to end through the OTLP/HTTP handler into a real DetectionEngine
// (memory state, default rules, ingestOnce), in records per CPU-second of one thread, next to
// the in-run baseline (the engine alone on already-decoded events), decode alone (our
// schema-specific reader and protobufjs over the same message subset) and decode + to-event.
// The handler is measured with in-process requests (no sockets) and over loopback HTTP (server
// in a worker thread, so its CPU time is its own). Then the engine alone and the in-process
// handler again with the Redis detection state (a redis-server started here).
import { Buffer } from 'node:buffer';
import { Agent, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { Readable } from 'node:stream';
import { isDeepStrictEqual } from 'node:util';
import { Worker } from 'node:worker_threads';
import type { SecurityEvent } from '@llmsec/core';
import { DetectionEngine, RedisDetectionState } from '@llmsec/detect';
import { Redis } from 'ioredis';
import { startRedis } from '../../test/support/redis.ts';
import { createOtlpHttpHandler } from '../../packages/detector/src/otlp/http-handler.ts';
import { resolveDecodeLimits } from '../../packages/detector/src/otlp/limits.ts';
import { decodeLogs } from '../../packages/detector/src/otlp/decode.ts';
import { decodeLogsProto } from '../../packages/detector/src/otlp/proto-logs.ts';
import { logRecordToEvent } from '../../packages/detector/src/otlp/to-event.ts';
import { buildFixtures } from './fixtures.ts';
import { EngineIngest } from './pipeline.ts';
import { decodeLogsWithProtobufjs } from './protobufjs-decoder.ts';
import { fmt } from '../report.ts';

const QUICK = process.argv.includes('--quick');
const BATCH = 512;
const BATCHES = QUICK ? 40 : 200;
const USERS = 1_000;
const REPEATS = QUICK ? 2 : 3;
const limits = resolveDecodeLimits();

interface Run {
  wall: number;
  cpu: number;
}

function threadCpu(): number {
  const u = process.threadCpuUsage();
  return (u.user + u.system) / 1e6;
}

async function measure(fn: () => void | Promise<void>): Promise<Run> {
  let best: Run | undefined;
  for (let i = 0; i < REPEATS; i++) {
    const cpu0 = threadCpu();
    const t0 = process.hrtime.bigint();
    await fn();
    const run = { wall: Number(process.hrtime.bigint() - t0) / 1e9, cpu: threadCpu() - cpu0 };
    if (best === undefined || run.cpu < best.cpu) best = run;
  }
  return best!;
}

// ---------------------------------------------------------------------------------------------
const load0 = loadavg();
const fixtures = buildFixtures(BATCHES, BATCH, USERS);
const { bodies, records } = fixtures;
const bytes = bodies.reduce((n, b) => n + b.length, 0);
console.log(
  `detector bench: ${fmt(records)} llmsec log records in ${BATCHES} OTLP/HTTP protobuf requests of ${BATCH} ` +
    `(${fmt(bytes / BATCHES)} bytes each; ${fmt(fixtures.jsonBodies.reduce((n, b) => n + b.length, 0) / BATCHES)} as OTLP/JSON), ${USERS} users; best of ${REPEATS}; ${cpus().length} CPUs, ` +
    `load average ${load0.map((l) => l.toFixed(2)).join(' ')}; node ${process.version}`,
);

// Same output from all three decoders, and every record back to the event it was made from.
const ours = bodies.map((b) => decodeLogsProto(b, limits));
for (let i = 0; i < bodies.length; i += 17) {
  if (!isDeepStrictEqual(decodeLogsWithProtobufjs(bodies[i]!), ours[i]))
    throw new Error(`decoders differ on body ${i}`);
  if (!isDeepStrictEqual(decodeLogs(fixtures.jsonBodies[i]!, 'json', limits), ours[i]))
    throw new Error(`JSON differs on body ${i}`);
}
const decodedEvents: { event: SecurityEvent; t: number }[] = [];
for (const batch of ours) {
  for (const r of batch) {
    const event = logRecordToEvent(r);
    if (event === undefined) throw new Error('a generated record did not convert back to an event');
    decodedEvents.push({ event, t: r.timeMs });
  }
}
for (let i = 0; i < decodedEvents.length; i += 997) {
  const { event_id, category, user_id, metadata } = fixtures.events[i]!.event;
  const got = decodedEvents[i]!.event;
  if (
    got.event_id !== event_id ||
    got.category !== category ||
    got.user_id !== user_id ||
    !isDeepStrictEqual(got.metadata, metadata)
  ) {
    throw new Error(`record ${i} did not round-trip`);
  }
}

let alerts = 0;
const engineAlone = await measure(() => {
  const engine = new DetectionEngine({ onAlert: () => void alerts++ });
  for (const { event, t } of decodedEvents) engine.ingestOnce(event, t);
});

const decodeOurs = await measure(() => {
  for (const b of bodies) decodeLogsProto(b, limits);
});

const decodePbjs = await measure(() => {
  for (const b of bodies) decodeLogsWithProtobufjs(b);
});

const decodeJson = await measure(() => {
  for (const b of fixtures.jsonBodies) decodeLogs(b, 'json', limits);
});

const decodeToEvent = await measure(() => {
  for (const b of bodies) for (const r of decodeLogsProto(b, limits)) logRecordToEvent(r);
});

// In-process requests: the real handler on a Readable request and a minimal response object.
let inProcessIngest = new EngineIngest();
const handler = createOtlpHttpHandler({
  ingest: { logs: (r) => inProcessIngest.logs(r), traces: () => inProcessIngest.traces() },
});

function inProcessRequest(body: Uint8Array): Promise<number> {
  return new Promise((resolve) => {
    const req = new Readable({ read() {} }) as unknown as IncomingMessage & Readable;
    Object.assign(req, {
      method: 'POST',
      url: '/v1/logs',
      headers: { 'content-type': 'application/x-protobuf', 'content-length': String(body.length) },
      complete: true,
    });
    req.push(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
    req.push(null);
    const res = {
      req,
      headersSent: false,
      destroyed: false,
      status: 0,
      writeHead(status: number) {
        this.status = status;
        this.headersSent = true;
        return this;
      },
      end() {
        resolve(this.status);
      },
      destroy() {
        resolve(-1);
      },
    };
    handler(req, res as unknown as ServerResponse);
  });
}

const handlerInProcess = await measure(async () => {
  inProcessIngest = new EngineIngest();
  for (const b of bodies) {
    const status = await inProcessRequest(b);
    if (status !== 200) throw new Error(`in-process request answered ${status}`);
  }
  if (inProcessIngest.accepted !== records)
    throw new Error(`engine took ${inProcessIngest.accepted} of ${records}`);
});

// The same with each event handed to the engine as soon as it is converted (this pipeline
// before it handed over a request's events in one run, as the service does).
const handlerOneByOne = await measure(async () => {
  inProcessIngest = new EngineIngest({}, true);
  for (const b of bodies) {
    const status = await inProcessRequest(b);
    if (status !== 200) throw new Error(`in-process request answered ${status}`);
  }
  if (inProcessIngest.accepted !== records)
    throw new Error(`engine took ${inProcessIngest.accepted} of ${records}`);
});

// Loopback HTTP: server (handler + engine) in a worker thread; client here, one keep-alive
// connection, requests one after another (a Collector exporter's default is one at a time).
const worker = new Worker(new URL('./loopback-server.ts', import.meta.url));
const message = (type: string): Promise<Record<string, number>> =>
  new Promise((resolve) => {
    const on = (m: { type: string } & Record<string, number>) => {
      if (m.type === type) {
        worker.off('message', on);
        resolve(m);
      }
    };
    worker.on('message', on);
  });
const port = (await message('port')).port!;
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

function loopbackRequest(body: Uint8Array): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/v1/logs',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

let loopback: { wall: number; serverCpu: number } | undefined;
for (let i = 0; i < REPEATS; i++) {
  worker.postMessage('reset');
  await message('reset');
  worker.postMessage('stats');
  const before = await message('stats');
  const t0 = process.hrtime.bigint();
  for (const b of bodies) {
    const status = await loopbackRequest(b);
    if (status !== 200) throw new Error(`loopback request answered ${status}`);
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  worker.postMessage('stats');
  const after = await message('stats');
  if (after.accepted !== records) throw new Error(`loopback engine took ${after.accepted} of ${records}`);
  const run = { wall, serverCpu: after.cpu! - before.cpu! };
  if (loopback === undefined || run.serverCpu < loopback.serverCpu) loopback = run;
}
agent.destroy();
worker.postMessage('close');

// Redis state (a local redis-server started here): the engine alone and the in-process handler
// end to end, fed a request's worth at a time with the state flusher shipping in between, as
// bench:detect:redis feeds it. Wall-clock rates: the state's work happens in redis-server.
interface RedisRows {
  engine: Run;
  handler: Run;
}

async function redisRows(): Promise<RedisRows | string> {
  let server;
  try {
    server = await startRedis();
  } catch (err) {
    return `Redis rows skipped: ${(err as Error).message}`;
  }
  const redis = new Redis(server.url, { maxRetriesPerRequest: 1, enableAutoPipelining: true });
  const state = () => ({
    state: new RedisDetectionState({
      redis,
      ruleset: 'bench-detector',
      batchSize: 2_000,
      commandTimeoutMs: 5_000,
    }),
  });
  const shared = async (engine: DetectionEngine): Promise<void> => {
    engine.flush();
    await engine.forceFlush();
    const mode = engine.stats.state?.mode;
    await engine.shutdown();
    if (mode !== 'shared')
      throw new Error(`the engine went ${String(mode)}: the Redis figures would be local`);
  };
  try {
    const engine = await measure(async () => {
      await redis.flushall();
      const e = new DetectionEngine({ onAlert: () => {}, ...state() });
      for (let i = 0; i < decodedEvents.length; i += BATCH) {
        for (let k = i; k < Math.min(i + BATCH, decodedEvents.length); k++)
          e.ingestOnce(decodedEvents[k]!.event, decodedEvents[k]!.t);
        await e.forceFlush();
      }
      await shared(e);
    });
    const handler = await measure(async () => {
      await redis.flushall();
      inProcessIngest = new EngineIngest(state());
      for (const b of bodies) {
        const status = await inProcessRequest(b);
        if (status !== 200) throw new Error(`in-process request answered ${status}`);
        await inProcessIngest.engine.forceFlush();
      }
      await shared(inProcessIngest.engine);
    });
    return { engine, handler };
  } finally {
    redis.disconnect();
    await server.stop();
  }
}
const withRedis = await redisRows();

// ---------------------------------------------------------------------------------------------
const perCpu = (r: Run | { cpu: number }): number => records / r.cpu;
const base = perCpu(engineAlone);
const rows: [string, number, number | undefined][] = [
  ['engine alone, events already decoded (baseline)', perCpu(engineAlone), records / engineAlone.wall],
  ['decode only: schema-specific reader', perCpu(decodeOurs), records / decodeOurs.wall],
  ['decode only: protobufjs, same subset, same output', perCpu(decodePbjs), records / decodePbjs.wall],
  [
    'decode only: OTLP/JSON (JSON.parse + mapping), same requests',
    perCpu(decodeJson),
    records / decodeJson.wall,
  ],
  ['decode + to SecurityEvent', perCpu(decodeToEvent), records / decodeToEvent.wall],
  [
    'end to end: handler in-process (no sockets) → engine',
    perCpu(handlerInProcess),
    records / handlerInProcess.wall,
  ],
  [
    '  the same, each event to the engine as it is converted',
    perCpu(handlerOneByOne),
    records / handlerOneByOne.wall,
  ],
  [
    'end to end: loopback HTTP → handler → engine (server thread CPU)',
    records / loopback!.serverCpu,
    records / loopback!.wall,
  ],
];
const widths = [Math.max(...rows.map((r) => r[0].length)), 16, 16, 12];
console.log('');
console.log(
  [
    'path'.padEnd(widths[0]!),
    'records/CPU-s'.padStart(widths[1]!),
    'records/s wall'.padStart(widths[2]!),
    'vs baseline'.padStart(widths[3]!),
  ].join('  '),
);
for (const [name, rate, wall] of rows) {
  console.log(
    [
      name.padEnd(widths[0]!),
      fmt(rate).padStart(widths[1]!),
      (wall === undefined ? '' : fmt(wall)).padStart(widths[2]!),
      `${(rate / base).toFixed(2)}×`.padStart(widths[3]!),
    ].join('  '),
  );
}
console.log('');
if (typeof withRedis === 'string') console.log(withRedis);
else {
  const memE2e = records / handlerInProcess.wall;
  console.log(
    [
      'Redis state (local redis-server)'.padEnd(widths[0]!),
      'records/s wall'.padStart(widths[1]!),
      'node CPU-s/s'.padStart(widths[2]!),
      'vs memory'.padStart(widths[3]!),
    ].join('  '),
  );
  for (const [name, run, mem] of [
    ['engine alone, events already decoded', withRedis.engine, records / engineAlone.wall],
    ['end to end: handler in-process → engine', withRedis.handler, memE2e],
  ] as const) {
    const wall = records / run.wall;
    console.log(
      [
        name.padEnd(widths[0]!),
        fmt(wall).padStart(widths[1]!),
        (run.cpu / run.wall).toFixed(2).padStart(widths[2]!),
        `${(wall / mem).toFixed(2)}×`.padStart(widths[3]!),
      ].join('  '),
    );
  }
  console.log('');
}
console.log(
  `schema-specific reader vs protobufjs: ${(perCpu(decodeOurs) / perCpu(decodePbjs)).toFixed(2)}× the records per CPU-second`,
);
console.log(`alerts raised by the engine on this traffic: ${alerts / REPEATS}`);
console.log(
  `load average after: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
