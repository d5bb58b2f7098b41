// The detector started with --state redis://… while that Redis is down: it starts (detecting
// locally), and says so where operators look: llmsec_detector_state_healthy 0 from the start
// ("Detection state store reachable (1) or not (0)"), and a warning per outage, not one per
// reconnection attempt.
import { EventEmitter } from 'node:events';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startDetectorWith } from './service-support.ts';
import type { Logger } from '../src/service/log.ts';
import { loadConfig } from '../src/service/config.ts';
import { startDetector } from '../src/service/detector.ts';
import { logRedisOutages } from '../src/service/redis-outage-log.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('detector with its Redis state down', () => {
  it('reports the store unhealthy from the start, and warns once per outage', async () => {
    const port = await closedPort();
    const dir = mkdtempSync(join(tmpdir(), 'llmsec-detector-state-down-'));
    const file = join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({
        otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' },
        state: `redis://127.0.0.1:${port}`,
      }),
    );
    const warnings: string[] = [];
    const logger: Logger = { debug() {}, info() {}, warn: (msg) => warnings.push(msg), error() {} };
    const detector = await startDetector({ config: loadConfig(file), logger }); // waits up to 5 s
    try {
      await new Promise((r) => setTimeout(r, 1_500)); // more reconnection attempts
      const text = await (await fetch(`http://127.0.0.1:${detector.http.port}/metrics`)).text();
      expect(text).toMatch(/llmsec_detector_state_healthy\{store="redis"[^}]*\} 0/);
      expect(warnings.filter((w) => w === 'state redis error')).toHaveLength(1);
      expect(warnings).toContain('state redis not reachable at start; detecting locally until it is');
    } finally {
      await detector.shutdown();
    }
  }, 20_000);

  it('memory state is always healthy', async () => {
    const { detector } = await startDetectorWith('state-memory', () => ({}));
    try {
      const text = await (await fetch(`http://127.0.0.1:${detector.http.port}/metrics`)).text();
      expect(text).toMatch(/llmsec_detector_state_healthy\{store="memory"[^}]*\} 1/);
    } finally {
      await detector.shutdown();
    }
  });

  it('logRedisOutages: a warning at the first error of an outage, the rest counted into the reconnection line', () => {
    const lines: [string, string, Record<string, unknown> | undefined][] = [];
    const logger: Logger = {
      debug() {},
      info: (msg, f) => lines.push(['info', msg, f]),
      warn: (msg, f) => lines.push(['warn', msg, f]),
      error() {},
    };
    const client = new EventEmitter();
    logRedisOutages(client as never, logger, 'state redis');
    client.emit('ready'); // first connection: nothing to say
    for (let i = 0; i < 3; i++) client.emit('error', new Error('ECONNREFUSED'));
    client.emit('ready');
    client.emit('error', new Error('ETIMEDOUT'));
    expect(lines.map(([level, msg]) => `${level} ${msg}`)).toEqual([
      'warn state redis error',
      'info state redis reachable again',
      'warn state redis error',
    ]);
    expect(lines[1]![2]).toEqual({ errors_not_logged: 2 });
  });
});
