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
 * - Order: exactly the calls' order, as one connection's FIFO gave it before. Calls of one
 *   script in a batch run in call order; a call joins its script's open batch only when no
 *   call in a later batch touches one of its keys (moving it ahead of calls on other keys is
 *   unobservable), else it opens a new batch after them. And any other command sent on the
 *   client (reset, a violation, a non-baked script, another store's call, the caller's own
 *   QUIT) first flushes the pending calls, so it cannot overtake a call made before it: a
 *   settle followed by quit() in the same tick still reaches Redis.
 * - Failures: a batch that fails as a whole (connection, NOSCRIPT twice, a reply that does
 *   not parse) rejects each of its calls with that error, as each would have failed alone; a
 *   call whose own command fails inside the batch is rejected with a ReplyError carrying the
 *   message Redis raised, and the others are answered. The limiter's timeout and failure
 *   policy apply per call, unchanged.
 * - Redis Cluster: not used (RedisStore keeps one EVALSHA per call). A script may only touch
 *   one slot, and random subjects rarely share one: 64 concurrent calls over 16,384 slots
 *   give about 0.12 pairs, so grouping by slot would batch almost nothing.
 */
import { ReplyError } from 'ioredis';
import { batchedScript, splitBatchReply, type BatchPart } from './redis-lua-batch.ts';
import { evalSha, type EvalClient, type ShaScript } from './redis-script.ts';

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
  map: (reply: Buffer) => unknown;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

export class ScriptCoalescer {
  /** Off: every call is its own EVALSHA (the differential tests' and benchmarks' reference). */
  enabled = true;
  /** Caps of one batched EVALSHA (fields so that tests can reach them with a few calls). */
  maxCalls = MAX_BATCH_CALLS;
  maxBytes = MAX_BATCH_BYTES;
  private readonly client: EvalClient;
  /** Calls of this tick in call order. */
  private pending: Pending[] = [];
  private scheduled = false;
  /** The coalescers of this client with calls pending (flushed before any other command). */
  private readonly clientPending: Set<ScriptCoalescer>;

  constructor(client: EvalClient) {
    this.client = client;
    this.clientPending = keepClientOrder(client);
  }

  /** Runs `script` with `args` (numKeys, keys, argv) like evalSha, batched with same-tick calls of the same script. */
  run<T>(script: ShaScript, args: Arg[], map: (reply: Buffer) => T): Promise<T> {
    if (!this.enabled) return evalSha(this.client, script, args, map);
    return new Promise<T>((resolve, reject) => {
      let size = 0;
      for (const a of args) size += typeof a === 'string' ? a.length : 16;
      const call: Pending = { script, args, size, map, resolve: resolve as (v: unknown) => void, reject };
      this.pending.push(call);
      if (!this.scheduled) {
        this.scheduled = true;
        this.clientPending.add(this);
        process.nextTick(this.flush);
      }
    });
  }

  /** Sends the pending calls now (on nextTick, or before another command on the client). */
  readonly flush = (): void => {
    if (!this.scheduled) return;
    this.scheduled = false;
    this.clientPending.delete(this);
    const calls = this.pending;
    this.pending = [];
    for (const batch of orderedBatches(calls, this.maxCalls, this.maxBytes)) {
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
            call.reject(new ReplyError(part.message) as Error);
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
function orderedBatches(calls: Pending[], maxCalls: number, maxBytes: number): Pending[][] {
  const batches: { calls: Pending[]; bytes: number }[] = [];
  const openBatch = new Map<ShaScript, number>();
  const lastBatchOfKey = new Map<Arg, number>();
  for (const call of calls) {
    const numKeys = call.args[0] as number;
    let at = openBatch.get(call.script);
    if (at !== undefined) {
      const b = batches[at]!;
      if (b.calls.length >= maxCalls || b.bytes + call.size > maxBytes) at = undefined;
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

/** Per client, its coalescers with calls pending. */
const pendingByClient = new WeakMap<object, Set<ScriptCoalescer>>();

/**
 * Makes every command sent on `client` (ioredis's single entry point, sendCommand) first flush
 * the calls its coalescers still hold, so that nothing sent later in the tick (a reset, a
 * violation, QUIT) runs before them; installed once per client, a no-op while none is pending.
 */
function keepClientOrder(client: EvalClient): Set<ScriptCoalescer> {
  const known = pendingByClient.get(client);
  if (known !== undefined) return known;
  const set = new Set<ScriptCoalescer>();
  pendingByClient.set(client, set);
  const c = client as unknown as { sendCommand?: (...args: unknown[]) => unknown };
  const send = c.sendCommand;
  if (typeof send === 'function') {
    c.sendCommand = function (this: unknown, ...args: unknown[]): unknown {
      // flush() removes its coalescer from the set, and its own EVALSHAs come back through here.
      if (set.size > 0) for (const q of [...set]) q.flush();
      return send.apply(this, args);
    };
  }
  return set;
}
