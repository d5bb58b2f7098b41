// Every Content-Encoding the Collector's otlphttp exporter can be set to (confighttp
// `compression`; the header is the setting's name): gzip, zstd, zlib and deflate are taken,
// their bombs stop at the decompressed cap (413), snappy and lz4 get 415 naming what is taken.
// Before, only gzip and identity were taken: zstd, zlib and deflate exports were refused 415.
import { Buffer } from 'node:buffer';
import { constants, deflateRawSync, deflateSync, gzipSync, zstdCompressSync } from 'node:zlib';
import { JsonLogsSerializer, ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { llmsecLogRecords, post, RecordingIngest, startHttp, type TestHttpServer } from './otlp-support.ts';
import { decodeStatus } from './otlp-status.ts';

const PROTO = { 'Content-Type': 'application/x-protobuf' };
const JSON_CT = { 'Content-Type': 'application/json' };
const records = llmsecLogRecords(20);
const goodProto = Buffer.from(ProtobufLogsSerializer.serializeRequest(records)!);
const goodJson = Buffer.from(JsonLogsSerializer.serializeRequest(records)!);

let ingest: RecordingIngest;
let server: TestHttpServer;
beforeAll(async () => {
  ingest = new RecordingIngest();
  server = await startHttp({ ingest, maxBodyBytes: 1024 * 1024, maxDecompressedBytes: 4 * 1024 * 1024 });
});
afterAll(async () => {
  await server?.close();
});
const logsUrl = (): string => `${server.url}/v1/logs`;

const encoders: Record<string, (b: Buffer) => Buffer> = {
  gzip: (b) => gzipSync(b),
  'x-gzip': (b) => gzipSync(b),
  zstd: (b) => zstdCompressSync(b),
  zlib: (b) => deflateSync(b),
  deflate: (b) => deflateSync(b),
};

describe('OTLP/HTTP request encodings', () => {
  for (const [name, encode] of Object.entries(encoders)) {
    it(`takes ${name} bodies, protobuf and JSON, and finds every record`, async () => {
      ingest.records.length = 0;
      const proto = await post(logsUrl(), encode(goodProto), { ...PROTO, 'Content-Encoding': name });
      expect(proto.status).toBe(200);
      const json = await post(logsUrl(), encode(goodJson), {
        ...JSON_CT,
        'Content-Encoding': name.toUpperCase(),
      });
      expect(json.status).toBe(200);
      expect(ingest.records).toHaveLength(40);
    });
  }

  it('takes raw DEFLATE (no zlib header) sent as deflate', async () => {
    ingest.records.length = 0;
    const res = await post(logsUrl(), deflateRawSync(goodProto), { ...PROTO, 'Content-Encoding': 'deflate' });
    expect(res.status).toBe(200);
    expect(ingest.records).toHaveLength(20);
  });

  it('413 for zstd and deflate bombs, at the decompressed cap', async () => {
    const zeros = Buffer.alloc(64 * 1024 * 1024);
    for (const [name, bomb] of [
      ['zstd', zstdCompressSync(zeros)],
      ['deflate', deflateSync(zeros)],
    ] as const) {
      expect(bomb.length).toBeLessThan(1024 * 1024);
      const res = await post(logsUrl(), bomb, { ...PROTO, 'Content-Encoding': name });
      expect(res.status).toBe(413);
      expect(decodeStatus(res.body).message).toBe('decompressed body exceeds the 4194304-byte limit');
    }
  });

  it('400 for a zstd frame declaring a 64 MiB window (never allocated) and for bytes that are not zstd', async () => {
    // Frame header: magic, descriptor 0 (no content size, not single-segment), window
    // descriptor exponent 16 (2^26 bytes: zstd's own limit, 2^27, would allocate it), then one last raw block of 4 bytes.
    const huge = Buffer.concat([
      Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 16 << 3]),
      Buffer.from([1 | (4 << 3), 0, 0]),
      Buffer.from('abcd'),
    ]);
    const small = zstdCompressSync(goodProto, { params: { [constants.ZSTD_c_windowLog]: 10 } });
    expect((await post(logsUrl(), small, { ...PROTO, 'Content-Encoding': 'zstd' })).status).toBe(200);
    const res = await post(logsUrl(), huge, { ...PROTO, 'Content-Encoding': 'zstd' });
    expect(res.status).toBe(400);
    expect(decodeStatus(res.body).message).toBe('body is not valid zstd');
    const bad = await post(logsUrl(), Buffer.from('not zstd'), { ...PROTO, 'Content-Encoding': 'zstd' });
    expect(bad.status).toBe(400);
    expect(decodeStatus(bad.body).message).toBe('body is not valid zstd');
  });

  it('415 for snappy, lz4 and br, naming the encodings taken; nothing reaches the ingest', async () => {
    ingest.records.length = 0;
    for (const name of ['snappy', 'lz4', 'br', 'gzip, zstd']) {
      const res = await post(logsUrl(), goodProto, { ...PROTO, 'Content-Encoding': name });
      expect(res.status).toBe(415);
      expect(decodeStatus(res.body).message).toBe(
        `Content-Encoding "${name}" is not taken; use gzip, zstd, deflate, zlib or identity`,
      );
    }
    expect(ingest.records).toHaveLength(0);
    // The server still serves.
    expect((await post(logsUrl(), goodProto, PROTO)).status).toBe(200);
  });
});
