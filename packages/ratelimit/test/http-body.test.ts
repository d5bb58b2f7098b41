import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { readJsonBody, RequestBodyError } from '../src/http/body.ts';
import { close, fetchRaw, listen } from './http-support.ts';

let server: Server | undefined;
afterEach(async () => {
  if (server) await close(server);
  server = undefined;
});

async function echoServer(limitBytes: number): Promise<number> {
  server = createServer((req, res) => {
    readJsonBody(req, { limitBytes })
      .then(async (body) => {
        const again = await readJsonBody(req, { limitBytes });
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ body: body ?? null, same: again === body }));
      })
      .catch((err: unknown) => {
        res.statusCode = err instanceof RequestBodyError ? err.status : 500;
        res.setHeader('connection', 'close');
        res.end(err instanceof Error ? err.message : 'error');
      });
  });
  return await listen(server);
}

describe('readJsonBody', () => {
  it('parses once and returns the same value on later calls', async () => {
    const port = await echoServer(1024);
    const res = await fetchRaw(port, { method: 'POST', body: { a: [1, 2, 3] } });
    expect(JSON.parse(res.body)).toEqual({ body: { a: [1, 2, 3] }, same: true });
  });

  it('an empty body is undefined', async () => {
    const port = await echoServer(1024);
    const res = await fetchRaw(port, { method: 'POST' });
    expect(JSON.parse(res.body)).toEqual({ body: null, same: true });
  });

  it('a body over the limit is refused with 413, and the response still reaches the client', async () => {
    const port = await echoServer(16);
    const res = await fetchRaw(port, { method: 'POST', body: { text: 'x'.repeat(100) } });
    expect(res.status).toBe(413);
    expect(res.body).toBe('request body exceeds 16 bytes');
  });

  it('a body that is not JSON is refused with 400', async () => {
    const port = await echoServer(1024);
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      void import('node:http').then(({ request }) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            agent: false,
            headers: { 'content-type': 'application/json' },
          },
          (r) => {
            let text = '';
            r.setEncoding('utf8');
            r.on('data', (c: string) => (text += c));
            r.on('end', () => resolve({ status: r.statusCode ?? 0, body: text }));
          },
        );
        req.on('error', reject);
        req.end('{not json');
      });
    });
    expect(res).toEqual({ status: 400, body: 'request body is not valid JSON' });
  });
});
