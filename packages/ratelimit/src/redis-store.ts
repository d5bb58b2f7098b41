import { Cluster, type Redis } from 'ioredis';
import { WINDOW_DIMS } from './dimensions.ts';
import type { EnforcementParams } from './enforcement.ts';
import { attachBanIndex, BanIndex } from './redis-ban-index.ts';
import { leaseKey, rlKey } from './keys.ts';
import { ACQUIRE_LUA, BAN_LUA, LIFT_LUA, SETTLE_LUA, SNAPSHOT_LUA, VIOLATION_LUA } from './redis-lua.ts';
import { ScriptParams, enforcementValues } from './redis-params.ts';
import { parseAcquireReply, parseOneSubject, parseTwoSubjects } from './redis-reply.ts';
import { ScriptCoalescer } from './redis-coalesce.ts';
import type { EvalClient } from './redis-script.ts';
import {
  CODE_OK,
  type AcquireOp,
  type AcquireOutcome,
  type LimiterStore,
  type SettleOp,
  type SubjectOutcome,
  type SubjectSnapshot,
  type ViolationOutcome,
} from './store.ts';

export interface RedisStoreOptions {
  /**
   * An ioredis client (standalone `Redis` or `Cluster`), owned by the caller. Recommended:
   * `enableOfflineQueue: false` and `maxRetriesPerRequest: 1`, so commands fail fast while
   * Redis is down instead of queueing (the limiter's timeout bounds them either way).
   */
  client: Redis | Cluster;
  /** Treat the client as a Redis Cluster (secondary subjects then take a second round trip). @default client instanceof Cluster */
  cluster?: boolean;
}

type Arg = string | number | Buffer;
interface ScriptClient {
  llmsecAcquireBuffer(numKeys: number, ...args: Arg[]): Promise<Buffer>;
  llmsecSettle(numKeys: number, ...args: Arg[]): Promise<number>;
  llmsecViolation(numKeys: number, ...args: Arg[]): Promise<number[]>;
  llmsecSnapshot(numKeys: number, ...args: Arg[]): Promise<number[]>;
  llmsecLift(numKeys: number, ...args: Arg[]): Promise<number>;
  llmsecBan(numKeys: number, ...args: Arg[]): Promise<number>;
  del(...keys: string[]): Promise<number>;
}

/**
 * The shared store: one Lua script per operation, one round trip per acquire.
 *
 * Standalone Redis: primary and secondary subjects are checked and charged by one script,
 * atomically. Redis Cluster: the two subjects hash to different slots and no script may span
 * slots, so acquire is two-phase: reserve the secondary, then the primary, and roll the
 * secondary back if the primary refuses. Each subject is still atomic (no limit is ever
 * exceeded); between the two phases another request on the same secondary subject may see
 * the reservation that is about to be rolled back and be refused (conservative, never over-admits).
 *
 * Standalone Redis also coalesces: acquires (and settles) of one tier made in the same tick
 * go out as one EVALSHA of the script's batched variant, each call still atomic and exact
 * (redis-coalesce.ts); a lone call is sent as it always was.
 */
export class RedisStore implements LimiterStore {
  readonly name = 'redis';
  readonly synchronous = false;
  readonly cluster: boolean;
  private readonly client: ScriptClient;
  private readonly evalClient: EvalClient;
  private readonly params: ScriptParams;
  /** Same-tick calls of one baked script go out as one EVALSHA (standalone Redis only). */
  private readonly calls: ScriptCoalescer;

