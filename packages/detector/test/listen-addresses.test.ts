// A listen host given as a name stands for every address it resolves to (Node's own
// listen(port, name) binds the first only), each listened on at one port.
import { lookup } from 'node:dns/promises';
import { connect, createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { listenAddresses, listenOnAll } from '../src/otlp/listen-addresses.ts';

const reach = (host: string, port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect(port, host);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

const close = (servers: Server[]): Promise<unknown> =>
  Promise.all(servers.map((s) => new Promise((r) => s.close(r))));

describe('listenAddresses', () => {
  it('keeps an IP literal as it is (brackets off), without a lookup', async () => {
    expect(await listenAddresses('0.0.0.0')).toEqual(['0.0.0.0']);
    expect(await listenAddresses('::')).toEqual(['::']);
    expect(await listenAddresses('[::1]')).toEqual(['::1']);
  });

  it('gives every address a name resolves to, once each', async () => {
    const expected = [...new Set((await lookup('localhost', { all: true })).map((a) => a.address))];
    expect(await listenAddresses('localhost')).toEqual(expected);
  });

  it('says which name does not resolve', async () => {
    await expect(listenAddresses('no-such-host.invalid')).rejects.toThrow(
      /cannot resolve no-such-host\.invalid/,
    );
  });
});

describe('listenOnAll', () => {
  it('listens on each address at the one port the first picked', async () => {
    const { servers, port } = await listenOnAll(() => createServer((s) => s.end()), ['127.0.0.1', '::1'], 0);
    try {
      expect(servers.map((s) => (s.address() as { address: string; port: number }).address)).toEqual([
        '127.0.0.1',
        '::1',
      ]);
      expect(servers.every((s) => (s.address() as { port: number }).port === port)).toBe(true);
      expect(await reach('127.0.0.1', port)).toBe(true);
      expect(await reach('::1', port)).toBe(true);
    } finally {
      await close(servers);
    }
  });

  // A name's records may hold an address this host does not have: ::1 in /etc/hosts where IPv6
  // is off (containers), a DNS record for another host. Node's listen(port, name) bound the
  // first address only and grpc-js binds what it can, so the detector started; it must still.
  it('skips an address this host does not have while another listens (the first to bind picks port 0)', async () => {
    const { servers, port, unavailable } = await listenOnAll(
      () => createServer((s) => s.end()),
      ['203.0.113.1', '127.0.0.1', '2001:db8::1'],
      0,
    );
    try {
      expect(unavailable).toEqual(['203.0.113.1', '2001:db8::1']);
      expect(servers).toHaveLength(1);
      expect(port).toBeGreaterThan(0);
      expect(servers[0]!.address()).toMatchObject({ address: '127.0.0.1', port });
      expect(await reach('127.0.0.1', port)).toBe(true);
    } finally {
      await close(servers);
    }
  });

  // mDNS (`box.local`) and some resolvers answer with a link-local IPv6 address; the answer
  // carries no interface (scope), and listen() refuses it (EINVAL).
  it('skips a link-local IPv6 address without its interface while another listens', async () => {
    const { servers, unavailable } = await listenOnAll(() => createServer(), ['fe80::1234', '127.0.0.1'], 0);
    try {
      expect(unavailable).toEqual(['fe80::1234']);
      expect(servers.map((s) => (s.address() as { address: string }).address)).toEqual(['127.0.0.1']);
    } finally {
      await close(servers);
    }
  });

  it('rejects when no address is one of this host, with the first error', async () => {
    await expect(listenOnAll(() => createServer(), ['203.0.113.1', '2001:db8::1'], 0)).rejects.toThrow(
      /EADDRNOTAVAIL.*203\.0\.113\.1/,
    );
    await expect(listenOnAll(() => createServer(), ['203.0.113.1'], 0)).rejects.toThrow(/EADDRNOTAVAIL/);
  });

  it('closes those listening when one address cannot, and rejects with its error', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '::1', r));
    const port = (taken.address() as { port: number }).port;
    const made: Server[] = [];
    try {
      await expect(
        listenOnAll(
          () => {
            const s = createServer();
            made.push(s);
            return s;
          },
          ['127.0.0.1', '::1'],
          port,
        ),
      ).rejects.toThrow(/EADDRINUSE/);
      expect(made).toHaveLength(2);
      expect(made.every((s) => !s.listening)).toBe(true);
      expect(await reach('127.0.0.1', port)).toBe(false);
    } finally {
      await close([taken]);
    }
  });
});
