import { createServer, connect, type Socket } from 'node:net';

/**
 * A TCP proxy to a local Redis that forwards one client's commands until it sends one naming
 * `marker` (that command included), then holds everything else that client sends until
 * `release()`: a deterministic way to make one process reach Redis later than another from a
 * given point on, with no timing in the test. Replies always flow.
 */
export async function heldAfter(
  redisPort: number,
  marker: string,
): Promise<{ url: string; readonly held: boolean; release: () => void; close: () => Promise<void> }> {
  let held = false;
  let released = false;
  const queued: { upstream: Socket; chunk: Buffer }[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(redisPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('data', (chunk: Buffer) => {
      if (held && !released) {
        queued.push({ upstream, chunk });
        return;
      }
      upstream.write(chunk);
      if (!released && chunk.toString('latin1').includes(marker)) held = true;
    });
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('gate: no port');
  return {
    url: `redis://127.0.0.1:${address.port}`,
    get held() {
      return held;
    },
    release() {
      released = true;
      for (const { upstream, chunk } of queued.splice(0)) upstream.write(chunk);
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
