/**
 * Coalescing of concurrent script calls: calls of the same straight-line script made in the
 * same tick go to Redis as ONE EVALSHA of its batched variant (redis-lua-batch.ts) instead of
 * one EVALSHA each. Under concurrency the per-command fixed costs dominate both processes
 * (Redis: command parse, script lookup, Lua call set-up, TIME, reply; Node: the command
 * object, its socket write, its promise, its reply parse); a batch pays them once.
 *
 * - A lone call (c=1, or one call of its script in the tick) goes out exactly as before, one
 *   EVALSHA of the script itself. Pending calls are flushed on process.nextTick (after the
 *   microtasks of the current turn, never on a timer): no added latency.
 * - Batches are capped (MAX_BATCH_CALLS calls, MAX_BATCH_BYTES of keys and arguments), so a
 *   flood of calls in one tick becomes several bounded commands, never one unbounded one.
 * - Order: exactly the calls' order, as one connection's FIFO gave it before. The calls of
 *   every store on a client wait in one queue; calls of one script in a batch run in call
 *   order; a call joins its script's open batch only when no call in a later batch touches
 *   one of its keys (moving it ahead of calls on other keys is unobservable), else it opens a
 *   new batch after them. And any other command sent on the client (reset, a violation, a
 *   non-baked script, a store with coalescing off, the caller's own QUIT), and disconnect(),
 *   first flush the queue, so they cannot overtake a call made before them: a settle
 *   followed by quit() in the same tick still reaches Redis.
 * - Failures: a batch that fails as a whole (connection, NOSCRIPT twice, a reply that does
 *   not parse) rejects each of its calls with that error, as each would have failed alone; a
 *   call whose own command fails inside the batch (or that returns an error reply) is
 *   rejected with a ReplyError carrying Redis's message, and the others are answered. The limiter's timeout and failure
 *   policy apply per call, unchanged.
 * - Redis Cluster: not used (RedisStore keeps one EVALSHA per call). A script may only touch
 *   one slot, and random subjects rarely share one: 64 concurrent calls over 16,384 slots
 *   give about 0.12 pairs, so grouping by slot would batch almost nothing.
 */
import { ReplyError } from 'ioredis';
import { untraced } from '@llmsec/core/internal';
import { batchedScript, splitBatchReply, type BatchPart } from './redis-lua-batch.ts';
import { evalSha, explainScriptError, type EvalClient, type ShaScript } from './redis-script.ts';

type Arg = string | number;

/** Calls per batched EVALSHA at most (64 in flight from one process make two batches). */
export const MAX_BATCH_CALLS = 32;
/** Characters of keys and arguments per batched EVALSHA at most (keys are <= ~160 characters each). */
export const MAX_BATCH_BYTES = 64 * 1024;

interface Pending {
  script: ShaScript;
  /** numKeys, keys, arguments: the call as a single EVALSHA would send it. */
  args: Arg[];
  size: number;
  /** Whose caps apply to the batch of this call. */
  owner: ScriptCoalescer;
  map: (reply: Buffer) => unknown;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

/** One store's view: its switch and caps; its calls wait in its client's queue. */
export class ScriptCoalescer {
  /** Off: every call is its own EVALSHA (the differential tests' and benchmarks' reference). */
  enabled = true;
  /** Caps of one batched EVALSHA (fields so that tests can reach them with a few calls). */
  maxCalls = MAX_BATCH_CALLS;
  maxBytes = MAX_BATCH_BYTES;
  private readonly client: EvalClient;
  /** Its client's queue, looked up at the first coalesced call (a Cluster client is never touched). */
  private queue: ClientQueue | undefined;

  constructor(client: EvalClient) {
    this.client = client;
  }

  /** Runs `script` with `args` (numKeys, keys, argv) like evalSha, batched with same-tick calls of the same script. */
  run<T>(script: ShaScript, args: Arg[], map: (reply: Buffer) => T): Promise<T> {
    if (!this.enabled) return evalSha(this.client, script, args, map);
    const queue = (this.queue ??= clientQueue(this.client));
    return new Promise<T>((resolve, reject) => {
      let size = 0;
      for (const a of args) size += typeof a === 'string' ? a.length : 16;
      const resolveAny = resolve as (v: unknown) => void;
      queue.push({ script, args, size, owner: this, map, resolve: resolveAny, reject });
    });
  }
}

/**
 * The calls of one client's tick, of every store on it, in call order: one queue per client,
 * so that calls of two stores sharing a client keep their order too.
 */
class ClientQueue {
  private readonly client: EvalClient;
  private calls: Pending[] = [];
  private scheduled = false;

  constructor(client: EvalClient) {
    this.client = client;
  }

  /** Calls wait for the flush. */
  get pending(): boolean {
    return this.scheduled;
  }

