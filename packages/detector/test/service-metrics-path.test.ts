// A metrics exporter pointed at the detector (which receives logs and traces only) gets a 404
// whose google.rpc.Status body, as the receiver's other refusals carry, names the paths taken;
// before, a bare "not found" that said nothing of why. Paths outside /v1/ keep the plain 404.
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningDetector } from '../src/service/detector.ts';
import { GrpcCode } from '../src/otlp/responses.ts';
import { decodeStatus } from './otlp-status.ts';
import { startDetectorWith } from './service-support.ts';

let running: RunningDetector | undefined;
afterEach(async () => {
  await running?.shutdown();
  running = undefined;
});

const TAKEN = 'the llmsec detector takes logs and traces only (POST /v1/logs, POST /v1/traces)';

describe('the detector service on a path it does not receive', () => {
  it('answers /v1/metrics 404 with a Status naming the paths taken, JSON or protobuf as sent', async () => {
    ({ detector: running } = await startDetectorWith('metrics-path', () => ({})));
    const base = `http://127.0.0.1:${running.http.port}`;

    const json = await fetch(`${base}/v1/metrics`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"resourceMetrics":[]}',
    });
    expect(json.status).toBe(404);
    expect(json.headers.get('content-type')).toBe('application/json');
    const status = (await json.json()) as { code: number; message: string };
    expect(status.code).toBe(GrpcCode.UNIMPLEMENTED);
    expect(status.message).toBe(
      `no OTLP receiver at /v1/metrics: ${TAKEN}; send other signals to a Collector`,
    );

    const proto = await fetch(`${base}/v1/metrics?x=1`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-protobuf' },
      body: new Uint8Array([10, 0]),
    });
    expect(proto.status).toBe(404);
    expect(proto.headers.get('content-type')).toBe('application/x-protobuf');
    const decoded = decodeStatus(Buffer.from(await proto.arrayBuffer()));
    expect(decoded.code).toBe(GrpcCode.UNIMPLEMENTED);
    expect(decoded.message).toContain(`no OTLP receiver at /v1/metrics: ${TAKEN}`);

    // A long path is echoed cut; a path outside /v1/ keeps the plain answer.
    const long = await fetch(`${base}/v1/${'m'.repeat(5000)}`, { method: 'POST' });
    expect(long.status).toBe(404);
    expect(((await long.json()) as { message: string }).message).toContain(`/v1/${'m'.repeat(60)}...:`);
    const other = await fetch(`${base}/nope`);
    expect(other.status).toBe(404);
    expect(await other.text()).toBe('not found\n');
  });
});
