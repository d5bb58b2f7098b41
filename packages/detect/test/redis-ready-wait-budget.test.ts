import { createServer, connect, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { until } from '../../../test/support/until.ts';
import { RedisDetectionState } from '../src/index.ts';
import { freshRuleset } from './redis-support.ts';

/**
 * A call made while the client reconnects waits for its ready (ReadyWait) under the command
 * timeout. The wait is not Redis being stuck: once the client is ready (Redis answered its ready
 * check), the call gets the whole timeout for its reply. Before, the time spent waiting counted
 * against it, so a call resumed late in the window had only the rest for its reply (a script's
 * NOSCRIPT / EVAL round trip after a restart, a loaded Redis): the round failed over to the
 * fallback right after Redis came back, and a write already applied was counted twice.
 */

const COMMAND_TIMEOUT_MS = 1_500;

let server: RedisHandle | undefined;
let proxy: Server | undefined;
const sockets = new Set<Socket>();
const clients: Redis[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  for (const s of sockets) s.destroy();
  sockets.clear();
  await new Promise<void>((r) => (proxy ? proxy.close(() => r()) : r()));
  proxy = undefined;
  await server?.stop();
  server = undefined;
});

/** A TCP proxy to `port` that refuses connections (Redis down, as the client sees it) until opened. */
async function gate(port: number): Promise<{ port: number; open: () => void; close: () => void }> {
  let open = true;
  proxy = createServer((down) => {
    sockets.add(down);
    if (!open) {
      down.destroy();
      return;
    }
    const up = connect(port, '127.0.0.1');
    sockets.add(up);
    down.pipe(up).pipe(down);
    down.on('error', () => up.destroy());
    up.on('error', () => down.destroy());
    down.on('close', () => up.destroy());
    up.on('close', () => down.destroy());
  });
  await new Promise<void>((r) => proxy!.listen(0, '127.0.0.1', r));
  return {
    port: (proxy.address() as { port: number }).port,
    open: () => (open = true),
    close: () => {
      open = false;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
  };
}

it('a call resumed at the client ready gets the whole command timeout for its reply', async () => {
  server = await startRedis();
  const g = await gate(server.port);
  const client = new Redis(g.port, '127.0.0.1', {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: () => 50,
  });
  client.on('error', () => {});
  await client.connect();
  clients.push(client);
  const admin = new Redis(server.port, '127.0.0.1', { lazyConnect: true });
  await admin.connect();
  clients.push(admin);
  const state = new RedisDetectionState({
    redis: client,
    ruleset: freshRuleset('ready-wait-budget'),
    commandTimeoutMs: COMMAND_TIMEOUT_MS,
    shutdownGraceMs: 0,
  });
  expect(await state.ping()).toBe('OK');

  g.close();
  await until(() => client.status !== 'ready', 5_000, 5); // the client saw the connection drop
  const probe = state.ping(); // waits for the client's ready
  await new Promise((r) => setTimeout(r, COMMAND_TIMEOUT_MS * 0.6));
  // Redis back, slow to take writes (a ready check is a read): the reply comes 0.7 of the
  // timeout after the ready, 1.3 of it after the call was made.
  await admin.call('CLIENT', 'PAUSE', String(Math.round(COMMAND_TIMEOUT_MS * 0.7)), 'WRITE');
  g.open();
  expect(await probe).toBe('OK');
}, 30_000);