  constructor(options: RedisStoreOptions) {
    const client = options?.client as (Redis | Cluster) | undefined;
    if (!client || typeof client.defineCommand !== 'function') {
      throw new TypeError('RedisStore: options.client must be an ioredis Redis or Cluster instance');
    }
    this.cluster = options.cluster ?? client instanceof Cluster;
    client.defineCommand('llmsecAcquire', { lua: ACQUIRE_LUA });
    client.defineCommand('llmsecSettle', { lua: SETTLE_LUA });
    client.defineCommand('llmsecViolation', { lua: VIOLATION_LUA, numberOfKeys: 1 });
    client.defineCommand('llmsecSnapshot', { lua: SNAPSHOT_LUA, numberOfKeys: 2 });
    client.defineCommand('llmsecLift', { lua: LIFT_LUA, numberOfKeys: 1 });
    client.defineCommand('llmsecBan', { lua: BAN_LUA, numberOfKeys: 1 });
    this.client = client as unknown as ScriptClient;
    this.evalClient = client as unknown as EvalClient;
    this.params = new ScriptParams();
    this.calls = new ScriptCoalescer(this.evalClient);
    // Cluster: a script may touch one slot only, and concurrent subjects rarely share one.
    this.calls.enabled = !this.cluster;
    coalescers.set(this, this.calls);
    // The fleet's bans in one sorted set (redis-ban-index.ts), written and read by the limiter.
    attachBanIndex(this, new BanIndex(client));
  }

  acquire(op: AcquireOp): Promise<AcquireOutcome> {
    // Hot path: no async wrapper (one promise fewer per call).
    if (op.subjects.length < 2 || !this.cluster) return this.acquireOnce(op);
    return this.acquireTwoPhase(op);
  }

  private async acquireTwoPhase(op: AcquireOp): Promise<AcquireOutcome> {
    // Cluster, two subjects: secondary first, then primary, rolling the secondary back on refusal.
    const [primary, secondary] = op.subjects as [AcquireOp['subjects'][0], AcquireOp['subjects'][0]];
    const second = await this.acquireOnce({ ...op, subjects: [secondary] });
    if (second.code !== CODE_OK) {
      return { ...second, refusedSubject: 1, subjects: [unchecked(), second.subjects[0]!] };
    }
    let first: AcquireOutcome;
    try {
      first = await this.acquireOnce({ ...op, subjects: [primary] });
    } catch (err) {
      await this.rollback(op, secondary, second.subjects[0]!.factor);
      throw err;
    }
    if (first.code !== CODE_OK) await this.rollback(op, secondary, second.subjects[0]!.factor);
    return { ...first, subjects: [first.subjects[0]!, second.subjects[0]!] };
  }

  private async rollback(op: AcquireOp, sub: AcquireOp['subjects'][0], factor: number): Promise<void> {
    await this.settle({
      subjects: [{ subject: sub.subject, limits: sub.limits, factor }],
      leaseId: op.leaseId,
      enforcement: op.enforcement,
      requests: -1,
      tokens: -op.tokens,
      costMicroUsd: -op.costMicroUsd,
    });
  }

  private acquireOnce(op: AcquireOp): Promise<AcquireOutcome> {
    const subs = op.subjects;
    const params = this.params.acquire(op);
    const baked = this.params.baked(params, 'Acquire', op.leaseTtlMs);
    if (baked !== undefined) {
      // Short string arguments only: ioredis keeps its string path (no Buffer argument).
      if (subs.length === 1) {
        const subject = subs[0]!.subject;
        const args = baked.lean
          ? [1, rlKey(subject), op.tokens, op.costMicroUsd]
          : [2, rlKey(subject), leaseKey(subject), op.leaseId, op.tokens, op.costMicroUsd];
        return this.calls.run(baked, args, parseOneSubject);
      }
      const args: (string | number)[] = [2 * subs.length];
      for (const s of subs) args.push(rlKey(s.subject), leaseKey(s.subject));
      args.push(op.leaseId, op.tokens, op.costMicroUsd);
      return this.calls.run(baked, args, parseTwoSubjects);
    }
    const p =
      subs.length === 1
        ? this.client.llmsecAcquireBuffer(
            2,
            rlKey(subs[0]!.subject),
            leaseKey(subs[0]!.subject),
            op.leaseId,
            op.tokens,
            op.costMicroUsd,
            params,
            op.leaseTtlMs,
          )
        : this.client.llmsecAcquireBuffer(
            2 * subs.length,
            ...subs.flatMap((s) => [rlKey(s.subject), leaseKey(s.subject)]),
            op.leaseId,
            op.tokens,
            op.costMicroUsd,
            params,
            op.leaseTtlMs,
          );
    return p.then((r) => parseAcquireReply(r, subs.length));
  }

