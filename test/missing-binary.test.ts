/**
 * A server binary the tests need but the machine lacks fails the test that needs it with
 * "install X (Debian package Y)", not with an uncaught `spawn ENOENT` that kills the worker.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startAlertmanager } from './support/alertmanager.ts';
import { DEBIAN_PACKAGE, MissingBinaryError, requireBinary } from './support/binaries.ts';
import { startServer } from './support/process.ts';
import { startPrometheus } from './support/prometheus.ts';
import { startRedis } from './support/redis.ts';

const savedPath = process.env.PATH;
afterEach(() => {
  process.env.PATH = savedPath;
});

describe('missing server binaries', () => {
  it('finds the installed ones on PATH', () => {
    expect(requireBinary('redis-server')).toMatch(/\/redis-server$/);
  });

  it('names the binary and its Debian package for every server the tests run', () => {
    for (const [binary, pkg] of Object.entries(DEBIAN_PACKAGE)) {
      expect(() => requireBinary(binary, '/nonexistent')).toThrow(
        new RegExp(`^${binary} is not installed .*Debian package ${pkg}`),
      );
    }
  });

  it('startRedis, startPrometheus and startAlertmanager reject with MissingBinaryError instead of crashing', async () => {
    process.env.PATH = '/nonexistent';
    await expect(startRedis()).rejects.toThrow(/redis-server is not installed .*Debian package redis-server/);
    await expect(startPrometheus({ scrapeTargets: ['127.0.0.1:1'] })).rejects.toBeInstanceOf(
      MissingBinaryError,
    );
    await expect(
      startAlertmanager({ config: 'route: { receiver: x }\nreceivers: [{ name: x }]\n' }),
    ).rejects.toThrow(/prometheus-alertmanager is not installed .*Debian package prometheus-alertmanager/);
  });

  it('a binary that is not executable fails the start-up, not the process', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'llmsec-nobin-'));
    try {
      const file = join(dir, 'redis-server');
      await writeFile(file, '#!/bin/sh\n', { mode: 0o644 });
      await expect(startServer(file, () => [], { ready: () => true })).rejects.toBeInstanceOf(
        MissingBinaryError,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
