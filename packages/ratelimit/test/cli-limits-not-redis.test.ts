// `llmsec limits ... --redis URL` where an HTTP server answers (a port slip: the app's own
// port, a proxy) printed ioredis's 'Protocol error, got "H" as reply type byte. Please report
// this.' (or 'Stream isn't writeable and enableOfflineQueue options is false'): the operator was
// asked to report a bug instead of told that the address does not speak Redis. And a server
// that accepted the connection and never answered held the command for ever (ioredis's
// connectTimeout ends at the TCP connect; the ready check had no bound).
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from './cli-run.ts';

let http: Server;
let url: string;
beforeAll(async () => {
  http = createServer((_req, res) => res.end('hello'));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  url = `redis://127.0.0.1:${(http.address() as AddressInfo).port}`;
});
afterAll(async () => {
  http.closeAllConnections();
  await new Promise((resolve) => http.close(resolve));
});

describe('llmsec limits --redis URL where no Redis answers', () => {
  it('says the server at the URL does not speak Redis', async () => {
    const r = await cli(['limits', 'show', 'someone', '--redis', url]);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toBe(
      `llmsec limits: cannot connect to Redis at ${url}: the server does not speak Redis: its first ` +
        `reply began with "H", where a Redis reply begins with +, -, :, $ or * (an HTTP server ` +
        `answers "HTTP/1.1 ..."); check the host and port\n`,
    );
    expect(r.err).not.toContain('report');
  });

  // With --cluster, ioredis said only "Failed to refresh slots cache." for both servers.
  it.each([[[]], [['--cluster']]])(
    'says when the server accepts the connection and never answers %j',
    async (mode: string[]) => {
      const sockets: Socket[] = [];
      const silent = createTcpServer((socket) => sockets.push(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const silentUrl = `redis://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      try {
        const r = await cli(['limits', 'show', 'someone', '--redis', silentUrl, ...mode]);
        expect(r.code).toBe(1);
        expect(r.err).toBe(
          `llmsec limits: cannot connect to Redis at ${silentUrl}: no Redis reply within 2000 ms: the ` +
            `server accepted the connection but did not answer; check the host and port\n`,
        );
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => silent.close(resolve));
      }
    },
    20_000,
  );

  it('--cluster: says the seed does not speak Redis', async () => {
    const r = await cli(['limits', 'show', 'someone', '--redis', url, '--cluster']);
    expect(r.code).toBe(1);
    expect(r.err).toContain(
      `llmsec limits: cannot connect to Redis at ${url}: the server does not speak Redis: its first reply began with "H"`,
    );
  }, 20_000);
});
