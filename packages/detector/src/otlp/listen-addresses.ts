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
 * unbracketed) itself; a name, every address it resolves to, once each, in the resolver's order.
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
  if (addresses.length > MAX_ADDRESSES)
    throw new Error(`${host} resolves to ${addresses.length} addresses (at most ${MAX_ADDRESSES})`);
  return addresses;
}

/**
 * Listens one server per address, all on one port: when `port` is 0 the first picks it and the
 * others take the same (as grpc-js does for a name). Resolves with the servers and the port;
 * if one cannot listen, closes those that did and rejects with its error.
 */
export async function listenOnAll(
  make: () => Server,
  addresses: readonly string[],
  port: number,
): Promise<{ servers: Server[]; port: number }> {
  const servers: Server[] = [];
  let bound = port;
  try {
    for (const address of addresses) {
      const server = make();
      servers.push(server);
      bound = await listen(server, address, bound);
    }
  } catch (err) {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    throw err;
  }
  return { servers, port: bound };
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