  settle(op: SettleOp): Promise<void> {
    const subs = op.subjects;
    if (subs.length > 1 && this.cluster) {
      return Promise.all(subs.map((s) => this.settle({ ...op, subjects: [s] }))).then(() => undefined);
    }
    const params = this.params.settle(op);
    const baked = this.params.baked(params, 'Settle', 0);
    if (baked !== undefined) {
      if (baked.lean) {
        const args = [1, rlKey(subs[0]!.subject), op.requests, op.tokens, op.costMicroUsd];
        return this.calls.run(baked, args, ignore);
      }
      const args: (string | number)[] = [2 * subs.length];
      for (const s of subs) args.push(rlKey(s.subject), leaseKey(s.subject));
      args.push(op.leaseId, op.requests, op.tokens, op.costMicroUsd);
      return this.calls.run(baked, args, ignore);
    }
    const p =
      subs.length === 1
        ? this.client.llmsecSettle(
            2,
            rlKey(subs[0]!.subject),
            leaseKey(subs[0]!.subject),
            op.leaseId,
            op.requests,
            op.tokens,
            op.costMicroUsd,
            params,
          )
        : this.client.llmsecSettle(
            2 * subs.length,
            ...subs.flatMap((s) => [rlKey(s.subject), leaseKey(s.subject)]),
            op.leaseId,
            op.requests,
            op.tokens,
            op.costMicroUsd,
            params,
          );
    return p.then(ignore);
  }

  async violation(subject: string, weight: number, p: EnforcementParams): Promise<ViolationOutcome> {
    const args: Arg[] = [rlKey(subject), weight];
    pushParams(args, p);
    const r = await this.client.llmsecViolation(...(args as [number, ...Arg[]]));
    return { prevLevel: r[0]!, level: r[1]!, score: r[2]! / 1000 };
  }

  async snapshot(subject: string, p: EnforcementParams): Promise<SubjectSnapshot> {
    const args: Arg[] = [rlKey(subject), leaseKey(subject), 0];
    pushParams(args, p);
    const r = await this.client.llmsecSnapshot(...(args as [number, ...Arg[]]));
    const busyMs = r.slice(1, 1 + WINDOW_DIMS).map((us) => us / 1000);
    const at = 1 + WINDOW_DIMS;
    return {
      nowMs: r[0]!,
      busyMs,
      leases: r[at]!,
      score: r[at + 1]! / 1000,
      blockedUntilMs: r[at + 2]!,
      banned: r[at + 3] === 1,
      level: r[at + 4]!,
    };
  }

  async reset(subject: string): Promise<void> {
    await this.client.del(rlKey(subject), leaseKey(subject));
  }

  async lift(subject: string, p: EnforcementParams): Promise<number> {
    const args: Arg[] = [rlKey(subject), 0];
    pushParams(args, p);
    return await this.client.llmsecLift(...(args as [number, ...Arg[]]));
  }

  async ban(subject: string, p: EnforcementParams): Promise<number> {
    const args: Arg[] = [rlKey(subject), 0];
    pushParams(args, p);
    return await this.client.llmsecBan(...(args as [number, ...Arg[]]));
  }
}

function ignore(): void {}

const coalescers = new WeakMap<RedisStore, ScriptCoalescer>();

/**
 * The store's coalescer, for tests and benchmarks (not exported from the package): set
 * `enabled = false` for one EVALSHA per call, the reference the batched path is measured and
 * tested against.
 */
export function coalescerOf(store: RedisStore): ScriptCoalescer {
  return coalescers.get(store)!;
}

function pushParams(args: Arg[], p: EnforcementParams): void {
  // The scripts' parameter order lives in one place (redis-params.ts); these are the operator
  // and violation scripts, off the acquire hot path.
  args.push(...enforcementValues(p));
}

/** The outcome of a subject the cluster path never reached (the other subject refused first). */
function unchecked(): SubjectOutcome {
  return { prevLevel: -1, level: -1, factor: 1, leases: 0, busyMs: new Array<number>(WINDOW_DIMS).fill(0) };
}
