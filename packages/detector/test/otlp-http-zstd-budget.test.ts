// A zstd body takes its decoder's window from the in-flight budget while it decodes (f5c709d):
// 2^23 bytes at least. The handler accepts any maxInflightBytes of at least maxBodyBytes +
// maxDecompressedBytes, so a valid, smaller budget (1 MiB bodies, 2 MiB decompressed, 4 MiB in
// flight) could never hold the window: every zstd export was 429, retried for ever by the
// Collector, while the same export gzip-compressed was taken.
import { Buffer } from 'node:buffer';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { llmsecLogRecords, post, RecordingIngest, startHttp, type TestHttpServer } from './otlp-support.ts';

const PROTO = { 'Content-Type': 'application/x-protobuf' };
const MiB = 1024 * 1024;
const goodProto = Buffer.from(ProtobufLogsSerializer.serializeRequest(llmsecLogRecords(20))!);

let ingest: RecordingIngest;
let server: TestHttpServer;
beforeAll(async () => {
  ingest = new RecordingIngest();
  server = await startHttp({
    ingest,
    maxBodyBytes: MiB,
    maxDecompressedBytes: 2 * MiB,
    maxInflightBytes: 4 * MiB,
  });
});
afterAll(async () => {
  await server?.close();
});

describe('OTLP/HTTP zstd under a small in-flight budget', () => {
  it('takes a zstd export as it takes the gzip one, and leaves the budget as it found it', async () => {
    ingest.records.length = 0;
    const url = `${server.url}/v1/logs`;
    const gz = await post(url, gzipSync(goodProto), { ...PROTO, 'Content-Encoding': 'gzip' });
    expect(gz.status).toBe(200);
    const zs = await post(url, zstdCompressSync(goodProto), { ...PROTO, 'Content-Encoding': 'zstd' });
    expect(zs.status).toBe(200);
    expect(ingest.records).toHaveLength(40);
    // Still serves after: nothing of the budget was kept.
    const again = await post(url, zstdCompressSync(goodProto), { ...PROTO, 'Content-Encoding': 'zstd' });
    expect(again.status).toBe(200);
  });
});
