import { connect } from 'node:net';
import { Redis } from 'ioredis';

/**
 * Checks that the real services the user asked for are there before anything starts, so a
 * typo in a URL is one clear line and a non-zero exit, not a minute of fallback behaviour.
 */
export async function checkRedis(url: string): Promise<void> {
  const client = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    throw new Error(`cannot reach Redis at ${url}: ${(err as Error).message}`);
  } finally {
    client.disconnect();
  }
}

export async function checkAlertmanager(url: string): Promise<void> {
  const ready = new URL('/-/ready', url);
  try {
    const res = await fetch(ready, { signal: AbortSignal.timeout(3000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
  } catch (err) {
    throw new Error(`cannot reach Alertmanager at ${url} (${ready.href}): ${(err as Error).message}`);
  }
}

/** OTLP/HTTP receivers answer only POSTs on signal paths: a TCP connect is the honest check. */
export async function checkTcp(url: string, what: string): Promise<void> {
  const { hostname, port, protocol } = new URL(url);
  const portNumber = Number(port || (protocol === 'https:' ? 443 : 80));
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host: hostname, port: portNumber, timeout: 2000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(new Error(`cannot reach ${what} at ${url}: timed out`));
    });
    socket.once('error', (err) => reject(new Error(`cannot reach ${what} at ${url}: ${err.message}`)));
  });
}