  push(call: Pending): void {
    this.calls.push(call);
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.flush);
    }
  }

  /** Sends the pending calls now (on nextTick, or before any other command on the client). */
  readonly flush = (): void => {
    if (!this.scheduled) return;
    this.scheduled = false;
    const calls = this.calls;
    this.calls = [];
    for (const batch of orderedBatches(calls)) {
      if (batch.length === 1) this.sendOne(batch[0]!.script, batch[0]!);
      else this.sendBatch(batch[0]!.script, batch);
    }
  };

  private sendOne(script: ShaScript, call: Pending): void {
    let p: Promise<unknown>;
    try {
      p = evalSha(this.client, script, call.args, call.map);
    } catch (err) {
      p = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    p.then(call.resolve, call.reject);
  }

  private sendBatch(script: ShaScript, calls: Pending[]): void {
    const first = calls[0]!.args;
    const keysPerCall = first[0] as number;
    const argsPerCall = first.length - 1 - keysPerCall;
    const keys: Arg[] = [];
    const argv: Arg[] = [];
    for (const c of calls) {
      const a = c.args;
      if (a[0] !== keysPerCall || a.length !== first.length) {
        // One script always takes the same shape; should it not, each call goes alone.
        for (const x of calls) this.sendOne(script, x);
        return;
      }
      for (let i = 1; i <= keysPerCall; i++) keys.push(a[i]!);
      for (let i = 1 + keysPerCall; i < a.length; i++) argv.push(a[i]!);
    }
    let batch: ShaScript;
    try {
      batch = batchedScript(script, keysPerCall, argsPerCall);
    } catch {
      // Not a straight-line script (cannot happen for the scripts RedisStore bakes): one by one.
      for (const c of calls) this.sendOne(script, c);
      return;
    }
    let reply: Promise<BatchPart[]>;
    try {
      reply = evalSha(this.client, batch, [keys.length, ...keys, ...argv], (r) =>
        splitBatchReply(r, calls.length),
      );
    } catch (err) {
      // A client that throws instead of rejecting: the batch's calls fail, the other batches go on.
      reply = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    reply.then(
      (parts) => {
        for (let i = 0; i < calls.length; i++) {
          const part = parts[i]!;
          const call = calls[i]!;
          if (!part.ok) {
            call.reject(explainScriptError(new ReplyError(part.message)) as Error);
            continue;
          }
          let value: unknown;
          try {
            value = call.map(part.reply);
          } catch (err) {
            call.reject(err instanceof Error ? err : new Error(String(err)));
            continue;
          }
          call.resolve(value);
        }
      },
      (err: unknown) => {
        const e = err instanceof Error ? err : new Error(String(err));
        for (const c of calls) c.reject(e);
      },
    );
  }
}

/**
 * `calls` (call order) cut into batches of one script each, sent in the returned order, such
 * that every two calls sharing a key run in call order: a call joins its script's last batch
 * only if that batch has room and no later batch touches any of its keys.
 */
function orderedBatches(calls: Pending[]): Pending[][] {
  const batches: { calls: Pending[]; bytes: number }[] = [];
  const openBatch = new Map<ShaScript, number>();
  const lastBatchOfKey = new Map<Arg, number>();
  for (const call of calls) {
    const numKeys = call.args[0] as number;
    let at = openBatch.get(call.script);
    if (at !== undefined) {
      const b = batches[at]!;
      if (b.calls.length >= call.owner.maxCalls || b.bytes + call.size > call.owner.maxBytes) at = undefined;
      else {
        for (let i = 1; i <= numKeys; i++) {
          if ((lastBatchOfKey.get(call.args[i]!) ?? -1) > at) {
            at = undefined;
            break;
          }
        }
      }
    }
    if (at === undefined) {
      at = batches.length;
      batches.push({ calls: [], bytes: 0 });
      openBatch.set(call.script, at);
    }
    const b = batches[at]!;
    b.calls.push(call);
    b.bytes += call.size;
    for (let i = 1; i <= numKeys; i++) lastBatchOfKey.set(call.args[i]!, at);
  }
  return batches.map((b) => b.calls);
}

const queues = new WeakMap<object, ClientQueue>();

/**
 * The client's queue, created on first use. Every command sent on the client (through
 * ioredis's single entry point, sendCommand), and disconnect(), first flush the queue, so
 * that nothing sent later in the tick (a reset, a violation, a store with coalescing off,
 * QUIT) runs before the calls made earlier; a no-op while nothing is pending, and for the
 * queue's own EVALSHAs (flush clears `scheduled` before it sends).
 */
function clientQueue(client: EvalClient): ClientQueue {
  const known = queues.get(client);
  if (known !== undefined) return known;
  const queue = new ClientQueue(client);
  queues.set(client, queue);
  // disconnect() closes the socket without a command: flushed first too, so that calls made
  // before it are written before the close, as they were when each went out at once.
  const c = client as unknown as Record<
    'sendCommand' | 'disconnect',
    ((...args: unknown[]) => unknown) | undefined
  >;
  for (const name of ['sendCommand', 'disconnect'] as const) {
    const original = c[name];
    if (typeof original !== 'function') continue;
    c[name] = function (this: unknown, ...args: unknown[]): unknown {
      // Flushed in llmsec's own context, not that of whoever sends this command (a user's span
      // and baggage must not reach the limiter's batch; instrumentation patches sendCommand).
      if (queue.pending) untraced(queue.flush);
      return original.apply(this, args);
    };
  }
  return queue;
}
