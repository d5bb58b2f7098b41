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
 * - Order: scripts in the order of their first call in the tick, calls of one script in call
 *   order. Calls pending in the same tick are concurrent (none has been answered before
 *   another was made), so every order is one their callers could have seen before.
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
  private pending = new Map<ShaScript, Pending[]>();
  private scheduled = false;

  constructor(client: EvalClient) {
    this.client = client;
  }

  /** Runs `script` with `args` (numKeys, keys, argv) like evalSha, batched with same-tick calls of the same script. */
  run<T>(script: ShaScript, args: Arg[], map: (reply: Buffer) => T): Promise<T> {
    if (!this.enabled) return evalSha(this.client, script, args, map);
    return new Promise<T>((resolve, reject) => {
      let size = 0;
      for (const a of args) size += typeof a === 'string' ? a.length : 16;
      const call: Pending = { args, size, map, resolve: resolve as (v: unknown) => void, reject };
      const queue = this.pending.get(script);
      if (queue === undefined) this.pending.set(script, [call]);
      else queue.push(call);
      if (!this.scheduled) {
        this.scheduled = true;
        process.nextTick(this.flush);
      }
    });
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const pending = this.pending;
    this.pending = new Map();
    for (const [script, calls] of pending) {
      let from = 0;
      while (from < calls.length) {
        let to = from;
        let bytes = 0;
        while (
          to < calls.length &&
          to - from < this.maxCalls &&
          (to === from || bytes + calls[to]!.size <= this.maxBytes)
        ) {
          bytes += calls[to]!.size;
          to++;
        }
        if (to - from === 1) this.sendOne(script, calls[from]!);
        else this.sendBatch(script, calls.slice(from, to));
        from = to;
      }
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
