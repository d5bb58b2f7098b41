// A listening server's 'error' event (an accept that fails: ENOBUFS, ENOMEM...) ends the process
// when nothing listens for it. The gRPC listeners had a handler; the HTTP receiver's servers
// (one per address since 4f02f1f) had none after listen(), so such an error took the detector
// down. Now it is logged and the receiver goes on.
import type * as Http from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RunningDetector } from '../src/service/detector.ts';
import { startDetectorWith } from './service-support.ts';

const made: Http.Server[] = [];
vi.mock('node:http', async (importOriginal) => {
  const real = await importOriginal<typeof Http>();
  return {
    ...real,
    createServer: (...args: Parameters<typeof real.createServer>) => {
      const server = real.createServer(...args);
      made.push(server);
      return server;
    },
  };
});

let detector: RunningDetector | undefined;
afterEach(async () => {
  await detector?.shutdown();
  detector = undefined;
});

describe('HTTP receiver listener errors', () => {
  it('are caught, and the receiver serves on', async () => {
    ({ detector } = await startDetectorWith('http-listener-error', () => ({})));
    const listening = made.filter((s) => s.listening);
    expect(listening.length).toBeGreaterThan(0);
    for (const server of listening)
      expect(() =>
        server.emit(
          'error',
          Object.assign(new Error('accept ENOBUFS'), { code: 'ENOBUFS', syscall: 'accept' }),
        ),
      ).not.toThrow();
    const res = await fetch(`http://127.0.0.1:${detector.http.port}/-/healthy`);
    expect(res.status).toBe(200);
  });
});
