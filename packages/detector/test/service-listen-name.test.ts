// The detector's receivers given a host name listen on every address it resolves to, as grpc-js
// binds its own servers: `localhost` is 127.0.0.1 and ::1 on most systems, and before only the
// first address Node's lookup gave was listened on, so a sender resolving the name to the other
// saw connection refused. This machine's /etc/hosts may give `localhost` one address only, so a
// name of the test's own, `dual.test`, resolves to both loopbacks (the resolver mocked); the
// real `localhost` is checked against whatever the system resolves it to.
import { lookup } from 'node:dns/promises';
import { connect } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RunningDetector } from '../src/service/detector.ts';
import { startDetectorWith } from './service-support.ts';
import { exportLogsGrpc } from './grpc-export.ts';

vi.mock('../src/otlp/listen-addresses.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/otlp/listen-addresses.ts')>();
  return {
    ...real,
    listenAddresses: async (host: string) =>
      host === 'dual.test'
        ? ['127.0.0.1', '::1']
        : host === 'partly-here.test' // 203.0.113.1 (TEST-NET-3) is no address of this host
          ? ['203.0.113.1', '127.0.0.1']
          : real.listenAddresses(host),
  };
});

let detector: RunningDetector | undefined;
afterEach(async () => {
  await detector?.shutdown();
  detector = undefined;
});

const hostPort = (address: string, port: number): string =>
  address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;

function exportLogs(target: string): Promise<grpc.ServiceError | null> {
  return exportLogsGrpc(target, { deadlineMs: 5_000 });
}

async function servesOn(d: RunningDetector, addresses: string[]): Promise<void> {
  for (const address of addresses) {
    const res = await fetch(`http://${hostPort(address, d.http.port)}/-/healthy`);
    expect(res.status, `HTTP on ${address}`).toBe(200);
    expect(await exportLogs(hostPort(address, d.grpc.port)), `gRPC on ${address}`).toBeNull();
  }
}

describe('receivers given a host name', () => {
  it('listen on every address it resolves to, one port each receiver', async () => {
    ({ detector } = await startDetectorWith('listen-dual', () => ({
      otlp: { http: 'dual.test:0', grpc: 'dual.test:0' },
    })));
    await servesOn(detector, ['127.0.0.1', '::1']);
    const { http, grpc: g } = detector;
    expect(http.addresses).toEqual([`127.0.0.1:${http.port}`, `[::1]:${http.port}`]);
    expect(g.addresses).toEqual([`127.0.0.1:${g.port}`, `[::1]:${g.port}`]);
  });

  it('share one max_grpc_connections across the addresses', { timeout: 20_000 }, async () => {
    ({ detector } = await startDetectorWith('listen-dual-cap', () => ({
      otlp: { http: 'dual.test:0', grpc: 'dual.test:0', max_grpc_connections: 1 },
    })));
    // A silent socket on ::1 holds the one slot (for up to 10 s): a sender on 127.0.0.1 is refused.
    const silent = connect(detector.grpc.port, '::1');
    silent.on('error', () => {});
    await new Promise((r) => silent.once('connect', r));
    await new Promise((r) => setTimeout(r, 100));
    expect((await exportLogs(hostPort('127.0.0.1', detector.grpc.port)))?.code).toBe(grpc.status.UNAVAILABLE);
    silent.destroy();
    await new Promise((r) => setTimeout(r, 100));
    expect(await exportLogs(hostPort('127.0.0.1', detector.grpc.port))).toBeNull();
  });

  it('start on the addresses this host has when the name also resolves to one it has not', async () => {
    ({ detector } = await startDetectorWith('listen-partly-here', () => ({
      otlp: { http: 'partly-here.test:0', grpc: 'partly-here.test:0' },
    })));
    await servesOn(detector, ['127.0.0.1']);
    expect(detector.http.addresses).toEqual([`127.0.0.1:${detector.http.port}`]);
    expect(detector.grpc.addresses).toEqual([`127.0.0.1:${detector.grpc.port}`]);
  });

  it('localhost: every address the system resolves it to', async () => {
    ({ detector } = await startDetectorWith('listen-localhost', () => ({
      otlp: { http: 'localhost:0', grpc: 'localhost:0' },
    })));
    const addresses = [...new Set((await lookup('localhost', { all: true })).map((a) => a.address))];
    await servesOn(detector, addresses);
  });
});
