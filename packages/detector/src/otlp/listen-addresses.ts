// Where a receiver listens when its host is a name. Node's listen(port, name) looks the name up
// and binds the first address only, so `localhost` (127.0.0.1 and ::1 on most systems) listened
// on one of them, and a sender whose resolver gave it the other saw connection refused. A
// receiver listens on every address the name resolves to instead, as grpc-js binds its own
// servers (and as a sender connecting to the same name tries them).
import { lookup } from 'node:dns/promises';
import { isIP, type Server } from 'node:net';

/** At most this many addresses (a name resolving to more is refused: a listen address is not a pool). */
const MAX_ADDRESSES = 16;

/**
 * The addresses a listen host stands for: an IP literal (`0.0.0.0`, `::`, `127.0.0.1`; `[::1]`
 * unbracketed) itself; a name, every address it resolves to, once each, in the resolver's order
 * (at most MAX_ADDRESSES, no wildcard).
 */
export async function listenAddresses(host: string): Promise<string[]> {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(bare) !== 0) return [bare];
  let found: { address: string }[];
  try {
    found = await lookup(bare, { all: true });
  } catch (err) {
    throw new Error(`cannot resolve ${host}: ${(err as Error).message}`);
  }
  const addresses = [...new Set(found.map((a) => a.address))];
  if (addresses.length === 0) throw new Error(`${host} resolves to no address`);
  // A wildcard listens on every interface, public ones too: a name standing for it (`0.0.0.0
  // name` in /etc/hosts, as blocklists write, or a DNS answer) is refused, not taken.
  const wildcard = addresses.find((a) => /^[0:.]+$/.test(a));
  if (wildcard !== undefined)
    throw new Error(`${host} resolves to ${wildcard}, every interface: write 0.0.0.0 or [::] to mean that`);
  if (addresses.length > MAX_ADDRESSES)
    throw new Error(`${host} resolves to ${addresses.length} addresses (at most ${MAX_ADDRESSES})`);
  return addresses;
}

/**
 * What listen() says of an address this host does not have (EADDRNOTAVAIL: not on any of its
 * interfaces, ::1 with IPv6 off; EAFNOSUPPORT: no IPv6 at all). A name's records may hold one
 * (/etc/hosts lists ::1 where IPv6 is off; a DNS name with another host's address): Node's
 * listen(port, name) bound the first address only, and grpc-js binds the ones it can, so such a
 * name started a receiver before and still does. A port in use (EADDRINUSE) is not skipped.
 */
const NOT_THIS_HOST = new Set(['EADDRNOTAVAIL', 'EAFNOSUPPORT']);

/**
 * Whether listen()'s error says the address is none this host can listen on: NOT_THIS_HOST, or
 * EINVAL for a link-local IPv6 address (fe80::/10), which a resolver's answer (mDNS' `.local`)
 * gives without the interface it needs.
 */
function notThisHost(err: unknown, address: string): boolean {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  return NOT_THIS_HOST.has(code) || (code === 'EINVAL' && /^fe[89ab][0-9a-f]:/i.test(address));
}

/**
 * Listens one server per address, all on one port: when `port` is 0 the first to listen picks
 * it and the others take the same (as grpc-js does for a name). Resolves with the servers, the
 * port and the addresses skipped as not this host's (NOT_THIS_HOST, while another listens); if
 * one cannot listen otherwise, or none can, closes those that did and rejects with the (first)
 * error.
 */
export async function listenOnAll(
  make: () => Server,
  addresses: readonly string[],
  port: number,
): Promise<{ servers: Server[]; port: number; unavailable: string[] }> {
  const servers: Server[] = [];
  const unavailable: string[] = [];
  let firstUnavailable: unknown;
  let bound = port;
  try {
    for (const address of addresses) {
      const server = make();
      try {
        bound = await listen(server, address, bound);
      } catch (err) {
        if (!notThisHost(err, address)) throw err;
        unavailable.push(address);
        firstUnavailable ??= err;
        continue;
      }
      servers.push(server);
    }
    if (servers.length === 0) throw firstUnavailable;
  } catch (err) {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    throw err;
  }
  return { servers, port: bound, unavailable };
}

function listen(server: Server, address: string, port: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject); // Node's message names the address and port (EADDRINUSE ...)
    server.listen(port, address, () => {
      server.off('error', reject);
      resolve((server.address() as { port: number }).port);
    });
  });
}

/** `address:port`, an IPv6 address bracketed (`[::1]:4318`), for logs. */
export function addressPort(server: Server): string {
  const a = server.address();
  if (a === null || typeof a === 'string') return String(a);
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}
