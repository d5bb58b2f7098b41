// The `detector started` line's otlp_http / otlp_grpc are HOST:PORT as the config takes them: an
// IPv6 host in brackets ([::1]:4318). Before, `::1:4318`, which otlp.http refuses and no URL
// parses, while the same line's otlp_*_addresses bracketed it.
import { afterAll, describe, expect, it } from 'vitest';
import { parseHostPort } from '../src/service/config-schema.ts';
import { startDetectorProcess, tempDir, writeConfig, type DetectorProcess } from './process-support.ts';

const running: DetectorProcess[] = [];
afterAll(async () => {
  for (const d of running) d.kill('SIGTERM');
  await Promise.all(running.map((d) => d.exited));
});

describe('a detector listening on an IPv6 literal', () => {
  it('says where in HOST:PORT form, brackets and all', { timeout: 30_000 }, async () => {
    const d = await startDetectorProcess(
      writeConfig(tempDir(), 'c.json', { otlp: { http: '[::1]:0', grpc: '[::1]:0' } }),
    );
    running.push(d);
    const line = d
      .stderr()
      .split('\n')
      .find((l) => l.includes('"detector started"'))!;
    const started = JSON.parse(line) as { otlp_http: string; otlp_grpc: string };
    expect(started.otlp_http).toMatch(/^\[::1\]:\d+$/);
    expect(started.otlp_grpc).toMatch(/^\[::1\]:\d+$/);
    expect(parseHostPort(started.otlp_http)?.host).toBe('::1');
    expect((await fetch(`${d.httpUrl}/-/healthy`)).status).toBe(200);
  });
});
