// Shutdown with senders still connected and idle, as a Collector keeps them: an HTTP keep-alive
// connection back in its agent's pool and a gRPC channel left open after an export. Neither
// holds a request, so neither may hold the drain: shutdown is done in well under its bound
// (under half of shutdown_timeout, a margin for a loaded machine; the gRPC server's own wait
// for calls is half the timeout, so a channel that held it would fail here), and every event
// received before it reached the alerts output. In this process (the service) and as
// `llmsec detector` stopped with SIGTERM.
import { Buffer } from 'node:buffer';
import { existsSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { InMemoryLogRecordExporter } from '@opentelemetry/sdk-logs';
import { afterEach, describe, expect, it } from 'vitest';
import { startDetectorProcess, tempDir, writeConfig } from './process-support.ts';
import { senderEvents } from './sender.ts';
import { startDetectorWith } from './service-support.ts';

// Long, so that "under half of it" separates a drain held by an idle sender (half of it, or
// all of it) from a loaded host's slow but prompt shutdown by 30 s (it was 10 s at 20 s). A
// passing run does not wait for it.
const TIMEOUT_MS = 60_000;
const BLOCKS = 12; // rapid_guardrail_blocks fires at 10 per user
const LOGS_PATH = '/opentelemetry.proto.collector.logs.v1.LogsService/Export';

/** A protobuf logs export of BLOCKS injection blocks by `user`, a minute old (not late, not future). */
function blocksBy(user: string, seed: number): Uint8Array {
  const exporter = new InMemoryLogRecordExporter();
  const { events, clock } = senderEvents(exporter, seed, Date.now() - 60_000);
  for (let i = 0; i < BLOCKS; i++) {
    events.guardrailBlock({
      userId: user,
      sessionId: `${user}-s`,
      layer: 'injection',
      reason: 'ignore previous',
    });
    clock.advance(100);
  }
  const records = exporter.getFinishedLogRecords();
  expect(records).toHaveLength(BLOCKS);
  return ProtobufLogsSerializer.serializeRequest(records)!;
}

/** The idle senders: one keep-alive export over HTTP, one over gRPC; both connections stay open. */
class IdleSenders {
  readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });
  grpc: grpc.Client | undefined;

  async httpExport(url: string, body: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = request(
        `${url}/v1/logs`,
        { method: 'POST', agent: this.agent, headers: { 'content-type': 'application/x-protobuf' } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Resolves 'OK', or the status code and details. */
  async grpcExport(address: string, body: Uint8Array): Promise<string> {
    this.grpc ??= new grpc.Client(address, grpc.credentials.createInsecure());
    const client = this.grpc;
    return new Promise((resolve) =>
      client.makeUnaryRequest(
        LOGS_PATH,
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from(body),
        new grpc.Metadata(),
        (err: grpc.ServiceError | null) => resolve(err ? `${err.code} ${err.details}` : 'OK'),
      ),
    );
  }

  /** Both connections are open and idle (the premise: otherwise the test proves nothing). */
  expectIdleAndConnected(): void {
    const free = Object.values(this.agent.freeSockets).flat();
    expect(free.length, 'the keep-alive socket is back in the pool').toBe(1);
    expect(free[0]!.destroyed).toBe(false);
    expect(this.grpc!.getChannel().getConnectivityState(false)).toBe(grpc.connectivityState.READY);
  }

  close(): void {
    this.agent.destroy();
    this.grpc?.close();
  }
}

type AlertLine = { rule: string; status: string; user_ids: string[] };
function firedFor(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as AlertLine)
    .filter((a) => a.rule === 'rapid_guardrail_blocks' && a.status === 'firing')
    .flatMap((a) => a.user_ids)
    .sort();
}

const senders: IdleSenders[] = [];
afterEach(() => {
  for (const s of senders.splice(0)) s.close();
});

describe('detector shutdown with idle senders connected', () => {
  it(
    'the service: done in under half of shutdown_timeout, every received event processed and alerted on',
    async () => {
      const { detector, dir } = await startDetectorWith('idle-senders', (d) => ({
        sinks: { alerts: join(d, 'alerts.jsonl') },
        shutdown_timeout: `${TIMEOUT_MS}ms`,
      }));
      const s = new IdleSenders();
      senders.push(s);
      expect(await s.httpExport(`http://127.0.0.1:${detector.http.port}`, blocksBy('http-user', 1))).toBe(
        200,
      );
      expect(await s.grpcExport(`127.0.0.1:${detector.grpc.port}`, blocksBy('grpc-user', 2))).toBe('OK');
      s.expectIdleAndConnected();

      const t0 = performance.now();
      const finished = await detector.shutdown();
      const elapsed = performance.now() - t0;
      expect(finished, 'shutdown gave up waiting').toBe(true);
      expect(elapsed).toBeLessThan(TIMEOUT_MS / 2);
      expect(detector.engine.stats.processed).toBe(2 * BLOCKS);
      expect(firedFor(join(dir, 'alerts.jsonl'))).toEqual(['grpc-user', 'http-user']);
    },
    3 * TIMEOUT_MS,
  );

  it(
    '`llmsec detector` on SIGTERM: exits 0 in under half of shutdown_timeout, nothing lost',
    async () => {
      const dir = tempDir();
      const alerts = join(dir, 'alerts.jsonl');
      const cfg = writeConfig(dir, 'c.json', {
        otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' },
        sinks: { alerts },
        shutdown_timeout: `${TIMEOUT_MS}ms`,
      });
      const d = await startDetectorProcess(cfg);
      const s = new IdleSenders();
      senders.push(s);
      expect(await s.httpExport(d.httpUrl, blocksBy('http-user', 1))).toBe(200);
      expect(await s.grpcExport(d.grpcUrl.replace('http://', ''), blocksBy('grpc-user', 2))).toBe('OK');
      s.expectIdleAndConnected();

      const t0 = performance.now();
      d.kill('SIGTERM');
      expect(await d.exited).toBe(0);
      expect(performance.now() - t0).toBeLessThan(TIMEOUT_MS / 2);
      const stopped = d
        .stderr()
        .split('\n')
        .find((l) => l.includes('"msg":"detector stopped"'));
      expect(stopped, d.stderr()).toBeDefined();
      expect((JSON.parse(stopped!) as { stats: { processed: number } }).stats.processed).toBe(2 * BLOCKS);
      expect(d.stderr()).not.toContain('shutdown timed out');
      expect(firedFor(alerts)).toEqual(['grpc-user', 'http-user']);
    },
    3 * TIMEOUT_MS,
  );
});
