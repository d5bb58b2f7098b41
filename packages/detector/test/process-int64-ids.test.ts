// A user id sent as an int64 past 2^53 (another language's SDK, a numeric account id) is read
// as its exact decimal text on every path of `llmsec detector` (a process): OTLP/JSON with the
// int64 as a string (proto3 JSON's int64), OTLP/HTTP protobuf and OTLP/gRPC; the alert's
// user_ids and group label carry those digits, the same text an llmsec JSONL line holds for
// the user (a string there). A bare JSON number past 2^53 is the double JSON.parse makes of it,
// written as that double's exact integer (as protobuf carries the same double from a JS
// sender, whose JSON serializer writes numbers): 9007199254740995 is 9007199254740996.
import { Buffer } from 'node:buffer';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDetectorProcess, tempDir, writeConfig, type DetectorProcess } from './process-support.ts';

const dir = tempDir();
const alertsFile = join(dir, 'alerts.jsonl');
let detector: DetectorProcess;

beforeAll(async () => {
  const rules = join(dir, 'rules.yaml');
  writeConfig(dir, 'rules.yaml', {
    rules: [
      {
        id: 'each_auth_failure',
        title: 'Each auth failure',
        severity: 'warning',
        description: 'One alert per user with an auth failure.',
        match: { categories: ['auth_failure'] },
        group_by: 'user_id',
        window: '10m',
        condition: { kind: 'single' },
      },
    ],
  });
  const cfg = writeConfig(dir, 'c.json', {
    otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' },
    rules,
    allowed_lateness: '2s',
    tick_interval: '100ms',
    sinks: { alerts: alertsFile },
  });
  detector = await startDetectorProcess(cfg);
});

afterAll(async () => {
  detector?.kill('SIGTERM');
  await detector?.exited;
});

// Each event is timed as it is sent: the watermark follows the clock (tick_interval), and an
// event older than allowed_lateness behind it would be dropped as late.
const now = (): string => new Date().toISOString();

/** The event's attributes as OTLP/JSON KeyValue text, `user.id` given as raw AnyValue text. */
function jsonBody(eventId: string, userIdAnyValue: string): string {
  const s = (key: string, v: string): string => `{"key":"${key}","value":{"stringValue":"${v}"}}`;
  const attributes = [
    s('llmsec.event.id', eventId),
    s('llmsec.event.category', 'auth_failure'),
    s('llmsec.event.severity', 'warning'),
    s('llmsec.event.timestamp', now()),
    `{"key":"user.id","value":${userIdAnyValue}}`,
  ].join(',');
  return `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"eventName":"llmsec.auth_failure","attributes":[${attributes}]}]}]}]}`;
}

// A minimal protobuf writer: ExportLogsServiceRequest with one LogRecord.
function varint(n: bigint): number[] {
  let v = BigInt.asUintN(64, n);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}
const ld = (field: number, payload: number[]): number[] => [
  ...varint(BigInt((field << 3) | 2)),
  ...varint(BigInt(payload.length)),
  ...payload,
];
const str = (field: number, text: string): number[] => ld(field, [...Buffer.from(text, 'utf8')]);
const kv = (key: string, anyValue: number[]): number[] => ld(6, [...str(1, key), ...ld(2, anyValue)]);

function protoBody(eventId: string, userId: bigint): Buffer {
  const record = [
    ...kv('llmsec.event.id', str(1, eventId)),
    ...kv('llmsec.event.category', str(1, 'auth_failure')),
    ...kv('llmsec.event.severity', str(1, 'warning')),
    ...kv('llmsec.event.timestamp', str(1, now())),
    ...kv('user.id', [...varint(3n << 3n), ...varint(userId)]), // AnyValue.int_value = 3
    ...str(12, 'llmsec.auth_failure'),
  ];
  return Buffer.from(ld(1, ld(2, ld(2, record))));
}

async function postLogs(type: string, body: string | Buffer): Promise<void> {
  const res = await fetch(`${detector.httpUrl}/v1/logs`, {
    method: 'POST',
    headers: { 'Content-Type': type },
    body,
  });
  expect(res.status, await res.text()).toBe(200);
}

function grpcLogs(body: Buffer): Promise<void> {
  const client = new grpc.Client(new URL(detector.grpcUrl).host, grpc.credentials.createInsecure());
  return new Promise<void>((resolve, reject) => {
    client.makeUnaryRequest(
      '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      (err: grpc.ServiceError | null) => (err ? reject(err) : resolve()),
    );
  }).finally(() => client.close());
}

async function alertedUsers(count: number): Promise<string[]> {
  const until = Date.now() + 15_000;
  for (;;) {
    const lines = existsSync(alertsFile) ? readFileSync(alertsFile, 'utf8').split('\n').filter(Boolean) : [];
    const users = lines
      .map((l) => JSON.parse(l) as { status: string; user_ids: string[]; labels: Record<string, string> })
      .filter((a) => a.status === 'firing')
      .map((a) => {
        expect(a.labels.user_id).toBe(a.user_ids[0]); // the group label is the same text
        return a.user_ids[0]!;
      });
    if (users.length >= count || Date.now() > until) return users.sort();
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('int64 user ids past 2^53 (llmsec detector process)', () => {
  it('are their exact decimal text over OTLP/JSON, protobuf and gRPC (a bare JSON number: its double)', async () => {
    await postLogs('application/json', jsonBody('EVT-json-string', '{"intValue":"9007199254740993"}'));
    await postLogs('application/json', jsonBody('EVT-json-number', '{"intValue":9007199254740995}'));
    await postLogs('application/x-protobuf', protoBody('EVT-proto', 9007199254740997n));
    await grpcLogs(protoBody('EVT-grpc', -9223372036854775807n));
    expect(await alertedUsers(4)).toEqual([
      '-9223372036854775807',
      '9007199254740993',
      '9007199254740996',
      '9007199254740997',
    ]);
  });
});
