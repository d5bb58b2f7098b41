// `llmsec detector` as a process, SIGTERM while an export is in flight: the listeners stay open
// through the drain, so a load balancer's readiness probe reads 503 and senders get 503 /
// UNAVAILABLE with a retry delay (and retry elsewhere) rather than connection refused; once
// the export in flight is answered and the queue is drained, the process closes and exits 0.
import { ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { decodeStatus } from './otlp-status.ts';
import { llmsecLogRecords, post } from './otlp-support.ts';
import { startDetectorProcess, tempDir, writeConfig, type DetectorProcess } from './process-support.ts';
import { grpcExportLogs, startSlowExport } from './slow-export.ts';

const body = ProtobufLogsSerializer.serializeRequest(llmsecLogRecords(20))!;
const protobuf = { 'content-type': 'application/x-protobuf' };

async function readyStatus(d: DetectorProcess): Promise<number> {
  return (await fetch(`${d.httpUrl}/-/ready`)).status;
}

describe('llmsec detector drain (process)', () => {
  it('on SIGTERM keeps answering: ready 503, exports 503 + Retry-After / UNAVAILABLE, until the export in flight is answered; then closes and exits 0', async () => {
    const cfg = writeConfig(tempDir(), 'c.json', {
      otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' },
      retry_after: '2s',
      shutdown_timeout: '30s',
    });
    const d = await startDetectorProcess(cfg);
    const grpcAddress = d.grpcUrl.replace('http://', '');
    expect(await readyStatus(d)).toBe(200);
    expect((await post(`${d.httpUrl}/v1/logs`, body, protobuf)).status).toBe(200);

    const slow = await startSlowExport(`${d.httpUrl}/v1/logs`, body);
    d.kill('SIGTERM');
    // The signal arrives asynchronously: ready turns 503, and stays reachable.
    const until = Date.now() + 10_000;
    while ((await readyStatus(d)) !== 503) {
      expect(Date.now(), 'ready never turned 503').toBeLessThan(until);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await fetch(`${d.httpUrl}/-/healthy`)).status).toBe(200);

    const refused = await post(`${d.httpUrl}/v1/logs`, body, protobuf);
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('2');
    expect(refused.headers.connection).toBe('close');
    expect(decodeStatus(refused.body).retryDelaySeconds).toBe(2);

    const viaGrpc = await grpcExportLogs(grpcAddress, body);
    expect(viaGrpc.code).toBe(grpc.status.UNAVAILABLE);
    expect(viaGrpc.metadata?.get('grpc-retry-pushback-ms')).toEqual(['2000']);

    // Still draining: the export in flight holds the listeners open.
    await new Promise((r) => setTimeout(r, 300));
    expect(d.child.exitCode).toBeNull();
    expect(await readyStatus(d)).toBe(503);

    // Its body completes after the stop: refused whole with a retry delay (nothing lost).
    const answer = await slow.finish();
    expect(answer.status).toBe(503);
    expect(answer.headers['retry-after']).toBe('2');

    expect(await d.exited).toBe(0);
    await expect(fetch(`${d.httpUrl}/-/ready`)).rejects.toThrow(); // now closed
    expect(d.stderr()).toContain('"msg":"detector stopped"');
  }, 40_000);
});
