import { createHash } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterEach } from 'vitest';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { CAS_LUA, CLOCK_LUA } from '../src/state/redis-scripts.ts';

const CAS_SHA = createHash('sha1').update(CAS_LUA).digest('hex');
const CLOCK_SHA = createHash('sha1').update(CLOCK_LUA).digest('hex');
/** The clock script sent whole: ioredis's first call of a script on a new connection is an EVAL. */
const CLOCK_TEXT = CLOCK_LUA.slice(0, 64);

/** A TCP proxy to a redis-server that can hold Redis's replies to a group write, or cut it. */
export interface ReplyHoldProxy {
  port: number;
  /**
   * Armed with 'hold', the next group write (the compare-and-set script with a body) goes to
   * Redis and Redis's replies on that connection wait until `release()`; with 'drop', the
   * connection is cut instead, the write never sent. With `what` 'clock', the command armed for
   * is a round's first call instead (the clock script): 'drop' then fails a round before any of
   * its group writes is sent. `skip`: that many such commands pass first.
   */
  arm(how: 'hold' | 'drop', what?: 'write' | 'clock', skip?: number): void;
  release(): void;
  /**
   * From now on every command of every connection goes to Redis alone, `ms` after the previous
   * one of its connection: a Redis answering each call slowly, yet never so slowly that the
   * command timeout (on progress: any reply) passes.
   */
  trickle(ms: number): void;
  close(): Promise<void>;
}

export async function replyHoldProxy(port: number): Promise<ReplyHoldProxy> {
  let armed: 'hold' | 'drop' | undefined;
  let armedFor: 'write' | 'clock' = 'write';
  let skipping = 0;
  let trickleMs = 0;
  const releases: Array<() => void> = [];
  const sockets = new Set<Socket>();
  const proxy: Server = createServer((down) => {
    sockets.add(down);
    const up = connect(port, '127.0.0.1');
    sockets.add(up);
    let holding = false;
    const held: Buffer[] = [];
    let queued = Buffer.alloc(0);
    let pumping = false;
    const pump = (): void => {
      const end = commandEnd(queued);
      if (end < 0 || up.destroyed) {
        pumping = false;
        return;
      }
      pumping = true;
      up.write(queued.subarray(0, end));
      queued = queued.subarray(end);
      setTimeout(pump, trickleMs);
    };
    down.on('data', (d: Buffer) => {
      if (trickleMs > 0) {
        queued = Buffer.concat([queued, d]);
        if (!pumping) setTimeout(pump, trickleMs);
        pumping = true;
        return;
      }
      // A read is the script with an empty body (a few dozen bytes); a write carries the group.
      const hit =
        armedFor === 'clock'
          ? d.includes(CLOCK_SHA) || d.includes(CLOCK_TEXT)
          : d.includes(CAS_SHA) && d.length > 200;
      if (armed !== undefined && hit && skipping > 0) skipping--;
      else if (armed !== undefined && hit) {
        const how = armed;
        armed = undefined;
        if (how === 'drop') {
          down.destroy();
          return;
        }
        holding = true;
        releases.push(() => {
          holding = false;
          for (const b of held.splice(0)) down.write(b);
        });
      }
      up.write(d);
    });
    up.on('data', (d: Buffer) => (holding ? held.push(d) : down.write(d)));
    down.on('error', () => up.destroy());
    up.on('error', () => down.destroy());
    down.on('close', () => up.destroy());
    up.on('close', () => down.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  return {
    port: (proxy.address() as { port: number }).port,
    arm: (how, what = 'write', skip = 0) => {
      armed = how;
      armedFor = what;
      skipping = skip;
    },
    release: () => {
      for (const r of releases.splice(0)) r();
    },
    trickle: (ms) => {
      trickleMs = ms;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      sockets.clear();
      await new Promise<void>((r) => proxy.close(() => r()));
    },
  };
}

/**
 * The end of the first whole command in `buf` (a client's RESP request: an array of bulk
 * strings), or -1 while it has not all come.
 */
function commandEnd(buf: Buffer): number {
  const line = (from: number): [number, number] | undefined => {
    const eol = buf.indexOf('\r\n', from);
    return eol < 0 ? undefined : [Number(buf.subarray(from + 1, eol).toString()), eol + 2];
  };
  const head = line(0);
  if (head === undefined) return -1;
  let [n, at] = head;
  for (; n > 0; n--) {
    const bulk = line(at);
    if (bulk === undefined) return -1;
    at = bulk[1] + bulk[0] + 2;
    if (at > buf.length) return -1;
  }
  return at;
}

/**
 * An ioredis client as the detector's: no offline queue, and a write on a cut connection fails
 * instead of being sent again once reconnected.
 */
export async function heldReplyClient(port: number): Promise<Redis> {
  const c = new Redis(port, '127.0.0.1', {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: () => 50,
    autoResendUnfulfilledCommands: false,
  });
  c.on('error', () => {});
  await c.connect();
  return c;
}

/**
 * A test file's redis-server behind a reply-holding proxy, and its clients: what each test
 * starts is stopped after it (and by `stop()`, between two runs of one test).
 */
export function useHeldReplyRedis(): {
  /** A fresh redis-server and a proxy in front of it. */
  start(): Promise<{ server: RedisHandle; proxy: ReplyHoldProxy }>;
  /** A heldReplyClient on `port` (the proxy's or the server's), disconnected after the test. */
  client(port: number): Promise<Redis>;
  stop(): Promise<void>;
} {
  let server: RedisHandle | undefined;
  let proxy: ReplyHoldProxy | undefined;
  const clients: Redis[] = [];
  const stop = async (): Promise<void> => {
    for (const c of clients.splice(0)) c.disconnect();
    await proxy?.close();
    proxy = undefined;
    await server?.stop();
    server = undefined;
  };
  afterEach(stop);
  return {
    async start() {
      server = await startRedis();
      proxy = await replyHoldProxy(server.port);
      return { server, proxy };
    },
    async client(port) {
      const c = await heldReplyClient(port);
      clients.push(c);
      return c;
    },
    stop,
  };
}
